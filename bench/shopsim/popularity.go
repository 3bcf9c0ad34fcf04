package shopsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/experiment"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// PopularityReport compares the popular list recommend's ledger learns
// from the clicks on personalised answers with the items' true popularity
// (their mean relevance over every shopper): plain, with each click
// weighted by the shop's estimated propensity of its position
// (experiment.Manager.EventPositionWeight, as the server wires it), and
// by the true one (clipped like the shop's).
type PopularityReport struct {
	// Kendall τ and NDCG@10 of each learnt ordering against the true
	// popularity, and the expected clicks of its first Results items
	// shown as a popular list to an average shopper, as a share of those
	// of the truly most popular ones.
	NaiveTau, CorrectedTau, OracleTau          float64
	NaiveNDCG, CorrectedNDCG, OracleNDCG       float64
	NaiveClicks, CorrectedClicks, OracleClicks float64
	// Weighted is whether the shop trusted a fit of the surface
	// (Manager.Propensities): without one the corrected ledger is the
	// plain one.
	Weighted bool
	// Loop is the popular list's feedback loop (popularLoop).
	Loop LoopReport
}

// popularityStudy feeds the study's clicks to three recommendation
// services (the real ledger that popular and trending sum) and compares
// their popular lists with the truth.
func popularityStudy(ctx context.Context, cfg PositionConfig, m *experiment.Manager, evs []events.Event, rel, skew [][]float64, theta []float64) (PopularityReport, error) {
	var rep PopularityReport
	st, err := boltstore.Open(filepath.Join(cfg.Dir, "store"))
	if err != nil {
		return rep, err
	}
	defer st.Close()
	items := len(rel[0])
	truth := make([]float64, items)
	for u := range rel {
		for i, r := range rel[u] {
			truth[i] += r / float64(len(rel))
		}
	}
	its := make([]catalog.Item, items)
	for i := range its {
		its[i] = catalog.Item{ID: fmt.Sprint("i", i), Title: fmt.Sprint("item ", i), Available: true}
	}
	oracle := func(e events.Event) float64 {
		return (&impressions.Propensities{Theta: theta}).Weight(e.Position)
	}
	rep.Weighted = m.Propensities("recommend") != nil
	learners := []struct {
		weight            func(events.Event) float64
		tau, ndcg, clicks *float64
	}{
		{nil, &rep.NaiveTau, &rep.NaiveNDCG, &rep.NaiveClicks},
		{m.EventPositionWeight, &rep.CorrectedTau, &rep.CorrectedNDCG, &rep.CorrectedClicks},
		{oracle, &rep.OracleTau, &rep.OracleNDCG, &rep.OracleClicks},
	}
	// the page an average shopper sees: the first len(theta) items
	pageClicks := func(score []float64) float64 {
		s := 0.0
		for k, i := range rank(score)[:len(theta)] {
			s += theta[k] * truth[i]
		}
		return s
	}
	ideal := pageClicks(truth)
	for _, l := range learners {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		svc := recommend.New(st, recommend.Config{}, nil)
		svc.ItemsUpserted(its)
		svc.SetPositionWeight(l.weight)
		svc.EventsAppended(evs)
		score := make([]float64, items)
		for _, it := range svc.Popular(0, recommend.Request{N: items}).Items {
			var i int
			if _, err := fmt.Sscanf(it.ID, "i%d", &i); err == nil && i < items {
				score[i] = it.Score
			}
		}
		*l.tau = kendallTau(score, truth)
		*l.ndcg = ndcgAt(score, truth, 10)
		*l.clicks = pageClicks(score) / ideal
	}
	rep.Loop, err = popularLoop(ctx, cfg, st, its, rel, skew, truth, theta)
	return rep, err
}

