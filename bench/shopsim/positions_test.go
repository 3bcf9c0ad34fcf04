package shopsim

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
)

// Under strong position bias the click model learns the serving ranker's
// mistakes from plain click counts; weighted by the examination
// propensities the shop estimates from its own impression log, it recovers
// the true relevance ordering better (fixed seed: a quality check, not a
// timing).
func TestPositionCorrectionRecoversRelevance(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  PositionConfig
	}{
		{"1/k", PositionConfig{Bias: 1, Seed: 1}},
		{"strong 1/k^1.5", PositionConfig{Bias: 1.5, Seed: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Dir = t.TempDir()
			rep, err := PositionStudy(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			rep.Write(&b)
			t.Log("\n" + b.String())
			for k := range 5 {
				if want := rep.TrueTheta[k]; math.Abs(rep.Theta[k]-want) > 0.05+0.15*want {
					t.Errorf("estimated θ[%d] = %.3f, true %.3f", k+1, rep.Theta[k], want)
				}
			}
			// over seeds 10–15 the gain was 0.04–0.12 (τ) and 0.02–0.07 (NDCG@3)
			if rep.CorrectedTau < rep.NaiveTau+0.03 {
				t.Errorf("Kendall τ with the correction %.3f, without %.3f: want at least 0.03 better", rep.CorrectedTau, rep.NaiveTau)
			}
			if rep.CorrectedNDCG < rep.NaiveNDCG+0.01 {
				t.Errorf("NDCG@3 with the correction %.3f, without %.3f: want at least 0.01 better", rep.CorrectedNDCG, rep.NaiveNDCG)
			}
			if rep.CorrectedTau <= rep.ServingTau {
				t.Errorf("the corrected click model (τ %.3f) must order better than the ranker whose clicks it learned from (τ %.3f)", rep.CorrectedTau, rep.ServingTau)
			}
		})
	}
}

// estimateTheta reads the examination curve back from logged pages of the
// simulation's shape (lists of 10 drawn from 50 items in varying orders).
func TestEstimateThetaFromPages(t *testing.T) {
	rng := seeded(3, "theta")
	rel := make([]float64, 50)
	for i := range rel {
		rel[i] = 0.05 + 0.5*rng.Float64()
	}
	var pages []page
	for range 6000 {
		p := page{clicked: map[string]bool{}}
		for k, i := range rng.Perm(len(rel))[:10] {
			id := string(rune('A' + i))
			p.items = append(p.items, id)
			if rng.Float64() < 1/float64(k+1) && rng.Float64() < rel[i] {
				p.clicked[id] = true
			}
		}
		pages = append(pages, p)
	}
	theta := estimateTheta(pages, 10)
	for k, th := range theta {
		if want := 1 / float64(k+1); math.Abs(th-want) > 0.05+0.1*want {
			t.Errorf("θ[%d] = %.3f, want %.3f (all %v)", k+1, th, want, theta)
		}
	}
}

// On a personalised surface the EM fit is confounded (too steep); with a
// share of answers shuffled the fit reads θ from them and gets the true
// curve back, at a cost in expected clicks of about the share times what
// an explored answer loses (fixed seed: a quality check, not a timing).
func TestExplorationUnconfoundsPersonalisedPositions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		share  float64
		method string
	}{
		{"no exploration", 0, "em"},
		{"5% explored", 0.05, "randomised"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := PositionStudy(context.Background(), PositionConfig{Personalised: true, Queries: 300, Sessions: 40000,
				ExploreShare: tc.share, Seed: 4, Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			rep.Write(&b)
			t.Log("\n" + b.String())
			if rep.Method != tc.method {
				t.Fatalf("θ estimated by %q from %d explored answers, want %q", rep.Method, rep.Explored, tc.method)
			}
			worstEM, worst := 0.0, 0.0 // relative error, positions 2–10
			for k := 1; k < len(rep.Theta); k++ {
				want := rep.TrueTheta[k]
				worstEM = math.Max(worstEM, math.Abs(rep.EMTheta[k]-want)/want)
				worst = math.Max(worst, math.Abs(rep.Theta[k]-want)/want)
			}
			if worstEM < 0.25 { // seed 4: 36% at position 10
				t.Errorf("EM θ %.3f within %.0f%% of the truth on personalised answers: expected confounded; the test lost its point", rep.EMTheta, 100*worstEM)
			}
			if tc.share == 0 {
				if rep.ShownClicks != rep.RankedClicks {
					t.Errorf("no exploration, yet shown %.4f ≠ ranked %.4f expected clicks", rep.ShownClicks, rep.RankedClicks)
				}
				return
			}
			if worst > 0.2 { // seed 4: 9% at position 3
				t.Errorf("θ %.3f from %d explored answers: off the truth by %.0f%%", rep.Theta, rep.Explored, 100*worst)
			}
			cost := 1 - rep.ShownClicks/rep.RankedClicks
			if lost := 1 - rep.ExploredListClicks/rep.RankedClicks; cost <= 0 || cost > 1.5*tc.share*lost+0.002 {
				t.Errorf("cost of exploring %.4f; an explored answer loses %.3f of its clicks at share %.2f", cost, lost, tc.share)
			}
		})
	}
}

