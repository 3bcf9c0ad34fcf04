package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
		out, err := exec.Command(binPath, args...).CombinedOutput()
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
	run(true, "train", "--data", dir, "--shop", "gift", "--model", "popular")
	s := startServer(t, dir)
	if code, body := s.do("GET", "/api/shops/gift/stats", ""); code != 200 || body["items"] != 20.0 || body["events"] != 120.0 {
		t.Errorf("the imported shop's stats: %d %v", code, body)
	}
	if code, body := s.do("GET", "/api/shops/gift/models", ""); code != 200 || !strings.Contains(strings.ToLower(toJSON(body)), `"popular"`) {
		t.Errorf("the trained shop's models: %d %v", code, body)
	}
	if code, body := s.do("GET", "/api/stats", ""); code != 200 || body["items"] != 0.0 {
		t.Errorf("the default shop after importing into gift: %d %v", code, body)
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
