package pgstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aisle-dev/aisle/events"
)

// maxGroupEvents bounds the events one group transaction carries.
const maxGroupEvents = 20000

// maxAppendTx bounds the event transactions one store runs at once (each
// holds a connection of the pool from its allocation to its commit).
const maxAppendTx = 4

// appendReq is one AppendEvents call waiting for a group commit.
type appendReq struct {
	ctx context.Context
	evs []events.Event
	// keys are the idempotent parts of evs (AppendEventsOnce,
	// AppendEventsOnceBatch), each a range of it; none for a plain batch
	keys  []*onceKey
	now   time.Time     // of keys: their time
	ttl   time.Duration // of keys: how long a key is remembered
	err   error
	taken bool // a leader took it into a group
	done  chan struct{}
}

// onceKey is the idempotency key of a part of a batch on the chain (the
// events evs[lo:hi] of its appendReq): inserted in the chain's serialised
// tail, where stored reports whether this part took it (false: the key
// was taken meanwhile, and the part's events were removed again in the
// same transaction).
type onceKey struct {
	key    string
	hash   [32]byte
	lo, hi int
	stored bool
}

// appender runs the event batches of one store as a chain of
// transactions (decision 0041): a group of batches takes its sequence
// numbers and outbox ids in one short statement, then COPYs in its own
// transaction while the groups after it take their ranges and COPY too,
// and commits after the groups before it (appendChain).
//
// One goroutine at a time takes a range (the statement waits for the
// shop's row, which other replicas and the catalogue's writers also
// lock); the batches that arrive meanwhile queue, and the next range is
// taken for all of them together: under contention a transaction carries
// more batches instead of each waiting for its own turn. A group the
// database refuses is retried batch by batch, so a bad batch fails alone.
type appender struct {
	mu         sync.Mutex
	cond       *sync.Cond
	queue      []*appendReq
	allocating bool // a leader is taking a range
	inflight   int  // groups between taking a range and the end of their transaction
}

// appendGrouped stores evs through the chain and returns its outcome.
func (s *Store) appendGrouped(ctx context.Context, evs []events.Event, keys []*onceKey, now time.Time, ttl time.Duration) error {
	req := &appendReq{ctx: ctx, evs: evs, keys: keys, now: now, ttl: ttl, done: make(chan struct{})}
	a := &s.appender
	a.mu.Lock()
	if a.cond == nil {
		a.cond = sync.NewCond(&a.mu)
	}
	a.queue = append(a.queue, req)
	for !req.taken {
		if a.allocating || a.inflight >= maxAppendTx {
			a.cond.Wait()
			continue
		}
		// lead: take the queue's head as a group (it may not hold req,
		// which then waits for the next turn)
		n, size := 0, 0
		for n < len(a.queue) && (n == 0 || size+len(a.queue[n].evs) <= maxGroupEvents) {
			size += len(a.queue[n].evs)
			a.queue[n].taken = true
			n++
		}
		group := a.queue[:n:n]
		a.queue = a.queue[n:]
		a.allocating = true
		a.inflight++
		a.mu.Unlock()
		released := false
		allocated := func() {
			a.mu.Lock()
			a.allocating = false
			released = true
			a.cond.Broadcast()
			a.mu.Unlock()
		}
		s.commitGroup(group, allocated)
		a.mu.Lock()
		if !released {
			a.allocating = false
		}
		a.inflight--
		a.cond.Broadcast()
	}
	a.mu.Unlock()
	<-req.done // its outcome, even if ctx ends meanwhile: it may be committed
	return req.err
}

// commitGroup stores the batches of group, together when it can, calling
// allocated once its range is taken (or it failed before).
func (s *Store) commitGroup(group []*appendReq, allocated func()) {
	live := group[:0:0]
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.finish(err)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		allocated()
		return
	}
	// Not one caller's context: a caller going away must not fail the
	// others' batches.
	ctx := context.WithoutCancel(live[0].ctx)
	err := s.appendChain(ctx, live, allocated)
	if err == nil {
		for _, r := range live {
			r.finish(nil)
		}
		return
	}
	if len(live) > 1 {
		// the group was refused: each batch alone, so a bad one fails by itself
		for _, r := range live {
			r.finish(s.appendChain(r.ctx, []*appendReq{r}, func() {}))
		}
		return
	}
	live[0].finish(err)
}

