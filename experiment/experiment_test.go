package experiment

import (
	"fmt"
	"slices"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/aisle-dev/aisle/catalog"
)

func TestAssignIsStableAndFollowsWeights(t *testing.T) {
	e := Experiment{Salt: "s1", Variants: []Variant{{Name: "a", Weight: 50}, {Name: "b", Weight: 30}, {Name: "c", Weight: 20}}}
	counts := make([]float64, 3)
	const n = 100_000
	for i := range n {
		counts[e.Assign(fmt.Sprintf("user-%d", i))]++
	}
	chi, p := SRM(counts, []float64{50, 30, 20})
	// under correct weights χ²(2) exceeds 13.8 with probability 0.001
	if limit := (distuv.ChiSquared{K: 2}).Quantile(0.999); chi > limit {
		t.Errorf("counts %v: χ² %.2f > %.2f (p %.2g): assignment does not follow the weights", counts, chi, limit, p)
	}
	// sticky: the same unit, the same variant; another salt reshuffles
	other := e
	other.Salt = "s2"
	moved := 0
	for i := range 1000 {
		u := fmt.Sprintf("user-%d", i)
		if e.Assign(u) != e.Assign(u) {
			t.Fatal("the same unit got two variants")
		}
		if e.Assign(u) != other.Assign(u) {
			moved++
		}
	}
	if moved < 300 {
		t.Errorf("only %d of 1000 units changed variant with another salt: experiments are not independent", moved)
	}
	// a fixed unit keeps its fixed variant across versions of this code
	if got := e.Assign("user-42"); got != e.Assign("user-42") {
		t.Fatal("unstable")
	}
}

func TestValidate(t *testing.T) {
	ok := func() Experiment {
		return Experiment{Name: "x", Surface: "recommend", Variants: []Variant{{Name: "a", Weight: 50, Overrides: Overrides{Model: "popular"}}, {Name: "b", Weight: 50, Overrides: Overrides{Model: "ease"}}}}
	}
	for _, c := range []struct {
		name string
		edit func(*Experiment)
		bad  bool
	}{
		{"contract example", func(*Experiment) {}, false},
		{"no name", func(e *Experiment) { e.Name = " " }, true},
		{"unknown surface", func(e *Experiment) { e.Surface = "home" }, true},
		{"one variant", func(e *Experiment) { e.Variants = e.Variants[:1] }, true},
		{"zero weight", func(e *Experiment) { e.Variants[1].Weight = 0 }, true},
		{"same names", func(e *Experiment) { e.Variants[1].Name = "a" }, true},
		{"bad mode", func(e *Experiment) { e.Variants[0].Overrides.Mode = "magic" }, true},
		{"interleave search", func(e *Experiment) { e.Method = MethodInterleave; e.Surface = "search" }, true},
		{"interleave recommend", func(e *Experiment) { e.Method = MethodInterleave }, false},
		{"bad metric", func(e *Experiment) { e.PrimaryMetric = "happiness" }, true},
	} {
		e := ok()
		c.edit(&e)
		err := e.Validate()
		if (err != nil) != c.bad {
			t.Errorf("%s: Validate() = %v, want error %v", c.name, err, c.bad)
		}
	}
}

func TestTeamDraft(t *testing.T) {
	a := []string{"1", "2", "3", "4", "5"}
	b := []string{"3", "1", "6", "7", "2"}
	items, teams := TeamDraft(a, b, 6, "req")
	if len(items) != 6 || len(teams) != 6 {
		t.Fatalf("got %v %v, want 6 items", items, teams)
	}
	seen := map[string]bool{}
	na := 0
	for i, id := range items {
		if seen[id] {
			t.Fatalf("%s twice in %v", id, items)
		}
		seen[id] = true
		if teams[i] == 0 {
			na++
			if !slices.Contains(a, id) {
				t.Fatalf("team a placed %s, not in its list", id)
			}
		} else if !slices.Contains(b, id) {
			t.Fatalf("team b placed %s, not in its list", id)
		}
	}
	if na != 3 {
		t.Errorf("team a placed %d of 6, want 3 (each round each team picks one)", na)
	}
	again, _ := TeamDraft(a, b, 6, "req")
	if !slices.Equal(items, again) {
		t.Error("the same seed gave another draft")
	}
	if ca, cb, w := Credit(teams, []int{0, 1, 2}); ca+cb != 3 || (w == 0) != (ca > cb) {
		t.Errorf("credit %d %d %d", ca, cb, w)
	}
}

// FuzzValidate: any body POST /api/experiments may receive decodes and
// validates without panicking, and a valid experiment assigns every unit
// to one of its variants.
func FuzzValidate(f *testing.F) {
	f.Add([]byte(`{"name":"m","surface":"recommend","variants":[{"name":"a","weight":50,"overrides":{"model":"popular"}},{"name":"b","weight":50,"overrides":{"model":"ease"}}]}`), "u1")
	f.Add([]byte(`{"name":"i","surface":"session","method":"interleave","variants":[{"name":"a"},{"name":"b","overrides":{"diversity":0.3}}]}`), "")
	f.Fuzz(func(t *testing.T, body []byte, unit string) {
		var e Experiment
		if err := catalog.StrictDecode(body, &e); err != nil {
			return
		}
		if e.Validate() != nil {
			return
		}
		e.Salt = "s"
		if i := e.Assign(unit); i < 0 || i >= len(e.Variants) {
			t.Fatalf("Assign(%q) = %d with %d variants", unit, i, len(e.Variants))
		}
	})
}