// thetaFromExploredPages reads the examination curve back from shuffled
// pages where the shopper's taste decides what is on the page at all
// (personalised: the EM fit over such pages is too steep).
func TestThetaFromExploredPages(t *testing.T) {
	rng := seeded(5, "explored pages")
	rel := make([]float64, 60)
	for i := range rel {
		rel[i] = 0.05 + 0.5*rng.Float64()
	}
	var pages []page
	for range 6000 {
		p := page{clicked: map[string]bool{}}
		for k, i := range rng.Perm(len(rel))[:10] { // a uniformly shuffled page
			id := fmt.Sprint("i", i)
			p.items = append(p.items, id)
			if rng.Float64() < 1/float64(k+1) && rng.Float64() < rel[i] {
				p.clicked[id] = true
			}
		}
		pages = append(pages, p)
	}
	theta := thetaFromExploredPages(pages, 10)
	for k, th := range theta {
		if want := 1 / float64(k+1); math.Abs(th-want) > 0.05+0.1*want {
			t.Errorf("θ[%d] = %.3f, want %.3f (all %.3f)", k+1, th, want, theta)
		}
	}
	if thetaFromExploredPages(nil, 10) != nil {
		t.Error("no explored pages must give no estimate")
	}
}

// The popular list re-learnt daily from its own clicks locks in whatever
// it put first when clicks are counted plainly under strong position bias
// (1/k²); weighted by the shop's estimated propensities of the popular
// surface (from its explored answers) it approaches the ideal list. With
// no exploration there is no trusted fit, and the weighted shop is the
// plain one.
func TestPopularLoopLearnsWithPositionCorrectedClicks(t *testing.T) {
	if testing.Short() {
		t.Skip("three simulated shops over 8 days: not in -short")
	}
	for _, share := range []float64{0, 0.05} {
		t.Run(fmt.Sprint("explore ", share), func(t *testing.T) {
			rep, err := PositionStudy(context.Background(), PositionConfig{Personalised: true, Queries: 300, Sessions: 20000, Bias: 2,
				Appeal: 0.5, ExploreShare: share, Seed: 4, Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			rep.Write(&b)
			t.Log("\n" + b.String())
			if rep.Popularity == nil {
				t.Fatal("no popularity report with appeal 0.5")
			}
			// trained models (training.position_weights): without a
			// trusted fit the corrected training is the plain one; with
			// one the weights reach training, close to the true θ's
			if rep.Trained == nil || len(rep.Trained.Models) == 0 || rep.Trained.Weighted != (share > 0) {
				t.Fatalf("trained report %+v", rep.Trained)
			}
			for _, m := range rep.Trained.Models {
				if same := m.CorrectedNDCG == m.NaiveNDCG; same != (share == 0) || share > 0 && math.Abs(m.CorrectedNDCG-m.OracleNDCG) > 0.01 {
					t.Fatalf("%s trained on clicks: plain %.4f, 1/θ estimated %.4f, true %.4f (explore %v)", m.Name, m.NaiveNDCG, m.CorrectedNDCG, m.OracleNDCG, share)
				}
			}
			l := rep.Popularity.Loop
			if share == 0 {
				if l.DaysWeighted != 0 || l.LastDay[1] != l.LastDay[0] || l.AllDays[1] != l.AllDays[0] {
					t.Fatalf("without exploration the weighted shop differs from the plain one: %+v", l)
				}
				return
			}
			// seed 4: trusted on days 2–8; last day 0.756 → 0.980 of the
			// ideal list's clicks, every day 0.730 → 0.867
			if l.DaysWeighted < 4 || l.LastDay[1] < l.LastDay[0]+0.1 || l.AllDays[1] < l.AllDays[0]+0.05 {
				t.Fatalf("position-corrected popular list not better than the plain one: %+v", l)
			}
		})
	}
}

func TestPositionStudyRefusesAnAppealOutOfRange(t *testing.T) {
	for _, a := range []float64{-0.1, 1.5, math.NaN()} {
		if _, err := PositionStudy(context.Background(), PositionConfig{Personalised: true, Appeal: a, Dir: t.TempDir()}); err == nil {
			t.Errorf("appeal %v accepted", a)
		}
	}
}
