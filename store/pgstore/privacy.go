package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
)

// ForgetUser implements store.Forgetter: the user's record and events go,
// a receipt (counts, no id) stays, and a "users.delete" outbox row tells
// the other replicas — all in one transaction.
//
// PostgreSQL keeps a deleted row's bytes in its data files until they are
// rewritten (Compact), and in the write-ahead log until it is recycled
// (see docs/postgres.md, "Privacy").
func (s *Store) ForgetUser(ctx context.Context, id string, at time.Time) ([]events.Event, store.ForgetReceipt, error) {
	var out []events.Event
	var rc store.ForgetReceipt
	err := s.write(ctx, func(tx pgx.Tx, st *state) error {
		out = nil
		rc = store.ForgetReceipt{DeletedAt: at.UTC(), ByType: map[string]int{}}
		profile, n, err := s.deleteUserIn(ctx, tx, st, id, func(e events.Event) {
			out = append(out, e)
			rc.ByType[string(e.Type)]++
			if e.Type == events.Search {
				rc.SearchLogEntries++
			}
		})
		if err != nil {
			return err
		}
		if !profile && n == 0 {
			return store.ErrNotFound
		}
		rc.Profile, rc.Events = profile, n
		v, err := json.Marshal(rc)
		if err != nil {
			return err
		}
		h := store.UserHash(id)
		_, err = tx.Exec(ctx, `INSERT INTO forgotten (shop, user_hash, receipt) VALUES ($1, $2, $3::json)
			ON CONFLICT (shop, user_hash) DO UPDATE SET receipt = excluded.receipt`, s.shop, h[:], string(v))
		return err
	})
	if err != nil {
		return nil, store.ForgetReceipt{}, err
	}
	return out, rc, nil
}

// ForgetReceipt implements store.Forgetter.
func (s *Store) ForgetReceipt(ctx context.Context, id string) (store.ForgetReceipt, error) {
	var rc store.ForgetReceipt
	var doc []byte
	h := store.UserHash(id)
	err := s.pool.QueryRow(ctx, `SELECT receipt FROM forgotten WHERE shop = $1 AND user_hash = $2`, s.shop, h[:]).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return rc, store.ErrNotFound
	}
	if err != nil {
		return rc, err
	}
	return rc, json.Unmarshal(doc, &rc)
}

// ForgottenUsers implements store.Forgetter.
func (s *Store) ForgottenUsers(ctx context.Context) (map[[32]byte]time.Time, error) {
	rows, err := s.pool.Query(ctx, `SELECT user_hash, receipt FROM forgotten WHERE shop = $1`, s.shop)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[[32]byte]time.Time{}
	for rows.Next() {
		raw := rows.RawValues()
		var rc store.ForgetReceipt
		if len(raw[0]) != 32 || json.Unmarshal(raw[1], &rc) != nil {
			continue // not ours: skip rather than refuse to serve
		}
		out[[32]byte(raw[0])] = rc.DeletedAt
	}
	return out, rows.Err()
}

var _ store.Compactor = (*Store)(nil)

// Compact implements store.Compactor: it rewrites (VACUUM (FULL)) the
// tables where personal data was deleted since the last compaction — the
// events partitions that held deleted or expired events, users when a
// user record went — and the outbox (whose trimmed "users.delete" rows
// named forgotten users), so no deleted row's bytes remain in their
// files. VACUUM (FULL) locks each table while it rewrites it: requests
// that touch it (an events partition: ingest and per-user reads of that
// month) wait meanwhile, as they do while the embedded store compacts;
// a partition takes roughly as long as a sequential copy of it. The
// write-ahead log and its archives keep the bytes until they are
// recycled (docs/postgres.md, "Privacy").
func (s *Store) Compact(ctx context.Context) (store.CompactReport, error) {
	var start time.Time
	if err := s.pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&start); err != nil {
		return store.CompactReport{}, fmt.Errorf("compact: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT to_regclass(rel)::text FROM compact_pending WHERE shop = $1 AND to_regclass(rel) IS NOT NULL
		UNION SELECT 'outbox'`, s.shop)
	if err != nil {
		return store.CompactReport{}, fmt.Errorf("compact: %w", err)
	}
	rels, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return store.CompactReport{}, fmt.Errorf("compact: %w", err)
	}
	size := func() (int64, error) {
		var n int64
		err := s.pool.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(to_regclass(r))), 0)::bigint FROM unnest($1::text[]) AS r`, rels).Scan(&n)
		return n, err
	}
	rep := store.CompactReport{}
	if rep.BytesBefore, err = size(); err != nil {
		return rep, fmt.Errorf("compact: table sizes: %w", err)
	}
	t0 := time.Now()
	for _, rel := range rels {
		// rel is PostgreSQL's own quoted name of the table (regclass text)
		if _, err := s.pool.Exec(ctx, `VACUUM (FULL) `+rel); err != nil {
			return rep, fmt.Errorf("compact %s: %w", rel, err)
		}
	}
	rep.Took = time.Since(t0)
	if rep.BytesAfter, err = size(); err != nil {
		return rep, fmt.Errorf("compact: table sizes: %w", err)
	}
	// tables marked again after the start wait for the next compaction
	if _, err := s.pool.Exec(ctx, `DELETE FROM compact_pending WHERE shop = $1 AND since <= $2`, s.shop, start); err != nil {
		return rep, fmt.Errorf("compact: %w", err)
	}
	rep.At = time.Now().UTC()
	if _, err := s.pool.Exec(ctx, `INSERT INTO compactions (shop, at, bytes_before, bytes_after, took_ns) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (shop) DO UPDATE SET at = excluded.at, bytes_before = excluded.bytes_before, bytes_after = excluded.bytes_after, took_ns = excluded.took_ns`,
		s.shop, rep.At, rep.BytesBefore, rep.BytesAfter, int64(rep.Took)); err != nil {
		return rep, fmt.Errorf("compact: record it: %w", err)
	}
	return rep, nil
}

// CompactedAt implements store.Compactor.
func (s *Store) CompactedAt(ctx context.Context) (time.Time, error) {
	var at time.Time
	err := s.pool.QueryRow(ctx, `SELECT at FROM compactions WHERE shop = $1`, s.shop).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	return at.UTC(), err
}
