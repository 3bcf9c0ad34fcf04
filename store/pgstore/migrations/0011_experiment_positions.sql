-- The examination of positions fitted by every replica (issue 15, session 7,
-- decision 0049): each replica writes the views and clicks per position of
-- its own explored answers per surface, and every replica sums them, so all
-- weigh a click by the same propensities (the popular list is the same on
-- every replica).
CREATE TABLE experiment_positions (
    shop      text COLLATE "C" NOT NULL DEFAULT 'default',
    replica   text COLLATE "C" NOT NULL,  -- a random id per data directory
    counts    json NOT NULL,              -- experiment.positionCounts
    fitted_at timestamptz NOT NULL,
    PRIMARY KEY (shop, replica)
);