// appendChain stores the batches of group in one transaction of the
// shop's chain:
//
//  1. outside any transaction, aisle_chain_alloc takes the group's
//     sequence numbers, one outbox id per batch and the next chain number
//     a, and takes a session advisory lock on a before the shop's row is
//     unlocked;
//  2. in a transaction: COPY the events (in parallel with other groups);
//  3. wait until every chain number before a has ended (aisle_chain_wait),
//     then create the new users, write the outbox rows and the counters,
//     and commit;
//  4. release the lock on a: the next group may commit.
//
// Steps 3 and 4 are one pipelined round trip, so the part of a batch that
// runs one group at a time is that round trip and the commit's WAL flush.
//
// Commits thus happen in allocation order, as when the whole transaction
// held the shop's row: a reader that sees sequence number (or outbox id)
// n has seen every committed one before it. A group that fails waits for
// its predecessors before releasing its lock (aisle_chain_abandon); its
// numbers stay unused. A replica that dies holding a lock loses its
// connection and with it the lock; its successor then waits for the
// numbers before it too.
func (s *Store) appendChain(ctx context.Context, group []*appendReq, allocated func()) error {
	n := 0
	for _, r := range group {
		n += len(r.evs)
	}
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		allocated()
		return fmt.Errorf("store events: %w", err)
	}
	var lastSeq, lastOutbox, link int64
	err = c.QueryRow(ctx, `SELECT last_seq, last_outbox, chain FROM aisle_chain_alloc($1, $2, $3)`, s.shop, n, len(group)).
		Scan(&lastSeq, &lastOutbox, &link)
	allocated()
	if err != nil {
		// whether it holds the lock is unknown: closing it releases the lock
		c.Conn().Close(ctx)
		c.Release()
		return fmt.Errorf("take a range of sequence numbers: %w", err)
	}
	seq := lastSeq - int64(n)
	for _, r := range group {
		for i := range r.evs {
			seq++
			r.evs[i].Seq = uint64(seq)
		}
	}
	conn := c.Conn()
	committed, err := s.chainTx(ctx, conn, group, link, lastOutbox-int64(len(group)))
	switch {
	case err == nil:
	case committed:
		// only releasing the lock failed: the connection takes it along
		conn.Close(ctx)
		c.Release()
		return nil
	case conn.IsClosed():
		// the lock went with the connection; whether the commit happened
		// is unknown, as with any commit whose answer is lost
		c.Release()
		resetGroup(group)
		return err
	default:
		resetGroup(group)
		if conn.PgConn().TxStatus() != 'I' {
			_, err := conn.Exec(ctx, `ROLLBACK`)
			if err != nil {
				conn.Close(ctx)
			}
		}
		if !conn.IsClosed() {
			if _, aerr := conn.Exec(ctx, `SELECT aisle_chain_abandon($1, $2)`, s.shop, link); aerr != nil {
				conn.Close(ctx)
			}
		}
		c.Release()
		return err
	}
	c.Release()
	return nil
}

