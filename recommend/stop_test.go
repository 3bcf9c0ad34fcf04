package recommend

import (
	"context"
	"sync"
	"testing"
)

// Stop ends the relations' background work and refuses new work while
// and after it waits (a WaitGroup must not gain work during Wait);
// requests answered meanwhile and afterwards still answer, building in
// the foreground what they need.
func TestStopRefusesBackgroundWorkAndKeepsAnswering(t *testing.T) {
	ctx := context.Background()
	st, its := fixture(t)
	svc := New(st, Config{}, nil)
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				if _, err := svc.Similar(ctx, its[(i*20+j)%len(its)].ID, Request{N: 5}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	svc.Stop()
	wg.Wait()
	if svc.goBg(func() { t.Error("background work ran after Stop") }) {
		t.Fatal("goBg accepted work after Stop")
	}
	if _, err := svc.Similar(ctx, its[0].ID, Request{N: 5}); err != nil {
		t.Fatalf("after Stop: %v", err)
	}
	if svc.rel.running.Load() {
		t.Fatal("a refused learning left the running flag set")
	}
}
