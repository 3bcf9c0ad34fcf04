package related

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

func TestSolveSym(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var m, a [numPF][numPF]float64
	for i := range m {
		for j := range m[i] {
			m[i][j] = rng.NormFloat64()
		}
	}
	for i := range a {
		for j := range a[i] {
			for k := range m {
				a[i][j] += m[i][k] * m[j][k]
			}
		}
		a[i][i]++
	}
	var want, b pairVec
	for i := range want {
		want[i] = rng.NormFloat64()
	}
	for i := range b {
		for j := range b {
			b[i] += a[i][j] * want[j]
		}
	}
	var negDef [numPF][numPF]float64
	for i := range negDef {
		negDef[i][i] = -1
	}
	for _, tc := range []struct {
		name string
		a    [numPF][numPF]float64
		ok   bool
	}{
		{"positive definite", a, true},
		{"not positive definite", negDef, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := solveSym(tc.a, b)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			for i := range got {
				if math.Abs(got[i]-want[i]) > 1e-6 {
					t.Fatalf("x[%d] = %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
}

// The conditional logit recovers which features a shopper's choice
// follows: in each group the bought row is the one with the most
// leaf×repeat and the least leaf×text (plus noise); a feature that says
// nothing gets a weight near 0, and cross-fitting ranks the bought rows
// near the top.
func TestFitPairModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var groups []choiceGroup
	for g := 0; g < 300; g++ {
		var cg choiceGroup
		best, bestU := 0, math.Inf(-1)
		for q := 0; q < 40; q++ {
			var x pairVec
			for k := range x {
				x[k] = rng.Float64()
			}
			u := 3*x[pfLeafRepeat] - 3*x[pfLeafText] + 0.3*rng.NormFloat64()
			if u > bestU {
				best, bestU = q, u
			}
			cg.x = append(cg.x, x)
			cg.blend = append(cg.blend, x[pfPopInLeaf])
		}
		cg.rel = make([]bool, len(cg.x))
		cg.rel[best] = true
		cg.ranked, cg.nRel = len(cg.x), 1
		groups = append(groups, cg)
	}
	m := fitPairModel(groups)
	if m.w[pfLeafRepeat] <= 1 || m.w[pfLeafText] >= -1 {
		t.Errorf("weights %s: want leaf×repeat > 1 and leaf×text < -1 (per standard deviation)", m)
	}
	if math.Abs(m.w[pfEmbed]) > 0.5 {
		t.Errorf("weights %s: embed says nothing, want |w| ≤ 0.5", m)
	}
	if got, blend := crossFit(groups), blendNDCG(groups); got < 0.6 || got <= blend {
		t.Errorf("cross-fitted NDCG@10 %.3f (blend %.3f): want ≥ 0.6 and above the blend", got, blend)
	}
	if m.reason(&groups[0].x[0]) == "" {
		t.Error("empty reason")
	}
}

// A shop where calculators are bought one at a time with batteries and
// pens in several colours at once: the learned model serves batteries for
// a calculator and other pens for a pen, and the leaves' repeat rates say
// which kind is bought in variety.
func TestComplementModelLearnsKinds(t *testing.T) {
	var items []catalog.Item
	var colours []string
	for k := 0; k < 16; k++ {
		colours = append(colours, fmt.Sprintf("c%02d", k))
	}
	for k := 0; k < 12; k++ {
		items = append(items, item(fmt.Sprintf("calc%d", k), fmt.Sprintf("scientific calculator model %d", k), "Office/Calculators", "Texa"))
	}
	for k := 0; k < 6; k++ {
		items = append(items, item(fmt.Sprintf("batt%d", k), fmt.Sprintf("alkaline battery pack %d", k), "Office/Batteries", "Cell"))
	}
	for _, c := range colours {
		items = append(items, item("pen-"+c, "gel ink pen colour "+c, "Office/Pens", "Inky"))
	}
	for k := 0; k < 4; k++ {
		items = append(items, item(fmt.Sprintf("paper%d", k), fmt.Sprintf("copy paper ream %d", k), "Office/Paper", "Sheet"))
	}
	rng := rand.New(rand.NewPCG(7, 8))
	var evs []events.Event
	for u := 0; u < 600; u++ {
		user := fmt.Sprintf("u%d", u)
		at := time.Duration(u) * time.Hour
		if u%2 == 0 {
			b := rng.Perm(6)
			evs = append(evs, buy(user, fmt.Sprintf("calc%d", rng.IntN(12)), "", at),
				buy(user, fmt.Sprintf("batt%d", b[0]), "", at+time.Minute), buy(user, fmt.Sprintf("batt%d", b[1]), "", at+2*time.Minute))
			continue
		}
		for q, k := range rng.Perm(len(colours))[:3+rng.IntN(2)] {
			evs = append(evs, buy(user, "pen-"+colours[k], "", at+time.Duration(q)*time.Minute))
		}
		if rng.IntN(3) == 0 {
			evs = append(evs, buy(user, fmt.Sprintf("paper%d", rng.IntN(4)), "", at+time.Duration(rng.IntN(5))*time.Minute+30*time.Second))
		}
	}
	ix, rep, err := Learn(context.Background(), items, evs, nil, nil, Config{ComplementModel: ModelAlways}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.ModelUsed || rep.Model == "" || rep.ModelNDCG <= 0 {
		t.Fatalf("model not fitted: %+v", rep)
	}
	pens, calcs := ix.content.leafIDs["Office/Pens"], ix.content.leafIDs["Office/Calculators"]
	if rp, rc := ix.beh.leafRepeat(pens), ix.beh.leafRepeat(calcs); rp < 0.5 || rc != 0 {
		t.Errorf("leaf repeat rates: pens %.3f, calculators %.3f; want pens ≥ 0.5 and calculators 0", rp, rc)
	}
	// a calculator's complements are batteries, never another calculator
	calc := ix.Complements("calc0", 10, nil)
	for k, r := range calc {
		if (k < 2 && !strings.HasPrefix(r.ID, "batt")) || strings.HasPrefix(r.ID, "calc") || r.Reason == "" {
			t.Errorf("calc0: complements %v (model %s); want batteries first, no calculator, reasons", ids(calc), rep.Model)
			break
		}
	}
	// a pen's are mostly other pens: shoppers buy them in colours
	pen := ix.Complements("pen-c00", 10, nil)
	n := 0
	for _, r := range pen {
		if strings.HasPrefix(r.ID, "pen-") {
			n++
		}
	}
	if n < 5 {
		t.Errorf("pen-c00: complements %v (model %s); want at least 5 other pens", ids(pen), rep.Model)
	}
}

func TestParseModelUse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ModelUse
		err  bool
	}{
		{"", ModelOff, false},
		{"off", ModelOff, false},
		{" Auto ", ModelAuto, false},
		{"always", ModelAlways, false},
		{"sometimes", ModelOff, true},
	} {
		got, err := ParseModelUse(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("ParseModelUse(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err == nil && tc.in != "" {
			if back, _ := ParseModelUse(got.String()); back != got {
				t.Errorf("%v does not read back", got)
			}
		}
	}
}

// ParseModelUse reads a flag: any input gives a known use or an error,
// and a use it reads reads back from its name.
func FuzzParseModelUse(f *testing.F) {
	for _, s := range []string{"", "off", "auto", "ALWAYS", " x "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseModelUse(s)
		if err != nil {
			if u != ModelOff {
				t.Fatalf("%q: error %v with use %v", s, err, u)
			}
			return
		}
		if back, err := ParseModelUse(u.String()); err != nil || back != u {
			t.Fatalf("%q → %v does not read back: %v, %v", s, u, back, err)
		}
	})
}
