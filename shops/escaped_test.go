package shops_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/shops"
)

// TestItemIDsWithSlashes: an item whose id holds a "/" is reachable with
// the id escaped (a%2Fb), under the default shop's routes and under a
// shop's prefix alike (the prefix used to be cut from the unescaped path,
// so /items/a/b answered 404).
func TestItemIDsWithSlashes(t *testing.T) {
	s := start(t, testConfig(t.TempDir()))
	s.must(201, "POST", "/api/shops", opKey, `{"id":"acme"}`)
	for _, id := range []string{shops.DefaultID, "acme"} {
		s.must(200, "POST", s.prefix(id)+"/items", opKey, `[{"id":"a/b","title":"slashed pen","price":3,"available":true}]`)
		b := s.must(200, "GET", s.prefix(id)+"/items/"+url.PathEscape("a/b"), opKey, "")
		if !strings.Contains(string(b), `"slashed pen"`) {
			t.Errorf("shop %s: GET of the escaped id answered %s", id, b)
		}
	}
}
