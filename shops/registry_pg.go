package shops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/aisle-dev/aisle/bus"
	"github.com/aisle-dev/aisle/store/pgstore"
)

// pgBackend keeps the registry in PostgreSQL (migration 0008), shared by
// every replica on the database; each change also writes an outbox row
// of kind pgstore.KindRegistry, which the change feed carries to the
// other replicas (Follow).
type pgBackend struct {
	reg *pgstore.Registry
	// timeout bounds each change (the Registry's methods take no context)
	timeout time.Duration
}

// OpenPostgresRegistry returns the registry kept in the PostgreSQL
// database of pool (opened by pgstore.OpenPool, which applied the
// migrations); the pool stays the caller's. Changes made by other
// replicas reach it once Follow runs.
func OpenPostgresRegistry(ctx context.Context, pool *pgxpool.Pool) (*Registry, error) {
	reg, err := pgstore.NewRegistry(ctx, pool)
	if err != nil {
		return nil, fmt.Errorf("open the shop registry in PostgreSQL: %w", err)
	}
	r, err := newRegistry(ctx, &pgBackend{reg: reg, timeout: 30 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("read the shop registry in PostgreSQL: %w", err)
	}
	return r, nil
}

func (p *pgBackend) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), p.timeout)
}

func (p *pgBackend) close() error { return nil }

func (p *pgBackend) load(ctx context.Context) ([]Shop, []Key, error) {
	rows, krows, err := p.reg.Load(ctx)
	if err != nil {
		return nil, nil, err
	}
	shops := make([]Shop, 0, len(rows))
	for _, row := range rows {
		sh, err := shopOfRow(row)
		if err != nil {
			return nil, nil, err
		}
		shops = append(shops, sh)
	}
	return shops, keysOfRows(krows), nil
}

// loadShop reads one shop (nil when not registered) and its keys.
func (p *pgBackend) loadShop(ctx context.Context, id string) (*Shop, []Key, error) {
	row, krows, err := p.reg.LoadShop(ctx, id)
	if err != nil || row == nil {
		return nil, keysOfRows(krows), err
	}
	sh, err := shopOfRow(*row)
	if err != nil {
		return nil, nil, err
	}
	return &sh, keysOfRows(krows), nil
}

func shopOfRow(row pgstore.RegistryShop) (Shop, error) {
	sh := Shop{ID: row.Shop, Created: row.Created}
	if err := json.Unmarshal(row.Settings, &sh.Settings); err != nil {
		return Shop{}, fmt.Errorf("the settings of shop %q do not read: %w", row.Shop, err)
	}
	return sh, nil
}

func keysOfRows(rows []pgstore.RegistryKey) []Key {
	out := make([]Key, 0, len(rows))
	for _, r := range rows {
		k := Key{ID: r.ID, Shop: r.Shop, Created: r.Created, Hash: r.Hash}
		for _, s := range r.Scopes {
			k.Scopes = append(k.Scopes, Scope(s))
		}
		out = append(out, k)
	}
	return out
}

func rowOfShop(sh Shop) (pgstore.RegistryShop, error) {
	b, err := json.Marshal(sh.Settings)
	return pgstore.RegistryShop{Shop: sh.ID, Created: sh.Created, Settings: b}, err
}

func rowOfKey(k Key) pgstore.RegistryKey {
	r := pgstore.RegistryKey{ID: k.ID, Shop: k.Shop, Created: k.Created, Hash: k.Hash}
	for _, s := range k.Scopes {
		r.Scopes = append(r.Scopes, string(s))
	}
	return r
}

func (p *pgBackend) create(sh Shop) error {
	row, err := rowOfShop(sh)
	if err != nil {
		return err
	}
	ctx, cancel := p.ctx()
	defer cancel()
	err = p.reg.Change(ctx, sh.ID, func(tx *pgstore.RegistryTx) error { return tx.Create(row) })
	switch {
	case errors.Is(err, pgstore.ErrRegistryExists):
		return fmt.Errorf("shop %q %w", sh.ID, ErrExists)
	case errors.Is(err, pgstore.ErrRegistryDeleting):
		return errDeletingID(sh.ID)
	case err != nil:
		return fmt.Errorf("write the shop registry: %w", err)
	}
	return nil
}

