package ads

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/internal/reqid"
)

func TestAuctionExactPrices(t *testing.T) {
	const reserve = 50_000 // 0.05
	cases := []struct {
		name    string
		bidders []Bidder
		slots   int
		want    []Win
	}{
		{
			name: "ranked by bid × pCTR × relevance; second price",
			bidders: []Bidder{
				{Campaign: "a", Item: "x", Bid: 1_000_000, PCTR: 0.1, Relevance: 1},  // score 100000
				{Campaign: "b", Item: "y", Bid: 600_000, PCTR: 0.1, Relevance: 0.5},  // score 30000
				{Campaign: "c", Item: "z", Bid: 2_000_000, PCTR: 0.02, Relevance: 1}, // score 40000
			},
			slots: 2,
			want: []Win{
				// a pays c's score / (0.1 × 1) = 0.40
				{Bidder: Bidder{Campaign: "a", Item: "x", Bid: 1_000_000, PCTR: 0.1, Relevance: 1}, Slot: 0, Price: 400_000},
				// c pays b's score / (0.02 × 1) = 1.50
				{Bidder: Bidder{Campaign: "c", Item: "z", Bid: 2_000_000, PCTR: 0.02, Relevance: 1}, Slot: 1, Price: 1_500_000},
			},
		},
		{
			name:    "the last winner pays the reserve",
			bidders: []Bidder{{Campaign: "a", Item: "x", Bid: 1_000_000, PCTR: 0.1, Relevance: 1}},
			slots:   2,
			want:    []Win{{Bidder: Bidder{Campaign: "a", Item: "x", Bid: 1_000_000, PCTR: 0.1, Relevance: 1}, Slot: 0, Price: reserve}},
		},
		{
			name: "a bid under the reserve is out",
			bidders: []Bidder{
				{Campaign: "a", Item: "x", Bid: 40_000, PCTR: 0.5, Relevance: 1},
				{Campaign: "b", Item: "y", Bid: 60_000, PCTR: 0.1, Relevance: 1},
			},
			slots: 1,
			want:  []Win{{Bidder: Bidder{Campaign: "b", Item: "y", Bid: 60_000, PCTR: 0.1, Relevance: 1}, Slot: 0, Price: reserve}},
		},
		{
			name: "never above its own bid: the better quality wins with a lower bid",
			bidders: []Bidder{
				{Campaign: "a", Item: "x", Bid: 300_000, PCTR: 0.3, Relevance: 1}, // 90000
				{Campaign: "b", Item: "y", Bid: 800_000, PCTR: 0.1, Relevance: 1}, // 80000
			},
			slots: 1,
			// b's score / (0.3) = 0.266667 → rounded to the micro
			want: []Win{{Bidder: Bidder{Campaign: "a", Item: "x", Bid: 300_000, PCTR: 0.3, Relevance: 1}, Slot: 0, Price: 266_667}},
		},
		{
			name: "ties go to the smaller campaign id and pay their own bid",
			bidders: []Bidder{
				{Campaign: "b", Item: "y", Bid: 500_000, PCTR: 0.1, Relevance: 1},
				{Campaign: "a", Item: "x", Bid: 500_000, PCTR: 0.1, Relevance: 1},
			},
			slots: 1,
			want:  []Win{{Bidder: Bidder{Campaign: "a", Item: "x", Bid: 500_000, PCTR: 0.1, Relevance: 1}, Slot: 0, Price: 500_000}},
		},
		{
			name: "one item per campaign; its second item does not set the price",
			bidders: []Bidder{
				{Campaign: "a", Item: "x", Bid: 1_000_000, PCTR: 0.1, Relevance: 1},
				{Campaign: "a", Item: "x2", Bid: 1_000_000, PCTR: 0.09, Relevance: 1},
				{Campaign: "b", Item: "y", Bid: 200_000, PCTR: 0.1, Relevance: 1},
			},
			slots: 1,
			want:  []Win{{Bidder: Bidder{Campaign: "a", Item: "x", Bid: 1_000_000, PCTR: 0.1, Relevance: 1}, Slot: 0, Price: 200_000}},
		},
		{
			name:    "no relevance, no ad (the floor is applied before the auction)",
			bidders: []Bidder{{Campaign: "a", Item: "x", Bid: 1_000_000, PCTR: 0.1, Relevance: 0}},
			slots:   1,
			want:    nil,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Auction(c.bidders, c.slots, reserve)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestKeywordMatch(t *testing.T) {
	for _, c := range []struct {
		q, kw, mt string
		want      bool
	}{
		{"stapler", "stapler", MatchExact, true},
		{"red stapler", "stapler", MatchExact, false},
		{"red stapler", "stapler", MatchPhrase, true},
		{"heavy duty stapler", "duty stapler", MatchPhrase, true},
		{"stapler heavy duty", "heavy stapler", MatchPhrase, false},
		{"stapler heavy duty", "heavy stapler", MatchBroad, true},
		{"Stapler", "stapler", MatchBroad, true},
		{"pen", "stapler", MatchBroad, false},
		{"", "stapler", MatchBroad, false},
	} {
		if got := KeywordMatch(c.q, c.kw, c.mt); got != c.want {
			t.Errorf("KeywordMatch(%q, %q, %s) = %v, want %v", c.q, c.kw, c.mt, got, c.want)
		}
	}
}

// auctionBySort is Auction as it was written before session 8: a stable
// sort of every bidder, then one item per campaign. The selection that
// replaced it must rank and price exactly as it did.
func auctionBySort(bidders []Bidder, slots int, reserve Micros) []Win {
	in := make([]Bidder, 0, len(bidders))
	for _, b := range bidders {
		if b.Bid >= reserve && b.Bid > 0 && b.PCTR > 0 && b.Relevance > 0 {
			in = append(in, b)
		}
	}
	slices.SortStableFunc(in, func(a, b Bidder) int {
		if c := cmp.Compare(b.Score(), a.Score()); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Campaign, b.Campaign); c != 0 {
			return c
		}
		return cmp.Compare(a.Item, b.Item)
	})
	ranked := in[:0]
	for _, b := range in {
		if !slices.ContainsFunc(ranked, func(r Bidder) bool { return r.Campaign == b.Campaign }) {
			ranked = append(ranked, b)
		}
	}
	var wins []Win
	for k := 0; k < len(ranked) && k < slots; k++ {
		b := ranked[k]
		price := reserve
		if k+1 < len(ranked) {
			price = max(price, Micros(math.Round(ranked[k+1].Score()/(b.PCTR*b.Relevance))))
		}
		wins = append(wins, Win{Bidder: b, Slot: k, Price: min(price, b.Bid)})
	}
	return wins
}

// TestAuctionMatchesSortedRanking compares Auction with the sorting
// version on random bidders: few campaigns and items (so that a campaign
// bids with several items and ties are common), bids around the reserve,
// some bidders out (no pCTR or relevance), up to 40 bidders (past the
// auction's stack storage).
func TestAuctionMatchesSortedRanking(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 16))
	for round := range 5000 {
		n := rng.IntN(12)
		if round%10 == 0 {
			n = 30 + rng.IntN(11)
		}
		bidders := make([]Bidder, n)
		for k := range bidders {
			bidders[k] = Bidder{
				Campaign:  string(rune('a' + rng.IntN(5))),
				Item:      string(rune('x' + rng.IntN(3))),
				Bid:       Micros(rng.IntN(5)) * 25_000,
				PCTR:      float64(rng.IntN(4)) / 10,
				Relevance: float64(rng.IntN(3)) / 2,
			}
		}
		slots, reserve := rng.IntN(4), Micros(rng.IntN(3))*25_000
		got, want := Auction(bidders, slots, reserve), auctionBySort(bidders, slots, reserve)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d, %d slots, reserve %d, bidders %+v:\n got %+v\nwant %+v", round, slots, reserve, bidders, got, want)
		}
	}
}

