package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/shops"
)

// aisle import --shop creates and fills a shop of the data directory;
// aisle train --shop trains it; the server then serves it under
// /api/shops/{shop}/… and the default shop stays empty. --shop with a
// shop that does not exist is refused for train, with what to do.
func TestImportTrainServeShop(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary three times")
	}
	dir := t.TempDir()
	items := filepath.Join(t.TempDir(), "items.jsonl")
	evs := filepath.Join(t.TempDir(), "events.jsonl")
	var ib, eb strings.Builder
	for i := range 20 {
		ib.WriteString(`{"id":"g` + string(rune('a'+i)) + `","title":"gift mug ` + string(rune('a'+i)) + `","price":4.5}` + "\n")
	}
	for u := range 30 {
		for k := range 4 {
			eb.WriteString(`{"user_id":"c` + string(rune('a'+u%26)) + string(rune('a'+u/26)) + `","item_id":"g` + string(rune('a'+(u+k*3)%20)) + `","type":"purchase"}` + "\n")
		}
	}
	os.WriteFile(items, []byte(ib.String()), 0o644)
	os.WriteFile(evs, []byte(eb.String()), 0o644)
	run := func(wantOK bool, args ...string) string {
		t.Helper()
		out, err := exec.Command(aisleBin(t), args...).CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("aisle %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := run(false, "train", "--data", dir, "--shop", "gift"); !strings.Contains(out, "aisle import --shop gift") {
		t.Errorf("train --shop of an unknown shop: %s", out)
	}
	run(false, "import", "--data", dir, "--shop", "Gift!", "--items", items)
	if out := run(true, "import", "--data", dir, "--shop", "gift", "--items", items, "--events", evs); !strings.Contains(out, `Created shop "gift"`) {
		t.Errorf("import --shop did not say it created the shop: %s", out)
	}
	// the shop's own configuration names the models aisle train fits
	reg, err := shops.OpenRegistry(filepath.Join(dir, shops.RegistryFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Update("gift", shops.Settings{Config: map[string]any{"training.models": []any{map[string]any{"name": "itemknn"}}}}); err != nil {
		t.Fatal(err)
	}
	reg.Close()
	run(true, "train", "--data", dir, "--shop", "gift")
	s := startServer(t, dir)
	if code, body := s.do("GET", "/api/shops/gift/stats", ""); code != 200 || body["items"] != 20.0 || body["events"] != 120.0 {
		t.Errorf("the imported shop's stats: %d %v", code, body)
	}
	if code, body := s.do("GET", "/api/shops/gift/models", ""); code != 200 || !strings.Contains(toJSON(body), `"itemknn"`) || strings.Contains(toJSON(body), `"ials"`) || strings.Contains(toJSON(body), `"popular"`) {
		t.Errorf("the trained shop's models, its configuration naming itemknn only: %d %v", code, body)
	}
	if code, body := s.do("GET", "/api/stats", ""); code != 200 || body["items"] != 0.0 {
		t.Errorf("the default shop after importing into gift: %d %v", code, body)
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// aisle demo serves two shops: the Office catalogue as the default one
// and the gift shop, with GBP prices, loaded in the background after the
// default one is ready; the storefront switches to it.
func TestDemoServesTwoShops(t *testing.T) {
	t.Parallel() // its own demo server: see "Parallel tests" in e2e_test.go
	if testing.Short() {
		t.Skip("imports both demo catalogues")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "aisle.yaml")
	os.WriteFile(cfg, []byte("training:\n  models:\n    - name: popular\n  background_budget: 0s\n  tune_every: 0s\n"), 0o644)
	s := startCmd(t, "demo", "--addr", "127.0.0.1:0", "--data", filepath.Join(dir, "data"), "--config", cfg, "--admin-key", "test-admin", "--embedder", "none")
	deadline := time.Now().Add(8 * time.Minute)
	for {
		code, body := s.do("GET", "/api/shops/gift", "")
		if code == 200 && body["loaded"] == true {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gift shop did not load: %d %v\nlogs:\n%s", code, body, s.logs)
		}
		time.Sleep(time.Second)
	}
	if code, body := s.do("GET", "/api/shops/gift/stats", ""); code != 200 || body["items"] != 3791.0 || body["events"] != 91160.0 {
		t.Errorf("the gift shop's stats: %d %v", code, body)
	}
	if code, body := s.do("GET", "/api/stats", ""); code != 200 || body["items"] != 2420.0 {
		t.Errorf("the default shop's stats: %d %v", code, body)
	}
	code, body := s.do("GET", "/api/shops/gift/search?q=candle&facets=price", "")
	if code != 200 || body["total"].(float64) < 50 || !strings.Contains(toJSON(body["facets"]), `"0-25"`) {
		t.Errorf("searching the gift shop for candles: %d %v", code, toJSON(body))
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	req, _ := http.NewRequest("GET", s.url+"/shops/gift", nil)
	req.Header.Set("Authorization", "Bearer test-admin")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	req, _ = http.NewRequest("GET", s.url+"/search?q=candle", nil)
	req.Header.Set("Authorization", "Bearer test-admin")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "£") || !strings.Contains(string(page), "Shop: gift") || !strings.Contains(string(page), "<h2>price</h2>") {
		t.Errorf("the gift shop's storefront search: %d, want GBP prices, the shop's name and a price facet", resp.StatusCode)
	}
}
