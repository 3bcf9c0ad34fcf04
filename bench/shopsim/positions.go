package shopsim

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/experiment"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/internal/reqid"
	"github.com/aisle-dev/aisle/search"
)

// PositionConfig sets up the position-bias study: simulated shoppers
// search, look at a result list ranked by a serving ranker that is wrong
// about some items, examine position k with probability 1/k^Bias and click
// an examined item with its true relevance. The shop learns relevance from
// those clicks with its click model (search.Clicks), once as it is and once
// weighted by the inverse of the examination propensities it estimated
// from its own impression log (impressions.Log.Fit).
type PositionConfig struct {
	Queries  int     // distinct queries (default 40)
	Results  int     // results per list (default 10)
	Sessions int     // searches (default 12000)
	Days     int     // the serving ranker is retrained daily: its noise is redrawn (default 8)
	Bias     float64 // examination of position k is 1/k^Bias (default 1)
	// Skew is the spread of the serving ranker's persistent error (an item
	// it over- or underrates every day, as a text score or popularity
	// does; default 0.2); Noise the spread of its daily error (default 0.1).
	Skew, Noise float64
	Seed        uint64
	// Dir holds the study's impression log and experiment store (required).
	Dir string
	// Personalised studies a personalised surface instead of search
	// (personalised.go): each of Queries shoppers is shown the Results
	// items of a shared catalogue the serving ranker thinks they like
	// best, so an item's position goes with its relevance to the shopper
	// and the EM fit is confounded. ExploreShare of those answers are
	// shuffled (experiments.explore_share) and flagged.
	Personalised bool
	ExploreShare float64
	// Appeal, in a personalised study, is the share of an item's relevance
	// to a shopper that is its appeal to every shopper (0 … 1, default 0:
	// tastes are wholly personal). With some, popularity means something,
	// and the study also compares the popular list the recommender's
	// ledger learns from the clicks, plainly and position-corrected
	// (popularity.go).
	Appeal float64
}

func (c *PositionConfig) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Queries, 40)
	def(&c.Results, 10)
	def(&c.Sessions, 12000)
	def(&c.Days, 8)
	if c.Bias <= 0 {
		c.Bias = 1
	}
	if c.Skew <= 0 {
		c.Skew = 0.2
	}
	if c.Noise <= 0 {
		c.Noise = 0.1
	}
}

// PositionReport is what the study found. Agreement is the mean Kendall τ
// over queries between an ordering and the true relevance (1: the same
// order; 0: unrelated); NDCG@3 of the learned ordering with the true
// relevance as gain.
type PositionReport struct {
	Config PositionConfig
	// TrueTheta and Theta: the examination of each position (relative to
	// the first) in the simulation and as estimated from the log.
	TrueTheta, Theta []float64
	Lists, Clicks    int
	// Kendall τ and NDCG@3 against the true relevance: of the serving
	// ranker's average ordering, of the plain click model, of the click
	// model weighted by the estimated propensities and by the true ones.
	ServingTau, NaiveTau, CorrectedTau, OracleTau     float64
	ServingNDCG, NaiveNDCG, CorrectedNDCG, OracleNDCG float64
	// Personalised study only: how θ was estimated ("randomised" or
	// "em"), from how many explored answers, the EM fit beside it, and
	// the cost of exploring in served quality: the expected clicks per
	// answer in the ranker's order, in the order shown, and of an
	// explored answer alone (expected under the true θ and relevance,
	// so no sampling noise).
	Method                                        string
	Explored                                      int
	EMTheta, ThetaSE                              []float64
	RankedClicks, ShownClicks, ExploredListClicks float64
	// Popularity (personalised study with Appeal > 0): the popular list
	// recommend's ledger learns from the clicks, plain, weighted by the
	// shop's estimated propensities and by the true ones.
	Popularity *PopularityReport
	// Trained (personalised study): trained models fitted on the clicks,
	// plain and position-corrected (trained.go).
	Trained *TrainedReport
}

