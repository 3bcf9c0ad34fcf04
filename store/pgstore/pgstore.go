// Package pgstore keeps Aisle's data in PostgreSQL, so that several
// `aisle serve` replicas can share one source of truth. It implements every
// interface of package store that the embedded store (store/boltstore)
// implements, plus a transactional outbox: each committed change also
// writes a row describing it, in the same transaction, for a relay to
// publish (see ReadOutbox and docs/postgres.md).
//
// The schema is embedded (migrations/*.sql) and applied when a store opens,
// under an advisory lock, and recorded in schema_migrations. Every table
// has a shop column in its primary key; a Store reads and writes one shop.
//
// Writes of one shop are ordered: each write transaction first locks the
// shop's row of shop_state, which holds the event sequence number and the
// outbox id. Commits therefore happen in sequence order, and a reader that
// sees event (or outbox row) n has seen every one before it — which is what
// makes ScanEvents(after) and ReadOutbox(after) cursors safe with many
// concurrent writers on many replicas.
package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/aisle-dev/aisle/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DefaultShop is the shop a store serves when Options.Shop is empty.
const DefaultShop = "default"

// IsURL reports whether s names a PostgreSQL database (postgres:// or
// postgresql://) rather than a data directory.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// DefaultMaxConns bounds a store's connection pool unless the URL says
// otherwise (pool_max_conns): a replica's requests, its background jobs
// and the change feed share it.
const DefaultMaxConns = 16

// Options tune a store.
type Options struct {
	// Shop is the shop whose data the store reads and writes (default "default").
	Shop string
	// MaxConns bounds the connection pool (0: the URL's pool_max_conns,
	// else DefaultMaxConns).
	MaxConns int32
}

// Store is the PostgreSQL store. It is safe for concurrent use, also by
// several processes on the same database.
type Store struct {
	pool *pgxpool.Pool
	// shared: the pool belongs to the caller (OpenShared), Close leaves it
	shared bool
	shop   string
	// parts remembers the event partitions known to exist (month start,
	// as "YYYYMM").
	parts sync.Map
	// appender groups concurrent AppendEvents calls into one transaction.
	appender appender
}

var (
	_ store.Store              = (*Store)(nil)
	_ store.Vectors            = (*Store)(nil)
	_ store.Forgetter          = (*Store)(nil)
	_ store.UserEventScanner   = (*Store)(nil)
	_ store.Expirer            = (*Store)(nil)
	_ store.ModelRewriter      = (*Store)(nil)
	_ store.IdempotentEventLog = (*Store)(nil)
)

// Open connects to the database at url (a postgres:// URL; a search_path
// parameter selects the schema), applies the schema migrations not yet
// applied and returns the store of opts.Shop.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	pool, err := OpenPool(ctx, url, opts.MaxConns)
	return openOwned(ctx, pool, err, opts.Shop)
}

// OpenConfig is Open with a parsed pool configuration.
func OpenConfig(ctx context.Context, cfg *pgxpool.Config, opts Options) (*Store, error) {
	pool, err := newPool(ctx, cfg, opts.MaxConns)
	return openOwned(ctx, pool, err, opts.Shop)
}