func (p *pgBackend) put(sh Shop) error {
	row, err := rowOfShop(sh)
	if err != nil {
		return err
	}
	ctx, cancel := p.ctx()
	defer cancel()
	err = p.reg.Change(ctx, sh.ID, func(tx *pgstore.RegistryTx) error {
		if sh.ID == DefaultID {
			return tx.Put(row)
		}
		ok, err := tx.Update(sh.ID, row.Settings)
		if err == nil && !ok {
			err = fmt.Errorf("shop %q %w (deleted on another replica)", sh.ID, ErrNotFound)
		}
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("write the shop registry: %w", err)
	}
	return err
}

func (p *pgBackend) remove(id string, _ []string) (int, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	var n int
	err := p.reg.Change(ctx, id, func(tx *pgstore.RegistryTx) error {
		ids, _, err := tx.Delete(id)
		n = len(ids)
		return err
	})
	return n, err
}

func (p *pgBackend) deleting() ([]string, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	return p.reg.Deleting(ctx)
}

func (p *pgBackend) removed(id string) error {
	ctx, cancel := p.ctx()
	defer cancel()
	return p.reg.Removed(ctx, id)
}

func (p *pgBackend) putKey(k Key) error {
	ctx, cancel := p.ctx()
	defer cancel()
	return p.reg.Change(ctx, k.Shop, func(tx *pgstore.RegistryTx) error {
		if k.Shop != DefaultID {
			if ok, err := tx.ShopExists(k.Shop); err != nil || !ok {
				return errors.Join(err, fmt.Errorf("shop %q %w (deleted on another replica)", k.Shop, ErrNotFound))
			}
		}
		return tx.PutKey(rowOfKey(k))
	})
}

func (p *pgBackend) revoke(shop, id string) error {
	ctx, cancel := p.ctx()
	defer cancel()
	// a key revoked on another replica meanwhile is revoked: no error
	return p.reg.Change(ctx, shop, func(tx *pgstore.RegistryTx) error {
		_, err := tx.DeleteKey(shop, id)
		return err
	})
}

func (p *pgBackend) rotate(shop, old string, k Key) error {
	ctx, cancel := p.ctx()
	defer cancel()
	return p.reg.Change(ctx, shop, func(tx *pgstore.RegistryTx) error {
		ok, err := tx.DeleteKey(shop, old)
		if err == nil && !ok {
			err = fmt.Errorf("key %q of shop %q %w (revoked on another replica)", old, shop, ErrNotFound)
		}
		if err != nil {
			return err
		}
		return tx.PutKey(rowOfKey(k))
	})
}

// Change is a change of the registry made on another replica (or on this
// one, delivered again by the feed), as Follow applies it: the shop as it
// was here before (nil: not known here) and as it is now (nil: gone).
type Change struct {
	ID            string
	Before, After *Shop
}

// feedState is a registry's following of the change feed.
type feedState struct {
	mu       sync.Mutex
	cancel   context.CancelFunc
	done     chan struct{}
	listener func(Change)
	applied  int64
}

// OnChange sets the function told of each shop whose registry entry the
// feed changed (the Host closes a shop deleted elsewhere, and reloads one
// whose configuration changed). It runs on the follower's goroutine.
func (r *Registry) OnChange(f func(Change)) {
	r.feed.mu.Lock()
	r.feed.listener = f
	r.feed.mu.Unlock()
}

// Follow keeps a PostgreSQL registry in step with the other replicas: it
// reads the feed's position, reads the tables again (what changed while
// the replica was down or starting), then applies every registry change
// the feed carries from that position on, in the background, until Close.
// A registry file (the embedded mode) has nothing to follow: Follow does
// nothing.
func (r *Registry) Follow(ctx context.Context, feed bus.Bus, log *slog.Logger) error {
	p, ok := r.be.(*pgBackend)
	if !ok || feed == nil {
		return nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	_, last, err := feed.Bounds(ctx)
	if err != nil {
		return fmt.Errorf("shop registry: read the change feed's position: %w", err)
	}
	if err := r.reloadAll(ctx, p); err != nil {
		return err
	}
	r.feed.mu.Lock()
	defer r.feed.mu.Unlock()
	if r.feed.cancel != nil {
		return errors.New("shop registry: Follow called twice")
	}
	fctx, cancel := context.WithCancel(context.Background())
	r.feed.cancel, r.feed.done = cancel, make(chan struct{})
	go func() {
		defer close(r.feed.done)
		r.follow(fctx, p, feed, last+1, log)
	}()
	return nil
}

func (r *Registry) stopFollowing() {
	r.feed.mu.Lock()
	cancel, done := r.feed.cancel, r.feed.done
	r.feed.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// follow applies the feed's registry changes from position from on; when
// the feed no longer holds a position it needs, it reads the tables again.
func (r *Registry) follow(ctx context.Context, p *pgBackend, feed bus.Bus, from uint64, log *slog.Logger) {
	pause := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := feed.Subscribe(ctx, from, func(d bus.Delivery) error {
			if d.Kind == pgstore.KindRegistry {
				var m struct {
					Shop string `json:"shop"`
				}
				if err := json.Unmarshal(d.Payload, &m); err != nil || ValidID(m.Shop) != nil {
					log.Error("a shop registry change from the feed does not read; skipped", "seq", d.Seq, "payload", string(d.Payload))
				} else if err := r.reloadShop(ctx, p, m.Shop); err != nil {
					return err // retried from this position
				}
			}
			from = d.Seq + 1
			return nil
		})
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, bus.ErrTrimmed) {
			log.Warn("the change feed no longer holds the shop registry's position; reading the registry again")
			_, last, berr := feed.Bounds(ctx)
			if berr == nil {
				if berr = r.reloadAll(ctx, p); berr == nil {
					from, pause = last+1, 100*time.Millisecond
					continue
				}
			}
			err = berr
		}
		if err != nil {
			log.Warn("following the change feed for the shop registry failed; retrying", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(pause*2, 5*time.Second)
	}
}

// reloadShop reads one shop and its keys again and tells the listener
// when the shop changed.
func (r *Registry) reloadShop(ctx context.Context, p *pgBackend, id string) error {
	// read under the lock this replica's own changes hold while they
	// write: a read from before a local change then cannot overwrite it
	// in memory after it (a key revoked here working again until the
	// feed brings the revocation back)
	r.mu.Lock()
	sh, keys, err := p.loadShop(ctx, id)
	if err != nil {
		r.mu.Unlock()
		return err
	}
	before, had := r.shops[id]
	if sh != nil {
		r.shops[id] = *sh
	} else {
		delete(r.shops, id)
	}
	for kid, k := range r.keys {
		if k.Shop == id {
			delete(r.keys, kid)
		}
	}
	for _, k := range keys {
		r.keys[k.ID] = k
	}
	r.mu.Unlock()
	r.tell(id, before, had, sh)
	return nil
}

// reloadAll reads every shop and key again.
func (r *Registry) reloadAll(ctx context.Context, p *pgBackend) error {
	r.mu.Lock() // as in reloadShop
	shops, keys, err := p.load(ctx)
	if err != nil {
		r.mu.Unlock()
		return fmt.Errorf("read the shop registry in PostgreSQL: %w", err)
	}
	now := map[string]Shop{}
	for _, s := range shops {
		now[s.ID] = s
	}
	old := r.shops
	r.shops = now
	r.keys = map[string]Key{}
	for _, k := range keys {
		r.keys[k.ID] = k
	}
	r.mu.Unlock()
	for id, b := range old {
		if a, ok := now[id]; ok {
			r.tell(id, b, true, &a)
		} else {
			r.tell(id, b, true, nil)
		}
	}
	for id, a := range now {
		if _, ok := old[id]; !ok {
			r.tell(id, Shop{}, false, &a)
		}
	}
	return nil
}

func (r *Registry) tell(id string, before Shop, had bool, after *Shop) {
	if had && after != nil && reflect.DeepEqual(before, *after) {
		return
	}
	r.feed.mu.Lock()
	f := r.feed.listener
	r.feed.applied++
	r.feed.mu.Unlock()
	if f == nil {
		return
	}
	c := Change{ID: id, After: after}
	if had {
		c.Before = &before
	}
	f(c)
}

// ImportFile copies a registry file (shops.db of a deployment that kept
// its registry in the data directory before it moved to PostgreSQL) into
// a registry in PostgreSQL that is still empty: its shops, their keys and
// pending deletions, each shop in one transaction. It reports how many
// shops and keys it copied (0, 0 when the tables were not empty, the file
// does not exist, or the registry is a file itself). The file is left as
// it is.
func (r *Registry) ImportFile(ctx context.Context, path string) (shops, keys int, err error) {
	p, ok := r.be.(*pgBackend)
	if !ok {
		return 0, 0, nil
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil
	}
	empty, err := p.reg.Empty(ctx)
	if err != nil || !empty {
		return 0, 0, err
	}
	file, err := OpenRegistry(path)
	if err != nil {
		return 0, 0, err
	}
	defer file.Close()
	pending, err := file.Deleting()
	if err != nil {
		return 0, 0, err
	}
	file.mu.RLock()
	byShop := map[string][]Key{}
	for _, k := range file.keys {
		byShop[k.Shop] = append(byShop[k.Shop], k)
	}
	all := slices.Collect(maps.Values(file.shops))
	file.mu.RUnlock()
	ids := map[string]bool{}
	for _, sh := range all {
		ids[sh.ID] = true
	}
	for id := range byShop {
		if !ids[id] && id == DefaultID {
			all = append(all, Shop{ID: DefaultID, Created: time.Now().UTC()})
		}
	}
	for _, sh := range all {
		row, err := rowOfShop(sh)
		if err != nil {
			return shops, keys, err
		}
		err = p.reg.Change(ctx, sh.ID, func(tx *pgstore.RegistryTx) error {
			if err := tx.Put(row); err != nil {
				return err
			}
			for _, k := range byShop[sh.ID] {
				if err := tx.PutKey(rowOfKey(k)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return shops, keys, fmt.Errorf("copy shop %q of %s into PostgreSQL: %w", sh.ID, path, err)
		}
		shops++
		keys += len(byShop[sh.ID])
	}
	for _, id := range pending {
		if err := p.reg.Change(ctx, id, func(tx *pgstore.RegistryTx) error { return tx.MarkDeleting(id) }); err != nil {
			return shops, keys, fmt.Errorf("copy the pending deletion of shop %q into PostgreSQL: %w", id, err)
		}
	}
	return shops, keys, r.reloadAll(ctx, p)
}
