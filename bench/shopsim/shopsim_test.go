package shopsim

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/aisle-dev/aisle/internal/testdata"
)

// synthetic fills a simulator with n control shoppers who convert with
// probability p over days, without a server.
func synthetic(n, days int, p float64, cfg Config) *Sim {
	cfg.defaults()
	cfg.Days = days
	s := &Sim{cfg: cfg, shoppers: map[string]*shopper{}}
	rng := rand.New(rand.NewPCG(7, 11))
	for i := range n {
		sh := &shopper{variant: cfg.Control, firstDay: rng.IntN(days), orders: make([]float64, days), revenue: make([]float64, days)}
		for d := sh.firstDay; d < days; d++ {
			if rng.Float64() < p/float64(days-sh.firstDay) {
				for k := d; k < days; k++ {
					sh.orders[k]++
					sh.revenue[k] += 12
				}
			}
		}
		s.shoppers[fmt.Sprintf("u%d", i)] = sh
	}
	return s
}

// The A/A machinery holds its level: with no difference at all, about 5%
// of fixed-horizon tests and at most 5% of daily-peeking mSPRT tests are
// significant, while daily peeking with the z-test is worse; a large real
// lift is found.
func TestAATestsHoldTheirLevel(t *testing.T) {
	s := synthetic(4000, 7, 0.2, Config{AARuns: 200, Lift: 0.5})
	var r Report
	s.offline(&r)
	if r.AAFixed > 0.09 {
		t.Errorf("fixed-horizon A/A false positives %.3f, want about 0.05", r.AAFixed)
	}
	if r.AAPeekMSPRT > 0.05 {
		t.Errorf("mSPRT peeking daily: %.3f false positives, want ≤ 0.05", r.AAPeekMSPRT)
	}
	if r.AAPeekZ < r.AAFixed {
		t.Errorf("peeking with the z-test (%.3f) cannot be safer than looking once (%.3f)", r.AAPeekZ, r.AAFixed)
	}
	if r.PowerFixed < 0.8 {
		t.Errorf("a 50%% lift on 2000 users per arm detected in %.2f of runs, want ≥ 0.8", r.PowerFixed)
	}
}

func TestLoadOfficeAndTaste(t *testing.T) {
	dir := testdata.Path(t, "amazon-office-5core")
	w, err := LoadOffice(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Items) != 2420 || len(w.Users) != 4905 {
		t.Fatalf("%d items, %d users; want 2420 and 4905", len(w.Items), len(w.Users))
	}
	u := w.Users[0]
	taste := w.Taste(u)
	held := 0
	for _, it := range w.Full[u][len(w.Seen[u]):] {
		if taste[it] == 1 {
			held++
		}
	}
	if held == 0 {
		t.Errorf("user %s: the held-out purchases are not their favourites", u)
	}
	for _, it := range w.Seen[u] {
		if taste[it] != 0 {
			t.Errorf("user %s: an item the shop already saw them buy has taste %v", u, taste[it])
		}
	}
	if p := price("o1"); p <= 0 || p != price("o1") {
		t.Errorf("price %v is not a stable positive number", p)
	}
}
