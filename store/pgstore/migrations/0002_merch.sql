-- Merchandising records (rules, campaigns, the ad spend ledger and ad
-- impressions) as named buckets of keys and byte values: store.Merch.
-- MerchUpdate serialises its transactions per shop with an advisory
-- transaction lock, so the spend ledger charges each click once and never
-- past a budget, also across replicas.
CREATE TABLE merch (
    shop   text COLLATE "C" NOT NULL DEFAULT 'default',
    bucket text COLLATE "C" NOT NULL,
    key    text COLLATE "C" NOT NULL,
    value  bytea NOT NULL,
    PRIMARY KEY (shop, bucket, key)
);
