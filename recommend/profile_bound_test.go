package recommend

import (
	"math"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/varint"
)

// Issue 12, remaining goal 1: a user's history is bounded (newest kept,
// purchases kept over views), so memory does not grow with the event log.
func TestProfileHistoryIsBounded(t *testing.T) {
	type ev struct {
		item     int32
		ts       int64
		excluded bool
	}
	views := func(from, to int32) []ev { // one view per item, in time order
		var out []ev
		for i := from; i < to; i++ {
			out = append(out, ev{item: i, ts: int64(i)})
		}
		return out
	}
	cases := []struct {
		name    string
		max     int
		evs     []ev
		want    []int32 // items kept, oldest first
		evicted uint64
	}{
		{"under the bound nothing goes", 5, views(0, 4), []int32{0, 1, 2, 3}, 0},
		{"unbounded", 0, views(0, 10), []int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 0},
		{"the oldest go first", 3, views(0, 6), []int32{3, 4, 5}, 3},
		{"a repeat refreshes an item", 3, append(views(0, 3), ev{item: 0, ts: 10}, ev{item: 7, ts: 11}), []int32{2, 0, 7}, 1},
		{"a purchase outlives newer views", 3, append([]ev{{item: 100, ts: 0, excluded: true}}, views(1, 6)...), []int32{100, 4, 5}, 3},
		{"all purchases: the oldest goes", 2, []ev{{1, 1, true}, {2, 2, true}, {3, 3, true}}, []int32{2, 3}, 1},
		// past indexFrom the profile keeps a map: it must stay in step
		// with the entries. At the bound an eighth (5 of 40) goes at once:
		// 96 views leave the newest 36.
		{"with the item index", indexFrom + 8, views(0, 3*indexFrom), func() []int32 {
			var w []int32
			for i := int32(60); i < 3*indexFrom; i++ {
				w = append(w, i)
			}
			return w
		}(), 60},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps := newProfiles(c.max)
			for _, e := range c.evs {
				ps.add("u", e.item, 1, e.ts, e.excluded)
			}
			var got []int32
			entries, _ := ps.of("u")
			for _, e := range entries {
				got = append(got, e.item)
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("kept %v, want %v", got, c.want)
			}
			if ps.evicted != c.evicted {
				t.Errorf("evicted %d, want %d", ps.evicted, c.evicted)
			}
			p := ps.users["u"]
			if p.at != nil {
				if len(p.at) != len(p.entries) {
					t.Fatalf("index holds %d items, entries %d", len(p.at), len(p.entries))
				}
				for i, e := range p.entries {
					if p.at[e.item] != i {
						t.Fatalf("index of item %d = %d, want %d", e.item, p.at[e.item], i)
					}
				}
			}
			// a later event of a kept item adds to it, not to a new entry
			if len(got) > 0 {
				n := len(p.entries)
				ps.add("u", got[0], 2, 1000, false)
				if len(p.entries) != n {
					t.Fatalf("a repeat of a kept item changed the count %d → %d", n, len(p.entries))
				}
			}
		})
	}
}

// A user with more purchases than the bound keeps every purchased item
// excluded: the bound may drop a purchase from the history a model reads,
// never from the exclusions (served ML-1M returned 231 rated items when
// heavy raters' oldest ratings were evicted).
func TestEvictedPurchasesStayExcluded(t *testing.T) {
	cases := []struct {
		name     string
		max      int
		bought   int
		views    int
		wantGone []int32
	}{
		{"under the bound", 10, 5, 0, nil},
		{"purchases kept over views", 6, 5, 4, nil},
		{"more purchases than the bound", 4, 10, 0, []int32{0, 1, 2, 3, 4, 5}},
		{"unbounded", 0, 50, 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps := newProfiles(c.max)
			ts := int64(0)
			for i := range c.bought {
				ts++
				ps.add("u", int32(i), 1, ts, true)
			}
			for i := range c.views {
				ts++
				ps.add("u", int32(1000+i), 1, ts, false)
			}
			entries, gone := ps.of("u")
			if !slices.Equal(gone, c.wantGone) {
				t.Fatalf("gone = %v, want %v", gone, c.wantGone)
			}
			h := (&Service{cfg: Config{HistoryLen: 10}}).historyOf(entries, gone)
			for i := range c.bought {
				if !h.exclude[int32(i)] {
					t.Errorf("bought item %d is not excluded", i)
				}
			}
			for i := range c.views {
				if h.exclude[int32(1000+i)] {
					t.Errorf("viewed item %d is excluded", 1000+i)
				}
			}
		})
	}
}

