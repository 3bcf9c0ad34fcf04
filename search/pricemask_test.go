package search

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
)

// Searches with price ranges asked again and again (masks built and used)
// find what scoring every posting with the per-doc price test finds,
// while prices change, items come and go and the docs are renumbered
// between them: a mask is never used for another state of the index.
func TestPriceMaskEqualsScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	items, vocab := zipfCatalog(rng, 2000)
	ix := newTestIndex(t, DefaultConfig(), nil, items)
	ctx := context.Background()
	ranges := [][2]float64{{0, 150}, {20, 80}, {100, 299}}
	built := 0
	for step := range 12 {
		for trial := range 30 {
			req := Request{Query: randomQuery(rng, vocab), N: 1 + rng.IntN(30)}
			r := ranges[rng.IntN(len(ranges))]
			if trial%10 == 9 { // a one-off range
				r = [2]float64{float64(rng.IntN(100)), float64(100 + rng.IntN(200))}
			}
			req.MinPrice, req.MaxPrice = price(r[0]), price(r[1])
			if rng.IntN(4) == 0 {
				req.MinPrice = nil
			}
			comparePruned(t, ix, req)
			for i := range ix.pmasks.slots {
				if e := ix.pmasks.slots[i].Load(); e != nil && e.words != nil && e.key.changes == ix.kw.changes.Load() {
					built++
				}
			}
		}
		// prices move, items come and go, docs are renumbered
		upd := slices.Clone(items[rng.IntN(1000):][:300])
		for i := range upd {
			upd[i].Price = price(float64(rng.IntN(300)))
			upd[i].Available = rng.IntN(10) > 0
		}
		if err := ix.Upsert(ctx, upd...); err != nil {
			t.Fatal(err)
		}
		ix.Delete(items[rng.IntN(len(items))].ID, items[rng.IntN(len(items))].ID)
		if step%4 == 3 {
			ix.mu.Lock()
			ix.compact()
			ix.mu.Unlock()
		}
	}
	if built < 100 {
		t.Fatalf("masks held after %d of 360 searches: the test does not exercise them", built)
	}
}
