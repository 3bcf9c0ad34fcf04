package related

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/search/analysis"
)

// The content index numbers its terms instead of keeping a string per
// term per item (memory at 1M products, session 8). Its answers must be
// those of the string-keyed index it replaced, kept below as the
// reference: same text neighbours in the same order, same cosines. The
// catalogue has long descriptions (more than maxTerms terms, so the
// truncation and its order of equal weights matter), repeated words and
// terms in more than maxPosting items.
func TestContentTermNumbersAnswerAsStrings(t *testing.T) {
	an, err := analysis.NewRegistry(analysis.Options{}).Analyzer(analysis.AnalyzerEnglish)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	words := strings.Fields("red blue green steel oak wool cotton kettle lamp chair desk mug towel rug compact portable modern vintage " +
		"handmade durable light heavy soft warm quiet fast small large round square tall short bright dark smooth rough")
	var items []catalog.Item
	for i := 0; i < 11000; i++ {
		title, desc := []string{"shop"}, []string(nil) // "shop": a term of more than maxPosting items
		for k := 0; k < 3+rng.IntN(4); k++ {
			title = append(title, words[rng.IntN(len(words))])
		}
		if i%2 != 0 {
			for k := 0; k < 20+rng.IntN(40); k++ {
				desc = append(desc, words[rng.IntN(len(words))], fmt.Sprintf("w%d", rng.IntN(400)))
			}
		}
		items = append(items, catalog.Item{ID: fmt.Sprintf("i%d", i), Title: strings.Join(title, " "), Brand: fmt.Sprintf("B%d", i%13),
			Description: strings.Join(desc, " "), Categories: []string{"A/B"}})
	}
	c := buildContent(items, an, nil, false)
	vec, post := stringContent(items, an)

	long := 0
	for a := range items {
		if len(vec[a]) == maxTerms {
			long++
		}
		if len(c.vec[a]) != len(vec[a]) {
			t.Fatalf("item %d: %d terms, want %d", a, len(c.vec[a]), len(vec[a]))
		}
		for k := range vec[a] {
			if c.vec[a][k].w != vec[a][k].w {
				t.Fatalf("item %d term %d: weight %v, want %v", a, k, c.vec[a][k].w, vec[a][k].w)
			}
		}
	}
	capped := 0
	for _, ps := range post {
		if len(ps) == maxPosting {
			capped++
		}
	}
	if long == 0 || capped == 0 {
		t.Fatalf("fixture does not reach the limits: %d items with %d terms, %d postings capped", long, maxTerms, capped)
	}
	for a := int32(0); a < int32(len(items)); a += 23 {
		got, want := c.textNeighbours(a, 50), stringNeighbours(vec, post, a, 50)
		if !slices.Equal(got, want) {
			t.Fatalf("item %d: text neighbours %v, want %v", a, got, want)
		}
		for _, j := range want[:min(5, len(want))] {
			if got, want := c.textCos(a, j), stringCos(vec, a, j); got != want {
				t.Fatalf("cos(%d, %d) = %v, want %v", a, j, got, want)
			}
		}
	}
}

type stringTerm struct {
	term string
	w    float32
}

