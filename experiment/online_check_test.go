package experiment_test

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/experiment"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/internal/testdata"
	"github.com/aisle-dev/aisle/search/ranking"
	"github.com/aisle-dev/aisle/search/searcheval"
)

// The online promotion check of a search ranker (decision 0073) picks the
// version shoppers prefer: on the ESCI queries, two rankers of known
// quality by construction — each orders a query's judged items by their
// gain plus its own noise, the better one with less (its nDCG@10 is
// measured, not assumed) — are team-draft interleaved for simulated
// shoppers under strong position bias (examination 1/rank², the ESCI
// click simulation's attractiveness by grade), every answer and click
// going through the impression log and the manager's attribution as a
// server's do (Shown, EventsAppended, Duel), and the sequential sign
// test (α 0.05, truncated at 200 decided answers) decides after every
// 50 answers. A better challenger must be promoted, a worse one rejected,
// in most runs.
func TestOnlineCheckPicksTheBetterRankerOnSimulatedShoppers(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates a few thousand interleaved answers")
	}
	ds := loadESCIQueries(t)
	const runs = 6
	for _, sc := range []struct {
		name                string
		serving, challenger float64 // the rankers' noise
		wantPromote         bool
	}{
		{"challenger better", 1.2, 0.4, true},
		{"challenger worse", 0.4, 1.2, false},
	} {
		t.Run(sc.name, func(t *testing.T) {
			right := 0
			for run := range runs {
				r := simulateChallenge(t, ds, sc.serving, sc.challenger, uint64(run+1))
				t.Logf("run %d: nDCG@10 serving %.4f, challenger %.4f; %s after %d answers (%d wins, %d losses, %d ties; truncated %v)",
					run+1, r.servingNDCG, r.challengerNDCG, r.verdict, r.answers, r.tally.Wins, r.tally.Losses, r.tally.Ties, r.truncated)
				if (r.verdict == ranking.Promote) == sc.wantPromote && r.verdict != ranking.Undecided {
					right++
				}
			}
			if right < runs-1 {
				t.Fatalf("the check decided right in %d of %d runs", right, runs)
			}
		})
	}
}

// BenchmarkOnlineCheckPicksTheBetterRanker reports how often the online
// check decides right (promotes a better challenger, rejects a worse one;
// for equal rankers, how often it promotes) over AISLE_DUEL_RUNS runs (30)
// a scenario, with the rankers' mean nDCG@10 and the answers a decision
// took and the share decided at the truncation. The noise levels are the scenario's name (serving/challenger).
func BenchmarkOnlineCheckPicksTheBetterRanker(b *testing.B) {
	ds := loadESCIQueries(b)
	runs := 30
	if v := os.Getenv("AISLE_DUEL_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("AISLE_DUEL_RUNS=%q: want a positive count", v)
		}
		runs = n
	}
	for _, sc := range []struct{ serving, challenger float64 }{{1.2, 0.4}, {0.4, 1.2}, {0.9, 0.6}, {0.6, 0.9}, {0.8, 0.8}} {
		b.Run(fmt.Sprintf("noise=%.1f/%.1f", sc.serving, sc.challenger), func(b *testing.B) {
			for range b.N {
				promoted, answers, truncated := 0, 0, 0
				var ns, nc float64
				for run := range runs {
					r := simulateChallenge(b, ds, sc.serving, sc.challenger, uint64(run+1))
					if r.verdict == ranking.Promote {
						promoted++
					}
					answers += r.answers
					if r.truncated {
						truncated++
					}
					ns += r.servingNDCG / float64(runs)
					nc += r.challengerNDCG / float64(runs)
				}
				b.ReportMetric(float64(promoted)/float64(runs), "promoted-share")
				b.ReportMetric(float64(answers)/float64(runs), "answers/decision")
				b.ReportMetric(float64(truncated)/float64(runs), "truncated-share")
				b.ReportMetric(ns, "ndcg-serving")
				b.ReportMetric(nc, "ndcg-challenger")
				b.ReportMetric(float64(runs), "runs")
			}
		})
	}
}

// loadESCIQueries is the ESCI sample's queries with at least 10 judged
// items (skips without the shared data).
func loadESCIQueries(tb testing.TB) []searcheval.Query {
	ds, err := searcheval.LoadESCI(testdata.Path(tb, "esci-us-150"))
	if err != nil {
		tb.Fatal(err)
	}
	var qs []searcheval.Query
	for _, q := range ds.Queries {
		if len(q.Gains) >= 10 {
			qs = append(qs, q)
		}
	}
	slices.SortFunc(qs, func(a, b searcheval.Query) int { return cmp.Compare(a.Text, b.Text) }) // the file's order is not kept
	if len(qs) < 20 {
		tb.Fatalf("%d ESCI queries with 10 judged items, want 20", len(qs))
	}
	return qs
}

type challengeResult struct {
	verdict                     ranking.Verdict
	tally                       impressions.DuelTally
	answers                     int
	truncated                   bool // decided by the sign at 200 decided answers
	servingNDCG, challengerNDCG float64
}

