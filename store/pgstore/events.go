package pgstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
)

// eventCols are the columns an event is read from, in scanEvent's order.
const eventCols = `seq, ts, ts_ns, user_id, item_id, type, value, query, session_id, request_id, position`

// eventPage is how many events ScanEvents and ScanUserEvents read per query.
const eventPage = 10000

// EventsPayload is the outbox payload of "events.append": the range of
// sequence numbers the batch was given (every number in it belongs to the
// batch). Listeners read the events with ScanEvents(FirstSeq-1) up to
// LastSeq; a batch of thousands of events thus makes one small row.
type EventsPayload struct {
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
	Count    int    `json:"count"`
	// NewUsers are the users the batch created.
	NewUsers []string `json:"new_users,omitempty"`
}

// ExpirePayload is the outbox payload of "events.expire": the sequence
// numbers retention deleted. When it dropped a whole partition (Dropped
// names it), Seqs holds only the smallest and the largest sequence number
// it held and Count how many events it held: a month of events would
// make a row of megabytes, and listeners only need to know that events
// expired (they relearn from the log).
type ExpirePayload struct {
	Seqs    []uint64 `json:"seqs"`
	Dropped []string `json:"dropped,omitempty"`
	Count   int      `json:"count,omitempty"`
}

// monthStart is the first instant of t's month (UTC).
func monthStart(t time.Time) time.Time {
	u := t.UTC()
	return time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// ensurePartitions creates the monthly partitions of events the batch
// needs, each in its own short transaction (before the batch's, so the
// batch's holds no DDL lock).
func (s *Store) ensurePartitions(ctx context.Context, evs []events.Event) error {
	var need []time.Time
	for i := range evs {
		m := monthStart(evs[i].Timestamp)
		if _, ok := s.parts.Load(m); ok || slices.ContainsFunc(need, m.Equal) {
			continue
		}
		need = append(need, m)
	}
	for _, m := range need {
		if m.Year() < 1 || m.Year() > 9999 {
			return fmt.Errorf("event time %s is outside the years 1 to 9999 the store keeps", m.Format("2006-01"))
		}
		name := pgx.Identifier{fmt.Sprintf("events_p%04d%02d", m.Year(), int(m.Month()))}.Sanitize()
		const layout = "2006-01-02 15:04:05Z07:00"
		ddl := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF events FOR VALUES FROM ('%s') TO ('%s')`,
			name, m.Format(layout), m.AddDate(0, 1, 0).Format(layout))
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			// The DDL locks the whole events table: not while a batch of
			// this shop holds it and waits for one queued behind the DDL
			// (see lockShop).
			if _, err := s.lockShop(ctx, tx); err != nil {
				return err
			}
			// Two writers creating one partition at once would collide in
			// the catalogue: take turns.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('aisle.partition:' || current_schema(), 0))`); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, ddl)
			return err
		})
		if err != nil {
			return fmt.Errorf("create the events partition of %s: %w", m.Format("2006-01"), err)
		}
		s.parts.Store(m, struct{}{})
	}
	return nil
}

// AppendEvents stores events atomically, assigning Seq (contiguous,
// increasing), creating users seen for the first time, and writes an
// "events.append" outbox row. It returns after the commit. Concurrent
// calls share a transaction when they can (see appender).
func (s *Store) AppendEvents(ctx context.Context, evs []events.Event) error {
	if len(evs) == 0 {
		return ctx.Err()
	}
	if err := storable(evs); err != nil {
		return err
	}
	if err := s.ensurePartitions(ctx, evs); err != nil {
		return err
	}
	err := s.appendGrouped(ctx, evs, nil, time.Time{}, 0)
	if isNoPartition(err) {
		// retention on another replica dropped a month this store had
		// seen: forget what it knew and create what is missing
		s.parts.Clear()
		if err := s.ensurePartitions(ctx, evs); err != nil {
			return err
		}
		err = s.appendGrouped(ctx, evs, nil, time.Time{}, 0)
	}
	return err
}

// storable refuses, before the batch takes its sequence numbers, the
// strings PostgreSQL's text refuses (a NUL byte, invalid UTF-8): a batch
// refused later leaves its numbers unused (see appendChain).
func storable(evs []events.Event) error {
	for i := range evs {
		e := &evs[i]
		for _, f := range [...]string{e.UserID, e.ItemID, string(e.Type), e.Query, e.SessionID, e.RequestID} {
			if strings.IndexByte(f, 0) >= 0 || !utf8.ValidString(f) {
				return fmt.Errorf("store events: event %d has a NUL byte or invalid UTF-8 in %q", i, f)
			}
		}
	}
	return nil
}

