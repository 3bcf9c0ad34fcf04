-- Aisle's PostgreSQL schema, version 1. Every table carries the shop it
-- belongs to in its primary key, so several shops can share the tables.
-- Ids are compared byte by byte (COLLATE "C"), like the embedded store, so
-- pages and cursors are in the same order whatever the database locale.

-- One row per shop: the counters, and the lock that orders its writes.
-- Every write transaction of a shop starts with SELECT … FOR UPDATE on its
-- row, so commits of a shop happen in the order of the sequence numbers
-- they were given (see docs/postgres.md, "Ordering").
CREATE TABLE shop_state (
    shop        text COLLATE "C" PRIMARY KEY,
    last_seq    bigint NOT NULL DEFAULT 0,  -- last event sequence number given
    last_outbox bigint NOT NULL DEFAULT 0,  -- last outbox id given
    n_items     bigint NOT NULL DEFAULT 0,
    n_users     bigint NOT NULL DEFAULT 0,
    n_events    bigint NOT NULL DEFAULT 0
);

CREATE TABLE items (
    shop text COLLATE "C" NOT NULL DEFAULT 'default',
    id   text COLLATE "C" NOT NULL,
    doc  json NOT NULL,  -- catalog.Item as JSON
    PRIMARY KEY (shop, id)
);

CREATE TABLE users (
    shop text COLLATE "C" NOT NULL DEFAULT 'default',
    id   text COLLATE "C" NOT NULL,
    doc  json NOT NULL,  -- catalog.User as JSON
    PRIMARY KEY (shop, id)
);

-- Events, partitioned by month of their timestamp; partitions
-- (events_pYYYYMM) are created on demand by the store.
CREATE TABLE events (
    shop       text COLLATE "C" NOT NULL DEFAULT 'default',
    seq        bigint NOT NULL,
    ts         timestamptz NOT NULL,
    ts_ns      integer NOT NULL DEFAULT 0,  -- nanoseconds below ts's microsecond
    user_id    text COLLATE "C" NOT NULL,
    item_id    text COLLATE "C" NOT NULL DEFAULT '',
    type       text NOT NULL,
    value      double precision,
    query      text NOT NULL DEFAULT '',
    session_id text NOT NULL DEFAULT '',
    PRIMARY KEY (shop, seq, ts)
) PARTITION BY RANGE (ts);

-- A user's newest events first.
CREATE INDEX events_user ON events (shop, user_id, ts DESC, seq DESC);

CREATE TABLE models (
    shop    text COLLATE "C" NOT NULL DEFAULT 'default',
    name    text COLLATE "C" NOT NULL,
    version integer NOT NULL,
    meta    json NOT NULL,  -- store.ModelMeta as JSON
    PRIMARY KEY (shop, name, version)
);

-- Model artefacts in chunks of up to 1 MiB, read and written one chunk at a time.
CREATE TABLE model_chunks (
    shop    text COLLATE "C" NOT NULL DEFAULT 'default',
    name    text COLLATE "C" NOT NULL,
    version integer NOT NULL,
    n       integer NOT NULL,
    data    bytea NOT NULL,
    PRIMARY KEY (shop, name, version, n),
    FOREIGN KEY (shop, name, version) REFERENCES models (shop, name, version) ON DELETE CASCADE
);
ALTER TABLE model_chunks ALTER COLUMN data SET STORAGE EXTERNAL;  -- artefacts do not compress: skip trying

CREATE TABLE vectors (
    shop    text COLLATE "C" NOT NULL DEFAULT 'default',
    space   text COLLATE "C" NOT NULL,
    item_id text COLLATE "C" NOT NULL,
    hash    bytea NOT NULL,  -- SHA-256 of the embedded text
    vec     bytea NOT NULL,  -- little-endian float32s
    PRIMARY KEY (shop, space, item_id),
    FOREIGN KEY (shop, item_id) REFERENCES items (shop, id) ON DELETE CASCADE
);
CREATE INDEX vectors_item ON vectors (shop, item_id);

CREATE TABLE idempotency (
    shop      text COLLATE "C" NOT NULL DEFAULT 'default',
    key       text COLLATE "C" NOT NULL,
    body_hash bytea NOT NULL,
    accepted  integer NOT NULL,
    first_seq bigint NOT NULL,
    at        timestamptz NOT NULL,
    PRIMARY KEY (shop, key)
);
CREATE INDEX idempotency_at ON idempotency (shop, at);

-- What is kept of a forgotten user: counts and a time, keyed by the
-- SHA-256 of their id.
CREATE TABLE forgotten (
    shop      text COLLATE "C" NOT NULL DEFAULT 'default',
    user_hash bytea NOT NULL,
    receipt   json NOT NULL,  -- store.ForgetReceipt
    PRIMARY KEY (shop, user_hash)
);

-- The transactional outbox: every committed change, in commit order per shop.
CREATE TABLE outbox (
    shop    text COLLATE "C" NOT NULL DEFAULT 'default',
    id      bigint NOT NULL,
    kind    text NOT NULL,
    payload json NOT NULL,
    at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop, id)
);
