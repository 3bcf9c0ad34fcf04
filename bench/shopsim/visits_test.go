package shopsim

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// eachVisit visits every shopper of the day once on the workers; when
// visits fail, the first error is returned, the others' workers end too
// (no worker is left blocked on its error) and no visit starts after the
// error was seen.
func TestEachVisit(t *testing.T) {
	s := New("http://127.0.0.1:1", &World{}, Config{Workers: 3})
	var mu sync.Mutex
	seen := map[int]int{}
	if err := s.eachVisit(100, func(i int) error {
		mu.Lock()
		seen[i]++
		mu.Unlock()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if seen[i] != 1 {
			t.Fatalf("visit %d ran %d times, want once (%d visits)", i, seen[i], len(seen))
		}
	}
	fail := errors.New("shop down")
	ran := 0
	err := s.eachVisit(1000, func(i int) error {
		mu.Lock()
		ran++
		mu.Unlock()
		if i >= 10 { // every worker fails from here on
			return fmt.Errorf("visit %d: %w", i, fail)
		}
		return nil
	})
	if !errors.Is(err, fail) {
		t.Fatalf("error %v, want the visits' %v", err, fail)
	}
	if ran > 10+2*3 {
		t.Errorf("%d visits ran, want the failing ones to stop the day (at most %d)", ran, 10+2*3)
	}
}