// simulateChallenge interleaves a serving ranker of noise serving with a
// challenger of noise challenger until the sequential sign test decides
// (at most 20,000 answers), a fresh log and manager per run.
func simulateChallenge(tb testing.TB, qs []searcheval.Query, serving, challenger float64, seed uint64) challengeResult {
	tb.Helper()
	dir := tb.TempDir()
	imp, err := impressions.Open(filepath.Join(dir, "imp.db"), impressions.Options{Queue: 1 << 16})
	if err != nil {
		tb.Fatal(err)
	}
	defer imp.Close()
	m, err := experiment.Open(experiment.Options{Path: filepath.Join(dir, "exp.db"), Impressions: imp, FitAfter: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	defer m.Close()
	// the writer runs between checks and writes everything before each
	// (Run writes what is queued when its context ends): the tally is
	// the same on every machine
	var stop context.CancelFunc
	var done chan error
	start := func() {
		var ctx context.Context
		ctx, stop = context.WithCancel(context.Background())
		done = make(chan error, 1)
		go func() { done <- imp.Run(ctx) }()
	}
	flush := func() {
		stop()
		if err := <-done; err != nil {
			tb.Fatal(err)
		}
	}
	start()
	defer func() { flush() }()

	rank := func(q searcheval.Query, noise float64, salt uint64) []string {
		ids := make([]string, 0, len(q.Gains))
		score := map[string]float64{}
		for id, g := range q.Gains {
			ids = append(ids, id)
			score[id] = g + noise*normalOf(seed, salt, q.Text, id)
		}
		slices.SortFunc(ids, func(a, b string) int {
			if c := cmp.Compare(score[b], score[a]); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		return ids
	}
	lists := make([][2][]string, len(qs))
	var res challengeResult
	for i, q := range qs {
		lists[i] = [2][]string{rank(q, serving, 1), rank(q, challenger, 2)}
		res.servingNDCG += searcheval.NDCG(lists[i][0], q.Gains, searcheval.K) / float64(len(qs))
		res.challengerNDCG += searcheval.NDCG(lists[i][1], q.Gains, searcheval.K) / float64(len(qs))
	}
	duel := ranking.DuelName(ranking.DefaultName, 2)
	since := time.Now().Add(-time.Second)
	rng := rand.New(rand.NewPCG(seed, 0xd0e1))
	shopper := clickSim{eta: 2, seed: seed}
	for res.answers < 20000 {
		res.answers++
		qi := rng.IntN(len(qs))
		q := qs[qi]
		id := m.NewRequestID("search", experiment.Assignment{})
		// the draft's coin flips from the run's seed, not the id's random
		// bits (as api does): the same runs on every machine
		items, teams := experiment.TeamDraft(lists[qi][0], lists[qi][1], searcheval.K, fmt.Sprint(seed, "/", res.answers))
		user := fmt.Sprint("s", res.answers)
		m.Shown(impressions.Impression{RequestID: id, Surface: "search", UserID: user, Query: q.Text,
			Experiment: duel, Variant: "interleaved", Items: items, Teams: teams}, user)
		var evs []events.Event
		for _, it := range shopper.clicks(rng, q, items) {
			evs = append(evs, events.Event{Type: events.Click, UserID: user, ItemID: it, RequestID: id, Timestamp: time.Now()})
		}
		if len(evs) > 0 {
			m.EventsAppended(evs)
		}
		if res.answers%50 != 0 {
			continue
		}
		flush()
		tally, err := m.Duel(context.Background(), duel, since)
		if err != nil {
			tb.Fatal(err)
		}
		start()
		res.tally = tally
		v, logL := ranking.SequentialSignTest(ranking.Tally{Wins: tally.Wins, Losses: tally.Losses, Ties: tally.Ties}, 0.05, ranking.DefaultMaxDecided)
		if v != ranking.Undecided {
			res.verdict, res.truncated = v, logL < math.Log(1/0.05)
			break
		}
	}
	return res
}

// normalOf is a standard normal draw fixed by its arguments.
func normalOf(seed, salt uint64, query, item string) float64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s", query, item)
	return rand.New(rand.NewPCG(seed^salt<<32, h.Sum64())).NormFloat64()
}

// clickSim is the ESCI click simulation's shopper (search/ranking's
// esci_sim_test.go): each position is examined with probability
// 1/rank^eta, an examined item clicked with its attractiveness — by its
// grade (exact 0.9, substitute 0.3, complement 0.1, irrelevant 0.02)
// times a per-item log-normal factor.
type clickSim struct {
	eta  float64
	seed uint64
}

func (c clickSim) clicks(rng *rand.Rand, q searcheval.Query, ranked []string) []string {
	var out []string
	for r, id := range ranked {
		if rng.Float64() >= 1/math.Pow(float64(r+1), c.eta) {
			continue
		}
		if rng.Float64() < c.attractiveness(q, id) {
			out = append(out, id)
		}
	}
	return out
}

func (c clickSim) attractiveness(q searcheval.Query, id string) float64 {
	g, a := q.Gains[id], 0.02
	switch {
	case g >= 1:
		a = 0.9
	case g >= 0.1:
		a = 0.3
	case g >= 0.01:
		a = 0.1
	}
	return min(1, a*math.Exp(0.5*normalOf(c.seed, 3, q.Text, id)-0.125))
}
