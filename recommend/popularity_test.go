package recommend

import (
	"context"
	"testing"
	"time"
)

// A stale popularity snapshot is served while it is rebuilt: a search
// never waits for a rebuild in progress, and the rebuild happens.
func TestPopularityDoesNotWaitForARebuild(t *testing.T) {
	st, _ := fixture(t)
	svc := New(st, Config{}, nil)
	if err := svc.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	stale := &popularitySnapshot{at: time.Now().Add(-2 * popularityTTL), scores: map[string]float64{"i00": 0.25}}
	svc.popularity.Store(stale)
	svc.popularityMu.Lock() // a rebuild under way
	got := make(chan float64, 1)
	go func() { got <- svc.Popularity("i00") }()
	select {
	case p := <-got:
		if p != 0.25 {
			t.Fatalf("popularity during a rebuild %v, want the stale snapshot's 0.25", p)
		}
	case <-time.After(time.Minute): // a deadlock guard, not a timing check
		t.Fatal("Popularity waited for the rebuild in progress")
	}
	svc.popularityMu.Unlock()
	svc.Popularity("i00") // stale: starts a rebuild
	for deadline := time.Now().Add(time.Minute); svc.popularity.Load() == stale; {
		if time.Now().After(deadline) {
			t.Fatal("the stale snapshot was never rebuilt")
		}
		time.Sleep(time.Millisecond)
	}
	if p := svc.Popularity("i00"); p == 0.25 || p <= 0 {
		t.Fatalf("rebuilt popularity of i00: %v", p)
	}
}
