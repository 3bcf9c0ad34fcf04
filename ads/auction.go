package ads

import (
	"math"
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
	return auction(nil, bidders, slots, reserve)
}

// auction is Auction appending the wins to wins (storage the caller
// keeps, such as an array on its stack).
func auction(wins []Win, bidders []Bidder, slots int, reserve Micros) []Win {
	// The order is a stable sort by (score desc, campaign, item) with one
	// item per campaign (its first in that order); the winners and their
	// prices need only the first slots+1 of it, picked by selection:
	// scores are computed once, nothing is sorted or copied.
	var buf [32]float64
	score := buf[:0]
	if len(bidders) > len(buf) {
		score = make([]float64, 0, len(bidders))
	}
	for k := range bidders {
		b := &bidders[k]
		s := math.NaN() // out
		if b.Bid >= reserve && b.Bid > 0 && b.PCTR > 0 && b.Relevance > 0 {
			s = b.Score()
		}
		score = append(score, s)
	}
	// before reports whether bidder i ranks before bidder j
	// (scores compared are never NaN: those are out)
	before := func(i, j int) bool {
		if si, sj := score[i], score[j]; si != sj {
			return si > sj
		}
		bi, bj := &bidders[i], &bidders[j]
		if bi.Campaign != bj.Campaign {
			return bi.Campaign < bj.Campaign
		}
		if bi.Item != bj.Item {
			return bi.Item < bj.Item
		}
		return i < j // stable
	}
	var pickBuf [8]int
	picked := pickBuf[:0] // indexes into bidders, in rank order
	for len(picked) <= slots {
		best := -1
		for k := range bidders {
			if math.IsNaN(score[k]) || (best >= 0 && !before(k, best)) {
				continue
			}
			taken := false // the campaign already ranked (with its best item)
			for _, p := range picked {
				if bidders[p].Campaign == bidders[k].Campaign {
					taken = true
					break
				}
			}
			if !taken {
				best = k
			}
		}
		if best < 0 {
			break
		}
		picked = append(picked, best)
	}
	for k := 0; k < len(picked) && k < slots; k++ {
		b := bidders[picked[k]]
		price := reserve
		if k+1 < len(picked) {
			next := score[picked[k+1]]
			p := Micros(math.Round(next / (b.PCTR * b.Relevance)))
			price = max(price, p)
		}
		price = min(price, b.Bid)
		if wins == nil {
			wins = make([]Win, 0, min(slots, len(picked)))
		}
		wins = append(wins, Win{Bidder: b, Slot: k, Price: price})
	}
	return wins
}