// byUser returns the events of evs in user order, stable (their seqs stay
// in batch order): the index of a user's events then takes them in key
// order, a leaf page at a time instead of at random — measured 2–3×
// faster inserts.
func byUser(evs ...[]events.Event) []*events.Event {
	n := 0
	for _, b := range evs {
		n += len(b)
	}
	order := make([]*events.Event, 0, n)
	for _, b := range evs {
		for i := range b {
			order = append(order, &b[i])
		}
	}
	slices.SortStableFunc(order, func(a, b *events.Event) int { return strings.Compare(a.UserID, b.UserID) })
	return order
}

// copier is a pgx.Tx or a *pgx.Conn inside a transaction block.
type copier interface {
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// copyEvents writes the events of order (seqs assigned) with one COPY.
func (s *Store) copyEvents(ctx context.Context, tx copier, order []*events.Event) error {
	i := 0
	// one row slice for the whole batch: pgx encodes each row before
	// asking for the next
	row := make([]any, 12)
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(order) {
			return nil, nil
		}
		e := order[i]
		i++
		row[0], row[1], row[2], row[3], row[4] = s.shop, int64(e.Seq), e.Timestamp, int32(e.Timestamp.Nanosecond()%1000), e.UserID
		row[5], row[6], row[7], row[8], row[9] = e.ItemID, string(e.Type), e.Value, e.Query, e.SessionID
		row[10], row[11] = e.RequestID, int32(e.Position)
		return row, nil
	})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events"},
		[]string{"shop", "seq", "ts", "ts_ns", "user_id", "item_id", "type", "value", "query", "session_id", "request_id", "position"}, src); err != nil {
		return fmt.Errorf("store events: %w", err)
	}
	return nil
}

// userDocs returns the distinct users of order (in user order) and the
// record each gets if it is new: created at the time of its first event.
func userDocs(order []*events.Event) (ids, docs []string) {
	for _, e := range order {
		if len(ids) > 0 && ids[len(ids)-1] == e.UserID {
			continue
		}
		d, _ := json.Marshal(catalog.User{ID: e.UserID, CreatedAt: e.Timestamp})
		ids = append(ids, e.UserID)
		docs = append(docs, string(d))
	}
	return ids, docs
}

// scanEvent reads one row of eventCols.
func scanEvent(rows pgx.Rows, e *events.Event) (ts time.Time, err error) {
	var seq int64
	var ns int32
	var typ string
	var pos int32
	if err := rows.Scan(&seq, &ts, &ns, &e.UserID, &e.ItemID, &typ, &e.Value, &e.Query, &e.SessionID, &e.RequestID, &pos); err != nil {
		return ts, fmt.Errorf("read stored event: %w", err)
	}
	e.Seq = uint64(seq)
	e.Position = int(pos)
	e.Type = events.Type(typ)
	e.Timestamp = ts.UTC().Add(time.Duration(ns))
	return ts, nil
}

