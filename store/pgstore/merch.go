package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/aisle-dev/aisle/store"
)

// merchLockSpace keeps the advisory locks of MerchUpdate apart from the
// other advisory locks of the schema (migrations).
const merchLockSpace = 0x6d657263 // "merc"

// MerchView runs fn in a read-only transaction over the shop's
// merchandising records.
func (s *Store) MerchView(ctx context.Context, fn func(store.MerchTx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		m := &merchTx{ctx: ctx, tx: tx, shop: s.shop}
		if err := fn(m); err != nil {
			return err
		}
		return m.err
	})
}

// MerchUpdate runs fn in one transaction, serialised with every other
// MerchUpdate of the shop (on every replica) by an advisory transaction
// lock: all of fn's writes are stored, or none.
func (s *Store) MerchUpdate(ctx context.Context, fn func(store.MerchTx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, merchLockSpace, s.shop); err != nil {
			return fmt.Errorf("lock the merchandising records of shop %q: %w", s.shop, err)
		}
		m := &merchTx{ctx: ctx, tx: tx, shop: s.shop}
		if err := fn(m); err != nil {
			return err
		}
		return m.err
	})
}

// merchTx is store.MerchTx over one PostgreSQL transaction. Get has no
// error result: a failed read is remembered and fails the transaction.
type merchTx struct {
	ctx  context.Context
	tx   pgx.Tx
	shop string
	err  error
}

func (m *merchTx) Get(bucket, key string) []byte {
	var v []byte
	err := m.tx.QueryRow(m.ctx, `SELECT value FROM merch WHERE shop = $1 AND bucket = $2 AND key = $3`, m.shop, bucket, []byte(key)).Scan(&v)
	if err != nil {
		if !errors.Is(err, pgx.ErrNoRows) && m.err == nil {
			m.err = fmt.Errorf("read merchandising record %s/%s: %w", bucket, key, err)
		}
		return nil
	}
	return v
}

func (m *merchTx) Put(bucket, key string, value []byte) error {
	_, err := m.tx.Exec(m.ctx, `INSERT INTO merch (shop, bucket, key, value) VALUES ($1, $2, $3, $4)
		ON CONFLICT (shop, bucket, key) DO UPDATE SET value = EXCLUDED.value`, m.shop, bucket, []byte(key), value)
	if err != nil {
		return fmt.Errorf("write merchandising record %s/%s: %w", bucket, key, err)
	}
	return nil
}

func (m *merchTx) Delete(bucket, key string) error {
	if _, err := m.tx.Exec(m.ctx, `DELETE FROM merch WHERE shop = $1 AND bucket = $2 AND key = $3`, m.shop, bucket, []byte(key)); err != nil {
		return fmt.Errorf("delete merchandising record %s/%s: %w", bucket, key, err)
	}
	return nil
}

func (m *merchTx) Scan(bucket, prefix string, fn func(key string, value []byte) error) error {
	rows, err := m.tx.Query(m.ctx, `SELECT key, value FROM merch WHERE shop = $1 AND bucket = $2 AND key >= $3 ORDER BY key`, m.shop, bucket, []byte(prefix))
	if err != nil {
		return fmt.Errorf("scan merchandising records %s: %w", bucket, err)
	}
	type kv struct {
		k []byte // bytea (migration 0006): keys hold 0x00 separators
		v []byte
	}
	// read the rows first: fn may call Get or Put on the same transaction
	var all []kv
	for rows.Next() {
		var r kv
		if err := rows.Scan(&r.k, &r.v); err != nil {
			rows.Close()
			return fmt.Errorf("scan merchandising records %s: %w", bucket, err)
		}
		if len(r.k) < len(prefix) || string(r.k[:len(prefix)]) != prefix {
			break
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scan merchandising records %s: %w", bucket, err)
	}
	for _, r := range all {
		if err := fn(string(r.k), r.v); err != nil {
			return err
		}
	}
	return nil
}

var _ store.Merch = (*Store)(nil)
