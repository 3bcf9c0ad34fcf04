package ads

import (
	"reflect"
	"testing"
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