// openOwned returns the store of shop on a pool of its own (closed with
// the store), or the error of opening the pool.
func openOwned(ctx context.Context, pool *pgxpool.Pool, err error, shop string) (*Store, error) {
	if err != nil {
		return nil, err
	}
	s, err := openOn(ctx, pool, shop)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// OpenPool connects to the database at url and applies the schema
// migrations not yet applied, for stores that share the pool
// (OpenShared): one pool for every shop of a process, instead of one per
// shop. maxConns bounds it (0: the URL's pool_max_conns, else
// DefaultMaxConns). The caller closes the pool after the stores.
func OpenPool(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store URL %s: %w (expected postgres://user@host:5432/db?sslmode=disable)", Redact(url), err)
	}
	return newPool(ctx, cfg, maxConns)
}

// OpenShared returns the store of opts.Shop on a pool opened by OpenPool
// (opts.MaxConns is the pool's business). Its Close leaves the pool open.
func OpenShared(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	s, err := openOn(ctx, pool, opts.Shop)
	if err != nil {
		return nil, err
	}
	s.shared = true
	return s, nil
}

// newPool connects, checks the connection and applies the migrations.
func newPool(ctx context.Context, cfg *pgxpool.Config, maxConns int32) (*pgxpool.Pool, error) {
	switch {
	case maxConns > 0:
		cfg.MaxConns = maxConns
	case !strings.Contains(cfg.ConnString(), "pool_max_conns"):
		// pgxpool's default (4 on a small machine) queues a busy
		// replica's requests behind a few long reads.
		cfg.MaxConns = DefaultMaxConns
	}
	where := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL at %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL at %s: %w (is it running, and does the URL name the right user and database?)", where, err)
	}
	if _, err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// openOn returns the store of shop on a migrated pool.
func openOn(ctx context.Context, pool *pgxpool.Pool, shop string) (*Store, error) {
	if shop == "" {
		shop = DefaultShop
	}
	s := &Store{pool: pool, shop: shop}
	if _, err := pool.Exec(ctx, `WITH t AS (INSERT INTO shop_tally (shop) VALUES ($1) ON CONFLICT DO NOTHING)
		INSERT INTO shop_state (shop) VALUES ($1) ON CONFLICT DO NOTHING`, s.shop); err != nil {
		return nil, fmt.Errorf("register shop %q: %w", s.shop, err)
	}
	return s, nil
}

// Close closes the connection pool, unless it is shared (OpenShared).
func (s *Store) Close() error {
	if !s.shared {
		s.pool.Close()
	}
	return nil
}

// Shop is the shop the store serves.
func (s *Store) Shop() string { return s.shop }

// Pool is the store's connection pool, for parts that keep their own
// tables in the same database (leases, for example).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Migration is one embedded schema migration.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in order.
func Migrations() ([]Migration, error) {
	ents, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range ents {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("migration file %q: name it NNNN_what.sql", name)
		}
		b, err := migrationFiles.ReadFile("migrations/" + name)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(name, ".sql"), SQL: string(b)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	return out, nil
}

// Migrate applies the migrations not yet applied to the database at url
// and returns the names of those it applied.
func Migrate(ctx context.Context, url string) ([]string, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store URL %s: %w", Redact(url), err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	return migrate(ctx, pool)
}

// migrate applies the pending migrations on one connection holding a
// session advisory lock keyed by the schema, so replicas starting together
// apply each migration once.
func migrate(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	migs, err := Migrations()
	if err != nil {
		return nil, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Release()
	var schema *string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return nil, fmt.Errorf("read the current schema: %w", err)
	}
	if schema == nil {
		return nil, errors.New("the schema named by search_path does not exist: create it (CREATE SCHEMA …) or fix search_path in the store URL")
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended('aisle.migrate:' || $1, 0))`, *schema); err != nil {
		return nil, fmt.Errorf("lock schema %s for migrations: %w", *schema, err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtextextended('aisle.migrate:' || $1, 0))`, *schema)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("create schema_migrations in schema %s: %w (does the user may create tables there?)", *schema, err)
	}
	done := map[int]bool{}
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return nil, err
		}
		done[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var applied []string
	for _, m := range migs {
		if done[m.Version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if err := tx.Conn().PgConn().Exec(ctx, m.SQL).Close(); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("apply schema migration %s in schema %s: %w (nothing of it was applied)", m.Name, *schema, err)
		}
		applied = append(applied, m.Name)
	}
	for v := range done {
		if v > migs[len(migs)-1].Version {
			return applied, fmt.Errorf("schema %s has migration %d, newer than this binary knows (%d): run a newer aisle", *schema, v, migs[len(migs)-1].Version)
		}
	}
	return applied, nil
}

// Redact hides the password of a store URL, for messages and logs.
func Redact(url string) string {
	if cfg, err := pgconn.ParseConfig(url); err == nil && cfg.Password != "" {
		return strings.Replace(url, cfg.Password, "***", 1)
	}
	return url
}

// state is a shop's row of shop_state, read and locked at the start of a
// write transaction and written back at its end.
type state struct {
	lastSeq, lastOutbox     int64
	nItems, nUsers, nEvents int64
	outbox                  []outboxRow
}

