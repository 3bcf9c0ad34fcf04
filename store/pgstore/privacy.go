package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
)

// ForgetUser implements store.Forgetter: the user's record and events go,
// a receipt (counts, no id) stays, and a "users.delete" outbox row tells
// the other replicas — all in one transaction.
//
// PostgreSQL keeps a deleted row's bytes in its data files until VACUUM
// reuses the space, and in the write-ahead log until it is recycled; the
// store has no Compact of its own (see docs/postgres.md, "Privacy").
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
