package rules

import (
	"encoding/json"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
)

// A rule sent by a client either fails validation or applies without
// panicking, and a valid rule stays valid after a store round trip.
func FuzzRule(f *testing.F) {
	f.Add(`{"name":"calc","if":{"query":"calculator"},"then":{"pin":[{"item_id":"X","position":1}],"hide":["Y"]}}`, "calculator")
	f.Add(`{"name":"b","if":{"query":"a","query_match":"contains","synonyms":["b c"]},"then":{"boost":[{"brands":["x"],"strength":0.5}],"bury":[{"max_price":3,"strength":1}],"filter":{"in_stock":true}}}`, "x b c y")
	f.Add(`{"name":"r","if":{"query":"returns"},"then":{"redirect":"/help","replace_query":"x"}}`, "returns")
	f.Add(`{"name":"p","then":{"pin":[{"item_id":"a","position":1000}]},"start":"2026-01-01T00:00:00Z"}`, "")
	cat := catalogue()
	look := func(id string) (catalog.Item, bool) { it, ok := cat[id]; return it, ok }
	f.Fuzz(func(t *testing.T, body, query string) {
		var r Rule
		if catalog.StrictDecode([]byte(body), &r) != nil || r.Validate() != nil {
			return
		}
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var again Rule
		if err := json.Unmarshal(data, &again); err != nil || again.Validate() != nil {
			t.Fatalf("a valid rule %s does not survive a round trip: %v", data, err)
		}
		p := NewSet([]Rule{r}).Plan(Request{Surface: "search", Query: query, Now: now})
		out := p.Arrange([]string{"a0", "a1", "a2", "a3"}, []float64{4, 3, 2, 1}, true, look, now)
		seen := map[string]bool{}
		for _, pl := range out {
			if seen[pl.ID] {
				t.Fatalf("item %s placed twice: %+v", pl.ID, out)
			}
			seen[pl.ID] = true
		}
	})
}
