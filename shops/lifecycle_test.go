package shops_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/shops"
)

// Deleting a shop while another shop (and the deleted one) are being
// asked: the other answers every request, the deleted one answers or says
// 404, never 5xx; the delete reports what it removed; after a restart the
// shop is gone from the registry, the routes and the disk.
func TestDeleteUnderTrafficAndRestart(t *testing.T) {
	testDeleteUnderTraffic(t, testConfig(t.TempDir()))
}

// The same with the shops' data in PostgreSQL: the deleted shop's rows go
// too, and the other shops' stay.
func TestDeleteUnderTrafficAndRestartOnPostgres(t *testing.T) {
	testDeleteUnderTraffic(t, pgConfig(t))
}

// storedRows counts the rows of shop in the PostgreSQL store at url, per
// table (none for the embedded store).
func storedRows(t *testing.T, url, shop string) map[string]int {
	t.Helper()
	out := map[string]int{}
	if url == "" {
		return out
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, table := range []string{"shop_state", "items", "users", "events", "models", "model_chunks", "vectors", "idempotency", "forgotten", "outbox", "merch"} {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE shop = $1", shop).Scan(&n); err != nil {
			t.Fatalf("count %s rows of shop %s: %v", table, shop, err)
		}
		if n > 0 {
			out[table] = n
		}
	}
	return out
}

