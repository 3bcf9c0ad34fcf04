package eval

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

// heldKey lists a split's held-out (user, item) pairs, sorted.
func heldKey(sp Split) []string {
	var out []string
	for _, c := range sp.Cases {
		for _, it := range c.Targets {
			out = append(out, fmt.Sprintf("%d/%d", c.User, it))
		}
	}
	slices.Sort(out)
	return out
}

// TestValidationDraws: a carved validation with fewer than
// minValidationCases cases is drawn ⌈minValidationCases/cases⌉ times (at
// most maxValidationDraws), each draw a different random hold-out of the
// same training rows; a "last" hold-out (one possible draw) and a large
// validation keep one.
func TestValidationDraws(t *testing.T) {
	var small strings.Builder
	for u := 1; u <= 30; u++ {
		for i := 1; i <= 10; i++ {
			if (u+i)%3 != 0 {
				fmt.Fprintf(&small, "%d\t%d\t%d\t%d\n", u, i*(1+u%2), 1+(u*i)%5, i)
			}
		}
	}
	mlDir := writeFiles(t, map[string]string{"u.data": small.String()})
	events := writeSynthetic(t)
	for _, tc := range []struct {
		name   string
		format string
		path   string
		opt    LoadOptions
		want   int // draws in all, Validation included
	}{
		{"movielens-100k, 30 users", "movielens-100k", mlDir, LoadOptions{}, maxValidationDraws},
		{"interactions random, 60 users", "interactions", events, LoadOptions{Split: "random:0.2"}, maxValidationDraws},
		{"interactions last: one possible draw", "interactions", events, LoadOptions{Split: "last"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Load(context.Background(), tc.format, tc.path, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			draws := append([]Split{*d.Validation}, d.ValidationDraws...)
			if len(draws) != tc.want {
				t.Fatalf("%d draws, want %d", len(draws), tc.want)
			}
			seen := map[string]int{}
			for k, sp := range draws {
				if k > 0 && sp.Name != fmt.Sprintf("validation (draw %d)", k+1) {
					t.Errorf("draw %d is named %q", k, sp.Name)
				}
				if sp.Train.NumInteractions() != draws[0].Train.NumInteractions() || len(sp.Cases) == 0 {
					t.Errorf("draw %d: %d training rows, %d cases; draw 1: %d rows", k, sp.Train.NumInteractions(), len(sp.Cases), draws[0].Train.NumInteractions())
				}
				key := strings.Join(heldKey(sp), " ")
				if j, dup := seen[key]; dup {
					t.Errorf("draw %d holds out the same rows as draw %d", k, j)
				}
				seen[key] = k
			}
		})
	}
	if got := drawsFor(&Split{Cases: make([]Case, minValidationCases)}, func(int) Split { return Split{} }); got != nil {
		t.Errorf("%d extra draws of a validation with %d cases, want none", len(got), minValidationCases)
	}
	if got := drawsFor(&Split{Cases: make([]Case, minValidationCases/2+1)}, func(int) Split { return Split{} }); len(got) != 1 {
		t.Errorf("%d extra draws of a validation with %d cases, want 1", len(got), minValidationCases/2+1)
	}
}

// TestPooledUsers: the choice's per-user metric over several draws is each
// user's mean over the draws that hold a case of theirs, in user order.
func TestPooledUsers(t *testing.T) {
	a := &Split{Cases: []Case{{User: 5}, {User: 2}}}
	b := &Split{Cases: []Case{{User: 2}, {User: 9}}}
	p := pooledUsers([]*Split{a, b})
	for _, tc := range []struct {
		name string
		per  [][]float64
		want []float64
	}{
		{"means over draws", [][]float64{{0.5, 0.2}, {0.4, 1}}, []float64{0.3, 0.5, 1}},
		{"a case without a metric is left out", [][]float64{{0.5, math.NaN()}, {0.4, 1}}, []float64{0.4, 0.5, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := p.mean(tc.per)
			if len(got) != len(tc.want) {
				t.Fatalf("%v, want %v", got, tc.want)
			}
			for i := range got {
				if !near(got[i], tc.want[i]) {
					t.Errorf("%v, want %v", got, tc.want)
				}
			}
		})
	}
}
