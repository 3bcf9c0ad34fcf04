package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/aisle-dev/aisle/events"
)

// partitionLockTimeout bounds how long dropping a partition waits for its
// lock: while it waits, the reads queued behind it wait too, so it gives
// up and leaves the month to the row deletes of the pass.
const partitionLockTimeout = 3 * time.Second

// partitionDrop is what dropExpiredPartitions removed.
type partitionDrop struct {
	n      int
	byType map[string]int
}

// partitionStats is what one events partition holds, by shop and type.
type partitionStats struct {
	shops  map[string]bool
	maxTS  map[string]time.Time // by type
	byType map[string]int
	n      int
	minSeq int64
	maxSeq int64
}

// readPartition reads the contents of partition name (a table of events).
func readPartition(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, name string) (partitionStats, error) {
	st := partitionStats{shops: map[string]bool{}, maxTS: map[string]time.Time{}, byType: map[string]int{}}
	rows, err := q.Query(ctx, `SELECT shop, type, max(ts), count(*), min(seq), max(seq) FROM `+pgx.Identifier{name}.Sanitize()+` GROUP BY shop, type`)
	if err != nil {
		return st, err
	}
	defer rows.Close()
	for rows.Next() {
		var shop, typ string
		var ts time.Time
		var n, lo, hi int64
		if err := rows.Scan(&shop, &typ, &ts, &n, &lo, &hi); err != nil {
			return st, err
		}
		st.shops[shop] = true
		if ts.After(st.maxTS[typ]) {
			st.maxTS[typ] = ts
		}
		st.byType[typ] += int(n)
		if st.n == 0 || lo < st.minSeq {
			st.minSeq = lo
		}
		st.maxSeq = max(st.maxSeq, hi)
		st.n += int(n)
	}
	return st, rows.Err()
}

// expired reports whether every row of the partition is this shop's and
// past its type's cutoff. Stored times lose the nanoseconds below the
// microsecond (kept aside in ts_ns): a row at ts is past cut when ts plus
// a microsecond is not after it.
func (p partitionStats) expired(shop string, cutoffs map[events.Type]time.Time) bool {
	if p.n == 0 || len(p.shops) != 1 || !p.shops[shop] {
		return false // empty, or shared with other shops, whose retention this store does not know
	}
	for typ, ts := range p.maxTS {
		cut, ok := cutoffs[events.Type(typ)]
		if !ok || ts.Add(time.Microsecond).After(cut) {
			return false
		}
	}
	return true
}

// eventPartitions returns the events partitions and the month each holds,
// oldest first.
func (s *Store) eventPartitions(ctx context.Context) (names []string, months []time.Time, err error) {
	rows, err := s.pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'events'::regclass ORDER BY c.relname`)
	if err != nil {
		return nil, nil, fmt.Errorf("list the events partitions: %w", err)
	}
	all, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, nil, fmt.Errorf("list the events partitions: %w", err)
	}
	for _, name := range all {
		m, ok := partitionMonth(name)
		if !ok {
			continue // not one of ours: leave it
		}
		names = append(names, name)
		months = append(months, m)
	}
	return names, months, nil
}

// partitionMonth parses the month of a partition named events_pYYYYMM.
func partitionMonth(name string) (time.Time, bool) {
	d, ok := strings.CutPrefix(name, "events_p")
	if !ok || len(d) != 6 {
		return time.Time{}, false
	}
	y, err1 := strconv.Atoi(d[:4])
	m, err2 := strconv.Atoi(d[4:])
	if err1 != nil || err2 != nil || m < 1 || m > 12 {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC), true
}

// dropExpiredPartitions drops the monthly events partitions all of whose
// rows are this shop's and past their type's retention: one DROP TABLE
// instead of deleting (and later compacting away) each row. Each drop
// runs as a write of the shop (after the event batches before it, see
// lockShop), takes the partition's lock with a short timeout, checks the
// rows again under it (a late event may have arrived) and writes an
// "events.expire" outbox row naming the partition.
func (s *Store) dropExpiredPartitions(ctx context.Context, cutoffs map[events.Type]time.Time) (partitionDrop, error) {
	out := partitionDrop{byType: map[string]int{}}
	var latest time.Time
	for _, c := range cutoffs {
		if c.After(latest) {
			latest = c
		}
	}
	names, months, err := s.eventPartitions(ctx)
	if err != nil {
		return out, err
	}
	for i, name := range names {
		if !months[i].Before(latest) {
			break // no row of this month or later can be past every cutoff
		}
		pre, err := readPartition(ctx, s.pool, name)
		if err != nil {
			return out, fmt.Errorf("read partition %s: %w", name, err)
		}
		if !pre.expired(s.shop, cutoffs) {
			continue
		}
		var got partitionStats
		err = s.write(ctx, func(tx pgx.Tx, st *state) error {
			got = partitionStats{}
			ident := pgx.Identifier{name}.Sanitize()
			if _, err := tx.Exec(ctx, fmt.Sprintf(`SET LOCAL lock_timeout = %d`, partitionLockTimeout.Milliseconds())); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `LOCK TABLE `+ident+` IN ACCESS EXCLUSIVE MODE`); err != nil {
				return err
			}
			p, err := readPartition(ctx, tx, name)
			if err != nil || !p.expired(s.shop, cutoffs) {
				return err
			}
			if _, err := tx.Exec(ctx, `DROP TABLE `+ident); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM compact_pending WHERE rel = $1`, name); err != nil {
				return err
			}
			st.nEvents -= int64(p.n)
			payload, _ := json.Marshal(ExpirePayload{Seqs: []uint64{uint64(p.minSeq), uint64(p.maxSeq)}, Dropped: []string{name}, Count: p.n})
			st.emit(KindEventsExpire, payload)
			got = p
			return nil
		})
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55P03" { // lock_not_available
			continue // busy: its rows go the row-by-row way this pass
		}
		if err != nil {
			return out, fmt.Errorf("drop expired partition %s: %w", name, err)
		}
		if got.n > 0 {
			s.parts.Delete(months[i])
			out.n += got.n
			for t, n := range got.byType {
				out.byType[t] += n
			}
		}
	}
	return out, nil
}

// isNoPartition reports whether err is PostgreSQL's refusal of a row for
// which no partition exists: another replica dropped the month this
// store believed existed.
func isNoPartition(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23514" && strings.Contains(pgErr.Message, "no partition")
}
