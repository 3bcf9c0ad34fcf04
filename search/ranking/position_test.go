package ranking

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/search/ltr"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// biasedShop is a shop whose search log was collected under a serving
// order that is wrong: for every query, keyword ranking (which serves)
// puts the shoppers' favourite last of four, and shoppers examine
// position k with probability 1/k² (strong position bias), so the item on
// top collects the most clicks although shoppers like it a third as much.
type biasedShop struct {
	st       *boltstore.Store
	ix       *search.Index
	words    []string
	favorite map[string]string // query → the item shoppers prefer
	theta    []float64         // true examination of positions 1 … 4
}

// relevance of the items at serving positions 1 … 4: the favourite is
// the last.
var biasedRelevance = []float64{0.3, 0.2, 0.2, 0.9}

func newBiasedShop(t *testing.T, words, sessionsPerHalf int) *biasedShop {
	t.Helper()
	ctx := context.Background()
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := &biasedShop{st: st, ix: ix, favorite: map[string]string{}, theta: []float64{1, 1.0 / 4, 1.0 / 9, 1.0 / 16}}
	var items []catalog.Item
	for f := 0; f < words; f++ {
		w := fmt.Sprintf("widget%c%c", 'a'+f%26, 'a'+f/26)
		s.words = append(s.words, w)
		for k := 0; k < 4; k++ { // keyword ranking puts the shortest title first
			items = append(items, catalog.Item{ID: fmt.Sprintf("%s-%d", w, k), Title: w + " thing" + strings.Repeat(" with more words", k), Available: true})
		}
	}
	if err := st.PutItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert(ctx, items...); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []events.Event
	n := 0
	for half := 0; half < 2; half++ { // the older half gives features, the newer the judgments
		for _, w := range s.words {
			res, err := ix.Search(ctx, search.Request{Query: w, Mode: search.ModeKeyword, NoHighlights: true})
			if err != nil {
				t.Fatal(err)
			}
			served := make([]string, len(res.Items))
			for i, h := range res.Items {
				served[i] = h.ID
			}
			if len(served) != 4 || served[3] != w+"-3" {
				t.Fatalf("keyword ranking of %q is %v: want the longest title last of four", w, served)
			}
			s.favorite[w] = served[3]
			// each position gets its expected clicks, rounded: no sampling
			// noise, so the test says what the estimates do, not luck
			clicks := make([]int, len(served))
			for k := range served {
				clicks[k] = int(math.Round(float64(sessionsPerHalf) * s.theta[k] * biasedRelevance[k]))
			}
			for j := 0; j < sessionsPerHalf; j++ {
				n++
				sess := fmt.Sprintf("s%d", n)
				at := t0.Add(time.Duration(n) * time.Minute)
				evs = append(evs, events.Event{UserID: "u" + sess, SessionID: sess, Type: events.Search, Query: w, Timestamp: at})
				for k, id := range served {
					if j < clicks[k] {
						evs = append(evs, events.Event{UserID: "u" + sess, SessionID: sess, ItemID: id, Type: events.Click, Position: k + 1,
							Timestamp: at.Add(time.Duration(k+1) * time.Second)})
					}
				}
			}
		}
	}
	if err := st.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	return s
}

// weight is the clipped inverse propensity weight of the true
// examination (what experiment.Manager.PositionWeight gives once fitted).
func (s *biasedShop) weight(pos int) float64 {
	return (&impressions.Propensities{Theta: s.theta}).Weight(pos)
}

// keywordOrder ranks as keyword search does: it stands for the serving
// version that collected the clicks.
type keywordOrder struct{}

func (keywordOrder) Score(f []float32) float64 { return keywordScore()(f) }
func (keywordOrder) Check([]string) error      { return nil }

// favouriteFirst is the order shoppers prefer: keyword ranking with its
// last of four (keyword rank 4, reciprocal rank 1/4) moved to the top.
func favouriteFirst(f []float32) float64 {
	r := keywordScore()(f)
	if math.Abs(r-0.25) < 1e-6 {
		return 2
	}
	return r
}

