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
	"github.com/aisle-dev/aisle/store/boltstore"
)

// testShop is a catalogue of staplers and pens over a real bolt store.
type testShop struct {
	dir   string
	st    *boltstore.Store
	items map[string]catalog.Item
	now   time.Time
}

func newTestShop(t *testing.T) *testShop {
	t.Helper()
	sh := &testShop{dir: t.TempDir(), items: map[string]catalog.Item{}, now: time.Date(2026, 3, 4, 23, 0, 0, 0, time.UTC)}
	for i, title := range []string{"red stapler", "heavy duty stapler", "blue stapler", "gel pen", "stapler remover"} {
		p := 10.0 + float64(i)
		id := fmt.Sprintf("i%d", i)
		sh.items[id] = catalog.Item{ID: id, Title: title, Categories: []string{"Office/Desk"}, Price: &p, Available: true}
	}
	sh.open(t)
	return sh
}

func (sh *testShop) open(t *testing.T) {
	t.Helper()
	st, err := boltstore.Open(sh.dir)
	if err != nil {
		t.Fatal(err)
	}
	sh.st = st
	t.Cleanup(func() { st.Close() })
}

func (sh *testShop) service(t *testing.T) *Service {
	t.Helper()
	s, err := New(context.Background(), Options{Store: sh.st, Now: func() time.Time { return sh.now },
		Item: func(_ context.Context, id string) (catalog.Item, error) {
			if it, ok := sh.items[id]; ok {
				return it, nil
			}
			return catalog.Item{}, store.ErrNotFound
		}, Config: DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func saveCampaign(t *testing.T, s *Service, c Campaign) Campaign {
	t.Helper()
	c, err := s.Save(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBudgetNeverOverspentUnderConcurrentClicksAndRestart(t *testing.T) {
	ctx := context.Background()
	sh := newTestShop(t)
	s := sh.service(t)
	a := saveCampaign(t, s, Campaign{Name: "A", Advertiser: "Acme", Items: []string{"i0"}, Bid: 1, DailyBudget: 10, Pacing: "asap",
		Targeting: Targeting{Queries: []string{"stapler"}}})
	saveCampaign(t, s, Campaign{Name: "B", Advertiser: "Bolt", Items: []string{"i2"}, Bid: 0.9, DailyBudget: 100, Pacing: "asap",
		Targeting: Targeting{Queries: []string{"stapler"}}})
	// 200 searches by 200 shoppers: A wins the first slot and pays B's
	// bid (same pCTR and relevance): 0.90 a click.
	var clicks []events.Event
	for i := range 200 {
		user := fmt.Sprintf("u%d", i)
		rid := reqid.New()
		ps := s.Fill(ctx, Request{RequestID: rid, Surface: "search", Query: "stapler", User: user})
		if len(ps) != 2 || ps[0].Campaign != a.ID || ps[0].Price != 900_000 || ps[0].Position != 1 || ps[1].Position != 5 {
			t.Fatalf("placements %+v", ps)
		}
		clicks = append(clicks, events.Event{Seq: uint64(i + 1), UserID: user, ItemID: "i0", Type: events.Click, RequestID: rid, Position: 1, Timestamp: sh.now})
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(clicks)) {
					return
				}
				if _, err := s.Click(ctx, clicks[i]); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	rep, err := s.Report(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	// 11 clicks at 0.90 and a 12th at the 0.10 left: exactly the budget.
	if rep.Spend != 10 || rep.Clicks != 200 || rep.UnbilledClicks != 189 || rep.Impressions != 200 {
		t.Fatalf("report after 200 clicks: %+v", rep)
	}
	slots, err := s.Slots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, sl := range slots {
		if sl.Surface == "search" && sl.Position == 1 && (sl.Answers != 200 || sl.Revenue != 10 || sl.RPM != 50) {
			t.Fatalf("search slot 1: %+v", sl)
		}
	}
	// After the day's budget, A no longer competes: B takes the first slot.
	if ps := s.Fill(ctx, Request{RequestID: reqid.New(), Surface: "search", Query: "stapler", User: "late"}); len(ps) != 1 || ps[0].Campaign == a.ID {
		t.Fatalf("an exhausted campaign still serves: %+v", ps)
	}

	// Restart: the same events replayed change nothing; spend stays exact.
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sh.st.Close()
	sh.open(t)
	s2 := sh.service(t)
	for _, e := range clicks {
		out, err := s2.Click(ctx, e)
		if err != nil || !out.Seen {
			t.Fatalf("replayed click %d: %+v %v", e.Seq, out, err)
		}
	}
	rep2, err := s2.Report(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Spend != 10 || rep2.Clicks != 200 {
		t.Fatalf("report after restart and replay: %+v", rep2)
	}
	if s2.Affordable(ctx, &a, sh.now) {
		t.Fatal("after a restart the exhausted campaign is affordable again")
	}
}

func TestInvalidClicksAreNotCharged(t *testing.T) {
	ctx := context.Background()
	sh := newTestShop(t)
	s := sh.service(t)
	c := saveCampaign(t, s, Campaign{Name: "A", Advertiser: "Acme", Items: []string{"i1"}, Bid: 1, DailyBudget: 100, Pacing: "asap",
		Targeting: Targeting{Queries: []string{"stapler"}}})
	rid := reqid.New()
	ps := s.Fill(ctx, Request{RequestID: rid, Surface: "search", Query: "heavy stapler", User: "u1"})
	if len(ps) != 1 || ps[0].Price != 50_000 {
		t.Fatalf("placements %+v", ps)
	}
	seq := uint64(0)
	click := func(user, rid, item string, pos int, at time.Time) Outcome {
		seq++
		out, err := s.Click(ctx, events.Event{Seq: seq, UserID: user, ItemID: item, Type: events.Click, RequestID: rid, Position: pos, Timestamp: at})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	steps := []struct {
		name            string
		user, rid, item string
		pos             int
		at              time.Time
		invalid         string
		charged         Micros
	}{
		{"no impression with this request id", "u1", reqid.New(), "i1", 1, sh.now, "no_impression", 0},
		{"another item than the ad", "u1", rid, "i0", 1, sh.now, "no_impression", 0},
		{"wrong position", "u1", rid, "i1", 2, sh.now, "position", 0},
		{"another shopper", "u2", rid, "i1", 1, sh.now, "user", 0},
		{"valid", "u1", rid, "i1", 1, sh.now, "", 50_000},
		{"the same click again", "u1", rid, "i1", 1, sh.now, "duplicate", 0},
	}
	for _, st := range steps {
		out := click(st.user, st.rid, st.item, st.pos, st.at)
		if out.Invalid != st.invalid || out.Charged != st.charged {
			t.Fatalf("%s: got %+v, want invalid %q charged %d", st.name, out, st.invalid, st.charged)
		}
	}
	// a new search, clicked again within the repeat window: a repeat
	rid2 := reqid.New()
	s.Fill(ctx, Request{RequestID: rid2, Surface: "search", Query: "stapler", User: "u1"})
	if out := click("u1", rid2, "i1", 1, sh.now.Add(time.Minute)); out.Invalid != "repeat" {
		t.Fatalf("repeat click: %+v", out)
	}
	// a click a day and more after its impression: expired
	rid3 := reqid.New()
	s.Fill(ctx, Request{RequestID: rid3, Surface: "search", Query: "stapler", User: "u3"})
	sh.now = sh.now.Add(25 * time.Hour)
	if out := click("u3", rid3, "i1", 1, sh.now); out.Invalid != "expired" {
		t.Fatalf("late click: %+v", out)
	}
	// a bot: more than 10 ad clicks a minute
	var last Outcome
	for i := range 12 {
		r := reqid.New()
		s.Fill(ctx, Request{RequestID: r, Surface: "search", Query: "stapler", User: "bot"})
		last = click("bot", r, "i1", 1, sh.now.Add(time.Duration(i)*time.Second))
	}
	if last.Invalid != "bot" {
		t.Fatalf("12th click within a minute: %+v", last)
	}
	rep, err := s.Report(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	// valid: u1 once, and the bot's first click (then repeats, then bot)
	if rep.Clicks != 2 || rep.Spend != 0.1 || rep.InvalidReasons["duplicate"] != 1 || rep.InvalidReasons["repeat"] < 2 ||
		rep.InvalidReasons["position"] != 1 || rep.InvalidReasons["user"] != 1 || rep.InvalidReasons["expired"] != 1 || rep.InvalidReasons["bot"] < 1 {
		t.Fatalf("report: %+v", rep)
	}
}

func TestRelevanceFloorAndTargeting(t *testing.T) {
	ctx := context.Background()
	sh := newTestShop(t)
	s := sh.service(t)
	saveCampaign(t, s, Campaign{Name: "A", Advertiser: "Acme", Items: []string{"i0"}, Bid: 5, DailyBudget: 100, Pacing: "asap"})
	saveCampaign(t, s, Campaign{Name: "B", Advertiser: "Bolt", Items: []string{"i3"}, Bid: 5, DailyBudget: 100, Pacing: "asap",
		Targeting: Targeting{Queries: []string{"pen"}, MatchType: MatchExact}})
	for _, c := range []struct {
		surface, query string
		organic        []string
		want           []string
	}{
		{"search", "red stapler", nil, []string{"i0"}},
		{"search", "garden hose", nil, nil},                     // unrelated: no ad at any bid
		{"search", "gel pen", nil, nil},                         // B is exact "pen" only; A's item is not a pen
		{"search", "pen", nil, []string{"i3"}},                  // exact
		{"recommend", "", []string{"i1", "i2"}, []string{"i0"}}, // same category as the row
		{"recommend", "", []string{"unknown"}, nil},             // nothing to be relevant to
	} {
		ps := s.Fill(ctx, Request{RequestID: reqid.New(), Surface: c.surface, Query: c.query, Organic: c.organic})
		var got []string
		for _, p := range ps {
			got = append(got, p.Item)
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s %q: ads %v, want %v", c.surface, c.query, got, c.want)
		}
	}
}

func TestEvenPacing(t *testing.T) {
	ctx := context.Background()
	sh := newTestShop(t)
	sh.now = time.Date(2026, 3, 4, 6, 0, 0, 0, time.UTC) // a quarter of the day gone
	s := sh.service(t)
	c := saveCampaign(t, s, Campaign{Name: "A", Advertiser: "Acme", Items: []string{"i0"}, Bid: 1, DailyBudget: 4, Targeting: Targeting{Queries: []string{"stapler"}}})
	saveCampaign(t, s, Campaign{Name: "B", Advertiser: "Bolt", Items: []string{"i2"}, Bid: 0.9, DailyBudget: 1000, Targeting: Targeting{Queries: []string{"stapler"}}})
	// by 06:00 an even campaign may have spent 4 × (0.25 + 0.05) = 1.20:
	// A takes part while under it (0, then 0.90) and stops at 1.80
	spent := 0
	for i := range 10 {
		rid := reqid.New()
		if ps := s.Fill(ctx, Request{RequestID: rid, Surface: "search", Query: "stapler", User: fmt.Sprint("p", i)}); len(ps) == 0 || ps[0].Campaign != c.ID {
			break
		}
		if out, _ := s.Click(ctx, events.Event{Seq: uint64(i + 1), UserID: fmt.Sprint("p", i), ItemID: "i0", Type: events.Click, RequestID: rid, Position: 1, Timestamp: sh.now}); out.Charged > 0 {
			spent++
		}
	}
	rep, _ := s.Report(ctx, c.ID)
	if rep.Spend != 1.8 || spent != 2 {
		t.Fatalf("paced spend by 06:00: %v over %d clicks", rep.Spend, spent)
	}
}

// Trim deletes the impressions (and their charges) of old answers only;
// spend and reports stay.
func TestTrimOldImpressions(t *testing.T) {
	ctx := context.Background()
	sh := newTestShop(t)
	s := sh.service(t)
	c := saveCampaign(t, s, Campaign{Name: "A", Advertiser: "Acme", Items: []string{"i0"}, Bid: 1, DailyBudget: 100, Pacing: "asap", Targeting: Targeting{Queries: []string{"stapler"}}})
	old := fmt.Sprintf("%08x", uint32(sh.now.Add(-48*time.Hour).Unix())) + "0000000000000001"
	s.Fill(ctx, Request{RequestID: old, Surface: "search", Query: "stapler", User: "u1"})
	if out, _ := s.Click(ctx, events.Event{Seq: 1, UserID: "u1", ItemID: "i0", Type: events.Click, RequestID: old, Position: 1, Timestamp: sh.now}); out.Charged == 0 {
		t.Fatalf("click: %+v", out)
	}
	fresh := reqid.New()
	s.Fill(ctx, Request{RequestID: fresh, Surface: "search", Query: "stapler", User: "u2"})
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := s.Trim(ctx, sh.now.Add(-24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("trimmed %d, %v; want the old impression", n, err)
	}
	if !s.hasImpression(fresh, "i0") || s.hasImpression(old, "i0") {
		t.Fatal("trim kept the old or dropped the new impression")
	}
	rep, _ := s.Report(ctx, c.ID)
	if rep.Impressions != 2 || rep.Clicks != 1 || rep.Spend != 0.05 {
		t.Fatalf("report after trim: %+v", rep)
	}
}

// A surface's own relevance floor overrides the shared one there only.
func TestSurfaceRelevanceFloor(t *testing.T) {
	ctx := context.Background()
	sh := newTestShop(t)
	sh.items["x0"] = catalog.Item{ID: "x0", Title: "garden hose", Categories: []string{"Garden/Hoses"}, Available: true}
	s := sh.service(t)
	s.o.Config.SurfaceFloors = map[string]float64{"similar": 0.3, "search": 1}
	saveCampaign(t, s, Campaign{Name: "A", Advertiser: "Acme", Items: []string{"i0"}, Bid: 5, DailyBudget: 100, Pacing: "asap"})
	for _, c := range []struct {
		surface, query string
		organic        []string
		want           int
	}{
		{"recommend", "", []string{"i1", "x0", "x0"}, 0}, // a third of the row in the ad's category: under the shared 0.5
		{"similar", "", []string{"i1", "x0", "x0"}, 1},   // over similar's 0.3
		{"search", "red stapler", nil, 1},                // every word: relevance 1
		{"search", "red stapler hose", nil, 0},           // two words of three: under search's 1
	} {
		if got := s.Fill(ctx, Request{RequestID: reqid.New(), Surface: c.surface, Query: c.query, Organic: c.organic}); len(got) != c.want {
			t.Errorf("%s %q %v: %d ads, want %d", c.surface, c.query, c.organic, len(got), c.want)
		}
	}
}

// Impressions queued while a batch is written stay queued, findable, and
// are written by the next flush; the written ones are found in the store
// and no longer queued. An impression logged again (same answer and
// item) replaces the queued one, also one being written (the newer is
// then not written, as the queue has always done, but still counts
// against the shopper's frequency cap). Every impression logged counts
// there once, whether queued, being written or written.
func TestQueuedImpressionsAcrossAFlush(t *testing.T) {
	ctx := context.Background()
	s := newTestShop(t).service(t)
	imp := func(req, item string, pos int) Impression {
		return Impression{RequestID: req, Item: item, Campaign: "c", User: "u", Surface: "search", Position: pos, Price: 1,
			At: time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)}
	}
	shown := func() int { return s.shown(ctx, "u", time.Date(2026, 3, 4, 13, 0, 0, 0, time.UTC))["c"] }
	queued := func(req, item string) (int, bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.indexQueued()
		i, ok := s.pending[impKey{req, item}]
		if !ok {
			return 0, false
		}
		return s.pendingList[i].Position, true
	}
	day := "2026-03-04"
	s.logImpressions([]Impression{imp("r1", "a", 1), imp("r1", "b", 5), imp("r2", "a", 1)}, nil, day)
	// an answer only appends to the queue; a lookup indexes it first
	if !s.hasImpression("r2", "a") || s.hasImpression("r2", "b") {
		t.Fatalf("queued r2/a not found (or r2/b found) before the queue was indexed")
	}
	s.logImpressions([]Impression{imp("r1", "b", 6)}, nil, day) // logged again: replaces
	if !s.Sponsored(events.Event{RequestID: "r1", ItemID: "b"}) {
		t.Fatalf("r1/b logged again is no longer found")
	}
	if pos, ok := queued("r1", "b"); !ok || pos != 6 || len(s.pending) != 3 {
		t.Fatalf("logged again: position %d (%v), %d queued; want 6, 3", pos, ok, len(s.pending))
	}
	if n := shown(); n != 4 {
		t.Fatalf("%d impressions counted for the cap while queued, want 4", n)
	}
	// a flush writes the live ones, the newer r1/b
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var stored Impression
	var found bool
	if err := s.o.Store.MerchView(ctx, func(tx store.MerchTx) error {
		stored, found = s.impression(tx, "r1", "b")
		return nil
	}); err != nil || !found || stored.Position != 6 || len(s.pending) != 0 || len(s.pendingList) != 0 {
		t.Fatalf("after a flush: r1/b stored %v at %d (%v), %d queued; want the newer (6), none queued", found, stored.Position, err, len(s.pendingList))
	}
	if n := shown(); n != 4 {
		t.Fatalf("%d impressions counted for the cap once written, want 4", n)
	}
	// a flush takes the queue as it is; while it writes, one more is
	// queued and one of the batch is logged again
	s.logImpressions([]Impression{imp("r1", "a", 1), imp("r1", "b", 5), imp("r2", "a", 1)}, nil, day)
	s.mu.Lock()
	n := len(s.pendingList)
	s.mu.Unlock()
	s.logImpressions([]Impression{imp("r3", "c", 1), imp("r2", "a", 2)}, nil, day)
	if pos, _ := queued("r2", "a"); pos != 2 {
		t.Fatalf("r2/a queued at position %d while written, want the newer 2", pos)
	}
	s.mu.Lock()
	s.dequeue(n)
	s.mu.Unlock()
	for _, c := range []struct {
		req, item string
		want      bool
	}{{"r1", "a", false}, {"r1", "b", false}, {"r2", "a", false}, {"r3", "c", true}} {
		if _, ok := queued(c.req, c.item); ok != c.want {
			t.Fatalf("%s/%s queued %v after the batch was written, want %v", c.req, c.item, ok, c.want)
		}
	}
	// r3/c to be written, and the newer r2/a not written but counted
	if len(s.pendingList) != 2 || len(s.pending) != 1 || !s.pendingList[1].dead {
		t.Fatalf("%d entries left in the queue (%d live), want r3/c and the dead r2/a", len(s.pendingList), len(s.pending))
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(s.pendingList) != 0 || len(s.pending) != 0 || !s.hasImpression("r3", "c") {
		t.Fatalf("after the next flush: %d queued (%d indexed), r3/c in the store %v", len(s.pendingList), len(s.pending), s.hasImpression("r3", "c"))
	}
	// 4 from the first flush and the 2 of the last (the batch of 3 taken
	// off by dequeue above was never written here: a real flush counts
	// it in the transaction that writes it)
	if n := shown(); n != 6 {
		t.Fatalf("%d impressions counted for the cap in the end, want 6", n)
	}
}
