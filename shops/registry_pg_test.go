package shops_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/shops"
)

// A deployment that kept its registry in shops.db and moves to
// PostgreSQL: the file's shops, keys and pending deletions are copied into
// the empty tables once; the keys verify there; a second copy does nothing.
func TestRegistryFileMovesToPostgres(t *testing.T) {
	cfg := pgConfig(t)
	path := filepath.Join(cfg.Data, shops.RegistryFile)
	file, err := shops.OpenRegistry(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := file.Create("acme", shops.Settings{Name: "Acme", RateLimit: 5}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := file.Create("gone", shops.Settings{}, now); err != nil {
		t.Fatal(err)
	}
	_, secret, err := file.NewKey("acme", []shops.Scope{shops.ScopeRead}, now)
	if err != nil {
		t.Fatal(err)
	}
	_, opSecret, err := file.NewKey(shops.DefaultID, []shops.Scope{shops.ScopeAdmin}, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := file.Delete("gone"); err != nil {
		t.Fatal(err)
	}
	file.Close()

	reg := openRegistry(t, cfg, nil)
	defer reg.Close()
	n, k, err := reg.ImportFile(context.Background(), path)
	if err != nil || n != 2 || k != 2 {
		t.Fatalf("import: %d shops, %d keys, %v; want 2 (acme and the default's keys), 2", n, k, err)
	}
	for _, c := range []struct {
		secret, shop string
	}{{secret, "acme"}, {opSecret, shops.DefaultID}} {
		if key, ok := reg.Verify(c.secret); !ok || key.Shop != c.shop {
			t.Errorf("a key of %s copied from the file: %+v %v", c.shop, key, ok)
		}
	}
	if sh, ok := reg.Get("acme"); !ok || sh.Settings.Name != "Acme" || sh.Settings.RateLimit != 5 {
		t.Errorf("acme copied: %+v %v", sh, ok)
	}
	if d, err := reg.Deleting(); err != nil || len(d) != 1 || d[0] != "gone" {
		t.Errorf("pending deletions copied: %v %v, want [gone]", d, err)
	}
	// another registry on the same database reads what was copied
	other := openRegistry(t, cfg, nil)
	defer other.Close()
	if _, ok := other.Verify(secret); !ok {
		t.Error("a second registry on the database does not know the copied key")
	}
	if n, k, err := other.ImportFile(context.Background(), path); n != 0 || k != 0 || err != nil {
		t.Errorf("a second import into filled tables: %d, %d, %v; want nothing", n, k, err)
	}
}
