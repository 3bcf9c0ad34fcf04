package demo

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// decodeAll reads every line of an embedded file strictly into T.
func decodeAll[T any](t *testing.T, name string) []T {
	t.Helper()
	rc, err := Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var rows []T
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		var v T
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s line %d: %v", name, line, err)
		}
		if dec.More() {
			t.Fatalf("%s line %d: more than one JSON value", name, line)
		}
		rows = append(rows, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return rows
}

func TestEmbeddedData(t *testing.T) {
	items := decodeAll[catalog.Item](t, ItemsFile)
	users := decodeAll[catalog.User](t, UsersFile)
	evs := decodeAll[events.Event](t, EventsFile)

	for _, c := range []struct {
		what      string
		got, want int
	}{
		{"items", len(items), NumItems},
		{"users", len(users), NumUsers},
		{"events", len(evs), NumEvents},
		{"items (issue 2)", len(items), 2420},
		{"users (issue 2)", len(users), 4905},
		{"events (issue 2)", len(evs), 53258},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d rows, want %d", c.what, c.got, c.want)
		}
	}

	itemByID := map[string]*catalog.Item{}
	brands := map[string]bool{}
	for i := range items {
		it := &items[i]
		switch {
		case it.ID == "":
			t.Fatalf("item %d has no id", i)
		case itemByID[it.ID] != nil:
			t.Fatalf("duplicate item id %q", it.ID)
		case strings.TrimSpace(it.Title) == "":
			t.Errorf("item %s has no title", it.ID)
		case len(it.Categories) != 1 || !it.HasCategoryPrefix("Office Products") || strings.Count(it.Categories[0], "/") < 1:
			t.Errorf("item %s: categories %q, want one path under Office Products", it.ID, it.Categories)
		case !it.Available:
			t.Errorf("item %s is not available", it.ID)
		case it.Price != nil:
			t.Errorf("item %s has a price; the source has none", it.ID)
		case it.CreatedAt.IsZero():
			t.Errorf("item %s has no created_at", it.ID)
		}
		for _, part := range strings.Split(it.Categories[0], "/") {
			if strings.TrimSpace(part) == "" || part != strings.TrimSpace(part) {
				t.Errorf("item %s: bad category path %q", it.ID, it.Categories[0])
			}
		}
		if it.Brand != "" {
			brands[it.Brand] = true
		}
		itemByID[it.ID] = it
	}
	if len(brands) < 100 {
		t.Errorf("only %d distinct brands recovered", len(brands))
	}

	userByID := map[string]*catalog.User{}
	for i := range users {
		u := &users[i]
		if u.ID == "" || userByID[u.ID] != nil {
			t.Fatalf("user %d: empty or duplicate id %q", i, u.ID)
		}
		userByID[u.ID] = u
	}

	seenUser := map[string]bool{}
	seenItem := map[string]bool{}
	for i, e := range evs {
		it, u := itemByID[e.ItemID], userByID[e.UserID]
		switch {
		case it == nil:
			t.Fatalf("event %d names unknown item %q", i, e.ItemID)
		case u == nil:
			t.Fatalf("event %d names unknown user %q", i, e.UserID)
		case e.Type != events.Purchase:
			t.Fatalf("event %d has type %q", i, e.Type)
		case e.Timestamp.IsZero() || e.Timestamp.Location().String() != "UTC":
			t.Fatalf("event %d: timestamp %v", i, e.Timestamp)
		case i > 0 && e.Timestamp.Before(evs[i-1].Timestamp):
			t.Fatalf("event %d is older than event %d", i, i-1)
		case e.Seq != 0 || e.Value != nil || e.Query != "" || e.SessionID != "":
			t.Fatalf("event %d has fields the source does not give: %+v", i, e)
		}
		if !seenItem[e.ItemID] && !it.CreatedAt.Equal(e.Timestamp) {
			t.Errorf("item %s created_at %v, first event %v", it.ID, it.CreatedAt, e.Timestamp)
		}
		if !seenUser[e.UserID] && !u.CreatedAt.Equal(e.Timestamp) {
			t.Errorf("user %s created_at %v, first event %v", u.ID, u.CreatedAt, e.Timestamp)
		}
		seenItem[e.ItemID], seenUser[e.UserID] = true, true
	}
	if len(seenItem) != len(items) || len(seenUser) != len(users) {
		t.Errorf("events cover %d/%d items and %d/%d users", len(seenItem), len(items), len(seenUser), len(users))
	}
}

func TestSourceNote(t *testing.T) {
	b, err := fs.ReadFile(FS(), SourceFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"R. He, J. McAuley", "J. McAuley, C. Targett", "ysh-1998/LRD", "go run ./demo/convert"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("SOURCE.md does not mention %q", want)
		}
	}
}

func TestExtract(t *testing.T) {
	dir := t.TempDir()
	items, users, evs, err := Extract(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, name string }{{items, ItemsFile}, {users, UsersFile}, {evs, EventsFile}} {
		if filepath.Dir(c.path) != dir || filepath.Base(c.path) != filepath.Base(c.name) {
			t.Errorf("extracted %s to %s", c.name, c.path)
		}
		got, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := FS().Open(c.name)
		if err != nil {
			t.Fatal(err)
		}
		want, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: extracted copy differs from the embedded file", c.name)
		}
	}
}

func TestOpenUnknown(t *testing.T) {
	if _, err := Open("data/nope.jsonl"); err == nil {
		t.Fatal("Open of a missing file succeeded")
	}
}

// The gift shop's files decode strictly, hold the counts the constants
// say, every item has a GBP price and a category, and every event names
// a known item and user.
func TestEmbeddedGiftShop(t *testing.T) {
	items := decodeAll[catalog.Item](t, GiftItemsFile)
	users := decodeAll[catalog.User](t, GiftUsersFile)
	evs := decodeAll[events.Event](t, GiftEventsFile)
	if len(items) != NumGiftItems || len(users) != NumGiftUsers || len(evs) != NumGiftEvents {
		t.Fatalf("gift shop: %d items, %d users, %d events; want %d, %d, %d", len(items), len(users), len(evs), NumGiftItems, NumGiftUsers, NumGiftEvents)
	}
	known := map[string]bool{}
	for _, it := range items {
		if it.Price == nil || *it.Price <= 0 || len(it.Categories) != 1 || it.Attributes["currency"] != "GBP" {
			t.Fatalf("item %+v: want a GBP price and one category", it)
		}
		known[it.ID] = true
	}
	who := map[string]bool{}
	for _, u := range users {
		who[u.ID] = true
	}
	for _, e := range evs {
		if !known[e.ItemID] || !who[e.UserID] || e.Type != events.Purchase || e.Value == nil || *e.Value <= 0 {
			t.Fatalf("event %+v: want a purchase with a quantity of a known item and user", e)
		}
	}
	if b, err := fs.ReadFile(FS(), GiftSourceFile); err != nil || !strings.Contains(string(b), "CC BY 4.0") {
		t.Errorf("the gift shop's SOURCE.md with its licence: %v", err)
	}
}