func testDeleteUnderTraffic(t *testing.T, cfg config.Config) {
	s := start(t, cfg)
	s.createShop("acme", "teapot", "Kitchen/Teapots")
	s.createShop("bolt", "hammer", "Tools/Hammers")
	s.createShop("cola", "bottle", "Drinks/Bottles")
	s.train("acme") // models too must go
	if cfg.Store != "" {
		if rows := storedRows(t, cfg.Store, "acme"); rows["items"] != 30 || rows["events"] != 240 || rows["models"] == 0 {
			t.Fatalf("acme's rows in PostgreSQL before the delete: %v, want 30 items, 240 events and models", rows)
		}
	}
	var k struct{ Key string }
	json.Unmarshal(s.must(201, "POST", "/api/shops/acme/keys", opKey, `{"scopes":["public"]}`), &k)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var problems []string
	var asked [2]int
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths := []string{"/api/shops/bolt/search?q=hammer", "/api/shops/bolt/recommend/u01", "/api/shops/bolt/items/p01", "/api/shops/acme/search?q=teapot"}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := paths[(w+i)%len(paths)]
				req, _ := http.NewRequest("GET", s.url+p, nil)
				req.Header.Set("X-API-Key", opKey)
				resp, err := http.DefaultClient.Do(req)
				mu.Lock()
				switch {
				case err != nil:
					problems = append(problems, fmt.Sprintf("%s: %v", p, err))
				case strings.Contains(p, "bolt") && resp.StatusCode != 200:
					problems = append(problems, fmt.Sprintf("%s: %d", p, resp.StatusCode))
				case strings.Contains(p, "acme") && resp.StatusCode != 200 && resp.StatusCode != 404:
					problems = append(problems, fmt.Sprintf("%s: %d", p, resp.StatusCode))
				}
				if strings.Contains(p, "bolt") {
					asked[0]++
				} else {
					asked[1]++
				}
				mu.Unlock()
				if err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	// let the traffic run for a number of requests (not a time) first
	for {
		mu.Lock()
		n := asked[0]
		mu.Unlock()
		if n >= 50 {
			break
		}
		time.Sleep(time.Millisecond) // polling, not a timing assertion
	}
	var d shops.Deleted
	json.Unmarshal(s.must(200, "DELETE", "/api/shops/acme", opKey, ""), &d)
	mu.Lock()
	after := asked[0] + 50
	mu.Unlock()
	for {
		mu.Lock()
		n := asked[0]
		mu.Unlock()
		if n >= after {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}
	if d.Items != 30 || d.Users != 40 || d.Events != 240 || d.Keys != 1 {
		t.Errorf("delete reported %+v, want 30 items, 40 users, 240 events, 1 key", d)
	}
	gone := func() {
		t.Helper()
		for _, p := range []string{"/api/shops/acme", "/api/shops/acme/items", "/api/shops/acme/search?q=teapot"} {
			if code, b := s.do("GET", p, opKey, ""); code != 404 {
				t.Errorf("GET %s after the delete: %d %.200s, want 404", p, code, b)
			}
		}
		if code, _ := s.do("GET", "/api/shops/acme/items", k.Key, ""); code != 401 {
			t.Errorf("acme's key after the delete: %d, want 401", code)
		}
		if list := string(s.must(200, "GET", "/api/shops", opKey, "")); strings.Contains(list, `"acme"`) {
			t.Errorf("GET /api/shops still lists acme: %s", list)
		}
		if _, err := os.Stat(shops.Dir(cfg.Data, "acme")); !os.IsNotExist(err) {
			t.Errorf("acme's data directory is still there: %v", err)
		}
		if rows := storedRows(t, cfg.Store, "acme"); len(rows) > 0 {
			t.Errorf("acme's rows are still in PostgreSQL: %v", rows)
		}
	}
	gone()
	if rows := storedRows(t, cfg.Store, "bolt"); cfg.Store != "" && (rows["items"] != 30 || rows["events"] != 240) {
		t.Errorf("bolt's rows after acme's delete: %v, want its 30 items and 240 events", rows)
	}
	// a directory of a shop the registry does not know (a registry restored
	// from an older backup): kept, not served
	ghost := shops.Dir(cfg.Data, "ghost")
	os.MkdirAll(ghost, 0o755)
	os.WriteFile(filepath.Join(ghost, "aisle.db"), []byte("x"), 0o644)
	s.stop()
	// a crash right after the registry forgot cola: its data is all there
	reg := openRegistry(t, cfg, nil)
	if _, err := reg.Delete("cola"); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Create("cola", shops.Settings{}, time.Now()); err == nil {
		t.Error("the id of a shop whose data is not removed yet could be created again outside the server")
	}
	reg.Close()

	s = start(t, cfg)
	gone()
	if _, err := os.Stat(ghost); err != nil {
		t.Errorf("the directory of a shop the registry does not list was removed: %v", err)
	}
	s.must(404, "GET", "/api/shops/ghost/items", opKey, "")
	if _, err := os.Stat(shops.Dir(cfg.Data, "cola")); !os.IsNotExist(err) {
		t.Errorf("the directory of a shop whose delete was interrupted survived the restart: %v", err)
	}
	if rows := storedRows(t, cfg.Store, "cola"); len(rows) > 0 {
		t.Errorf("the rows of a shop whose delete was interrupted survived the restart: %v", rows)
	}
	if b := string(s.must(200, "GET", "/api/shops/bolt/search?q=hammer", opKey, "")); !strings.Contains(b, `"total":30`) {
		t.Errorf("bolt after the restart: %.300s", b)
	}
	// the id can be used again, for an empty shop
	s.must(201, "POST", "/api/shops", opKey, `{"id":"acme"}`)
	if b := string(s.must(200, "GET", "/api/shops/acme/stats", opKey, "")); !strings.Contains(b, `"items":0`) {
		t.Errorf("a new shop with a deleted shop's id: %s", b)
	}
}

// Per-shop limits: a rate over rate_limit gets 429 with Retry-After,
// events over max_events 507; CORS answers only allowed origins on public
// routes.
func TestShopLimitsAndCORS(t *testing.T) { testShopLimitsAndCORS(t, testConfig(t.TempDir())) }

// TestShopLimitsAndCORSOnPostgres: the same with the shops' data in PostgreSQL.
func TestShopLimitsAndCORSOnPostgres(t *testing.T) { testShopLimitsAndCORS(t, pgConfig(t)) }

func testShopLimitsAndCORS(t *testing.T, cfg config.Config) {
	s := start(t, cfg)
	s.must(201, "POST", "/api/shops", opKey, `{"id":"acme","max_events":3,"allowed_origins":["https://acme.example"]}`)
	s.must(200, "POST", "/api/shops/acme/items", opKey, `[{"id":"p1","title":"teapot"}]`)
	s.must(200, "POST", "/api/shops/acme/events", opKey, `[{"user_id":"u1","item_id":"p1","type":"view"},{"user_id":"u1","item_id":"p1","type":"view"},{"user_id":"u2","item_id":"p1","type":"view"}]`)
	if code, b := s.do("POST", "/api/shops/acme/events", opKey, `{"user_id":"u1","item_id":"p1","type":"view"}`); code != 507 || !strings.Contains(string(b), "max_events") {
		t.Errorf("an event over max_events: %d %s, want 507 naming max_events", code, b)
	}
	// the limit is per shop: the default shop takes events
	s.must(200, "POST", "/api/items", opKey, `[{"id":"p1","title":"stapler"}]`)
	s.must(200, "POST", "/api/events", opKey, `[{"user_id":"u1","item_id":"p1","type":"view"},{"user_id":"u1","item_id":"p1","type":"view"},{"user_id":"u2","item_id":"p1","type":"view"},{"user_id":"u3","item_id":"p1","type":"view"}]`)
	// deleting a user frees room
	s.must(200, "DELETE", "/api/shops/acme/users/u1", opKey, "")
	s.must(200, "POST", "/api/shops/acme/events", opKey, `{"user_id":"u3","item_id":"p1","type":"view"}`)

	s.must(200, "PATCH", "/api/shops/acme", opKey, `{"rate_limit":0.001,"rate_burst":2}`)
	codes := []int{}
	var retry string
	for range 3 {
		req, _ := http.NewRequest("GET", s.url+"/api/shops/acme/items", nil)
		req.Header.Set("X-API-Key", opKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
		retry = resp.Header.Get("Retry-After")
	}
	if fmt.Sprint(codes) != "[200 200 429]" || retry == "" {
		t.Errorf("three requests at a burst of 2: %v (Retry-After %q), want [200 200 429] with Retry-After", codes, retry)
	}
	s.must(200, "GET", "/api/items", opKey, "") // another shop is not limited
	s.must(200, "PATCH", "/api/shops/acme", opKey, `{"rate_limit":0}`)

	preflight := func(origin, path string) http.Header {
		req, _ := http.NewRequest("OPTIONS", s.url+path, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header
	}
	if h := preflight("https://acme.example", "/api/shops/acme/search?q=tea"); h.Get("Access-Control-Allow-Origin") != "https://acme.example" {
		t.Errorf("preflight from an allowed origin on a public route: %v", h)
	}
	if h := preflight("https://evil.example", "/api/shops/acme/search?q=tea"); h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: %v", h)
	}
	if h := preflight("https://acme.example", "/api/shops/acme/users"); h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight on a read route (not for public keys): %v", h)
	}
}

// An idle shop is unloaded, reported so, and loads again on its next
// request with its data; /metrics has a shop label.
func TestIdleUnloadAndMetrics(t *testing.T) { testIdleUnloadAndMetrics(t, testConfig(t.TempDir())) }

// TestIdleUnloadAndMetricsOnPostgres: the same with the shops' data in PostgreSQL.
func TestIdleUnloadAndMetricsOnPostgres(t *testing.T) { testIdleUnloadAndMetrics(t, pgConfig(t)) }

func testIdleUnloadAndMetrics(t *testing.T, cfg config.Config) {
	s := start(t, cfg)
	s.createShop("acme", "teapot", "Kitchen/Teapots")
	loaded := func() (bool, int64) {
		var in shops.Info
		json.Unmarshal(s.must(200, "GET", "/api/shops/acme", opKey, ""), &in)
		return in.Loaded, in.MemoryBytes
	}
	if ok, mem := loaded(); !ok || mem <= 0 {
		t.Errorf("after use: loaded %v, memory %d; want loaded with its heap", ok, mem)
	}
	m := string(s.must(200, "GET", "/metrics", "", ""))
	for _, want := range []string{`aisle_shop_loaded{shop="acme"} 1`, `aisle_shop_memory_bytes{shop="acme"}`, `aisle_shop_loaded{shop="default"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// the shop's own metrics, with its label, next to the default shop's
	s.must(200, "GET", "/api/shops/acme/search?q=teapot", opKey, "")
	m = string(s.must(200, "GET", "/metrics", "", ""))
	for _, want := range []string{`aisle_http_requests_total{code="200",method="GET",route="/api/search",shop="acme"}`, `aisle_events_ingested_total{shop="acme",type="purchase"} 200`} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Count(m, "# TYPE go_goroutines") != 1 || strings.Count(m, "# TYPE aisle_http_requests_total") != 1 {
		t.Error("/metrics repeats a family")
	}
	if n := s.host.UnloadIdle(0); n != 1 {
		t.Errorf("unloaded %d shops, want 1", n)
	}
	if ok, _ := loaded(); ok {
		t.Error("acme is still loaded after unloading idle shops")
	}
	if m := string(s.must(200, "GET", "/metrics", "", "")); !strings.Contains(m, `aisle_shop_loaded{shop="acme"} 0`) || !strings.Contains(m, "aisle_shop_unloads_total 1") {
		t.Errorf("/metrics after the unload: %v", m[strings.Index(m, "aisle_shop"):][:300])
	}
	if b := string(s.must(200, "GET", "/api/shops/acme/search?q=teapot", opKey, "")); !strings.Contains(b, `"total":30`) {
		t.Errorf("acme reloaded: %.300s", b)
	}
	if ok, _ := loaded(); !ok {
		t.Error("acme not loaded after a request")
	}
}

// Unloading an idle shop while it is being deleted (and reloaded by a
// request) ends with the shop gone and nothing closed twice.
func TestUnloadDeleteRace(t *testing.T) {
	s := start(t, testConfig(t.TempDir()))
	for i := range 5 {
		id := fmt.Sprintf("race-%d", i)
		s.must(201, "POST", "/api/shops", opKey, fmt.Sprintf(`{"id":%q}`, id))
		s.must(200, "POST", "/api/shops/"+id+"/items", opKey, `[{"id":"p1","title":"teapot"}]`)
		var wg sync.WaitGroup
		wg.Add(3)
		go func() { defer wg.Done(); s.host.UnloadIdle(0) }()
		go func() {
			defer wg.Done()
			if code, b := s.do("DELETE", "/api/shops/"+id, opKey, ""); code != 200 {
				t.Errorf("delete %s: %d %s", id, code, b)
			}
		}()
		go func() {
			defer wg.Done()
			if code, _ := s.do("GET", "/api/shops/"+id+"/items", opKey, ""); code != 200 && code != 404 {
				t.Errorf("GET during the delete: %d", code)
			}
		}()
		wg.Wait()
		if code, _ := s.do("GET", "/api/shops/"+id+"/items", opKey, ""); code != 404 {
			t.Errorf("%s after the delete: %d", id, code)
		}
	}
}
