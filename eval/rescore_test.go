package eval

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/internal/testdata"
	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/zoo"
)

// writeClustered writes an interactions CSV of users who each take items
// of their own cluster mostly, newest last, so itemfilter's query-time
// settings (history bonus, iALS share, popularity penalty) rank
// differently and the chooser has something to choose.
func writeClustered(t *testing.T) string {
	r := rand.New(rand.NewPCG(11, 3))
	var b strings.Builder
	b.WriteString("user,item,timestamp,value\n")
	const users, items, clusters = 240, 60, 4
	for u := range users {
		c := u % clusters
		seen := map[int]bool{}
		for n := range 6 + r.IntN(14) {
			it := r.IntN(items)
			if r.Float64() < 0.7 {
				// drift: later items come from the next cluster
				cc := c
				if n > 8 {
					cc = (c + 1) % clusters
				}
				it = cc*items/clusters + r.IntN(items/clusters)
			}
			if seen[it] {
				continue
			}
			seen[it] = true
			fmt.Fprintf(&b, "u%d,i%d,%d,1\n", u, it, n)
		}
	}
	p := filepath.Join(t.TempDir(), "events.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRescoreMatchesSlowPath: choosing itemfilter's query-time settings
// with each validation case prepared once (model.Rescorer) gives the
// trials, choice and test metrics that scoring every setting with a full
// Score gives, to the last digit (each worker takes the same cases on
// every run): on synthetic data always, on ML-100k's validation split
// when the shared data is there.
func TestRescoreMatchesSlowPath(t *testing.T) {
	t.Run("synthetic", func(t *testing.T) {
		path := writeClustered(t)
		run := func(slow bool) *Report {
			rep, err := RunRecommend(context.Background(), RecommendOptions{Format: "interactions", Path: path, Split: "last",
				Models: []string{"itemfilter"}, Ks: []int{5, 10}, Workers: 2, NoRescore: slow,
				Params: map[string]model.Params{"itemfilter": {"ials_factors": 8, "uknn_weight": 0.2, "uknn_k": 10}}})
			if err != nil {
				t.Fatal(err)
			}
			return rep
		}
		fast, slow := run(false).Results[0], run(true).Results[0]
		sameTrials(t, fast.Adjusted, slow.Adjusted)
		if !maps.Equal(fast.Params, slow.Params) || !maps.Equal(fast.Metrics, slow.Metrics) {
			t.Fatalf("prepared once: params %v metrics %v; scored per setting: %v %v", fast.Params, fast.Metrics, slow.Params, slow.Metrics)
		}
		if fast.Adjusted[0].Metric == fast.Adjusted[len(fast.Adjusted)-1].Metric {
			t.Errorf("the settings all score alike (%v): the data does not test the choice", fast.Adjusted[0].Metric)
		}
	})
	t.Run("movielens-100k validation", func(t *testing.T) {
		if testing.Short() {
			t.Skip("fits itemfilter on ML-100k twice and scores 64 settings per-setting: a minute of CPU; skipped in -short mode")
		}
		dir := testdata.Path(t, "movielens-100k")
		data, err := Load(context.Background(), "movielens-100k", dir, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		choose := func(slow bool) (model.Params, []Trial) {
			r := &runner{opt: RecommendOptions{New: zoo.New, NoRescore: slow}, data: data, ks: data.DefaultKs}
			p, trials, err := r.adjust(context.Background(), "itemfilter", model.Params{})
			if err != nil {
				t.Fatal(err)
			}
			return p, trials
		}
		fp, ft := choose(false)
		sp, st := choose(true)
		sameTrials(t, ft, st)
		if !maps.Equal(fp, sp) {
			t.Fatalf("prepared once chose %v, scored per setting %v", fp, sp)
		}
	})
}

// sameTrials fails unless a and b are the same trials to the last digit.
func sameTrials(t *testing.T, a, b []Trial) {
	t.Helper()
	if len(a) != len(b) || len(a) < 2 {
		t.Fatalf("%d trials prepared once, %d scored per setting (want the same, several)", len(a), len(b))
	}
	for i := range a {
		x, y := a[i], b[i]
		same := maps.Equal(x.Params, y.Params) && x.Metric == y.Metric && (x.Gain == nil) == (y.Gain == nil)
		if same && x.Gain != nil {
			same = *x.Gain == *y.Gain && *x.SE == *y.SE
		}
		if !same {
			t.Fatalf("trial %d: prepared once %+v, scored per setting %+v", i, x, y)
		}
	}
}