// PositionStudy runs the study. It uses the real impression log, the
// experiment manager's click attribution and fit, and the search click
// model; no server.
func PositionStudy(ctx context.Context, cfg PositionConfig) (PositionReport, error) {
	cfg.defaults()
	rep := PositionReport{Config: cfg}
	if cfg.Dir == "" {
		return rep, fmt.Errorf("position study: no directory for its logs")
	}
	if cfg.Appeal < 0 || cfg.Appeal > 1 || math.IsNaN(cfg.Appeal) {
		return rep, fmt.Errorf("position study: appeal %v: want 0 … 1", cfg.Appeal)
	}
	if cfg.Personalised {
		return personalisedStudy(ctx, cfg)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))
	imp, err := impressions.Open(filepath.Join(cfg.Dir, "impressions.db"), impressions.Options{Queue: 1 << 20})
	if err != nil {
		return rep, err
	}
	defer imp.Close()
	m, err := experiment.Open(experiment.Options{Path: filepath.Join(cfg.Dir, "experiments.db"), Impressions: imp})
	if err != nil {
		return rep, err
	}
	defer m.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- imp.Run(runCtx) }()

	n := cfg.Results
	rep.TrueTheta = make([]float64, n)
	for k := range n {
		rep.TrueTheta[k] = math.Pow(float64(k+1), -cfg.Bias)
	}
	// true relevance and the serving ranker's persistent error per item
	rel := make([][]float64, cfg.Queries)
	skew := make([][]float64, cfg.Queries)
	for q := range rel {
		rel[q], skew[q] = make([]float64, n), make([]float64, n)
		for i := range n {
			rel[q][i] = 0.05 + 0.6*rng.Float64()
			skew[q][i] = cfg.Skew * rng.NormFloat64()
		}
	}
	item := func(q, i int) string { return fmt.Sprintf("q%d-i%d", q, i) }
	query := func(q int) string { return fmt.Sprintf("query %d", q) }
	served := make([][]float64, cfg.Queries) // summed serving scores, for its average ordering
	for q := range served {
		served[q] = make([]float64, n)
	}
	var evs []events.Event
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	perDay := (cfg.Sessions + cfg.Days - 1) / cfg.Days
	var order [][]int // each query's list of the day
	for s := range cfg.Sessions {
		if s%perDay == 0 { // the serving ranker is retrained
			order = make([][]int, cfg.Queries)
			for q := range order {
				score := make([]float64, n)
				for i := range n {
					score[i] = rel[q][i] + skew[q][i] + cfg.Noise*rng.NormFloat64()
					served[q][i] += score[i]
				}
				order[q] = rank(score)
			}
		}
		q := rng.IntN(cfg.Queries)
		at := t0.Add(time.Duration(s) * time.Minute)
		sess := fmt.Sprint("s", s)
		id := reqid.New()
		ids := make([]string, n)
		for k, i := range order[q] {
			ids[k] = item(q, i)
		}
		m.Shown(impressions.Impression{RequestID: id, Time: at, Surface: "search", SessionID: sess, Query: query(q), Items: ids}, sess)
		evs = append(evs, events.Event{Type: events.Search, SessionID: sess, Query: query(q), Timestamp: at})
		rep.Lists++
		for k, i := range order[q] {
			if rng.Float64() < rep.TrueTheta[k] && rng.Float64() < rel[q][i] {
				evs = append(evs, events.Event{Type: events.Click, SessionID: sess, ItemID: ids[k], RequestID: id, Position: k + 1,
					Timestamp: at.Add(time.Duration(k+1) * time.Second)})
				rep.Clicks++
			}
		}
	}
	m.EventsAppended(evs) // attribution notes the clicked positions in the log
	stop()
	if err := <-done; err != nil {
		return rep, err
	}
	if err := m.FitPositions(ctx); err != nil {
		return rep, err
	}
	p := m.Propensities("search")
	if p == nil {
		return rep, fmt.Errorf("position study: nothing fitted")
	}
	rep.Theta = p.Theta

	learn := func(weight func(int) float64) []search.Judgment {
		c := search.NewClicks()
		c.PositionWeight = weight
		c.EventsAppended(evs)
		return c.Judgments()
	}
	naive := learn(nil)
	corrected := learn(func(pos int) float64 { return m.PositionWeight("search", pos) })
	oracle := learn(func(pos int) float64 { return 1 / rep.TrueTheta[min(pos, n)-1] })
	gains := func(js []search.Judgment, q int) []float64 {
		out := make([]float64, n)
		for _, j := range js {
			if j.Query == query(q) {
				for i := range n {
					out[i] = j.Gains[item(q, i)]
				}
			}
		}
		return out
	}
	for q := range cfg.Queries {
		for _, x := range []struct {
			scores    []float64
			tau, ndcg *float64
		}{
			{served[q], &rep.ServingTau, &rep.ServingNDCG},
			{gains(naive, q), &rep.NaiveTau, &rep.NaiveNDCG},
			{gains(corrected, q), &rep.CorrectedTau, &rep.CorrectedNDCG},
			{gains(oracle, q), &rep.OracleTau, &rep.OracleNDCG},
		} {
			*x.tau += kendallTau(x.scores, rel[q]) / float64(cfg.Queries)
			*x.ndcg += ndcgAt(x.scores, rel[q], 3) / float64(cfg.Queries)
		}
	}
	return rep, nil
}

