package shopsim

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/experiment"
	"github.com/aisle-dev/aisle/impressions"
)

// personalisedStudy is PositionStudy on a personalised surface: shoppers
// with their own tastes over one catalogue get the items the serving
// ranker (their true relevance, a persistent error and a daily one) puts
// first. The first position holds the shopper's best item far more often
// than the fifth, so the EM fit of the position-based model credits
// position 1 with relevance (too steep). ExploreShare of the answers,
// chosen by hashing the request id as the server does, are shuffled
// (impressions.ExploreOrder) and flagged; with enough of them the fit
// estimates θ from those alone.
func personalisedStudy(ctx context.Context, cfg PositionConfig) (PositionReport, error) {
	rep := PositionReport{Config: cfg}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x2545f4914f6cdd1d))
	imp, err := impressions.Open(filepath.Join(cfg.Dir, "impressions.db"), impressions.Options{Queue: 1 << 20})
	if err != nil {
		return rep, err
	}
	defer imp.Close()
	m, err := experiment.Open(experiment.Options{Path: filepath.Join(cfg.Dir, "experiments.db"), Impressions: imp, ExploreShare: cfg.ExploreShare})
	if err != nil {
		return rep, err
	}
	defer m.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- imp.Run(runCtx) }()

	n, users, items := cfg.Results, cfg.Queries, 4*cfg.Results
	rep.TrueTheta = make([]float64, n)
	for k := range n {
		rep.TrueTheta[k] = math.Pow(float64(k+1), -cfg.Bias)
	}
	// an item's appeal to every shopper, from its own stream so that
	// Appeal 0 draws the same world as before it existed
	appeal := make([]float64, items)
	arng := rand.New(rand.NewPCG(cfg.Seed, 0x51ed2701f3a5c7b9))
	for i := range appeal {
		appeal[i] = math.Pow(arng.Float64(), 2)
	}
	rel := make([][]float64, users)
	skew := make([][]float64, users)
	for u := range rel {
		rel[u], skew[u] = make([]float64, items), make([]float64, items)
		for i := range items {
			// most items mean little to a shopper, a few a lot
			rel[u][i] = 0.02 + 0.6*((1-cfg.Appeal)*math.Pow(rng.Float64(), 2)+cfg.Appeal*appeal[i])
			skew[u][i] = cfg.Skew * rng.NormFloat64()
		}
	}
	expected := func(u int, list []int) float64 {
		s := 0.0
		for k, i := range list {
			s += rep.TrueTheta[k] * rel[u][i]
		}
		return s
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// request ids made from the seed (the time of the answer, then random
	// bits), so a seed explores the same answers every run; the log trims
	// old ids only when Run starts (before any is written) and hourly
	base := uint32(t0.Unix())
	perDay := (cfg.Sessions + cfg.Days - 1) / cfg.Days
	var noise [][]float64
	var evs []events.Event
	for s := range cfg.Sessions {
		if s%perDay == 0 { // the ranker is retrained: its daily error is redrawn
			noise = make([][]float64, users)
			for u := range noise {
				noise[u] = make([]float64, items)
				for i := range noise[u] {
					noise[u][i] = cfg.Noise * rng.NormFloat64()
				}
			}
		}
		u := rng.IntN(users)
		score := make([]float64, items)
		for i := range score {
			score[i] = rel[u][i] + skew[u][i] + noise[u][i]
		}
		ranked := rank(score)[:n]
		// a fixed seed gives the same request ids, so the same answers explored
		id := fmt.Sprintf("%08x%016x", base+uint32(s*60), rng.Uint64())
		shown := ranked
		explored := m.Explore(id)
		if explored {
			shown = make([]int, n)
			for k, j := range impressions.ExploreOrder(id, n) {
				shown[k] = ranked[j]
			}
			rep.Explored++
			rep.ExploredListClicks += expected(u, shown)
		}
		rep.RankedClicks += expected(u, ranked)
		rep.ShownClicks += expected(u, shown)
		user := fmt.Sprint("u", u)
		ids := make([]string, n)
		for k, i := range shown {
			ids[k] = fmt.Sprint("i", i)
		}
		at := t0.Add(time.Duration(s) * time.Minute)
		m.Shown(impressions.Impression{RequestID: id, Time: at, Surface: "recommend", UserID: user, Items: ids, Explored: explored}, user)
		rep.Lists++
		for k, i := range shown {
			if rng.Float64() < rep.TrueTheta[k] && rng.Float64() < rel[u][i] {
				evs = append(evs, events.Event{Type: events.Click, UserID: user, ItemID: ids[k], RequestID: id, Position: k + 1,
					Timestamp: at.Add(time.Duration(k+1) * time.Second)})
				rep.Clicks++
			}
		}
	}
	m.EventsAppended(evs)
	stop()
	if err := <-done; err != nil {
		return rep, err
	}
	if err := m.FitPositions(ctx); err != nil {
		return rep, err
	}
	// the fit itself, also when it is EM (which Manager.Propensities does
	// not trust on this surface): the report shows both
	p, ok := m.PositionFits()["recommend"]
	if !ok {
		return rep, fmt.Errorf("position study: nothing fitted")
	}
	rep.Theta, rep.Method, rep.EMTheta, rep.ThetaSE = p.Theta, p.Method, p.EMTheta, p.ThetaSE
	if rep.EMTheta == nil {
		rep.EMTheta = p.Theta
	}
	tr, err := trainedStudy(ctx, m, evs, rel, rep.TrueTheta)
	if err != nil {
		return rep, err
	}
	rep.Trained = &tr
	if cfg.Appeal > 0 {
		pop, err := popularityStudy(ctx, cfg, m, evs, rel, skew, rep.TrueTheta)
		if err != nil {
			return rep, err
		}
		rep.Popularity = &pop
	}
	rep.RankedClicks /= float64(rep.Lists)
	rep.ShownClicks /= float64(rep.Lists)
	if rep.Explored > 0 {
		rep.ExploredListClicks /= float64(rep.Explored)
	}
	return rep, nil
}