// BenchmarkProfileMemory records 100 users who each touch 20,000 distinct
// items (a long-lived shop's heavy users) and reports the heap the
// profiles hold per user, bounded (the default 1000) and unbounded.
func BenchmarkProfileMemory(b *testing.B) {
	for _, c := range []struct {
		name string
		max  int
	}{{"max_history=1000", 1000}, {"unbounded", 0}} {
		b.Run(c.name, func(b *testing.B) {
			const users, items = 100, 20_000
			var perUser float64
			for b.Loop() {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				ps := newProfiles(c.max)
				for i := 0; i < items; i++ {
					for u := 0; u < users; u++ {
						ps.add(userIDs[u], int32(i), 1, int64(i), i%50 == 0)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perUser = float64(after.HeapAlloc-before.HeapAlloc) / users
				runtime.KeepAlive(ps)
			}
			b.ReportMetric(perUser/1024, "KiB/user")
		})
	}
}

var userIDs = func() []string {
	out := make([]string, 100)
	for i := range out {
		out[i] = "user-" + strconv.Itoa(i)
	}
	return out
}()

// The per-user interest weights of the rows (peer-group popularity) are
// bounded by MaxHistory too, keeping the strongest interests.
func TestRowWeightsAreBounded(t *testing.T) {
	for _, c := range []struct {
		name string
		max  int
		want int // entries kept at most
	}{{"bounded", 8, 8}, {"unbounded", -1, 20}} {
		t.Run(c.name, func(t *testing.T) {
			svc := New(nil, Config{MaxHistory: c.max}, nil)
			r := &rowState{}
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			for i := 0; i < 20; i++ { // item i gets i+1 views: weights grow with i
				for k := 0; k <= i; k++ {
					svc.rowsObserveTo(r, events.Event{UserID: "u", Type: events.View, Timestamp: at}, int32(i))
				}
			}
			u := r.users["u"]
			if len(u.weight) > c.want || len(u.weight) == 0 {
				t.Fatalf("%d weights kept, want 1 to %d", len(u.weight), c.want)
			}
			minKept := float32(math.MaxFloat32)
			for _, w := range u.weight {
				minKept = min(minKept, w)
			}
			for i := int32(0); i < 20; i++ {
				if _, ok := u.weight[i]; !ok && float32(i+1)*u.weight[19]/20 > minKept {
					t.Errorf("item %d (weight ∝ %d) dropped while a weaker one (%v) was kept", i, i+1, minKept)
				}
			}
			if _, ok := u.weight[19]; !ok {
				t.Error("the strongest interest was dropped")
			}
		})
	}
}

// The items excluded beyond the bound survive a snapshot, remapped like
// every other item, and a deleted item drops out of them.
func TestGoneSurvivesTheSnapshot(t *testing.T) {
	ps := newProfiles(2)
	for i := range int32(6) {
		ps.add("u", i, 1, int64(i), true)
	}
	_, wantGone := ps.of("u")
	if len(wantGone) == 0 {
		t.Fatal("nothing went beyond the bound")
	}
	e := &enc{}
	ps.encode(e)
	// item k becomes k+10, item 1 was deleted
	remap := []int32{10, -1, 12, 13, 14, 15}
	back := newProfiles(2)
	d := &dec{varint.NewReader(e.b)}
	back.decode(d, remap)
	if !d.OK() || d.Len() != 0 {
		t.Fatalf("decode: ok %v, %d bytes left", d.OK(), d.Len())
	}
	_, gone := back.of("u")
	var want []int32
	for _, it := range wantGone {
		if remap[it] >= 0 {
			want = append(want, remap[it])
		}
	}
	if !slices.Equal(gone, want) {
		t.Fatalf("gone after the snapshot = %v, want %v", gone, want)
	}
}
