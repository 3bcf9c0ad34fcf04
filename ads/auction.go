package ads

import (
	"cmp"
	"math"
	"slices"
)

// Bidder is one (campaign, item) competing for ad slots.
type Bidder struct {
	Campaign string
	Item     string
	Bid      Micros
	// PCTR is the predicted click probability, Relevance the match of
	// the item to the answer (0..1, already above the floor).
	PCTR, Relevance float64
}

// Score is the ranking of a bidder: bid × pCTR × relevance.
func (b *Bidder) Score() float64 { return float64(b.Bid) * b.PCTR * b.Relevance }

// Win is a bidder that won a slot and the price it pays per click.
type Win struct {
	Bidder
	Slot  int    // 0-based index into the slots
	Price Micros // per click: ≤ Bid, ≥ the reserve
}

// Auction ranks bidders for slots by a generalised second-price auction:
// bidders below the reserve are out; at most one item per campaign
// competes (its best); the k-th best fills slot k and pays, per click, the
// least bid that would have kept it above the (k+1)-th:
// score(k+1) / (pCTR(k) × relevance(k)), rounded to the micro, never below
// the reserve and never above its own bid (the reserve when there is no
// (k+1)-th). Equal scores are ordered by campaign id, then item id.
func Auction(bidders []Bidder, slots int, reserve Micros) []Win {
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
	// one item per campaign: its best
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
			next := ranked[k+1].Score()
			p := Micros(math.Round(next / (b.PCTR * b.Relevance)))
			price = max(price, p)
		}
		price = min(price, b.Bid)
		wins = append(wins, Win{Bidder: b, Slot: k, Price: price})
	}
	return wins
}
