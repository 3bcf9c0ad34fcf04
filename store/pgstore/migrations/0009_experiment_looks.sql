-- Experiments shared by every replica, continued (issue 15, decision 0043):
-- the running minimum of each always-valid p-value and the daily series
-- are kept here, so every replica reports the same result; and the events
-- already counted carry the time they were counted, so keys older than the
-- attribution window (experiments.impression_retention) can be trimmed.
ALTER TABLE experiment_counted ADD COLUMN counted_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX experiment_counted_at ON experiment_counted (shop, counted_at);

CREATE TABLE experiment_pmin (
    shop       text COLLATE "C" NOT NULL DEFAULT 'default',
    experiment text COLLATE "C" NOT NULL,
    name       text COLLATE "C" NOT NULL,  -- variant U+001F metric
    p          double precision NOT NULL,
    PRIMARY KEY (shop, experiment, name)
);

CREATE TABLE experiment_series (
    shop       text COLLATE "C" NOT NULL DEFAULT 'default',
    experiment text COLLATE "C" NOT NULL,
    day        text COLLATE "C" NOT NULL,  -- YYYY-MM-DD (UTC)
    point      json NOT NULL,              -- experiment.Point
    PRIMARY KEY (shop, experiment, day)
);
