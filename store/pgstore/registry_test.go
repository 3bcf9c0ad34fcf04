package pgstore_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/store/pgstore"
	"github.com/aisle-dev/aisle/store/pgstore/pgtest"
)

// The registry's tables: each change is one transaction with an outbox row
// of kind shops.registry naming the shop; creating a taken id or an id
// whose deletion is pending is refused; a deletion takes the keys and
// leaves a mark until Removed.
func TestRegistryTables(t *testing.T) {
	ctx := context.Background()
	pool, err := pgstore.OpenPool(ctx, pgtest.URL(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	reg, err := pgstore.NewRegistry(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	acme := pgstore.RegistryShop{Shop: "acme", Created: now, Settings: []byte(`{"name":"Acme"}`)}
	key := pgstore.RegistryKey{ID: "k1", Shop: "acme", Scopes: []string{"read", "write"}, Created: now}
	key.Hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	steps := []struct {
		name string
		shop string
		fn   func(*pgstore.RegistryTx) error
		want error
	}{
		{"create", "acme", func(tx *pgstore.RegistryTx) error { return tx.Create(acme) }, nil},
		{"create taken", "acme", func(tx *pgstore.RegistryTx) error { return tx.Create(acme) }, pgstore.ErrRegistryExists},
		{"key", "acme", func(tx *pgstore.RegistryTx) error { return tx.PutKey(key) }, nil},
		{"delete", "acme", func(tx *pgstore.RegistryTx) error {
			ids, ok, err := tx.Delete("acme")
			if err == nil && (!ok || !slices.Equal(ids, []string{"k1"})) {
				t.Errorf("delete: keys %v, found %v; want [k1], true", ids, ok)
			}
			return err
		}, nil},
		{"create while deleting", "acme", func(tx *pgstore.RegistryTx) error { return tx.Create(acme) }, pgstore.ErrRegistryDeleting},
	}
	outbox, err := pgstore.OpenShared(ctx, pool, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer outbox.Close()
	for _, s := range steps {
		before, _ := outbox.LastOutboxID(ctx)
		err := reg.Change(ctx, s.shop, s.fn)
		if !errors.Is(err, s.want) {
			t.Fatalf("%s: %v, want %v", s.name, err, s.want)
		}
		after, _ := outbox.LastOutboxID(ctx)
		rows, _ := outbox.ReadOutbox(ctx, before, 10)
		switch {
		case err == nil && (after != before+1 || len(rows) != 1 || rows[0].Kind != pgstore.KindRegistry || string(rows[0].Payload) != `{"shop":"acme"}`):
			t.Errorf("%s: outbox %d → %d, rows %+v; want one %s row naming acme", s.name, before, after, rows, pgstore.KindRegistry)
		case err != nil && after != before:
			t.Errorf("%s failed and still wrote the outbox (%d → %d)", s.name, before, after)
		}
		if s.name == "key" {
			sh, keys, err := reg.LoadShop(ctx, "acme")
			if err != nil || sh == nil || string(sh.Settings) != `{"name":"Acme"}` || !sh.Created.Equal(now) || len(keys) != 1 || !slices.Equal(keys[0].Scopes, key.Scopes) || keys[0].Hash != key.Hash {
				t.Errorf("acme as stored: %+v %+v %v", sh, keys, err)
			}
		}
	}
	if d, err := reg.Deleting(ctx); err != nil || !slices.Equal(d, []string{"acme"}) {
		t.Errorf("deleting: %v %v, want [acme]", d, err)
	}
	if err := reg.Removed(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if err := reg.Change(ctx, "acme", func(tx *pgstore.RegistryTx) error { return tx.Create(acme) }); err != nil {
		t.Errorf("create after Removed: %v", err)
	}
	shops, keys, err := reg.Load(ctx)
	if err != nil || len(shops) != 1 || len(keys) != 0 {
		t.Errorf("load: %+v %+v %v; want acme without keys", shops, keys, err)
	}
}

// Stores opened on one shared pool: closing one leaves the pool to the
// others, and 50 of them hold no more connections than the pool allows.
func TestStoresShareAPool(t *testing.T) {
	ctx := context.Background()
	pool, err := pgstore.OpenPool(ctx, pgtest.URL(t), 3)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var stores []*pgstore.Store
	for i := range 50 {
		st, err := pgstore.OpenShared(ctx, pool, pgstore.Options{Shop: "s" + string(rune('a'+i%26)) + string(rune('a'+i/26))})
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, st)
	}
	stores[0].Close()
	for _, st := range stores[1:] {
		if _, err := st.CountEvents(ctx); err != nil {
			t.Fatalf("a store after another on the pool closed: %v", err)
		}
	}
	if n := pool.Stat().TotalConns(); n > 3 {
		t.Errorf("%d connections on a pool of 3", n)
	}
}
