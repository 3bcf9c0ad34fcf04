package shops_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/aisle-dev/aisle/shops"
	"github.com/aisle-dev/aisle/store/pgstore"
)

// TestFiftyShopsShareOnePoolOnPostgres: a deployment with 50 shops loaded
// at once holds at most one pool's connections to PostgreSQL (each shop
// used to open a pool of its own: at least 50 connections, up to 800).
// The connections are counted by the server (pg_stat_activity), by an
// application name only this test's URL carries.
func TestFiftyShopsShareOnePoolOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 50 shops: skipped with -short")
	}
	cfg := pgConfig(t)
	u, err := url.Parse(cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	app := "aisle-pool-test-" + u.Query().Get("search_path")
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	cfg.Store = u.String()
	s := start(t, cfg)
	const n = 50
	for i := range n {
		id := fmt.Sprintf("s%02d", i)
		s.must(201, "POST", "/api/shops", opKey, `{"id":"`+id+`"}`)
		s.must(200, "POST", "/api/shops/"+id+"/items", opKey, `[{"id":"p1","title":"teapot"}]`)
	}
	for i := range n { // every shop loaded and answering from its store
		s.must(200, "GET", fmt.Sprintf("/api/shops/s%02d/items/p1", i), opKey, "")
	}
	var list struct{ Shops []shops.Info }
	if err := json.Unmarshal(s.must(200, "GET", "/api/shops", opKey, ""), &list); err != nil {
		t.Fatal(err)
	}
	loaded := 0
	for _, in := range list.Shops {
		if in.Loaded {
			loaded++
		}
	}
	if loaded != n+1 {
		t.Fatalf("%d shops loaded, want %d (the default and %d others)", loaded, n+1, n)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, cfg.Store) // itself one more connection of the name
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var conns int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&conns); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d shops loaded: %d connections to PostgreSQL (one pool of at most %d, and this test's)", loaded, conns, pgstore.DefaultMaxConns)
	if conns > pgstore.DefaultMaxConns+1 {
		t.Errorf("%d connections with %d shops loaded: more than one pool's %d", conns, loaded, pgstore.DefaultMaxConns)
	}
}
