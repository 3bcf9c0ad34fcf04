package web

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/store"
)

// TestDashboardShowsQueryTimeSettings: a version stored with query-time
// settings chosen on validation lists them in the dashboard's model
// table, sorted by name; one without lists none.
func TestDashboardShowsQueryTimeSettings(t *testing.T) {
	s := newShop(t, Options{AdminKey: testAdminKey})
	if _, err := s.st.SaveModel(context.Background(), store.ModelMeta{Name: "itemfilter", Status: store.StatusCandidate,
		Adjusted: map[string]float64{"recency": 2, "ials_weight": 0.6}}, []byte("not loaded")); err != nil {
		t.Fatal(err)
	}
	c := s.client()
	s.postForm(c, "/login", url.Values{"key": {testAdminKey}, "next": {"/admin"}})
	code, body := s.get(c, "/admin")
	if code != 200 {
		t.Fatalf("dashboard: %d", code)
	}
	const want = "query-time settings chosen on validation: ials_weight 0.6, recency 2"
	if n := strings.Count(body, "query-time settings chosen on validation"); n != 1 || !strings.Contains(body, want) {
		t.Fatalf("dashboard shows the settings %d times, want once as %q", n, want)
	}
}
