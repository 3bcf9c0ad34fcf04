-- The shop registry (package shops) of a cluster: the shops, their keys
-- and the shops whose deletion is not finished, shared by every replica so
-- that a shop created, a key revoked or a shop deleted on one replica is
-- known to all (each change also writes an outbox row of kind
-- "shops.registry" in the same transaction; the feed tells the replicas).
-- The embedded mode keeps them in <data>/shops.db instead.

-- One row per shop ("default" holds the default shop's settings, when set).
CREATE TABLE registry_shops (
    shop     text COLLATE "C" NOT NULL,
    created  timestamptz NOT NULL,
    settings json NOT NULL,  -- shops.Settings as JSON
    PRIMARY KEY (shop)
);

-- Keys: only the SHA-256 of the secret is stored. A key is found by its id
-- alone (the id is part of the key the client sends), hence the unique id.
CREATE TABLE registry_keys (
    shop    text COLLATE "C" NOT NULL,
    id      text COLLATE "C" NOT NULL UNIQUE,
    scopes  text[] NOT NULL,
    created timestamptz NOT NULL,
    hash    text NOT NULL CHECK (length(hash) = 64),  -- hex SHA-256 of the secret
    PRIMARY KEY (shop, id)
);

-- Shops deleted from the registry whose data is not all removed yet: the
-- next start (or creating the id again) finishes the removal.
CREATE TABLE registry_deleting (
    shop       text COLLATE "C" NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop)
);