// The promotion check compares the new and the serving version on the
// judgments of held-out queries. Learnt from plain clicks, those
// judgments favour the order that collected them: the serving order
// scores higher than the one shoppers prefer. Weighted by the inverse of
// their position's examination (Config.PositionWeight) they do not.
func TestPromotionCheckIsNotFooledByWhereTheServingOrderPutItems(t *testing.T) {
	s := newBiasedShop(t, 40, 16)
	ctx := context.Background()
	for _, tc := range []struct {
		name              string
		weight            func(int) float64
		servingWins       bool
		favouriteLabelTop bool
	}{
		{"plain clicks", nil, true, false},
		{"position-corrected clicks", s.weight, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := New(s.ix, s.st, Config{MinQueries: 10, PositionWeight: tc.weight}, nil)
			train, valid, _, err := l.judgedQueries(ctx)
			if err != nil {
				t.Fatal(err)
			}
			all := append(slices.Clone(train), valid...)
			if len(all) != len(s.words) {
				t.Fatalf("%d judged queries, want %d", len(all), len(s.words))
			}
			serving := ltr.MeanNDCG(keywordOrder{}.Score, all, 10)
			preferred := ltr.MeanNDCG(favouriteFirst, all, 10)
			if got := serving > preferred; got != tc.servingWins {
				t.Fatalf("nDCG@10 on the judged queries: serving order %.4f, preferred order %.4f: serving wins %v, want %v", serving, preferred, got, tc.servingWins)
			}
			// and so does the best-labelled item of each query
			top := 0
			for _, q := range all {
				best := slices.Index(q.Labels, slices.Max(q.Labels))
				if favouriteFirst(q.Features[best]) == 2 && slices.Max(q.Labels) > slices.Min(slices.Delete(slices.Clone(q.Labels), best, best+1)) {
					top++
				}
			}
			if got := top == len(all); got != tc.favouriteLabelTop {
				t.Fatalf("the favourite has the strictly highest label in %d of %d queries", top, len(all))
			}
		})
	}
}

// End to end: a version trained while the keyword order served. From
// plain clicks the learner learns the serving order back (whether the
// check promotes it or not, the favourite stays off the top); from
// position-corrected clicks it learns the shoppers' favourite, and the
// check, against the serving version on corrected judgments, promotes it.
func TestLearnerPromotesWhatShoppersPreferDespitePositionBias(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name           string
		corrected      bool
		favouriteFirst bool // on at least 90 % of the queries; else on at most 10 %
	}{
		{"plain clicks", false, false},
		{"position-corrected clicks", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newBiasedShop(t, 40, 16)
			clicks := search.NewClicks()
			cfg := Config{MinQueries: 10}
			if tc.corrected {
				clicks.PositionWeight, cfg.PositionWeight = s.weight, s.weight
			}
			s.st.ScanEvents(ctx, 0, func(e events.Event) error { clicks.Record(e); return nil })
			s.ix.SetSignals(search.Signals{Clicks: clicks})
			if err := s.ix.SetRanker(keywordOrder{}); err != nil { // the version that served
				t.Fatal(err)
			}
			rep, err := New(s.ix, s.st, cfg, nil).Train(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Previous < 0 {
				t.Fatalf("not compared with the serving version: %+v", rep)
			}
			if tc.corrected && (!rep.Serving || rep.NDCG <= rep.Previous) {
				t.Fatalf("not promoted over the serving version on corrected judgments: %+v", rep)
			}
			first := 0
			for _, w := range s.words {
				res, err := s.ix.Search(ctx, search.Request{Query: w, Mode: search.ModeLTR, NoHighlights: true})
				if err != nil || len(res.Items) == 0 {
					t.Fatalf("search %q: %v", w, err)
				}
				if res.Items[0].ID == s.favorite[w] {
					first++
				}
			}
			if tc.favouriteFirst && first < len(s.words)*9/10 || !tc.favouriteFirst && first > len(s.words)/10 {
				t.Fatalf("after training (%+v) the favourite ranks first on %d of %d queries", rep, first, len(s.words))
			}
		})
	}
}
