-- Dashboard logins (store.Sessions), shared by every replica so that a
-- login on one is known to all and a logout revokes it everywhere. Only the
-- SHA-256 of the cookie's token is kept, with the access it grants, a check
-- binding it to the key that opened it (a rotated key voids it) and its
-- expiry.
CREATE TABLE dashboard_sessions (
    shop       text COLLATE "C" NOT NULL DEFAULT 'default',
    token_hash bytea NOT NULL CHECK (length(token_hash) = 32),
    level      text NOT NULL,
    key_check  bytea NOT NULL CHECK (length(key_check) = 32),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (shop, token_hash)
);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (shop, expires_at);
