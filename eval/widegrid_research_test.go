package eval

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/adjust"
	"github.com/aisle-dev/aisle/model/zoo"
)

// TestResearchWideGrid (session 12, ml12) scores itemfilter's query-time
// settings on a wide grid once per validation user, runs the chooser on
// grids of several widths from those scores, and reads each choice once
// on the test splits. Set AISLE_EXP_GRID=format:path.
func TestResearchWideGrid(t *testing.T) {
	spec := os.Getenv("AISLE_EXP_GRID")
	if spec == "" {
		t.Skip("research harness: set AISLE_EXP_GRID=format:path")
	}
	format, path, _ := strings.Cut(spec, ":")
	ctx := context.Background()
	data, err := Load(ctx, format, path, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{opt: RecommendOptions{New: zoo.New}, data: data, ks: data.DefaultKs}
	grids := []struct {
		name   string
		values map[string][]float64
	}{
		{"today", map[string][]float64{"recency": {0, 1, 8, 64}, "ials_weight": {0.3, 0.4, 0.6, 0.8}, "pop": {0, 0.1, 0.3, 0.5}}},
		{"finer shares and pop", map[string][]float64{"recency": {0, 1, 8, 64}, "ials_weight": {0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8}, "pop": {-0.1, 0, 0.05, 0.1, 0.2, 0.3, 0.5}}},
		{"finer all", map[string][]float64{"recency": {0, 0.5, 1, 2, 4, 8, 16, 64}, "ials_weight": {0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8}, "pop": {-0.1, 0, 0.05, 0.1, 0.2, 0.3, 0.5}}},
	}
	union := map[string][]float64{}
	for _, g := range grids {
		for k, vs := range g.values {
			union[k] = append(union[k], vs...)
		}
	}
	for k, vs := range union {
		slices.Sort(vs)
		union[k] = slices.Compact(vs)
	}
	fitOn := func(sp *Split) model.Rescorer {
		m, err := zoo.New("itemfilter", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Fit(ctx, sp.Train, nil); err != nil {
			t.Fatal(err)
		}
		return m.(model.Rescorer)
	}
	m := fitOn(data.Validation)
	fitted := m.(interface{ Params() model.Params }).Params()
	fp := model.Params{"recency": fitted["recency"], "ials_weight": fitted["ials_weight"], "pop": fitted["pop"]}
	var all []model.Params
	names := slices.Sorted(maps.Keys(union))
	var rec func(i int, p model.Params)
	rec = func(i int, p model.Params) {
		if i == len(names) {
			all = append(all, maps.Clone(p))
			return
		}
		for _, v := range union[names[i]] {
			p[names[i]] = v
			rec(i+1, p)
		}
	}
	rec(0, model.Params{})
	all = append([]model.Params{fp}, all...)
	scores, err := r.scoreSettings(ctx, m, "itemfilter", data.Validation, all)
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]adjust.Score{}
	for i, p := range all {
		byKey[paramsKey(p)] = scores[i]
	}
	order := make([]int, len(all))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]].Mean() > scores[order[b]].Mean() })
	t.Logf("validation: %d settings, fitted %v mean %.5f", len(all), fp, scores[0].Mean())
	for _, i := range order[:15] {
		g, se := adjust.PairedChange(scores[i].Users, scores[0].Users)
		t.Logf("  %v mean %.5f gain %+.5f (%.1f SE)", all[i], scores[i].Mean(), g, g/se)
	}
	chosen := []model.Params{fp}
	for _, g := range grids {
		offer := adjust.Offer{Names: slices.Sorted(maps.Keys(g.values)), Values: g.values, Fitted: fp}
		am := m.(model.Adjustable)
		ch, err := adjust.Choose(ctx, am, offer, nil, adjust.Options{ScoreAll: func(_ context.Context, ps []model.Params) ([]adjust.Score, error) {
			out := make([]adjust.Score, len(ps))
			for i, p := range ps {
				s, ok := byKey[paramsKey(p)]
				if !ok {
					return nil, fmt.Errorf("%v not scored", p)
				}
				out[i] = s
			}
			return out, nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		b := ch.Trials[ch.Best]
		// the whole grid, as an exhaustive search would see it
		top := 0
		for i, p := range all {
			in := true
			for k, v := range p {
				in = in && slices.Contains(g.values[k], v)
			}
			if in && scores[i].Mean() > scores[top].Mean() {
				top = i
			}
		}
		tg, tse := adjust.PairedChange(scores[top].Users, scores[0].Users)
		t.Logf("grid %q (%d): chooser's best %v gain %+.5f (%.1f SE), chosen %v; the grid's best %v gain %+.5f (%.1f SE)",
			g.name, offer.Combos(), b.Params, b.Gain, b.Gain/b.SE, ch.Settings, all[top], tg, tg/tse)
		if ch.Settings != nil {
			chosen = append(chosen, ch.Settings)
		}
	}
	if os.Getenv("AISLE_EXP_TEST") == "" {
		return
	}
	sums := make([]map[string]float64, len(chosen))
	for i := range sums {
		sums[i] = map[string]float64{}
	}
	for _, sp := range data.Splits {
		m := fitOn(&sp)
		got, err := r.scoreSettings(ctx, m, "itemfilter", &sp, chosen)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range got {
			for k, v := range s.Metrics {
				sums[i][k] += v / float64(len(data.Splits))
			}
		}
	}
	for i, p := range chosen {
		t.Logf("test: %v %v", p, sums[i])
	}
}
