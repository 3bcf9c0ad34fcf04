-- Compaction (store.Compactor). PostgreSQL keeps a deleted row's bytes in
-- its table files until VACUUM (FULL) rewrites them: the tables (events
-- partitions, users) where personal data was deleted since the last
-- compaction are remembered here, and Compact rewrites just those.
CREATE TABLE compact_pending (
    shop  text COLLATE "C" NOT NULL DEFAULT 'default',
    rel   text COLLATE "C" NOT NULL,  -- table or events partition (regclass text)
    since timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (shop, rel)
);

-- The last compaction of each shop.
CREATE TABLE compactions (
    shop         text COLLATE "C" PRIMARY KEY,
    at           timestamptz NOT NULL,
    bytes_before bigint NOT NULL,
    bytes_after  bigint NOT NULL,
    took_ns      bigint NOT NULL
);
