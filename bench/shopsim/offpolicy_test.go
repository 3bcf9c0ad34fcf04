package shopsim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// pbmPages logs pages of the items in shown (shuffled on each page, so
// every item is seen at every position), clicked by the position-based
// model: examined with θ(k), clicked with relevance rel[id].
func pbmPages(rng *rand.Rand, n int, shown []string, rel map[string]float64, theta func(int) float64) []page {
	pages := make([]page, n)
	for i := range pages {
		items := append([]string(nil), shown...)
		rng.Shuffle(len(items), func(a, b int) { items[a], items[b] = items[b], items[a] })
		p := page{user: "u", items: items, clicked: map[string]bool{}}
		for k, id := range items {
			if rng.Float64() < theta(k+1)*rel[id] {
				p.clicked[id] = true
			}
		}
		pages[i] = p
	}
	return pages
}

// The offline estimate recovers a candidate's clicks per page when the
// log showed the candidate's items (its interval covers the truth), and
// when the candidate's best items were never shown it says so: no point
// estimate, only bounds that hold the truth. (The former estimate gave a
// single number, the shown items' part, far below the truth.)
func TestOffPolicyEstimatesOnlyWhatTheLogCovers(t *testing.T) {
	theta := func(k int) float64 { return 1 / float64(k) }
	rel := map[string]float64{}
	var ids []string
	for i := range 20 {
		id := fmt.Sprintf("i%02d", i)
		ids = append(ids, id)
		rel[id] = 0.05 + 0.9*float64(i)/19 // i19 the best
	}
	truth := func(cand []string) float64 {
		v := 0.0
		for k, id := range cand {
			v += theta(k+1) * rel[id]
		}
		return v
	}
	list := func(cand []string) map[string]map[string]int {
		m := map[string]int{}
		for k, id := range cand {
			m[id] = k + 1
		}
		return map[string]map[string]int{"u": m}
	}
	rng := rand.New(rand.NewPCG(3, 5))

	// covered: the log showed items 10–19 in random orders; the candidate
	// ranks the same ten best first
	pages := pbmPages(rng, 20000, ids[10:], rel, theta)
	cand := []string{"i19", "i18", "i17", "i16", "i15", "i14", "i13", "i12", "i11", "i10"}
	o := offPolicy(pages, list(cand), theta, 10)
	want := truth(cand)
	if math.Abs(o.Overlap-1) > 1e-9 || o.SelfNormalised == nil {
		t.Fatalf("full overlap: %+v", o)
	}
	if sn := *o.SelfNormalised; !(sn.Low <= want && want <= sn.High) || sn.High-sn.Low > 0.1*want {
		t.Errorf("covered candidate: self-normalised %+v, truth %.4f", sn, want)
	}
	if !(o.Covered.Low <= want && want <= o.Covered.High) {
		t.Errorf("covered candidate: %+v, truth %.4f", o.Covered, want)
	}

	// poor overlap: the log showed items 0–9 only; the candidate ranks
	// items 10–14 (never shown, the best ones) first, then 5–9
	pages = pbmPages(rng, 20000, ids[:10], rel, theta)
	cand = []string{"i14", "i13", "i12", "i11", "i10", "i09", "i08", "i07", "i06", "i05"}
	o = offPolicy(pages, list(cand), theta, 10)
	want = truth(cand)
	if o.SelfNormalised != nil || !strings.HasPrefix(o.Verdict, "overlap too small") {
		t.Fatalf("poor overlap gave an estimate: %+v", o)
	}
	if o.Overlap > 0.3 {
		t.Errorf("overlap %.3f, want the share of θ on ranks 6–10 (%.3f)", o.Overlap, (1/6.+1/7.+1/8.+1/9.+1/10.)/2.928968)
	}
	if !(o.Covered.Low <= want && want <= o.Upper) {
		t.Errorf("bounds [%.4f, %.4f] miss the truth %.4f", o.Covered.Low, o.Upper, want)
	}
	if o.Covered.High >= 0.5*want {
		t.Errorf("the shown items' part %.4f should be far below the truth %.4f (what the former single number reported)", o.Covered.High, want)
	}

	// a page's own candidate page (asked when it was served) is used
	// before the shopper's page asked afterwards
	own := []page{{user: "u", items: ids[:2], clicked: map[string]bool{"i00": true}, cand: map[string]int{"i00": 1}},
		{user: "u", items: ids[:2], clicked: map[string]bool{}, cand: map[string]int{"i00": 1}}}
	if o := offPolicy(own, list([]string{"i05"}), theta, 10); o.Covered.Value != 0.5 || o.Overlap <= 0 {
		t.Errorf("the page's own candidate page was not used: %+v", o)
	}

	// clipping: a click logged at 10 and ranked 1st weighs at most ClipWeight
	one := []page{{user: "u", items: ids[:10], clicked: map[string]bool{"i09": true}}, {user: "u", items: ids[:10], clicked: map[string]bool{}}}
	o = offPolicy(one, list([]string{"i09"}), func(k int) float64 { return 1 / float64(k*k) }, 10)
	if o.Clipped != 1 || o.Covered.Value != ClipWeight/2.0 {
		t.Errorf("clipping: %+v", o)
	}
}
