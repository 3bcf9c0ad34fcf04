package aisle

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/config"
)

// Popular learns from position-corrected clicks end to end (issue 15,
// decision 0043): with every popular answer explored, the server's fit of
// the popular surface comes from the shuffled answers, and from then on a
// click at position 10 of a popular answer counts for more than one at
// position 1 in the popular list (aisle.go wires the ledger to the
// experiment manager's weights).
func TestPopularLearnsFromPositionCorrectedClicks(t *testing.T) {
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.Recommend.RetrainEvery, cfg.Recommend.RetrainAfterEvents = 0, 0
	cfg.Experiments.ExploreShare = 1
	a, url, _ := replicaTB(t, cfg, "")
	var items []string
	for i := range 10 {
		items = append(items, fmt.Sprintf(`{"id":"i%d","title":"item %d"}`, i, i))
	}
	items = append(items, `{"id":"x","title":"ex"}`, `{"id":"y","title":"why"}`)
	call(t, "POST", url+"/api/items", "["+strings.Join(items, ",")+"]", 200, nil)
	var seed []string
	for i := range 10 {
		seed = append(seed, fmt.Sprintf(`{"user_id":"s","item_id":"i%d","type":"purchase"}`, i))
	}
	call(t, "POST", url+"/api/events", "["+strings.Join(seed, ",")+"]", 200, nil)

	type answer struct {
		RequestID string `json:"request_id"`
		Items     []struct{ ID string }
	}
	// shoppers examine position k with probability 1/k and click what
	// they examine half the time
	rng := rand.New(rand.NewPCG(1, 2))
	var ids []string
	var clicks []string
	for n := range 1000 {
		var ans answer
		call(t, "GET", fmt.Sprintf("%s/api/popular?n=10&user_id=v%d", url, n), "", 200, &ans)
		if len(ans.Items) != 10 {
			t.Fatalf("popular answer of %d items: %+v", len(ans.Items), ans)
		}
		ids = append(ids, ans.RequestID)
		for k, it := range ans.Items {
			if rng.Float64() < 1/float64(k+1) && rng.Float64() < 0.5 {
				clicks = append(clicks, fmt.Sprintf(`{"user_id":"v%d","item_id":%q,"type":"click","request_id":%q,"position":%d}`, n, it.ID, ans.RequestID, k+1))
			}
		}
		if len(clicks) >= 200 || n == 999 {
			call(t, "POST", url+"/api/events", "["+strings.Join(clicks, ",")+"]", 200, nil)
			clicks = clicks[:0]
		}
	}
	waitFor(t, 20*time.Second, "a randomised fit of the popular surface", func() bool {
		if err := a.exp.FitPositions(context.Background()); err != nil {
			t.Fatal(err)
		}
		return a.exp.Propensities("popular") != nil
	})
	p := a.exp.Propensities("popular")
	t.Logf("popular θ %.3f (%s, %d answers)", p.Theta, p.Method, p.Lists)
	if w := p.Weight(10); w < 4 {
		t.Fatalf("weight of position 10: %v, want about 10 (θ10 ≈ 0.1)", w)
	}
	// x: clicked three times at position 1; y: twice at position 10
	var evs []string
	for k := range 3 {
		evs = append(evs, fmt.Sprintf(`{"user_id":"w%d","item_id":"x","type":"click","request_id":%q,"position":1}`, k, ids[k]))
	}
	for k := range 2 {
		evs = append(evs, fmt.Sprintf(`{"user_id":"z%d","item_id":"y","type":"click","request_id":%q,"position":10}`, k, ids[10+k]))
	}
	call(t, "POST", url+"/api/events", "["+strings.Join(evs, ",")+"]", 200, nil)
	// the first 10 of every answer are shuffled (explore share 1): x and y,
	// far below the i items, are at 11 and 12 in the order of their scores
	var pop answer
	call(t, "GET", url+"/api/popular?n=12", "", 200, &pop)
	rank := map[string]int{}
	for k, it := range pop.Items {
		rank[it.ID] = k + 1
	}
	if rank["y"] < 11 || rank["x"] < 11 || rank["y"] > rank["x"] {
		t.Fatalf("popular %+v: y (2 clicks at position 10) should rank above x (3 at position 1)", pop.Items)
	}
}
