-- Experiments shared by every replica (store.Experiments, issue 15): the
-- definitions, each shopper's outcomes summed over replicas, the events
-- already counted (an event every replica sees counts once), and the key
-- that pseudonymises shoppers (the same on every replica, so one shopper
-- served by two replicas is one unit).
CREATE TABLE experiments (
    shop text COLLATE "C" NOT NULL DEFAULT 'default',
    id   text COLLATE "C" NOT NULL,
    def  json NOT NULL,  -- experiment.Experiment as JSON
    PRIMARY KEY (shop, id)
);

CREATE TABLE experiment_outcomes (
    shop       text COLLATE "C" NOT NULL DEFAULT 'default',
    experiment text COLLATE "C" NOT NULL,
    unit       text COLLATE "C" NOT NULL,  -- pseudonym, never the id
    variant    integer NOT NULL,
    first_at   timestamptz NOT NULL,
    exposures  double precision NOT NULL DEFAULT 0,
    clicks     double precision NOT NULL DEFAULT 0,
    carts      double precision NOT NULL DEFAULT 0,
    orders     double precision NOT NULL DEFAULT 0,
    revenue    double precision NOT NULL DEFAULT 0,
    credit_a   double precision NOT NULL DEFAULT 0,
    credit_b   double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (shop, experiment, unit)
);
CREATE INDEX experiment_outcomes_unit ON experiment_outcomes (shop, unit);

CREATE TABLE experiment_counted (
    shop       text COLLATE "C" NOT NULL DEFAULT 'default',
    experiment text COLLATE "C" NOT NULL,
    key        text COLLATE "C" NOT NULL,
    PRIMARY KEY (shop, experiment, key)
);

CREATE TABLE experiment_keys (
    shop text COLLATE "C" PRIMARY KEY,
    key  bytea NOT NULL
);

-- Events keep the answer they came from (request id and the item's
-- position in it), as the embedded store does: a replica that did not
-- serve the answer hands the event to the one that did through the change
-- feed, which reads events back from this table.
ALTER TABLE events ADD COLUMN request_id text NOT NULL DEFAULT '',
                   ADD COLUMN position integer NOT NULL DEFAULT 0;