func (r *PositionReport) writePersonalised(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "Personalised position-bias study: %d shoppers, %d-item catalogue, %d shown per answer, %d answers over %d days, examination 1/k^%.1f, ranker error persistent σ %.2f + daily σ %.2f, explore share %.3f, seed %d: %d clicks, %d explored answers; θ estimated by %s.\n\n",
		c.Queries, 4*c.Results, c.Results, r.Lists, c.Days, c.Bias, c.Skew, c.Noise, c.ExploreShare, c.Seed, r.Clicks, r.Explored, r.Method)
	fmt.Fprintf(w, "| position | true θ | EM fit (all answers) | used (%s) | ± standard error (explored) |\n|---|---|---|---|---|\n", r.Method)
	for k := range r.Theta {
		se := "–"
		if k < len(r.ThetaSE) && r.ThetaSE[k] >= 0 {
			se = fmt.Sprintf("%.3f", r.ThetaSE[k])
		}
		fmt.Fprintf(w, "| %d | %.3f | %.3f | %.3f | %s |\n", k+1, r.TrueTheta[k], r.EMTheta[k], r.Theta[k], se)
	}
	cost := 0.0
	if r.RankedClicks > 0 {
		cost = 100 * (1 - r.ShownClicks/r.RankedClicks)
	}
	fmt.Fprintf(w, "\nExpected clicks per answer (true θ and relevance): %.4f in the ranker's order, %.4f as shown (cost of exploring %.2f%%); an explored answer alone %.4f.\n",
		r.RankedClicks, r.ShownClicks, cost, r.ExploredListClicks)
	if r.Trained != nil {
		r.Trained.write(w)
	}
	if r.Popularity != nil {
		r.Popularity.write(w, c)
	}
}