// TestDayOfFollowsTheClock checks the auction's day, formatted once a
// day, against day(t) across midnights (UTC), in other zones and when
// the clock goes back.
func TestDayOfFollowsTheClock(t *testing.T) {
	s := &Service{}
	base := time.Date(2026, 12, 7, 23, 59, 59, 0, time.UTC)
	zone := time.FixedZone("east", 5*3600)
	for _, d := range []time.Duration{0, time.Second, -time.Hour, 25 * time.Hour, -48 * time.Hour, time.Nanosecond, 2 * time.Second} {
		for _, now := range []time.Time{base.Add(d), base.Add(d).In(zone)} {
			if got, want := s.dayOf(now), day(now); got != want {
				t.Fatalf("dayOf(%v) = %s, want %s", now, got, want)
			}
		}
	}
}

// An answer's time given with the request (Request.Now, read by the
// caller from the wall clock) is the auction's time when the service's
// clock is the wall clock, and ignored when the service has a clock of
// its own.
func TestRequestTimeOnlyWithTheWallClock(t *testing.T) {
	ctx := context.Background()
	sh := newTestShop(t)
	fixed := sh.service(t) // its clock: sh.now
	o := fixed.o
	o.Now = nil
	wall, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Hour)
	start := time.Now().Add(time.Hour) // the campaign starts in an hour
	for _, s := range []*Service{fixed, wall} {
		saveCampaign(t, s, Campaign{Name: "A", Advertiser: "Acme", Items: []string{"i0"}, Bid: 1, DailyBudget: 100, Pacing: "asap", Start: &start})
	}
	for _, c := range []struct {
		name string
		s    *Service
		now  time.Time
		want int
	}{
		{"wall clock, no time given: not started", wall, time.Time{}, 0},
		{"wall clock, the answer two hours on", wall, later, 1},
		{"a clock of its own ignores the answer's time", fixed, later, 0},
	} {
		got := c.s.Fill(ctx, Request{RequestID: reqid.New(), Surface: "search", Query: "red stapler", Now: c.now})
		if len(got) != c.want {
			t.Fatalf("%s: %d ads, want %d", c.name, len(got), c.want)
		}
	}
}
