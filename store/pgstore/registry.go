package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// KindRegistry is the outbox kind of a change of the shop registry
// (package shops): payload {"shop": "<id>"}. The replicas read that shop's
// row and keys again (by reference, so a late or repeated message
// converges on what the tables hold). The rows go to the default shop's
// outbox, so the feed carries them in commit order with its changes.
const KindRegistry = "shops.registry"

// RegistryShop is a row of registry_shops: Settings is the shop's
// settings as JSON (package shops gives them their meaning).
type RegistryShop struct {
	Shop     string
	Created  time.Time
	Settings []byte
}

// RegistryKey is a row of registry_keys: Hash is the hex SHA-256 of the
// secret, which is not stored.
type RegistryKey struct {
	ID      string
	Shop    string
	Scopes  []string
	Created time.Time
	Hash    string
}

// ErrRegistryExists is returned when creating a shop that is registered.
var ErrRegistryExists = errors.New("already exists")

// ErrRegistryDeleting is returned when creating a shop whose deletion is
// not finished (registry_deleting holds it).
var ErrRegistryDeleting = errors.New("was deleted and its data is not all removed yet")

// Registry is the shop registry's tables (migration 0008), shared by every
// replica on the database. Each change is one transaction that also
// writes a KindRegistry outbox row.
type Registry struct {
	s *Store // the default shop's: its lock orders the changes, its outbox carries them
}

// NewRegistry returns the registry of the database pool was opened on
// (by OpenPool, which applied the migrations); the pool stays the
// caller's.
func NewRegistry(ctx context.Context, pool *pgxpool.Pool) (*Registry, error) {
	s, err := OpenShared(ctx, pool, Options{Shop: DefaultShop})
	if err != nil {
		return nil, err
	}
	return &Registry{s: s}, nil
}

// Load reads every shop and key.
func (r *Registry) Load(ctx context.Context) ([]RegistryShop, []RegistryKey, error) {
	shops, err := r.shops(ctx, `SELECT shop, created, settings FROM registry_shops ORDER BY shop`)
	if err != nil {
		return nil, nil, err
	}
	keys, err := r.keys(ctx, `SELECT id, shop, scopes, created, hash FROM registry_keys ORDER BY id`)
	if err != nil {
		return nil, nil, err
	}
	return shops, keys, nil
}

// LoadShop reads one shop (nil when it is not registered) and its keys.
func (r *Registry) LoadShop(ctx context.Context, shop string) (*RegistryShop, []RegistryKey, error) {
	shops, err := r.shops(ctx, `SELECT shop, created, settings FROM registry_shops WHERE shop = $1`, shop)
	if err != nil {
		return nil, nil, err
	}
	keys, err := r.keys(ctx, `SELECT id, shop, scopes, created, hash FROM registry_keys WHERE shop = $1 ORDER BY id`, shop)
	if err != nil {
		return nil, nil, err
	}
	if len(shops) == 0 {
		return nil, keys, nil
	}
	return &shops[0], keys, nil
}

func (r *Registry) shops(ctx context.Context, q string, args ...any) ([]RegistryShop, error) {
	rows, err := r.s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read the shop registry: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (RegistryShop, error) {
		var s RegistryShop
		err := row.Scan(&s.Shop, &s.Created, &s.Settings)
		s.Created = s.Created.UTC()
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the shop registry: %w", err)
	}
	return out, nil
}

func (r *Registry) keys(ctx context.Context, q string, args ...any) ([]RegistryKey, error) {
	rows, err := r.s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read the shop registry's keys: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (RegistryKey, error) {
		var k RegistryKey
		err := row.Scan(&k.ID, &k.Shop, &k.Scopes, &k.Created, &k.Hash)
		k.Created = k.Created.UTC()
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the shop registry's keys: %w", err)
	}
	return out, nil
}

// Deleting lists the shops whose deletion is not finished.
func (r *Registry) Deleting(ctx context.Context) ([]string, error) {
	rows, err := r.s.pool.Query(ctx, `SELECT shop FROM registry_deleting ORDER BY shop`)
	if err != nil {
		return nil, fmt.Errorf("read the shop registry: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read the shop registry: %w", err)
	}
	return out, nil
}

// Removed clears the mark of a deleted shop whose data is all gone.
func (r *Registry) Removed(ctx context.Context, shop string) error {
	if _, err := r.s.pool.Exec(ctx, `DELETE FROM registry_deleting WHERE shop = $1`, shop); err != nil {
		return fmt.Errorf("write the shop registry: %w", err)
	}
	return nil
}

// RegistryTx is a change of the registry under way (see Change).
type RegistryTx struct {
	ctx context.Context
	tx  pgx.Tx
}