func collectEvents(rows pgx.Rows) ([]events.Event, error) {
	defer rows.Close()
	var out []events.Event
	for rows.Next() {
		var e events.Event
		if _, err := scanEvent(rows, &e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// UserEvents returns a user's most recent events (by time, then sequence
// number), newest first; all of them when limit <= 0.
func (s *Store) UserEvents(ctx context.Context, userID string, limit int) ([]events.Event, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	rows, err := s.pool.Query(ctx, `SELECT `+eventCols+` FROM events WHERE shop = $1 AND user_id = $2 ORDER BY ts DESC, seq DESC LIMIT $3`, s.shop, userID, lim)
	if err != nil {
		return nil, err
	}
	return collectEvents(rows)
}

// ScanEvents calls fn for every event with Seq > after, in Seq order, up to
// the newest event when it starts. It reads a page at a time and calls fn
// between queries. Since a shop's writes commit in sequence order (see the
// package comment), a page never skips an event that commits later.
func (s *Store) ScanEvents(ctx context.Context, after uint64, fn func(events.Event) error) error {
	var last int64
	if err := s.pool.QueryRow(ctx, `SELECT last_seq FROM shop_state WHERE shop = $1`, s.shop).Scan(&last); err != nil {
		return err
	}
	for int64(after) < last {
		rows, err := s.pool.Query(ctx, `SELECT `+eventCols+` FROM events WHERE shop = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4`, s.shop, int64(after), last, eventPage)
		if err != nil {
			return err
		}
		page, err := collectEvents(rows)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		after = page[len(page)-1].Seq
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// ScanEventRange calls fn for every event with first <= Seq <= last, in
// Seq order, a page at a time: what a follower reads for one
// "events.append" change, without the page past it ScanEvents would read.
func (s *Store) ScanEventRange(ctx context.Context, first, last uint64, fn func(events.Event) error) error {
	if first == 0 {
		first = 1
	}
	for first <= last {
		rows, err := s.pool.Query(ctx, `SELECT `+eventCols+` FROM events WHERE shop = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq LIMIT $4`, s.shop, int64(first), int64(last), eventPage)
		if err != nil {
			return err
		}
		page, err := collectEvents(rows)
		if err != nil {
			return err
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(page) < eventPage {
			return nil
		}
		first = page[len(page)-1].Seq + 1
	}
	return nil
}

// CountEvents returns the number of events.
func (s *Store) CountEvents(ctx context.Context) (int, error) { return s.counter(ctx, "n_events") }

// LastSeq is the sequence number of the newest event (0 when none).
func (s *Store) LastSeq(ctx context.Context) (uint64, error) {
	n, err := s.counter(ctx, "last_seq")
	return uint64(n), err
}

// deleteUserIn removes user id's record and events inside a write
// transaction, handing each removed event to each (when not nil), and
// writes a "users.delete" outbox row.
func (s *Store) deleteUserIn(ctx context.Context, tx pgx.Tx, st *state, id string, each func(events.Event)) (profile bool, n int, err error) {
	tag, err := tx.Exec(ctx, `DELETE FROM users WHERE shop = $1 AND id = $2`, s.shop, id)
	if err != nil {
		return false, 0, err
	}
	profile = tag.RowsAffected() > 0
	// the tables keeping the deleted bytes until Compact rewrites them
	if _, err := tx.Exec(ctx, `INSERT INTO compact_pending (shop, rel)
		SELECT $1, 'users' WHERE $3
		UNION SELECT DISTINCT $1, tableoid::regclass::text FROM events WHERE shop = $1 AND user_id = $2
		ON CONFLICT (shop, rel) DO UPDATE SET since = excluded.since`, s.shop, id, profile); err != nil {
		return false, 0, fmt.Errorf("remember the tables to compact: %w", err)
	}
	if each == nil {
		tag, err = tx.Exec(ctx, `DELETE FROM events WHERE shop = $1 AND user_id = $2`, s.shop, id)
		if err != nil {
			return false, 0, err
		}
		n = int(tag.RowsAffected())
	} else {
		rows, err := tx.Query(ctx, `DELETE FROM events WHERE shop = $1 AND user_id = $2 RETURNING `+eventCols, s.shop, id)
		if err != nil {
			return false, 0, err
		}
		evs, err := collectEvents(rows)
		if err != nil {
			return false, 0, err
		}
		slices.SortFunc(evs, func(a, b events.Event) int { return cmp.Compare(a.Seq, b.Seq) })
		for _, e := range evs {
			each(e)
		}
		n = len(evs)
	}
	if profile {
		st.nUsers--
	}
	st.nEvents -= int64(n)
	if profile || n > 0 {
		p, _ := json.Marshal(idsPayload{[]string{id}})
		st.emit(KindUsersDelete, p)
	}
	return profile, n, nil
}

// ScanUserEvents implements store.UserEventScanner: a user's events oldest
// first, a page per query.
func (s *Store) ScanUserEvents(ctx context.Context, id string, fn func(events.Event) error) error {
	var ts time.Time
	var seq int64 = -1
	for {
		rows, err := s.pool.Query(ctx, `SELECT `+eventCols+` FROM events WHERE shop = $1 AND user_id = $2 AND (ts, seq) > ($3, $4)
			ORDER BY ts, seq LIMIT $5`, s.shop, id, ts, seq, eventPage)
		if err != nil {
			return err
		}
		var page []events.Event
		for rows.Next() {
			var e events.Event
			t, err := scanEvent(rows, &e)
			if err != nil {
				rows.Close()
				return err
			}
			ts, seq = t, int64(e.Seq)
			page = append(page, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(page) < eventPage {
			return nil
		}
	}
}

// ExpireEvents implements store.Expirer, writing an "events.expire" outbox
// row when it deleted events.
func (s *Store) ExpireEvents(ctx context.Context, cutoffs map[events.Type]time.Time, after uint64, limit int) (store.ExpireBatch, error) {
	if limit <= 0 {
		limit = 1000
	}
	var dropped partitionDrop
	if after == 0 {
		// a pass starts: whole months first, then the rows of the rest
		var err error
		if dropped, err = s.dropExpiredPartitions(ctx, cutoffs); err != nil {
			return store.ExpireBatch{}, err
		}
	}
	var b store.ExpireBatch
	err := s.write(ctx, func(tx pgx.Tx, st *state) error {
		b = store.ExpireBatch{Next: after, ByType: map[string]int{}, Last: uint64(st.lastSeq)}
		b.Deleted = dropped.n
		for t, n := range dropped.byType {
			b.ByType[t] += n
		}
		rows, err := tx.Query(ctx, `SELECT `+eventCols+` FROM events WHERE shop = $1 AND seq > $2 ORDER BY seq LIMIT $3`, s.shop, int64(after), limit+1)
		if err != nil {
			return err
		}
		evs, err := collectEvents(rows)
		if err != nil {
			return err
		}
		b.Done = len(evs) <= limit
		if len(evs) > limit {
			evs = evs[:limit]
		}
		var del []int64
		var seqs []uint64
		for _, e := range evs {
			b.Scanned++
			b.Next = e.Seq
			if cut, ok := cutoffs[e.Type]; ok && e.Timestamp.Before(cut) {
				del = append(del, int64(e.Seq))
				seqs = append(seqs, e.Seq)
				b.ByType[string(e.Type)]++
			}
		}
		if len(del) == 0 {
			return nil
		}
		var deleted int64
		err = tx.QueryRow(ctx, `WITH d AS (DELETE FROM events WHERE shop = $1 AND seq = ANY($2::bigint[]) RETURNING tableoid),
			p AS (INSERT INTO compact_pending (shop, rel) SELECT DISTINCT $1, tableoid::regclass::text FROM d
				ON CONFLICT (shop, rel) DO UPDATE SET since = excluded.since)
			SELECT count(*) FROM d`, s.shop, del).Scan(&deleted)
		if err != nil {
			return err
		}
		b.Deleted += int(deleted)
		st.nEvents -= deleted
		p, _ := json.Marshal(ExpirePayload{Seqs: seqs})
		st.emit(KindEventsExpire, p)
		return nil
	})
	return b, err
}

// expirePerBatch bounds how many expired idempotency keys one batch drops.
const expirePerBatch = 64

// AppendEventsOnce implements store.IdempotentEventLog.
func (s *Store) AppendEventsOnce(ctx context.Context, key string, bodyHash [32]byte, evs []events.Event, now time.Time, ttl time.Duration) (store.Receipt, bool, error) {
	rc, replay, err := s.appendEventsOnce(ctx, key, bodyHash, evs, now, ttl)
	if isNoPartition(err) { // see AppendEvents
		s.parts.Clear()
		rc, replay, err = s.appendEventsOnce(ctx, key, bodyHash, evs, now, ttl)
	}
	return rc, replay, err
}

// appendEventsOnce answers from the key when it is known, and otherwise
// stores the batch on the chain with the key inserted in its serialised
// tail (see chainTx): a retry racing its original, on any replica, finds
// the key taken there, its events are removed in the same transaction,
// and it answers from the key. An empty batch (nothing to put on the
// chain) only records its key, holding the shop's row.
func (s *Store) appendEventsOnce(ctx context.Context, key string, bodyHash [32]byte, evs []events.Event, now time.Time, ttl time.Duration) (store.Receipt, bool, error) {
	if key == "" || len(key) > store.MaxIdempotencyKeyLen {
		return store.Receipt{}, false, fmt.Errorf("idempotency key must be 1 to %d bytes", store.MaxIdempotencyKeyLen)
	}
	if err := storable(evs); err != nil {
		return store.Receipt{}, false, err
	}
	if rc, known, err := s.receipt(ctx, s.pool, key, bodyHash, now, ttl); known || err != nil {
		return rc, known, err
	}
	if len(evs) == 0 {
		return s.recordEmptyOnce(ctx, key, bodyHash, now, ttl)
	}
	if err := s.ensurePartitions(ctx, evs); err != nil {
		return store.Receipt{}, false, err
	}
	k := &onceKey{key: key, hash: bodyHash, hi: len(evs)}
	if err := s.appendGrouped(ctx, evs, []*onceKey{k}, now, ttl); err != nil {
		return store.Receipt{}, false, err
	}
	if k.stored {
		return store.Receipt{BodyHash: bodyHash, Accepted: len(evs), FirstSeq: evs[0].Seq, At: now.UTC()}, false, nil
	}
	resetSeqs(evs)
	rc, known, err := s.receipt(ctx, s.pool, key, bodyHash, now, ttl)
	if err == nil && !known {
		err = fmt.Errorf("idempotency key %q was taken by another batch and is gone again; retry", key)
	}
	return rc, known, err
}

// querier is a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// receipt reads the receipt of key: known when the key is remembered and
// not past ttl, an error wrapping store.ErrIdempotencyConflict when it was
// used for another body.
func (s *Store) receipt(ctx context.Context, q querier, key string, bodyHash [32]byte, now time.Time, ttl time.Duration) (rc store.Receipt, known bool, err error) {
	var hash []byte
	var first int64
	err = q.QueryRow(ctx, `SELECT body_hash, accepted, first_seq, at FROM idempotency WHERE shop = $1 AND key = $2`, s.shop, key).
		Scan(&hash, &rc.Accepted, &first, &rc.At)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.Receipt{}, false, nil
	case err != nil:
		return store.Receipt{}, false, fmt.Errorf("read idempotency key %q: %w", key, err)
	}
	return checkReceipt(key, hash, rc.Accepted, first, rc.At, bodyHash, now, ttl)
}

// checkReceipt turns a stored key's row into its receipt (see receipt).
func checkReceipt(key string, hash []byte, accepted int, first int64, at time.Time, bodyHash [32]byte, now time.Time, ttl time.Duration) (rc store.Receipt, known bool, err error) {
	copy(rc.BodyHash[:], hash)
	rc.Accepted, rc.FirstSeq, rc.At = accepted, uint64(first), at.UTC()
	if now.Sub(rc.At) >= ttl {
		return store.Receipt{}, false, nil
	}
	if rc.BodyHash != bodyHash {
		return store.Receipt{}, false, fmt.Errorf("%w: key %q was used at %s for a batch with a different body; use a new key for a new batch", store.ErrIdempotencyConflict, key, rc.At.Format(time.RFC3339))
	}
	return rc, true, nil
}

// recordEmptyOnce remembers the key of an empty batch.
func (s *Store) recordEmptyOnce(ctx context.Context, key string, bodyHash [32]byte, now time.Time, ttl time.Duration) (store.Receipt, bool, error) {
	var rc store.Receipt
	replay := false
	err := s.write(ctx, func(tx pgx.Tx, st *state) error {
		var known bool
		var err error
		if rc, known, err = s.receipt(ctx, tx, key, bodyHash, now, ttl); known || err != nil {
			replay = known
			return err
		}
		rc = store.Receipt{BodyHash: bodyHash, At: now.UTC()}
		_, err = tx.Exec(ctx, `INSERT INTO idempotency (shop, key, body_hash, accepted, first_seq, at) VALUES ($1, $2, $3, 0, 0, $4)
			ON CONFLICT (shop, key) DO UPDATE SET body_hash = excluded.body_hash, accepted = 0, first_seq = 0, at = excluded.at`,
			s.shop, key, bodyHash[:], rc.At)
		return err
	})
	if err != nil {
		return store.Receipt{}, false, err
	}
	return rc, replay, nil
}

// IdempotencyKeys returns how many idempotency keys are remembered.
func (s *Store) IdempotencyKeys(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM idempotency WHERE shop = $1`, s.shop).Scan(&n)
	return n, err
}

// AppendEventsOnceBatch implements store.BatchIdempotentEventLog: the
// keys already known are answered with one query, and the other parts
// ride the chain as one batch, whose statement inserts all their keys at
// once (see queueKeyed).
func (s *Store) AppendEventsOnceBatch(ctx context.Context, parts []store.OncePart, now time.Time, ttl time.Duration) ([]store.OnceResult, error) {
	res := make([]store.OnceResult, len(parts))
	err := s.appendOnceBatch(ctx, parts, res, now, ttl)
	if isNoPartition(err) { // see AppendEvents
		s.parts.Clear()
		err = s.appendOnceBatch(ctx, parts, res, now, ttl)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (s *Store) appendOnceBatch(ctx context.Context, parts []store.OncePart, res []store.OnceResult, now time.Time, ttl time.Duration) error {
	// the parts that may be new: valid, their key's first use in the
	// request (a later use is answered from the key afterwards)
	var todo, again []int
	seen := map[string]bool{}
	for i, p := range parts {
		res[i] = store.OnceResult{}
		switch {
		case p.Key == "" || len(p.Key) > store.MaxIdempotencyKeyLen:
			res[i].Err = fmt.Errorf("idempotency key must be 1 to %d bytes", store.MaxIdempotencyKeyLen)
		case storable(p.Events) != nil:
			res[i].Err = storable(p.Events)
		case seen[p.Key]:
			again = append(again, i)
		default:
			seen[p.Key] = true
			todo = append(todo, i)
		}
	}
	todo, err := s.answerKnown(ctx, parts, res, todo, now, ttl)
	if err != nil {
		return err
	}
	var evs []events.Event
	var keys []*onceKey
	var keyed []int
	for _, i := range todo {
		p := parts[i]
		if len(p.Events) == 0 {
			res[i].Receipt, res[i].Replay, res[i].Err = s.recordEmptyOnce(ctx, p.Key, p.BodyHash, now, ttl)
			continue
		}
		keys = append(keys, &onceKey{key: p.Key, hash: p.BodyHash, lo: len(evs), hi: len(evs) + len(p.Events)})
		evs = append(evs, p.Events...)
		keyed = append(keyed, i)
	}
	if len(evs) > 0 {
		if err := s.ensurePartitions(ctx, evs); err != nil {
			return err
		}
		if err := s.appendGrouped(ctx, evs, keys, now, ttl); err != nil {
			return err
		}
	}
	var taken []int
	for j, i := range keyed {
		k, p := keys[j], parts[i]
		if !k.stored {
			resetSeqs(p.Events)
			taken = append(taken, i)
			continue
		}
		for n := range p.Events {
			p.Events[n].Seq = evs[k.lo+n].Seq
		}
		res[i].Receipt = store.Receipt{BodyHash: p.BodyHash, Accepted: len(p.Events), FirstSeq: p.Events[0].Seq, At: now.UTC()}
	}
	// parts whose key another batch took meanwhile, and repeated keys:
	// answered from the key
	left, err := s.answerKnown(ctx, parts, res, append(taken, again...), now, ttl)
	if err != nil {
		return err
	}
	for _, i := range left {
		res[i].Err = fmt.Errorf("idempotency key %q was taken by another batch and is gone again; retry", parts[i].Key)
	}
	return nil
}

// answerKnown answers the parts of idx whose key is remembered (a replay
// or a conflict), with one query, and returns the others.
func (s *Store) answerKnown(ctx context.Context, parts []store.OncePart, res []store.OnceResult, idx []int, now time.Time, ttl time.Duration) ([]int, error) {
	if len(idx) == 0 {
		return nil, nil
	}
	keys := make([]string, len(idx))
	for j, i := range idx {
		keys[j] = parts[i].Key
	}
	type row struct {
		hash     []byte
		accepted int
		first    int64
		at       time.Time
	}
	rows, err := s.pool.Query(ctx, `SELECT key, body_hash, accepted, first_seq, at FROM idempotency WHERE shop = $1 AND key = ANY($2::text[])`, s.shop, keys)
	if err != nil {
		return nil, fmt.Errorf("read idempotency keys: %w", err)
	}
	known := map[string]row{}
	for rows.Next() {
		var k string
		var r row
		if err := rows.Scan(&k, &r.hash, &r.accepted, &r.first, &r.at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read idempotency keys: %w", err)
		}
		known[k] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read idempotency keys: %w", err)
	}
	var left []int
	for _, i := range idx {
		p := parts[i]
		r, ok := known[p.Key]
		if ok {
			var hit bool
			res[i].Receipt, hit, res[i].Err = checkReceipt(p.Key, r.hash, r.accepted, r.first, r.at, p.BodyHash, now, ttl)
			res[i].Replay = hit
			ok = hit || res[i].Err != nil
		}
		if !ok {
			left = append(left, i)
		}
	}
	return left, nil
}
