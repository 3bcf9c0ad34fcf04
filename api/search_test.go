package api

import (
	"testing"

	"github.com/aisle-dev/aisle/search"
)

func TestFusionParams(t *testing.T) {
	base := search.Fusion{Method: "convex", Alpha: 0.7, RRFK: 60, Depth: 100}
	for _, c := range []struct {
		method, alpha, k string
		want             *search.Fusion
		bad              bool
	}{
		{"", "", "", nil, false},
		{"rrf", "", "", &search.Fusion{Method: "rrf", Alpha: 0.7, RRFK: 60, Depth: 100}, false},
		{"", "0.25", "", &search.Fusion{Method: "convex", Alpha: 0.25, RRFK: 60, Depth: 100}, false},
		{"rrf", "1", "10", &search.Fusion{Method: "rrf", Alpha: 1, RRFK: 10, Depth: 100}, false},
		{"magic", "", "", nil, true},
		{"", "1.5", "", nil, true},
		{"", "-0.1", "", nil, true},
		{"", "NaN", "", nil, true},
		{"", "x", "", nil, true},
		{"", "", "0", nil, true},
		{"", "", "-3", nil, true},
		{"", "", "NaN", nil, true},
	} {
		got, msg := fusionParams(base, c.method, c.alpha, c.k)
		if c.bad {
			if msg == "" {
				t.Errorf("%q %q %q accepted: %+v", c.method, c.alpha, c.k, got)
			}
			continue
		}
		if msg != "" || (got == nil) != (c.want == nil) || (got != nil && *got != *c.want) {
			t.Errorf("%q %q %q = %+v %q, want %+v", c.method, c.alpha, c.k, got, msg, c.want)
		}
	}
}