func (r *PopularityReport) write(w io.Writer, c PositionConfig) {
	appeal := c.Appeal
	note := "weighted by the shop's fit of the surface"
	if !r.Weighted {
		note = "no trusted fit of the surface (no explored answers): weight 1, the same as plain"
	}
	fmt.Fprintf(w, "\nPopular list learnt by recommend's ledger from these clicks (appeal share %.2f; truth: each item's mean relevance over the shoppers):\n\n", appeal)
	fmt.Fprintf(w, "| clicks counted | Kendall τ vs true popularity | NDCG@10 | expected clicks of its first page (share of ideal) |\n|---|---|---|---|\n")
	fmt.Fprintf(w, "| plain | %.3f | %.3f | %.3f |\n", r.NaiveTau, r.NaiveNDCG, r.NaiveClicks)
	fmt.Fprintf(w, "| 1/θ estimated (%s) | %.3f | %.3f | %.3f |\n", note, r.CorrectedTau, r.CorrectedNDCG, r.CorrectedClicks)
	fmt.Fprintf(w, "| 1/θ true (clipped at %.0f) | %.3f | %.3f | %.3f |\n", impressions.MaxWeight, r.OracleTau, r.OracleNDCG, r.OracleClicks)
	r.Loop.write(w, c)
}

// LoopReport is the popular list's feedback loop: every visit shows the
// shopper a personalised answer and the popular list (the same for
// everyone, re-learnt by the ledger every day from both surfaces' clicks,
// explored at the study's share), so what the popular list puts first is
// clicked more and stays first unless its clicks are position-corrected.
// Three shops run the same shoppers, pages and random draws; they differ
// only in how their ledger weighs a click.
type LoopReport struct {
	// per learner (plain, estimated 1/θ, true 1/θ): Kendall τ of the
	// ledger's last popular ordering against the true popularity, and the
	// expected clicks per popular list served (true θ and relevance) as a
	// share of the ideal list's, on the last day and over every day
	Tau, LastDay, AllDays [3]float64
	// DaysWeighted is how many days the estimated shop weighed its
	// popular surface's clicks (a trusted fit of it existed).
	DaysWeighted int
}

