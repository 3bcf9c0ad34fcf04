package ranking

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/experiment"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/store"
)

// duelLog is the server's impression log and experiment manager, with
// the log's writer running.
type duelLog struct {
	imp *impressions.Log
	m   *experiment.Manager
	at  time.Time
	n   int
}

func newDuelLog(t *testing.T) *duelLog {
	t.Helper()
	dir := t.TempDir()
	imp, err := impressions.Open(filepath.Join(dir, "impressions.db"), impressions.Options{Queue: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	m, err := experiment.Open(experiment.Options{Path: filepath.Join(dir, "experiments.db"), Impressions: imp})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- imp.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		m.Close()
		imp.Close()
	})
	return &duelLog{imp: imp, m: m, at: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// show interleaves serving and challenger by team draft for one shopper of
// query q, logs the answer as api does (the challenge's name as its
// experiment, each item's team) and sends the shopper's clicks with the
// answer's request id. Shoppers examine position k with probability 1/k²
// and click an examined item with its relevance rel.
func (d *duelLog) show(rng *rand.Rand, duel, q string, serving, challenger []string, rel map[string]float64) {
	d.n++
	rid := d.m.NewRequestID("search", experiment.Assignment{})
	items, teams := experiment.TeamDraft(serving, challenger, len(serving), rid)
	sess := fmt.Sprintf("s%d", d.n)
	at := d.at.Add(time.Duration(d.n) * time.Second)
	d.m.Shown(impressions.Impression{RequestID: rid, Time: at, Surface: "search", SessionID: sess, Query: q, Items: items,
		Experiment: duel, Variant: "interleaved", Teams: teams}, sess)
	var evs []events.Event
	for k, id := range items {
		if rng.Float64() < 1/float64((k+1)*(k+1)) && rng.Float64() < rel[id] {
			evs = append(evs, events.Event{UserID: "u" + sess, SessionID: sess, ItemID: id, Type: events.Click, RequestID: rid, Position: k + 1, Timestamp: at.Add(time.Second)})
		}
	}
	d.m.EventsAppended(evs)
}

// tally waits for the writer and counts the duel.
func (d *duelLog) tally(t *testing.T, duel string) Tally {
	t.Helper()
	ctx := context.Background()
	var got impressions.DuelTally
	for range 200 { // the writer takes the queue every 50 ms
		var err error
		if got, err = d.imp.Duel(ctx, duel, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if got.Answers == d.n {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(120 * time.Millisecond) // and the clicks queued with the last answers
	got, err := d.imp.Duel(ctx, duel, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return Tally{Wins: got.Wins, Losses: got.Losses, Ties: got.Ties}
}

// The online check decides by what shoppers prefer, not by where the
// serving order put items: under strong position bias (1/k²) the serving
// order, whose top item collects most clicks, loses to the order that puts
// the shoppers' favourite first, and beats an order that puts a poor item
// first. Each interleaved answer's clicks are credited to the team that
// placed the item, through the real impression log and attribution, and
// the sequential sign test promotes or rejects within its budget.
func TestOnlineCheckPromotesWhatShoppersPreferDespitePositionBias(t *testing.T) {
	const queries = 40
	for _, tc := range []struct {
		name       string
		relevance  []float64 // of serving positions 1 … 4
		challenger func(serving []string) []string
		want       Verdict
	}{
		// biasedRelevance (0.3, 0.2, 0.2, 0.9): the serving order puts the
		// favourite last, yet it collects the most clicks at position 1
		{"the favourite first", biasedRelevance, func(s []string) []string { return []string{s[3], s[0], s[1], s[2]} }, Promote},
		// the serving order is the good one and the challenger puts its
		// poorest items first. (With biasedRelevance and the poor 0.2 items
		// moved above the 0.3 one, the two orders differ by a few clicks in
		// a hundred: the test failed once in CI undecided after 1,600
		// answers, 224 wins to 294, as a sign test of that effect may.)
		{"a poor item first", []float64{0.9, 0.4, 0.2, 0.1}, func(s []string) []string { return []string{s[3], s[2], s[0], s[1]} }, Reject},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDuelLog(t)
			rng := rand.New(rand.NewPCG(7, 11))
			duel := DuelName(DefaultName, 2)
			var v Verdict
			var tl Tally
			for round := 0; round < 40 && v == Undecided; round++ {
				for q := range queries {
					w := fmt.Sprintf("widget%d", q)
					serving := []string{w + "-0", w + "-1", w + "-2", w + "-3"}
					rel := map[string]float64{}
					for k, id := range serving {
						rel[id] = tc.relevance[k]
					}
					d.show(rng, duel, w, serving, tc.challenger(serving), rel)
				}
				tl = d.tally(t, duel)
				v, _ = SequentialSignTest(tl, 0.05, 2000)
			}
			if v != tc.want {
				t.Fatalf("after %d interleaved answers: %+v, verdict %v, want %v", d.n, tl, v, tc.want)
			}
			t.Logf("%v after %d answers: %+v", v, d.n, tl)
		})
	}
}

// The sequential sign test errs at most α under the null, however often it
// looks: answers that favour either version with probability ½ are
// promoted or rejected early in at most about 5 % of runs.
func TestSequentialSignTestHoldsItsErrorWhenLookingAfterEveryAnswer(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	const runs = 400
	early := 0
	for range runs {
		var tl Tally
		for range 2000 {
			if rng.IntN(2) == 0 {
				tl.Wins++
			} else {
				tl.Losses++
			}
			if v, llr := SequentialSignTest(tl, 0.05, 0); v != Undecided {
				if llr < math.Log(20) {
					t.Fatalf("decided %v at log Λ %.2f < log 20", v, llr)
				}
				early++
				break
			}
		}
	}
	if early > runs*8/100 {
		t.Fatalf("%d of %d null runs decided: the test does not hold α = 0.05", early, runs)
	}
	// and a clear preference decides
	if v, _ := SequentialSignTest(Tally{Wins: 150, Losses: 90}, 0.05, 0); v != Promote {
		t.Fatalf("150 wins to 90: %v, want promote", v)
	}
	if v, _ := SequentialSignTest(Tally{Wins: 90, Losses: 150}, 0.05, 0); v != Reject {
		t.Fatalf("90 wins to 150: %v, want reject", v)
	}
	if v, _ := SequentialSignTest(Tally{Wins: 60, Losses: 60}, 0.05, 100); v != Reject {
		t.Fatalf("60 to 60 past the budget of 100: %v, want reject (a tie keeps the serving version)", v)
	}
	if v, _ := SequentialSignTest(Tally{Wins: 53, Losses: 47}, 0.05, 100); v != Promote {
		t.Fatalf("53 to 47 at the budget of 100: %v, want promote (the sign decides)", v)
	}
	if v, _ := SequentialSignTest(Tally{Wins: 53, Losses: 47}, 0.05, 0); v != Undecided {
		t.Fatalf("53 to 47 without a budget: %v, want undecided", v)
	}
}

// End to end through the learner: a version trained while another serves
// (both stored) becomes the challenger, not the serving version; the
// challenge survives a restart (the stored metadata names it, its answers
// are in the impression log); interleaved searches of the real index, the
// challenger ranking through search.Request.Ranker, and shoppers' clicks
// then decide it at the next training.
func TestLearnerChallengesOnlineAndSurvivesARestart(t *testing.T) {
	ctx := context.Background()
	s := newBiasedShop(t, 40, 16)
	d := newDuelLog(t)
	clicks := search.NewClicks()
	clicks.PositionWeight = s.weight
	s.st.ScanEvents(ctx, 0, func(e events.Event) error { clicks.Record(e); return nil })
	s.ix.SetSignals(search.Signals{Clicks: clicks})
	online := &OnlineCheck{Tally: func(ctx context.Context, duel string, since time.Time) (Tally, error) {
		tl, err := d.imp.Duel(ctx, duel, since)
		return Tally{Wins: tl.Wins, Losses: tl.Losses, Ties: tl.Ties}, err
	}}
	// the first version learnt from plain clicks, the serving order back
	// (made to serve whether or not it beat keyword ranking)
	first := New(s.ix, s.st, Config{MinQueries: 10}, nil)
	rep, err := first.Train(ctx)
	if err != nil || rep.Version != 1 {
		t.Fatalf("first version: %+v, %v", rep, err)
	}
	if ok, err := store.PromoteVersion(ctx, s.st, DefaultName, 1, func(store.ModelMeta, *store.ModelMeta) (bool, string) { return true, "" },
		func(m store.ModelMeta) error { return first.activate(ctx, m) }); !ok || err != nil {
		t.Fatalf("serve the first version: %v %v", ok, err)
	}
	cfg := Config{MinQueries: 10, PositionWeight: s.weight, Online: online}
	l := New(s.ix, s.st, cfg, nil)
	if err := l.Load(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err = l.Train(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Serving || !rep.Challenging || l.ServingVersion() != 1 || l.Challenger() == nil || l.Challenger().Version != rep.Version {
		t.Fatalf("second version: %+v, serving %d, challenger %+v: want it to challenge version 1", rep, l.ServingVersion(), l.Challenger())
	}
	// a restart resumes the challenge
	l = New(s.ix, s.st, cfg, nil)
	if err := l.Load(ctx); err != nil {
		t.Fatal(err)
	}
	ch := l.Challenger()
	if ch == nil || ch.Version != rep.Version || ch.Against != 1 || ch.Duel != DuelName(DefaultName, rep.Version) {
		t.Fatalf("after a restart the challenger is %+v, want version %d against 1", ch, rep.Version)
	}
	// undecided without answers: no new version meanwhile
	if r, err := l.Train(ctx); err != nil || r.Version != 0 || r.Settled == nil || r.Settled.Verdict != Undecided {
		t.Fatalf("training during the challenge: %+v, %v", r, err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ids := func(res *search.Result) []string {
		out := make([]string, len(res.Items))
		for i, h := range res.Items {
			out[i] = h.ID
		}
		return out
	}
	for round := 0; round < 20; round++ {
		for _, w := range s.words {
			a, err := s.ix.Search(ctx, search.Request{Query: w, Mode: search.ModeLTR, NoHighlights: true})
			if err != nil {
				t.Fatal(err)
			}
			b, err := s.ix.Search(ctx, search.Request{Query: w, Mode: search.ModeLTR, NoHighlights: true, Ranker: ch.Ranker})
			if err != nil {
				t.Fatal(err)
			}
			rel := map[string]float64{}
			for k := range 4 {
				rel[fmt.Sprintf("%s-%d", w, k)] = biasedRelevance[k]
			}
			d.show(rng, ch.Duel, w, ids(a), ids(b), rel)
		}
		if tl := d.tally(t, ch.Duel); func() bool { v, _ := SequentialSignTest(tl, 0.05, 2000); return v != Undecided }() {
			break
		}
	}
	rep, err = l.Train(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Settled == nil || rep.Settled.Verdict != Promote || l.ServingVersion() != ch.Version {
		t.Fatalf("after %d interleaved answers: %+v (settled %+v), serving %d: want version %d promoted", d.n, rep, rep.Settled, l.ServingVersion(), ch.Version)
	}
	metas, err := s.st.ListModels(ctx, DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(metas, func(m store.ModelMeta) bool { return m.Version == ch.Version })
	if i < 0 || metas[i].Status != store.StatusServing {
		t.Fatalf("stored versions %+v: want %d serving", metas, ch.Version)
	}
	first2 := 0
	for _, w := range s.words {
		res, err := s.ix.Search(ctx, search.Request{Query: w, Mode: search.ModeLTR, NoHighlights: true})
		if err != nil || len(res.Items) == 0 {
			t.Fatalf("search %q: %v", w, err)
		}
		if res.Items[0].ID == s.favorite[w] {
			first2++
		}
	}
	if first2 < len(s.words)*9/10 {
		t.Fatalf("the promoted version puts the favourite first on %d of %d queries", first2, len(s.words))
	}
}
