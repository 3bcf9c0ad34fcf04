package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/store"
)

// Issue 12 item 3: a search with only the read key may personalise by a
// user_id, but must not create that user nor write into anyone's history;
// with a session_id it is logged under a pseudonym. The admin key still
// attributes searches to the user it names.
func TestReadKeySearchWritesNoOnesHistory(t *testing.T) {
	ctx := context.Background()
	st, eng := testEngine(t)
	items := []catalog.Item{{ID: "p1", Title: "blue gel pen", Available: true}, {ID: "p2", Title: "red gel pen", Available: true}}
	if err := eng.AddItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := eng.AddEvents(ctx, []events.Event{{UserID: "u1", ItemID: "p1", Type: events.Purchase, Timestamp: t0}}); err != nil {
		t.Fatal(err)
	}
	secretKey := []byte("0123456789abcdef0123456789abcdef")
	srv, err := New(Options{Engine: eng, AdminKey: "admin-k", ReadKey: "read-k", Secret: secretKey})
	if err != nil {
		t.Fatal(err)
	}
	svc := recommend.New(st, recommend.Config{}, nil)
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	eng.Subscribe(svc)
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	if err := ix.Upsert(ctx, items...); err != nil {
		t.Fatal(err)
	}
	flush := srv.AddSearchRoutes(ix, search.NewClicks(), svc, search.ModeKeyword)
	srv.SetReady(true)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)

	read, admin := hdr{"X-API-Key": "read-k"}, hdr{"X-API-Key": "admin-k"}
	for _, c := range []struct {
		url string
		h   hdr
	}{
		{"/api/search?q=pen&user_id=u1", read},                     // an existing user's history
		{"/api/search?q=pen&user_id=newcomer", read},               // a user that does not exist
		{"/api/search?q=pen&user_id=u1&session_id=tab-7", read},    // pseudonymous
		{"/api/search?q=pen&session_id=anon-" + "ab12", read},      // any session: a pseudonym
		{"/api/search?q=gel&user_id=u1&session_id=s-admin", admin}, // the admin key attributes
	} {
		if resp := get(t, ts.URL+c.url, c.h); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", c.url, resp.StatusCode)
		}
	}
	flush() // the search log writes in the background

	evs, err := eng.UserEvents(ctx, "u1", 100)
	if err != nil {
		t.Fatal(err)
	}
	var queries []string
	for _, e := range evs {
		if e.Type == events.Search {
			queries = append(queries, e.Query)
		}
	}
	if len(queries) != 1 || queries[0] != "gel" {
		t.Errorf("u1's logged searches %q: want only the admin key's [gel]", queries)
	}
	if _, err := eng.GetUser(ctx, "newcomer"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a read-key search created the user it named: %v", err)
	}
	p := ReadKeyPseudonym(secretKey, "tab-7")
	pe, err := eng.UserEvents(ctx, p, 10)
	if err != nil || len(pe) != 1 || pe[0].Query != "pen" || pe[0].SessionID == "tab-7" {
		t.Errorf("the read-key search with a session under %s: %+v, %v", p, pe, err)
	}
	n := 0
	if err := st.ScanEvents(ctx, 0, func(e events.Event) error {
		if e.Type == events.Search {
			n++
			if e.UserID != "u1" && (len(e.UserID) != len("anon-r-")+24 || e.UserID[:7] != "anon-r-") {
				t.Errorf("a search logged under %q", e.UserID)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("%d searches logged, want 3 (two pseudonymous, one by the admin key)", n)
	}
}
