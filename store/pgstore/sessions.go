package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aisle-dev/aisle/store"
)

// Dashboard sessions (store.Sessions) in table dashboard_sessions
// (migration 0003), one row per open login of the store's shop.

var _ store.Sessions = (*Store)(nil)

// PutSession stores or replaces a session.
func (s *Store) PutSession(ctx context.Context, ds store.DashboardSession) error {
	if ds.Level == "" || len(ds.Level) > store.MaxSessionLevelLen {
		return fmt.Errorf("store session: level %q: want 1 to %d bytes", ds.Level, store.MaxSessionLevelLen)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO dashboard_sessions (shop, token_hash, level, key_check, expires_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (shop, token_hash) DO UPDATE SET level = EXCLUDED.level, key_check = EXCLUDED.key_check, expires_at = EXCLUDED.expires_at`,
		s.shop, ds.TokenHash[:], ds.Level, ds.KeyCheck[:], ds.Expires)
	if err != nil {
		return fmt.Errorf("store dashboard session: %w", err)
	}
	return nil
}

// GetSession returns a stored session (store.ErrNotFound when none).
func (s *Store) GetSession(ctx context.Context, tokenHash [32]byte) (store.DashboardSession, error) {
	out := store.DashboardSession{TokenHash: tokenHash}
	var check []byte
	err := s.pool.QueryRow(ctx, `SELECT level, key_check, expires_at FROM dashboard_sessions WHERE shop = $1 AND token_hash = $2`,
		s.shop, tokenHash[:]).Scan(&out.Level, &check, &out.Expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.DashboardSession{}, store.ErrNotFound
	}
	if err != nil {
		return store.DashboardSession{}, fmt.Errorf("read dashboard session: %w", err)
	}
	copy(out.KeyCheck[:], check)
	out.Expires = out.Expires.UTC()
	return out, nil
}

// DeleteSession removes a session.
func (s *Store) DeleteSession(ctx context.Context, tokenHash [32]byte) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM dashboard_sessions WHERE shop = $1 AND token_hash = $2`, s.shop, tokenHash[:]); err != nil {
		return fmt.Errorf("delete dashboard session: %w", err)
	}
	return nil
}

// PruneSessions deletes expired sessions, then the earliest-expiring ones
// beyond keep, in one transaction.
func (s *Store) PruneSessions(ctx context.Context, now time.Time, keep int) (int, error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM dashboard_sessions WHERE shop = $1 AND expires_at <= $2`, s.shop, now)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		if keep < 0 {
			return nil
		}
		tag, err = tx.Exec(ctx, `DELETE FROM dashboard_sessions WHERE shop = $1 AND token_hash IN (
			SELECT token_hash FROM dashboard_sessions WHERE shop = $1 ORDER BY expires_at DESC, token_hash DESC OFFSET $2)`, s.shop, keep)
		if err != nil {
			return err
		}
		n += tag.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune dashboard sessions: %w", err)
	}
	return int(n), nil
}
