-- Event batches in a chain (decision 0041): a batch takes its sequence
-- numbers and outbox ids in a short statement of its own, then COPYs in
-- its own transaction while other batches COPY too, and commits only
-- after every batch that took its range before it has ended (commit order
-- = allocation order, so ScanEvents and ReadOutbox cursors stay safe).
--
-- shop_state.chain numbers the allocations of a shop. A batch holds a
-- session advisory lock on (hash of schema and shop, its number) from its
-- allocation until it has committed or given up; its successor waits for
-- that lock. shop_tally holds what a batch changes when it commits (the
-- user and event counts, the last chain number committed): a batch never
-- touches shop_state after its allocation, so the writers that lock
-- shop_state for a whole transaction (catalogue, deletions, retention)
-- can wait for the batches before them without a deadlock.
ALTER TABLE shop_state ADD COLUMN chain bigint NOT NULL DEFAULT 0;

CREATE TABLE shop_tally (
    shop       text COLLATE "C" PRIMARY KEY,
    n_users    bigint NOT NULL DEFAULT 0,
    n_events   bigint NOT NULL DEFAULT 0,
    chain_done bigint NOT NULL DEFAULT 0  -- the last chain number that committed (or gave up after its predecessors)
);
INSERT INTO shop_tally (shop, n_users, n_events, chain_done) SELECT shop, n_users, n_events, chain FROM shop_state;
ALTER TABLE shop_state DROP COLUMN n_users, DROP COLUMN n_events;

-- The advisory lock key of a shop's chain number a (two int4s: a lock
-- space of its own, apart from the single-bigint keys of other locks).
CREATE FUNCTION aisle_chain_class(p_shop text) RETURNS integer LANGUAGE sql STABLE AS
$$ SELECT hashtext('aisle.chain:' || current_schema() || ':' || p_shop) $$;
CREATE FUNCTION aisle_chain_obj(a bigint) RETURNS integer LANGUAGE sql IMMUTABLE AS
$$ SELECT ((a % 4294967296) - 2147483648)::integer $$;

-- Allocate n_seq sequence numbers and n_outbox outbox ids, and take the
-- allocation's lock before the row lock is released (so a successor
-- always finds it held). Called outside a transaction block. Its commit
-- need not wait for the disk: the batch's own commit comes later in the
-- same write-ahead log, so once that is durable so is the allocation,
-- and an allocation lost in a crash was used by nothing acknowledged.
CREATE FUNCTION aisle_chain_alloc(p_shop text, n_seq bigint, n_outbox bigint,
    OUT last_seq bigint, OUT last_outbox bigint, OUT chain bigint) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    UPDATE shop_state s SET last_seq = s.last_seq + n_seq, last_outbox = s.last_outbox + n_outbox, chain = s.chain + 1
        WHERE s.shop = p_shop RETURNING s.last_seq, s.last_outbox, s.chain INTO last_seq, last_outbox, chain;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'shop % is not registered', p_shop;
    END IF;
    PERFORM pg_advisory_lock(aisle_chain_class(p_shop), aisle_chain_obj(chain));
END $$;

-- Wait until every allocation before number a has ended: committed (then
-- shop_tally.chain_done reached it) or released its lock without
-- committing (given up, or its connection died: then look further back,
-- since a dead batch did not wait for its own predecessors). The locks
-- are taken shared, until the calling transaction ends.
CREATE FUNCTION aisle_chain_wait(p_shop text, a bigint) RETURNS void LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    k integer := aisle_chain_class(p_shop);
    p bigint := a - 1;
    done bigint;
BEGIN
    WHILE p > 0 LOOP
        SELECT chain_done INTO done FROM shop_tally WHERE shop = p_shop;
        EXIT WHEN done >= p;
        PERFORM pg_advisory_xact_lock_shared(k, aisle_chain_obj(p));
        SELECT chain_done INTO done FROM shop_tally WHERE shop = p_shop;
        EXIT WHEN done >= p;
        p := p - 1;
    END LOOP;
END $$;

-- A batch that will not commit: wait for its predecessors, mark its
-- number ended, release its lock. Called outside a transaction block
-- (without waiting for the disk, as aisle_chain_alloc).
CREATE FUNCTION aisle_chain_abandon(p_shop text, a bigint) RETURNS void LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM aisle_chain_wait(p_shop, a);
    UPDATE shop_tally SET chain_done = greatest(chain_done, a) WHERE shop = p_shop;
    PERFORM pg_advisory_unlock(aisle_chain_class(p_shop), aisle_chain_obj(a));
END $$;