// stringContent is buildContent's TF-IDF vectors and postings as they
// were built before the terms were numbered.
func stringContent(items []catalog.Item, an *analysis.Analyzer) ([][]stringTerm, map[string][]posting) {
	n := len(items)
	tfs := make([]map[string]float64, n)
	df := map[string]int{}
	for i, it := range items {
		tf := map[string]float64{}
		for _, t := range an.Terms(it.Title + " " + it.Brand) {
			tf[t]++
		}
		if it.Description != "" {
			for _, t := range an.Terms(it.Description) {
				tf[t] += descriptionWeight
			}
		}
		for t := range tf {
			df[t]++
		}
		tfs[i] = tf
	}
	vecs := make([][]stringTerm, n)
	post := map[string][]posting{}
	for i, tf := range tfs {
		var v []stringTerm
		var norm float64
		for t, f := range tf {
			w := (1 + math.Log(max(f, 0.5)+0.5)) * math.Log(1+float64(n)/float64(df[t]))
			v = append(v, stringTerm{t, float32(w)})
		}
		slices.SortFunc(v, func(a, b stringTerm) int {
			if c := cmp.Compare(b.w, a.w); c != 0 {
				return c
			}
			return strings.Compare(a.term, b.term)
		})
		if len(v) > maxTerms {
			v = v[:maxTerms]
		}
		for _, tw := range v {
			norm += float64(tw.w) * float64(tw.w)
		}
		norm = math.Sqrt(norm)
		for k := range v {
			v[k].w = float32(float64(v[k].w) / norm)
			post[v[k].term] = append(post[v[k].term], posting{int32(i), v[k].w})
		}
		vecs[i] = v
	}
	for t, ps := range post {
		if len(ps) > maxPosting {
			slices.SortFunc(ps, func(a, b posting) int { return cmp.Compare(b.w, a.w) })
			post[t] = ps[:maxPosting]
		}
	}
	return vecs, post
}

func stringCos(vec [][]stringTerm, a, j int32) float64 {
	var s float64
	for _, x := range vec[a] {
		for _, y := range vec[j] {
			if x.term == y.term {
				s += float64(x.w) * float64(y.w)
				break
			}
		}
	}
	return s
}

func stringNeighbours(vec [][]stringTerm, post map[string][]posting, a int32, n int) []int32 {
	acc := map[int32]float32{}
	for _, tw := range vec[a] {
		for _, p := range post[tw.term] {
			if p.item != a {
				acc[p.item] += tw.w * p.w
			}
		}
	}
	var all []int32
	for j := range acc {
		all = append(all, j)
	}
	slices.SortFunc(all, func(x, y int32) int {
		if c := cmp.Compare(acc[y], acc[x]); c != 0 {
			return c
		}
		return cmp.Compare(x, y)
	})
	return all[:min(n, len(all))]
}

// The behaviour scores are looked up in lists ordered by neighbour number
// (binary search) instead of a map per item (session 8): simOf and
// basketOf must give every kept neighbour's score and 0 for any other item,
// as the maps did.
func TestBehaviourLookupsAnswerAsMaps(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	var items []catalog.Item
	for i := 0; i < 300; i++ {
		items = append(items, item(fmt.Sprintf("i%d", i), fmt.Sprintf("thing %d", i%17), fmt.Sprintf("A/L%d", i%9), ""))
	}
	var evs []events.Event
	for u := 0; u < 400; u++ {
		for k := 0; k < 2+rng.IntN(6); k++ {
			evs = append(evs, buy(fmt.Sprintf("u%d", u), fmt.Sprintf("i%d", rng.IntN(60)+rng.IntN(240)*(k%2)), fmt.Sprintf("s%d-%d", u, k/3), time.Duration(u*10+k)*time.Minute))
		}
	}
	ix := build(t, items, evs, Config{})
	b := ix.beh
	kept := 0
	for a := int32(0); a < int32(len(items)); a++ {
		for _, lists := range []struct {
			best   []neighbour
			lookup func(a, j int32) float64
		}{{b.sim[a], b.simOf}, {b.basket[a], b.basketOf}} {
			want := map[int32]float32{}
			for _, nb := range lists.best {
				want[nb.j] = nb.s
			}
			kept += len(want)
			for j := int32(0); j < int32(len(items)); j++ {
				if got := lists.lookup(a, j); got != float64(want[j]) {
					t.Fatalf("item %d, neighbour %d: %v, want %v", a, j, got, want[j])
				}
			}
		}
	}
	if kept == 0 {
		t.Fatal("no behaviour neighbours in the fixture")
	}
	if got := b.simOf(int32(len(items)), 0); got != 0 {
		t.Fatalf("an item past the end: %v, want 0", got)
	}
}
