package recommend

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// diversifyReference is the quadratic MMR diversify used before issue 12
// (n=200 took 7–11 s): the linear one must choose exactly the same items.
func diversifyReference(s *Service, cands []Item, req Request, info []itemInfo) []Item {
	n, d := req.N, min(req.Diversity, 1)
	idx := make([]int32, len(cands))
	for k, c := range cands {
		idx[k], _ = s.items.lookup(c.ID)
	}
	sim := func(a, b *itemInfo) float64 {
		v := 0.0
		ca, cb := a.leafCategory(), b.leafCategory()
		switch {
		case ca != "" && ca == cb:
			v = 1
		case ca != "" && cb != "" && topLevel(ca) == topLevel(cb):
			v = 0.5
		}
		if a.brand != "" && strings.EqualFold(a.brand, b.brand) {
			v += 0.3
		}
		return min(v, 1)
	}
	chosen := []int{}
	used := make([]bool, len(cands))
	for len(chosen) < n && len(chosen) < len(cands) {
		best, bestV := -1, 0.0
		for k := range cands {
			if used[k] {
				continue
			}
			rel := 1 - float64(k)/float64(len(cands))
			maxSim := 0.0
			for _, j := range chosen {
				maxSim = max(maxSim, sim(&info[idx[k]], &info[idx[j]]))
			}
			if v := (1-d)*rel - d*maxSim; best < 0 || v > bestV {
				best, bestV = k, v
			}
		}
		used[best] = true
		chosen = append(chosen, best)
	}
	out := make([]Item, len(chosen))
	for k, j := range chosen {
		out[k] = cands[j]
	}
	return out
}

func diversityService(tb testing.TB, nItems int) (*Service, []itemInfo, []Item) {
	tb.Helper()
	st, err := boltstore.Open(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	r := rand.New(rand.NewPCG(1, 2))
	var its []catalog.Item
	for i := 0; i < nItems; i++ {
		it := catalog.Item{ID: fmt.Sprintf("i%05d", i), Title: "thing", Available: true}
		if r.IntN(10) > 0 {
			it.Categories = []string{fmt.Sprintf("Shop/T%d/L%d", r.IntN(6), r.IntN(40))}
		}
		if r.IntN(4) > 0 {
			it.Brand = fmt.Sprintf("Brand%d", r.IntN(30))
		}
		its = append(its, it)
	}
	if err := st.PutItems(context.Background(), its); err != nil {
		tb.Fatal(err)
	}
	svc := New(st, Config{}, nil)
	if err := svc.Load(context.Background()); err != nil {
		tb.Fatal(err)
	}
	info := svc.items.snapshot()
	cands := make([]Item, len(its))
	for k, i := range r.Perm(len(its)) {
		cands[k] = Item{ID: its[i].ID, Score: float64(len(its) - k)}
	}
	return svc, info, cands
}

func TestDiversifyMatchesReference(t *testing.T) {
	svc, info, cands := diversityService(t, 600)
	for _, n := range []int{1, 5, 20, 50} {
		for _, d := range []float64{0.1, 0.5, 0.9, 1, 3} {
			pool := cands[:min(len(cands), 10*n+100)]
			got := svc.diversify(pool, Request{N: n, Diversity: d}, info)
			want := diversifyReference(svc, pool, Request{N: n, Diversity: d}, info)
			if len(got) != len(want) {
				t.Fatalf("n=%d d=%v: %d items, want %d", n, d, len(got), len(want))
			}
			for k := range got {
				if got[k].ID != want[k].ID {
					t.Fatalf("n=%d d=%v: item %d is %s, want %s", n, d, k, got[k].ID, want[k].ID)
				}
			}
		}
	}
}

func BenchmarkDiversify200(b *testing.B) {
	svc, info, cands := diversityService(b, 5000)
	cands = cands[:1000] // topN(…, 5·n) for n=200
	for b.Loop() {
		svc.diversify(cands, Request{N: 200, Diversity: 1}, info)
	}
}

func BenchmarkDiversifyReference200(b *testing.B) {
	svc, info, cands := diversityService(b, 5000)
	cands = cands[:1000]
	for b.Loop() {
		diversifyReference(svc, cands, Request{N: 200, Diversity: 1}, info)
	}
}
