package shops_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/aisle-dev/aisle"
	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/shops"
	"github.com/aisle-dev/aisle/store/pgstore"
	"github.com/aisle-dev/aisle/store/pgstore/pgtest"
)

// These tests run the real server (the default shop, the registry and
// the shop host) in the test process on 127.0.0.1 and talk HTTP to it.

const (
	opKey   = "operator-admin"
	readKey = "operator-read"
)

// testServer is a running deployment.
type testServer struct {
	t    testing.TB
	url  string
	host *shops.Host
	stop func()
}

func testConfig(data string) config.Config {
	cfg := config.Default()
	cfg.Data = data
	cfg.Server.AdminKey, cfg.Server.ReadKey = opKey, readKey
	cfg.Training.Models = []config.Model{{Name: "popular"}, {Name: "itemknn"}}
	cfg.Training.ValidationUsers = 5
	cfg.Training.BackgroundBudget, cfg.Training.TuneEvery = 0, 0
	cfg.Recommend.RetrainEvery, cfg.Recommend.RetrainAfterEvents = 0, 0
	cfg.Search.LearnRanking = new(bool)
	cfg.Privacy.CompactAfter = -1
	return cfg
}

// start runs a deployment over data until the test ends (or stop).
func start(t testing.TB, cfg config.Config) *testServer {
	t.Helper()
	ctx := context.Background()
	queue := shops.NewTrainingQueue()
	opts := []aisle.Option{aisle.WithTrainingTurn(queue.Turn(shops.DefaultID))}
	// as aisle serve: on PostgreSQL one pool for every shop, and the
	// registry in the database
	var pool *pgxpool.Pool
	if cfg.Store != "" {
		var err error
		if pool, err = pgstore.OpenPool(ctx, cfg.Store, 0); err != nil {
			t.Fatal(err)
		}
		opts = append(opts, aisle.WithPostgresPool(pool))
	}
	a, err := aisle.Open(ctx, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	reg := openRegistry(t, cfg, pool)
	host, err := shops.New(shops.Options{Config: cfg, Default: a, Registry: reg, IdleAfter: cfg.Shops.IdleUnload, Queue: queue, Pool: pool, Feed: a.Feed()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- a.ServeHandler(sctx, ln, host) }()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, url: "http://" + ln.Addr().String(), host: host}
	var stopped bool
	s.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
		if err := errors.Join(host.Close(), a.Close(), reg.Close()); err != nil {
			t.Error(err)
		}
		if pool != nil {
			pool.Close()
		}
	}
	t.Cleanup(s.stop)
	return s
}