// popularLoop runs the three shops.
func popularLoop(ctx context.Context, cfg PositionConfig, st *boltstore.Store, its []catalog.Item, rel, skew [][]float64, truth, theta []float64) (LoopReport, error) {
	var rep LoopReport
	n, users, items := cfg.Results, len(rel), len(truth)
	pageClicks := func(list []int) float64 {
		s := 0.0
		for k, i := range list {
			s += theta[k] * truth[i]
		}
		return s
	}
	ideal := pageClicks(rank(truth)[:n])
	perDay := (cfg.Sessions + cfg.Days - 1) / cfg.Days
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	base := uint32(t0.Unix())
	for w := range 3 {
		dir := filepath.Join(cfg.Dir, fmt.Sprint("loop", w))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return rep, err
		}
		// the study's answers are dated 2026: keep them whatever the clock
		imp, err := impressions.Open(filepath.Join(dir, "impressions.db"), impressions.Options{Queue: 1 << 20, Retention: 5 * 365 * 24 * time.Hour})
		if err != nil {
			return rep, err
		}
		m, err := experiment.Open(experiment.Options{Path: filepath.Join(dir, "experiments.db"), Impressions: imp, ExploreShare: cfg.ExploreShare})
		if err != nil {
			imp.Close()
			return rep, err
		}
		svc := recommend.New(st, recommend.Config{}, nil)
		svc.ItemsUpserted(its)
		switch w {
		case 1:
			svc.SetPositionWeight(m.EventPositionWeight)
		case 2:
			svc.SetPositionWeight(func(e events.Event) float64 { return (&impressions.Propensities{Theta: theta}).Weight(e.Position) })
		}
		// the same draws in every shop: world (shoppers, rankings, request
		// ids) and clicks come from their own streams, and every position
		// draws twice whether or not it is examined
		world := rand.New(rand.NewPCG(cfg.Seed, 0x6a09e667f3bcc909))
		clicks := rand.New(rand.NewPCG(cfg.Seed, 0xbb67ae8584caa73b))
		popular := make([]int, n) // day 0: a cold start, in catalogue order
		for k := range popular {
			popular[k] = k
		}
		var noise [][]float64
		served := 0.0
		for day := range cfg.Days {
			if err := ctx.Err(); err != nil {
				m.Close()
				imp.Close()
				return rep, err
			}
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- imp.Run(runCtx) }()
			noise = make([][]float64, users)
			for u := range noise {
				noise[u] = make([]float64, items)
				for i := range noise[u] {
					noise[u][i] = cfg.Noise * world.NormFloat64()
				}
			}
			var evs []events.Event
			show := func(s int, surface, user string, u int, list []int) {
				id := fmt.Sprintf("%08x%016x", base+uint32(s*60), world.Uint64())
				shown, explored := list, m.Explore(id)
				if explored {
					shown = make([]int, len(list))
					for k, j := range impressions.ExploreOrder(id, len(list)) {
						shown[k] = list[j]
					}
				}
				ids := make([]string, len(shown))
				for k, i := range shown {
					ids[k] = its[i].ID
				}
				at := t0.Add(time.Duration(s) * time.Minute)
				m.Shown(impressions.Impression{RequestID: id, Time: at, Surface: surface, UserID: user, Items: ids, Explored: explored}, user)
				for k, i := range shown {
					seen, liked := clicks.Float64() < theta[k], clicks.Float64() < rel[u][i]
					if seen && liked {
						evs = append(evs, events.Event{Type: events.Click, UserID: user, ItemID: ids[k], RequestID: id, Position: k + 1,
							Timestamp: at.Add(time.Duration(k+1) * time.Second)})
					}
				}
			}
			for s := day * perDay; s < min(cfg.Sessions, (day+1)*perDay); s++ {
				u := world.IntN(users)
				score := make([]float64, items)
				for i := range score {
					score[i] = rel[u][i] + skew[u][i] + noise[u][i]
				}
				user := fmt.Sprint("u", u)
				show(s, "recommend", user, u, rank(score)[:n])
				show(s, "popular", user, u, popular)
				served += pageClicks(popular)
			}
			m.EventsAppended(evs)
			stop()
			if err := <-done; err != nil {
				m.Close()
				imp.Close()
				return rep, err
			}
			// the day's fit, then the ledger learns the day's clicks (as the
			// server's hourly fit and live events do)
			if err := m.FitPositions(ctx); err != nil {
				m.Close()
				imp.Close()
				return rep, err
			}
			if w == 1 && m.Propensities("popular") != nil {
				rep.DaysWeighted++
			}
			svc.EventsAppended(evs)
			score := make([]float64, items)
			for _, it := range svc.Popular(0, recommend.Request{N: items}).Items {
				var i int
				if _, err := fmt.Sscanf(it.ID, "i%d", &i); err == nil && i < items {
					score[i] = it.Score + 1e-9 // above the never clicked
				}
			}
			popular = rank(score)[:n]
			if day == cfg.Days-1 {
				rep.Tau[w] = kendallTau(score, truth)
				rep.LastDay[w] = pageClicks(popular) / ideal
			}
		}
		rep.AllDays[w] = served / float64(cfg.Sessions) / ideal
		if err := errors.Join(m.Close(), imp.Close()); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func (r *LoopReport) write(w io.Writer, c PositionConfig) {
	fmt.Fprintf(w, "\nThe popular list's feedback loop: each of the %d visits also shows the popular list (%d items, re-learnt daily by the ledger from both surfaces' clicks, explored at %.3f); the shop with estimated weights trusted its fit of the popular surface on %d of %d days:\n\n",
		c.Sessions, c.Results, c.ExploreShare, r.DaysWeighted, c.Days)
	fmt.Fprintf(w, "| clicks counted | Kendall τ vs true popularity (last day) | popular list's expected clicks, last day (share of ideal) | … over every day |\n|---|---|---|---|\n")
	for k, name := range []string{"plain", "1/θ estimated", "1/θ true"} {
		fmt.Fprintf(w, "| %s | %.3f | %.3f | %.3f |\n", name, r.Tau[k], r.LastDay[k], r.AllDays[k])
	}
}