// Change runs fn in one transaction that also writes a KindRegistry outbox
// row naming shop, and commits it: the replicas learn of the change from
// the feed.
func (r *Registry) Change(ctx context.Context, shop string, fn func(*RegistryTx) error) error {
	payload, err := json.Marshal(struct {
		Shop string `json:"shop"`
	}{shop})
	if err != nil {
		return err
	}
	return r.s.write(ctx, func(tx pgx.Tx, st *state) error {
		if err := fn(&RegistryTx{ctx: ctx, tx: tx}); err != nil {
			return err
		}
		st.emit(KindRegistry, payload)
		return nil
	})
}

// Create registers a new shop: ErrRegistryExists when its id is taken,
// ErrRegistryDeleting when a deletion of the id is not finished.
func (t *RegistryTx) Create(sh RegistryShop) error {
	var deleting bool
	if err := t.tx.QueryRow(t.ctx, `SELECT EXISTS (SELECT 1 FROM registry_deleting WHERE shop = $1)`, sh.Shop).Scan(&deleting); err != nil {
		return err
	}
	if deleting {
		return ErrRegistryDeleting
	}
	tag, err := t.tx.Exec(t.ctx, `INSERT INTO registry_shops (shop, created, settings) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, sh.Shop, sh.Created, sh.Settings)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrRegistryExists
	}
	return nil
}

// Put stores a shop (new or changed).
func (t *RegistryTx) Put(sh RegistryShop) error {
	_, err := t.tx.Exec(t.ctx, `INSERT INTO registry_shops (shop, created, settings) VALUES ($1, $2, $3)
		ON CONFLICT (shop) DO UPDATE SET settings = EXCLUDED.settings`, sh.Shop, sh.Created, sh.Settings)
	return err
}

// Update replaces the settings of a registered shop; false when it is not.
func (t *RegistryTx) Update(shop string, settings []byte) (bool, error) {
	tag, err := t.tx.Exec(t.ctx, `UPDATE registry_shops SET settings = $2 WHERE shop = $1`, shop, settings)
	return tag.RowsAffected() > 0, err
}

// Delete removes a shop and its keys and marks it deleting; it returns the
// ids of the keys it removed, and false when the shop was not registered.
func (t *RegistryTx) Delete(shop string) ([]string, bool, error) {
	tag, err := t.tx.Exec(t.ctx, `DELETE FROM registry_shops WHERE shop = $1`, shop)
	if err != nil || tag.RowsAffected() == 0 {
		return nil, false, err
	}
	rows, err := t.tx.Query(t.ctx, `DELETE FROM registry_keys WHERE shop = $1 RETURNING id`, shop)
	if err != nil {
		return nil, true, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, true, err
	}
	_, err = t.tx.Exec(t.ctx, `INSERT INTO registry_deleting (shop) VALUES ($1) ON CONFLICT DO NOTHING`, shop)
	return ids, true, err
}

// PutKey stores a key.
func (t *RegistryTx) PutKey(k RegistryKey) error {
	_, err := t.tx.Exec(t.ctx, `INSERT INTO registry_keys (shop, id, scopes, created, hash) VALUES ($1, $2, $3, $4, $5)`,
		k.Shop, k.ID, k.Scopes, k.Created, k.Hash)
	return err
}

// DeleteKey removes a key of shop; false when there was none.
func (t *RegistryTx) DeleteKey(shop, id string) (bool, error) {
	tag, err := t.tx.Exec(t.ctx, `DELETE FROM registry_keys WHERE shop = $1 AND id = $2`, shop, id)
	return tag.RowsAffected() > 0, err
}

// ShopExists tells whether a shop is registered.
func (t *RegistryTx) ShopExists(shop string) (bool, error) {
	var ok bool
	err := t.tx.QueryRow(t.ctx, `SELECT EXISTS (SELECT 1 FROM registry_shops WHERE shop = $1)`, shop).Scan(&ok)
	return ok, err
}

// MarkDeleting records that the deletion of shop is not finished.
func (t *RegistryTx) MarkDeleting(shop string) error {
	_, err := t.tx.Exec(t.ctx, `INSERT INTO registry_deleting (shop) VALUES ($1) ON CONFLICT DO NOTHING`, shop)
	return err
}

// Empty tells whether the registry holds no shop, key or pending deletion.
func (r *Registry) Empty(ctx context.Context) (bool, error) {
	var any bool
	err := r.s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM registry_shops) OR EXISTS (SELECT 1 FROM registry_keys) OR EXISTS (SELECT 1 FROM registry_deleting)`).Scan(&any)
	if err != nil {
		return false, fmt.Errorf("read the shop registry: %w", err)
	}
	return !any, nil
}