// openRegistry opens the registry a deployment of cfg uses: the
// database's on PostgreSQL (on pool, else on a pool closed with the test),
// else shops.db in the data directory.
func openRegistry(t testing.TB, cfg config.Config, pool *pgxpool.Pool) *shops.Registry {
	t.Helper()
	ctx := context.Background()
	if cfg.Store == "" {
		reg, err := shops.OpenRegistry(filepath.Join(cfg.Data, "shops.db"))
		if err != nil {
			t.Fatal(err)
		}
		return reg
	}
	if pool == nil {
		var err error
		if pool, err = pgstore.OpenPool(ctx, cfg.Store, 2); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
	}
	reg, err := shops.OpenPostgresRegistry(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// do sends a request with key (none when "") and returns the status and
// body.
func (s *testServer) do(method, path, key, body string) (int, []byte) {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// must is do expecting want.
func (s *testServer) must(want int, method, path, key, body string) []byte {
	s.t.Helper()
	code, b := s.do(method, path, key, body)
	if code != want {
		s.t.Fatalf("%s %s: %d %.300s, want %d", method, path, code, b, want)
	}
	return b
}

// createShop creates a shop and fills it: items p00..p29 whose titles all
// carry word, users u00..u39 with purchases.
func (s *testServer) createShop(id, word, category string) {
	s.t.Helper()
	if id != shops.DefaultID {
		s.must(201, "POST", "/api/shops", opKey, fmt.Sprintf(`{"id":%q}`, id))
	}
	s.fill(id, word, category)
}

func (s *testServer) fill(id, word, category string) {
	s.t.Helper()
	var items, evs []string
	for i := range 30 {
		items = append(items, fmt.Sprintf(`{"id":"p%02d","title":"%s %s %d","categories":[%q],"price":%d,"available":true}`, i, word, []string{"blue", "red", "big"}[i%3], i, category, 3+i))
	}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for u := range 40 {
		for k := range 5 {
			evs = append(evs, fmt.Sprintf(`{"user_id":"u%02d","item_id":"p%02d","type":"purchase","session_id":"s%d","timestamp":%q}`,
				u, (u*7+k*3)%30, u, t0.Add(time.Duration(u*5+k)*time.Hour).Format(time.RFC3339)))
		}
		evs = append(evs, fmt.Sprintf(`{"user_id":"u%02d","type":"search","query":"%s %s","session_id":"s%d"}`, u, word, "blue", u))
	}
	s.must(200, "POST", s.prefix(id)+"/items", opKey, "["+strings.Join(items, ",")+"]")
	s.must(200, "POST", s.prefix(id)+"/events", opKey, "["+strings.Join(evs, ",")+"]")
}

func (s *testServer) prefix(id string) string {
	if id == shops.DefaultID {
		return "/api"
	}
	return "/api/shops/" + id
}

// train retrains a shop's models and waits for the run to end.
func (s *testServer) train(id string) {
	s.t.Helper()
	s.must(202, "POST", s.prefix(id)+"/models/retrain", opKey, "")
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		var m struct {
			Training *struct{ Running bool } `json:"training"`
			Models   []json.RawMessage       `json:"models"`
		}
		json.Unmarshal(s.must(200, "GET", s.prefix(id)+"/models", opKey, ""), &m)
		if (m.Training == nil || !m.Training.Running) && len(m.Models) > 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("shop %s: training did not end in 2 minutes", id)
}

// Two shops with the same item and user ids and different data: every
// read route of one shows nothing of the other, and training one leaves
// the other's models as they were.
func TestShopsAreIsolated(t *testing.T) {
	if testing.Short() {
		t.Skip("trains models of three shops")
	}
	testShopsAreIsolated(t, testConfig(t.TempDir()))
}

// The same with every shop's data in one PostgreSQL database (the tables
// carry the shop), as in a cluster.
func TestShopsAreIsolatedOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("trains models of three shops")
	}
	testShopsAreIsolated(t, pgConfig(t))
}

// pgConfig is testConfig with the data in a throwaway PostgreSQL schema
// (skipping the test, saying so, when no server answers).
func pgConfig(t testing.TB) config.Config {
	cfg := testConfig(t.TempDir())
	cfg.Store = pgtest.URL(t)
	return cfg
}

func testShopsAreIsolated(t *testing.T, cfg config.Config) {
	s := start(t, cfg)
	s.createShop(shops.DefaultID, "stapler", "Office/Staplers")
	s.createShop("acme", "teapot", "Kitchen/Teapots")
	s.createShop("bolt", "hammer", "Tools/Hammers")
	if cfg.Store != "" { // the shops' rows really are in the one database
		for _, id := range []string{shops.DefaultID, "acme", "bolt"} {
			if rows := storedRows(t, cfg.Store, id); rows["items"] != 30 || rows["users"] != 40 {
				t.Fatalf("shop %s's rows in PostgreSQL: %v, want 30 items and 40 users", id, rows)
			}
		}
	}
	s.train("acme")
	boltBefore := string(s.must(200, "GET", "/api/shops/bolt/models", opKey, ""))
	acmeBefore := versions(s.must(200, "GET", "/api/shops/acme/models", opKey, ""))
	s.train("bolt")
	s.train(shops.DefaultID)
	if after := versions(s.must(200, "GET", "/api/shops/acme/models", opKey, "")); after != acmeBefore {
		t.Errorf("training bolt and the default shop changed acme's models: %s, were %s", after, acmeBefore)
	}
	if strings.Contains(boltBefore, `"version"`) {
		t.Errorf("bolt had models after only acme was trained: %.300s", boltBefore)
	}

	words := map[string]string{"acme": "teapot", "bolt": "hammer", shops.DefaultID: "stapler"}
	for id, own := range words {
		for other, foreign := range words {
			if other == id {
				continue
			}
			for _, path := range []string{
				"/items/p01", "/items?limit=100", "/users/u01/events?limit=100", "/recommend/u01?n=20",
				"/recommend/u01/buy-again?n=20", "/popular?n=20", "/trending?n=20",
				"/search?q=" + foreign, "/search?q=" + own + "&facets=category,brand,price&n=50",
				"/suggest?q=" + foreign[:3], "/suggest?q=" + own[:3], "/items/p01/similar?n=20",
				"/items/p01/bought-together?n=20", "/models", "/stats", "/users?limit=100",
			} {
				body := string(s.must(200, "GET", s.prefix(id)+path, opKey, ""))
				if strings.Contains(body, foreign) || strings.Contains(body, categoryOf(foreign)) {
					t.Errorf("shop %s: GET %s shows shop %s's data (%q): %.300s", id, path, other, foreign, body)
				}
			}
		}
		// its own data is there, so the checks above can fail
		if body := string(s.must(200, "GET", s.prefix(id)+"/search?q="+own, opKey, "")); !strings.Contains(body, `"p`) {
			t.Errorf("shop %s: searching its own word finds nothing: %.300s", id, body)
		}
		var st struct{ Items, Users, Events int }
		json.Unmarshal(s.must(200, "GET", s.prefix(id)+"/stats", opKey, ""), &st)
		if st.Items != 30 || st.Users != 40 {
			t.Errorf("shop %s: stats %+v, want its own 30 items and 40 users", id, st)
		}
	}
	// the dashboard of the default shop shows its own catalogue only
	req, _ := http.NewRequest("GET", s.url+"/search?q=teapot", nil)
	req.Header.Set("Authorization", "Bearer "+opKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || bytes.Contains(b, []byte("teapot blue")) || bytes.Contains(b, []byte("Kitchen")) {
		t.Errorf("the default storefront's search for teapot: %d, shows acme's teapots or category", resp.StatusCode)
	}
}

// versions is the models and versions a GET /models answer lists.
func versions(b []byte) string {
	var m struct {
		Models []struct {
			Name    string `json:"name"`
			Version any    `json:"version"`
		} `json:"models"`
	}
	json.Unmarshal(b, &m)
	return fmt.Sprint(m.Models)
}

func categoryOf(word string) string {
	return map[string]string{"teapot": "Kitchen", "hammer": "Tools", "stapler": "Office"}[word]
}
