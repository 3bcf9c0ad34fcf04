package impressions

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/internal/reqid"
)

// pbmData simulates lists of 10 items drawn from a pool, shown in a random
// order (so every item is seen at many positions), with clicks from the
// position-based model with examination theta and relevances gamma.
func pbmData(rng *rand.Rand, theta []float64, gamma []float64, lists int) []Observation {
	type ck struct{ cell, pos int }
	agg := map[ck]*Observation{}
	for range lists {
		perm := rng.Perm(len(gamma))[:len(theta)]
		for k, cell := range perm {
			o := agg[ck{cell, k}]
			if o == nil {
				o = &Observation{Cell: cell, Position: k + 1}
				agg[ck{cell, k}] = o
			}
			o.Views++
			if rng.Float64() < theta[k] && rng.Float64() < gamma[cell] {
				o.Clicks++
			}
		}
	}
	out := make([]Observation, 0, len(agg))
	for _, o := range agg {
		out = append(out, *o)
	}
	return out
}

func TestFitPBMRecoversExamination(t *testing.T) {
	for _, tc := range []struct {
		name string
		exam func(k int) float64 // k 1-based
	}{
		{"1/k", func(k int) float64 { return 1 / float64(k) }},
		{"1/sqrt(k)", func(k int) float64 { return 1 / math.Sqrt(float64(k)) }},
		{"flat", func(int) float64 { return 0.9 }},
		{"steep 1/k^2", func(k int) float64 { return 1 / float64(k*k) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			theta := make([]float64, 10)
			for k := range theta {
				theta[k] = tc.exam(k + 1)
			}
			gamma := make([]float64, 40)
			for i := range gamma {
				gamma[i] = 0.05 + 0.9*rng.Float64()
			}
			got, iters := FitPBM(pbmData(rng, theta, gamma, 20000), len(gamma), 10, 200)
			for k := range theta {
				want := theta[k] / theta[0]
				if math.Abs(got[k]-want) > 0.05+0.1*want {
					t.Errorf("θ[%d] = %.3f, want %.3f (iterations %d; all %v)", k+1, got[k], want, iters, got)
				}
			}
		})
	}
}

func TestFitPBMSparsePositionsTakeThePrevious(t *testing.T) {
	obs := []Observation{
		{Cell: 0, Position: 1, Views: 1000, Clicks: 500},
		{Cell: 0, Position: 2, Views: 1000, Clicks: 250},
		{Cell: 0, Position: 3, Views: 10, Clicks: 9}, // too few views
	}
	got, _ := FitPBM(obs, 1, 3, 200)
	if got[0] != 1 || got[2] != got[1] {
		t.Fatalf("θ = %v: want θ1 = 1 and the sparse θ3 equal to θ2", got)
	}
	if w := (&Propensities{Theta: got}).Weight(3); math.Abs(w-1/got[1]) > 1e-9 {
		t.Fatalf("Weight(3) = %v, want %v", w, 1/got[1])
	}
}

func TestWeight(t *testing.T) {
	p := &Propensities{Theta: []float64{1, 0.5, 0.05}}
	for _, tc := range []struct {
		pos  int
		want float64
	}{{0, 1}, {1, 1}, {2, 2}, {3, MaxWeight}, {9, MaxWeight}, {-1, 1}} {
		if got := p.Weight(tc.pos); got != tc.want {
			t.Errorf("Weight(%d) = %v, want %v", tc.pos, got, tc.want)
		}
	}
	var none *Propensities
	if none.Weight(5) != 1 || (&Propensities{}).Weight(5) != 1 {
		t.Error("no fit must weigh every position 1")
	}
}

// The log's clicks bucket and Fit: answers shown in random orders with
// clicks from a known examination curve give it back.
func TestLogFitsPositionsFromClicks(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "imp.db"), Options{Queue: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	rng := rand.New(rand.NewPCG(3, 4))
	gamma := make([]float64, 30)
	for i := range gamma {
		gamma[i] = 0.1 + 0.8*rng.Float64()
	}
	theta := func(k int) float64 { return 1 / float64(k) }
	var someID string
	var someClicks []int
	for n := range 8000 {
		id := reqid.New()
		perm := rng.Perm(len(gamma))[:8]
		items := make([]string, len(perm))
		for k, c := range perm {
			items[k] = fmt.Sprint("i", c)
		}
		l.Add(Impression{RequestID: id, Surface: "search", SessionID: fmt.Sprint("s", n), Items: items})
		var clicks []int
		for k, c := range perm {
			if rng.Float64() < theta(k+1) && rng.Float64() < gamma[c] {
				l.Click(id, k+1)
				l.Click(id, k+1) // a retried event is one click
				clicks = append(clicks, k+1)
			}
		}
		if len(clicks) > 1 {
			someID, someClicks = id, clicks
		}
	}
	l.Click("not-a-request-id", 1) // ignored
	l.Click(reqid.New(), 0)        // ignored
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, err := l.Clicked(someID); err != nil || fmt.Sprint(got) != fmt.Sprint(someClicks) {
		t.Fatalf("Clicked(%s) = %v, %v; want %v", someID, got, err, someClicks)
	}
	fits, err := l.Fit(context.Background(), FitOptions{Positions: 8, MinViews: 100})
	if err != nil {
		t.Fatal(err)
	}
	p := fits["search"]
	if all := fits[""]; all.Lists != p.Lists || len(fits) != 2 {
		t.Fatalf("fits %v: want search and all (\"\"), the same answers", fits)
	}
	if p.Lists != 8000 || p.Views[0] != 8000 {
		t.Fatalf("fit read %d lists, %d views at position 1; want 8000", p.Lists, p.Views[0])
	}
	for k := 1; k <= 8; k++ {
		if want := theta(k); math.Abs(p.Theta[k-1]-want) > 0.05+0.1*want {
			t.Errorf("θ[%d] = %.3f, want %.3f (all %v)", k, p.Theta[k-1], want, p.Theta)
		}
	}
	if few, err := l.Fit(context.Background(), FitOptions{MaxLists: 100}); err != nil || few["search"].Lists != 100 {
		t.Fatalf("a fit of at most 100 answers read %d, %v", few["search"].Lists, err)
	}
	if none, err := l.Fit(context.Background(), FitOptions{From: time.Now().Add(time.Hour)}); err != nil || len(none) != 0 {
		t.Fatalf("a fit from a time after every answer: %v, %v", none, err)
	}
	if q, ok := fits["recommend"]; ok || q.Weight(3) != 1 {
		t.Fatalf("fit of a surface with no answers: %+v", q)
	}
	// clicks go with their answers past the retention
	l.opts.Now = func() time.Time { return time.Now().Add(60 * 24 * time.Hour) }
	if err := l.Trim(); err != nil {
		t.Fatal(err)
	}
	if got, _ := l.Clicked(someID); len(got) != 0 {
		t.Fatalf("clicks past the retention survived Trim: %v", got)
	}
}