type outboxRow struct {
	kind    string
	payload []byte
}

// emit queues an outbox row, written with the state at the end of the
// transaction.
func (st *state) emit(kind string, payload []byte) {
	st.outbox = append(st.outbox, outboxRow{kind, payload})
}

// write runs fn in a transaction holding the shop's lock and commits it:
// the outbox rows fn emitted and the counters it changed are written in
// the same transaction, after fn.
func (s *Store) write(ctx context.Context, fn func(tx pgx.Tx, st *state) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var st state
		// Lock the shop's row (no new event batch takes a range while it
		// is held), wait for the batches that took theirs before (see
		// appendChain), then read the counters they leave in shop_tally:
		// three statements, one round trip.
		b := &pgx.Batch{}
		b.Queue(`SELECT last_seq, last_outbox, n_items FROM shop_state WHERE shop = $1 FOR UPDATE`, s.shop).
			QueryRow(func(r pgx.Row) error { return r.Scan(&st.lastSeq, &st.lastOutbox, &st.nItems) })
		b.Queue(`SELECT aisle_chain_wait($1, chain + 1) FROM shop_state WHERE shop = $1`, s.shop).Exec(func(pgconn.CommandTag) error { return nil })
		b.Queue(`SELECT n_users, n_events FROM shop_tally WHERE shop = $1`, s.shop).
			QueryRow(func(r pgx.Row) error { return r.Scan(&st.nUsers, &st.nEvents) })
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("lock shop %q: %w", s.shop, err)
		}
		before := st
		if err := fn(tx, &st); err != nil {
			return err
		}
		// The outbox rows and the counters in one statement: every round
		// trip here is spent holding the shop's lock.
		kinds := make([]string, len(st.outbox))
		payloads := make([]string, len(st.outbox))
		for i, o := range st.outbox {
			kinds[i], payloads[i] = o.kind, string(o.payload)
		}
		first := st.lastOutbox
		st.lastOutbox += int64(len(st.outbox))
		if st.lastSeq != before.lastSeq || st.lastOutbox != before.lastOutbox || st.nItems != before.nItems || st.nUsers != before.nUsers || st.nEvents != before.nEvents {
			_, err := tx.Exec(ctx, `WITH o AS (
					INSERT INTO outbox (shop, id, kind, payload)
					SELECT $1, $7 + t.n, t.k, t.p::json FROM unnest($8::text[], $9::text[]) WITH ORDINALITY AS t(k, p, n)),
				c AS (UPDATE shop_tally SET n_users = $5, n_events = $6 WHERE shop = $1)
				UPDATE shop_state SET last_seq = $2, last_outbox = $3, n_items = $4 WHERE shop = $1`,
				s.shop, st.lastSeq, st.lastOutbox, max(st.nItems, 0), max(st.nUsers, 0), max(st.nEvents, 0), first, kinds, payloads)
			if err != nil {
				return fmt.Errorf("write outbox and counters of shop %q: %w", s.shop, err)
			}
		}
		return nil
	})
}

// lockShop locks the shop's row of shop_state inside tx and waits until
// the event batches that took their ranges before have ended: after it,
// tx is the shop's only writer until it ends.
func (s *Store) lockShop(ctx context.Context, tx pgx.Tx) (lastOutbox int64, err error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT last_outbox FROM shop_state WHERE shop = $1 FOR UPDATE`, s.shop).
		QueryRow(func(r pgx.Row) error { return r.Scan(&lastOutbox) })
	b.Queue(`SELECT aisle_chain_wait($1, chain + 1) FROM shop_state WHERE shop = $1`, s.shop).Exec(func(pgconn.CommandTag) error { return nil })
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("lock shop %q: %w", s.shop, err)
	}
	return lastOutbox, nil
}

// counter reads one counter of the shop.
func (s *Store) counter(ctx context.Context, col string) (int, error) {
	var n int64
	table := "shop_state"
	if col == "n_users" || col == "n_events" {
		table = "shop_tally"
	}
	err := s.pool.QueryRow(ctx, `SELECT `+col+` FROM `+table+` WHERE shop = $1`, s.shop).Scan(&n)
	return int(n), err
}
