package ads

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/reqid"
	"github.com/aisle-dev/aisle/store"
)

// Answers served at once over alternating keys (the eligible cache's
// last entry read without its lock, replaced and kept as keys alternate),
// while an item leaves the catalogue, the queue is flushed and looked up:
// once ItemsUpserted has returned no answer begun after it shows the
// item, and every ad an answer placed is found as sponsored, queued or
// written, whatever the writer did meanwhile. Run under -race it also
// checks that the lock-free reads share nothing written after them.
func TestAnswersConcurrentWithChangesAndFlushes(t *testing.T) {
	ctx := context.Background()
	sh := newTestShop(t)
	var itemsMu sync.RWMutex
	s, err := New(ctx, Options{Store: sh.st, Now: func() time.Time { return sh.now },
		Item: func(_ context.Context, id string) (catalog.Item, error) {
			itemsMu.RLock()
			defer itemsMu.RUnlock()
			if it, ok := sh.items[id]; ok {
				return it, nil
			}
			return catalog.Item{}, store.ErrNotFound
		}, Config: DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	saveCampaign(t, s, Campaign{Name: "A", Advertiser: "Acme", Items: []string{"i0"}, Bid: 5, DailyBudget: 1000, Pacing: "asap"})
	saveCampaign(t, s, Campaign{Name: "B", Advertiser: "Bolt", Items: []string{"i1", "i2", "i3"}, Bid: 2, DailyBudget: 1000, Pacing: "asap"})
	// organic items handed in as the item cache would (the same values
	// each time: the organic tally's last entry is used)
	desk := make([]*catalog.Item, 0, 3)
	for _, id := range []string{"i1", "i2", "i4"} {
		it := sh.items[id]
		desk = append(desk, &it)
	}
	reqs := []Request{
		{Surface: "search", Query: "red stapler"},
		{Surface: "search", Query: "stapler"},
		{Surface: "recommend", Organic: []string{"i1", "i2", "i4"}, OrganicItems: desk},
		{Surface: "popular", Organic: []string{"i1", "i2", "i4"}, OrganicItems: desk},
	}
	// the workers answer a third of their requests, i0 leaves the
	// catalogue (ItemsUpserted returns), they answer the rest
	var third sync.WaitGroup
	gone := make(chan struct{})
	var shownBefore, shownAfter, placed atomic.Int64
	const workers, answers = 4, 300
	var wg sync.WaitGroup
	third.Add(workers)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var dst []Placement
			for k := range answers {
				r := reqs[(g+k/3)%len(reqs)] // runs of one key, then another
				r.RequestID, r.User = reqid.New(), fmt.Sprintf("u%d", g)
				if k == answers/3 {
					third.Done()
					<-gone
				}
				after := k >= answers/3
				dst = s.AppendFill(ctx, dst[:0], r)
				for _, p := range dst {
					placed.Add(1)
					switch {
					case p.Item != "i0":
					case after:
						shownAfter.Add(1)
					default:
						shownBefore.Add(1)
					}
					if !s.Sponsored(events.Event{RequestID: r.RequestID, ItemID: p.Item}) {
						t.Errorf("%s ad %s of answer %s placed but not found as sponsored", r.Surface, p.Item, r.RequestID)
					}
				}
			}
		}()
	}
	go func() {
		third.Wait()
		itemsMu.Lock()
		it := sh.items["i0"]
		it.Available = false
		sh.items["i0"] = it
		itemsMu.Unlock()
		s.ItemsUpserted([]catalog.Item{it})
		close(gone)
	}()
	done := make(chan struct{})
	wrote := make(chan struct{})
	go func() { // the writer, all along
		defer close(wrote)
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := s.Flush(ctx); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	close(done)
	<-wrote
	if n := shownAfter.Load(); n > 0 {
		t.Errorf("i0 shown %d times in answers begun after it became unavailable", n)
	}
	if shownBefore.Load() == 0 {
		t.Fatalf("i0 never shown before the change: the test checks nothing")
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}