// chainTx is the transaction of appendChain on conn: BEGIN, the group's
// COPY, then in one round trip the wait for the chain before it, each
// batch's new users, outbox row and counters, COMMIT and the release of
// the chain lock. It reports whether the COMMIT succeeded.
func (s *Store) chainTx(ctx context.Context, conn *pgx.Conn, group []*appendReq, link, outboxBefore int64) (committed bool, err error) {
	if _, err := conn.Exec(ctx, `BEGIN`); err != nil {
		return false, fmt.Errorf("store events: %w", err)
	}
	all := make([][]events.Event, len(group))
	for i, r := range group {
		all[i] = r.evs
	}
	if err := s.copyEvents(ctx, conn, byUser(all...)); err != nil {
		return false, err
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT aisle_chain_wait($1, $2)`, s.shop, link)
	// scan[i] is the keyed batch the i-th statement answers for (nil: no
	// answer to read)
	scan := []*appendReq{nil}
	keyed := false
	for k, r := range group {
		if len(r.keys) > 0 {
			if !keyed {
				// the keys past their time, a few per group (the insert
				// below also takes over an expired key still present)
				b.Queue(`DELETE FROM idempotency WHERE shop = $1 AND key IN
				(SELECT key FROM idempotency WHERE shop = $1 AND at < $2 ORDER BY at LIMIT $3)`, s.shop, r.now.Add(-r.ttl), expirePerBatch)
				scan = append(scan, nil)
				keyed = true
			}
			s.queueKeyed(b, r, outboxBefore+int64(k)+1, link)
			scan = append(scan, r)
			continue
		}
		ids, docs := userDocs(byUser(r.evs))
		first, last := int64(r.evs[0].Seq), int64(r.evs[len(r.evs)-1].Seq)
		b.Queue(`WITH nu AS (INSERT INTO users (shop, id, doc) SELECT $1, i, d::json FROM unnest($2::text[], $3::text[]) AS t(i, d)
				ON CONFLICT DO NOTHING RETURNING id),
			o AS (INSERT INTO outbox (shop, id, kind, payload) SELECT $1, $4, $5, json_strip_nulls(json_build_object(
				'first_seq', $6::bigint, 'last_seq', $7::bigint, 'count', $8::integer, 'new_users', (SELECT json_agg(id ORDER BY id) FROM nu))))
			UPDATE shop_tally SET n_users = n_users + (SELECT count(*) FROM nu), n_events = n_events + $8, chain_done = $9 WHERE shop = $1`,
			s.shop, ids, docs, outboxBefore+int64(k)+1, KindEventsAppend, first, last, len(r.evs), link)
		scan = append(scan, nil)
	}
	b.Queue(`COMMIT`)
	b.Queue(`SELECT pg_advisory_unlock(aisle_chain_class($1), aisle_chain_obj($2))`, s.shop, link)
	scan = append(scan, nil, nil)
	br := conn.SendBatch(ctx, b)
	for i := range b.Len() {
		var err error
		if r := scan[i]; r != nil {
			var took []string
			if err = br.QueryRow().Scan(&took); err == nil {
				for _, k := range r.keys {
					k.stored = slices.Contains(took, k.key)
				}
			}
		} else {
			_, err = br.Exec()
		}
		if err != nil {
			br.Close()
			if i == b.Len()-1 {
				return true, fmt.Errorf("release the chain lock: %w", err)
			}
			return false, fmt.Errorf("write the batch's users and change: %w", err)
		}
	}
	return true, br.Close()
}

// queueKeyed queues the statement that stores the keyed batch r (its
// events already copied): one insert takes every key of its parts that is
// free (or expired). The keys another batch took first (a retry racing
// its original, on this replica or another, or a message redelivered to
// another replica) keep their owner: the events of those parts go again,
// and the part adds no user, no count and nothing to the outbox row, which
// holds the range and count of the parts stored (one row for the batch,
// none when no part was). The numbers of the parts removed stay unused,
// like a failed batch's. The statement answers the keys it took.
func (s *Store) queueKeyed(b *pgx.Batch, r *appendReq, outboxID, link int64) {
	n := len(r.keys)
	keys, hashes := make([]string, n), make([][]byte, n)
	counts, firsts, lasts := make([]int32, n), make([]int64, n), make([]int64, n)
	// each part's users, with its first number: a user is created by the
	// first part stored that has it
	var ids, docs []string
	var at []int64
	for i, k := range r.keys {
		part := r.evs[k.lo:k.hi]
		keys[i], hashes[i], counts[i] = k.key, k.hash[:], int32(len(part))
		firsts[i], lasts[i] = int64(part[0].Seq), int64(part[len(part)-1].Seq)
		pi, pd := userDocs(byUser(part))
		ids, docs = append(ids, pi...), append(docs, pd...)
		for range pi {
			at = append(at, firsts[i])
		}
	}
	b.Queue(`WITH p AS (SELECT * FROM unnest($6::text[], $7::bytea[], $8::integer[], $9::bigint[], $10::bigint[]) AS p(key, hash, n, f, l)),
		k AS (INSERT INTO idempotency AS x (shop, key, body_hash, accepted, first_seq, at) SELECT $1, key, hash, n, f, $11 FROM p
				ON CONFLICT (shop, key) DO UPDATE SET body_hash = excluded.body_hash, accepted = excluded.accepted, first_seq = excluded.first_seq, at = excluded.at
				WHERE x.at < $12 RETURNING key),
			s AS (SELECT * FROM p WHERE key IN (SELECT key FROM k)),
			gone AS (DELETE FROM events e USING p WHERE e.shop = $1 AND e.seq BETWEEN p.f AND p.l AND p.key NOT IN (SELECT key FROM k)),
			nu AS (INSERT INTO users (shop, id, doc) SELECT DISTINCT ON (i) $1, i, d::json FROM unnest($2::text[], $3::text[], $13::bigint[]) AS u(i, d, sq)
				WHERE sq IN (SELECT f FROM s) ORDER BY i, sq ON CONFLICT DO NOTHING RETURNING id),
			o AS (INSERT INTO outbox (shop, id, kind, payload) SELECT $1, $4, $5, json_strip_nulls(json_build_object(
				'first_seq', min(f), 'last_seq', max(l), 'count', sum(n)::integer, 'new_users', (SELECT json_agg(id ORDER BY id) FROM nu)))
				FROM s HAVING count(*) > 0),
			t AS (UPDATE shop_tally SET n_users = n_users + (SELECT count(*) FROM nu),
				n_events = n_events + (SELECT coalesce(sum(n), 0) FROM s), chain_done = $14 WHERE shop = $1)
			SELECT coalesce(array_agg(key), '{}') FROM k`,
		s.shop, ids, docs, outboxID, KindEventsAppend, keys, hashes, counts, firsts, lasts, r.now.UTC(), r.now.Add(-r.ttl), at, link)
}

func resetGroup(group []*appendReq) {
	for _, r := range group {
		resetSeqs(r.evs)
	}
}

func (r *appendReq) finish(err error) {
	r.err = err
	close(r.done)
}

func resetSeqs(evs []events.Event) {
	for i := range evs {
		evs[i].Seq = 0
	}
}