// rank returns the indexes of score, highest first.
func rank(score []float64) []int {
	idx := make([]int, len(score))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case score[a] > score[b]:
			return -1
		case score[a] < score[b]:
			return 1
		}
		return a - b
	})
	return idx
}

// kendallTau is Kendall's τ-a between two scorings of the same items
// (ties in either count as neither concordant nor discordant).
func kendallTau(a, b []float64) float64 {
	c, pairs := 0.0, 0.0
	for i := range a {
		for j := i + 1; j < len(a); j++ {
			pairs++
			x, y := a[i]-a[j], b[i]-b[j]
			switch {
			case x*y > 0:
				c++
			case x*y < 0:
				c--
			}
		}
	}
	if pairs == 0 {
		return 0
	}
	return c / pairs
}

// ndcgAt is NDCG@k of the ordering by score with gain rel.
func ndcgAt(score, rel []float64, k int) float64 {
	dcg := func(order []int) float64 {
		s := 0.0
		for r, i := range order[:min(k, len(order))] {
			s += rel[i] / math.Log2(float64(r+2))
		}
		return s
	}
	ideal := dcg(rank(rel))
	if ideal == 0 {
		return 0
	}
	return dcg(rank(score)) / ideal
}

// Write prints the study as Markdown.
func (r *PositionReport) Write(w io.Writer) {
	c := r.Config
	if c.Personalised {
		r.writePersonalised(w)
		return
	}
	fmt.Fprintf(w, "Position-bias study: %d queries × %d results, %d searches over %d days, examination 1/k^%.1f, serving ranker error persistent σ %.2f + daily σ %.2f, seed %d: %d clicks.\n\n",
		c.Queries, c.Results, r.Lists, c.Days, c.Bias, c.Skew, c.Noise, c.Seed, r.Clicks)
	fmt.Fprintf(w, "| position | true θ | estimated θ (EM, impression log) |\n|---|---|---|\n")
	for k := range r.Theta {
		fmt.Fprintf(w, "| %d | %.3f | %.3f |\n", k+1, r.TrueTheta[k], r.Theta[k])
	}
	fmt.Fprintf(w, "\n| ordering | Kendall τ vs true relevance | NDCG@3 |\n|---|---|---|\n")
	for _, x := range []struct {
		name      string
		tau, ndcg float64
	}{
		{"serving ranker (average over days)", r.ServingTau, r.ServingNDCG},
		{"click model, plain counts", r.NaiveTau, r.NaiveNDCG},
		{"click model, inverse propensity (estimated θ)", r.CorrectedTau, r.CorrectedNDCG},
		{"click model, inverse propensity (true θ, unclipped)", r.OracleTau, r.OracleNDCG},
	} {
		fmt.Fprintf(w, "| %s | %.3f | %.3f |\n", x.name, x.tau, x.ndcg)
	}
}
