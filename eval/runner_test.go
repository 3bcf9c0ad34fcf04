package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aisle-dev/aisle/model"
)

// popModel scores items by training popularity; with "reverse" = 1 it
// scores the least popular first (a deliberately bad setting for tuning).
// It records every Dataset it was fitted on.
type popModel struct {
	reverse float64
	counts  []float32
	mean    float32
	fitted  *[]*model.Dataset
	mu      *sync.Mutex
}

func (m *popModel) Name() string { return "pop" }
func (m *popModel) Fit(ctx context.Context, ds *model.Dataset, progress model.Progress) error {
	m.mu.Lock()
	*m.fitted = append(*m.fitted, ds)
	m.mu.Unlock()
	m.counts = make([]float32, ds.NumItems())
	for _, it := range ds.Items {
		m.counts[it]++
	}
	if m.reverse == 1 {
		for i := range m.counts {
			m.counts[i] = -m.counts[i]
		}
	}
	var s float64
	for _, r := range ds.Ratings {
		s += float64(r)
	}
	if len(ds.Ratings) > 0 {
		m.mean = float32(s / float64(len(ds.Ratings)))
	}
	if progress != nil {
		progress(model.Status{Stage: "count", Epoch: 1, Of: 1, Loss: math.NaN(), Metric: math.NaN()})
	}
	return ctx.Err()
}
func (m *popModel) Score(q model.Query, scores []float32) { copy(scores, m.counts) }
func (m *popModel) Save(w io.Writer) error                { return fmt.Errorf("not saved in tests") }
func (m *popModel) Load(r io.Reader) error                { return fmt.Errorf("not loaded in tests") }
func (m *popModel) PredictRating(u, i int32) float32      { return m.mean }
func (m *popModel) TuneGrid() map[string][]float64        { return map[string][]float64{"reverse": {1, 0}} }
func (m *popModel) Params() model.Params                  { return model.Params{"reverse": m.reverse} }

// oracle knows the held-out items of one file and scores them first: it
// checks the runner's plumbing (exclusion, targets, averaging).
type oracle struct {
	popModel
	targets map[string]map[string]bool // user id → item ids
	ds      *model.Dataset
}

func (o *oracle) Name() string { return "oracle" }
func (o *oracle) Fit(ctx context.Context, ds *model.Dataset, p model.Progress) error {
	o.ds = ds
	return nil
}
func (o *oracle) Score(q model.Query, scores []float32) {
	u := o.ds.UserIDs[q.User]
	for i := range scores {
		scores[i] = 0
		if o.targets[u][o.ds.ItemIDs[i]] {
			scores[i] = 1
		}
	}
}

// writeSynthetic writes an interactions CSV where items have a planted
// popularity (item i is chosen with weight 1/(i+1)).
func writeSynthetic(t *testing.T) string {
	r := rand.New(rand.NewPCG(7, 7))
	var b strings.Builder
	b.WriteString("user,item,timestamp,value\n")
	for u := 0; u < 60; u++ {
		seen := map[int]bool{}
		for n := 0; n < 12; n++ {
			it := int(math.Floor(math.Pow(40, r.Float64()))) - 1
			if seen[it] {
				continue
			}
			seen[it] = true
			fmt.Fprintf(&b, "u%d,i%d,%d,%d\n", u, it, n, 1+r.IntN(5))
		}
	}
	p := filepath.Join(t.TempDir(), "events.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunRecommendTuneAndReport(t *testing.T) {
	path := writeSynthetic(t)
	var fitted []*model.Dataset
	var mu sync.Mutex
	newModel := func(name string, p model.Params) (model.Model, error) {
		if name != "pop" {
			return nil, fmt.Errorf("unknown model %q", name)
		}
		return &popModel{reverse: p["reverse"], fitted: &fitted, mu: &mu}, nil
	}
	var steps []Progress
	opt := RecommendOptions{Format: "interactions", Path: path, Split: "random:0.2", Models: []string{"pop"}, Ks: []int{5},
		Tune: true, Params: map[string]model.Params{"pop": {"reverse": 1}}, New: newModel, Workers: 2,
		Progress: func(p Progress) { steps = append(steps, p) }}
	rep, err := RunRecommend(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	res := rep.Results[0]
	if res.Params["reverse"] != 0 {
		t.Errorf("tuning kept reverse=%v, want 0 (popularity first is better)", res.Params["reverse"])
	}
	if len(res.Tuning) != 2 || !(res.Tuning[1].Metric > res.Tuning[0].Metric) {
		t.Errorf("tuning trials = %+v", res.Tuning)
	}
	// Tuning fits saw only the validation training set, never the test split's.
	data, err := Load(context.Background(), "interactions", path, LoadOptions{Split: "random:0.2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(fitted) != 3 {
		t.Fatalf("%d fits, want 2 tuning + 1 test", len(fitted))
	}
	for i, ds := range fitted[:2] {
		if ds.NumInteractions() != data.Validation.Train.NumInteractions() {
			t.Errorf("tuning fit %d used %d rows, want the validation training set's %d", i, ds.NumInteractions(), data.Validation.Train.NumInteractions())
		}
	}
	for _, k := range []string{"Precision@5", "Recall@5", "NDCG@5", "MAP@5", "HR@5", "AUC", "Coverage@5"} {
		if v, ok := res.Metrics[k]; !ok || v < 0 || v > 1 || math.IsNaN(v) {
			t.Errorf("metric %s = %v (present %v)", k, v, ok)
		}
	}
	if res.Metrics["AUC"] < 0.6 {
		t.Errorf("popularity AUC %v on planted popularity, want > 0.6", res.Metrics["AUC"])
	}
	if len(steps) == 0 || steps[len(steps)-1].Step != steps[len(steps)-1].Steps-1 {
		t.Errorf("progress events: %d, last %+v", len(steps), steps[len(steps)-1])
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var shape struct {
		Format  string `json:"format"`
		Path    string `json:"path"`
		Results []struct {
			Model        string             `json:"model"`
			Metrics      map[string]float64 `json:"metrics"`
			TrainSeconds *float64           `json:"train_seconds"`
			Params       map[string]float64 `json:"params"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &shape); err != nil || shape.Format != "interactions" || shape.Results[0].TrainSeconds == nil || shape.Results[0].Params == nil {
		t.Errorf("JSON shape: %s (%v)", b, err)
	}
}

func TestRunRecommendOracleIsPerfect(t *testing.T) {
	path := writeSynthetic(t)
	data, err := Load(context.Background(), "interactions", path, LoadOptions{Split: "random:0.3", Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]map[string]bool{}
	sp := data.Splits[0]
	wantRecall := 0.0
	for _, c := range sp.Cases {
		u := sp.Train.UserIDs[c.User]
		targets[u] = map[string]bool{}
		for _, it := range c.Targets {
			targets[u][sp.Train.ItemIDs[it]] = true
		}
		wantRecall += float64(min(3, len(c.Targets))) / float64(len(c.Targets))
	}
	wantRecall /= float64(len(sp.Cases))
	newModel := func(name string, p model.Params) (model.Model, error) { return &oracle{targets: targets}, nil }
	rep, err := RunRecommend(context.Background(), RecommendOptions{Format: "interactions", Path: path, Split: "random:0.3", Seed: 5,
		Models: []string{"oracle"}, Ks: []int{3}, New: newModel})
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Results[0].Metrics
	for k, want := range map[string]float64{"NDCG@3": 1, "HR@3": 1, "AUC": 1, "Recall@3": wantRecall} {
		if !near(m[k], want) {
			t.Errorf("oracle %s = %v, want %v", k, m[k], want)
		}
	}
}

func TestRunRecommendRating(t *testing.T) {
	path := writeSynthetic(t)
	var fitted []*model.Dataset
	var mu sync.Mutex
	rep, err := RunRecommend(context.Background(), RecommendOptions{Format: "interactions", Path: path, Rating: true, Models: []string{"pop", "oracle"},
		New: func(name string, p model.Params) (model.Model, error) {
			if name == "oracle" {
				return &struct{ model.Model }{&oracle{}}, nil // hides PredictRating
			}
			return &popModel{fitted: &fitted, mu: &mu}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	// The mean predictor's RMSE is the test ratings' deviation from the train mean.
	data, _ := Load(context.Background(), "interactions", path, LoadOptions{Rating: true})
	var mean float64
	for _, r := range data.Splits[0].Train.Ratings {
		mean += float64(r)
	}
	mean /= float64(len(data.Splits[0].Train.Ratings))
	var pred, truth []float32
	for _, c := range data.Splits[0].Cases {
		for _, r := range c.Ratings {
			pred, truth = append(pred, float32(mean)), append(truth, r)
		}
	}
	if len(rep.Results[0].Splits) != 0 {
		t.Errorf("one split: per-split results %+v, want none", rep.Results[0].Splits)
	}
	if got, want := rep.Results[0].Metrics["RMSE"], RMSE(pred, truth); !near(got, want) {
		t.Errorf("RMSE = %v, want %v", got, want)
	}
	if rep.Results[1].Error == "" {
		t.Error("a model without PredictRating must report an error")
	}
}

func TestRunRecommendSampledAndFull(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"train.csv": "user_id\titem_id\ttime\n1\t1\t1\n1\t2\t2\n2\t1\t1\n3\t1\t1\n3\t3\t2\n",
		"dev.csv":   "user_id\titem_id\ttime\tneg_items\n1\t3\t3\t[4, 5]\n2\t3\t3\t[4, 5]\n3\t2\t3\t[4, 5]\n",
		// user 1: target 4, popularity ranks 1 > 2,3 > 4,5: among candidates
		// [5, 1] the target 4 (0 count) ties with 5 → rank 1 (ties count against).
		"test.csv": "user_id\titem_id\ttime\tneg_items\n1\t4\t4\t[5, 1]\n",
	})
	var fitted []*model.Dataset
	var mu sync.Mutex
	rep, err := RunRecommend(context.Background(), RecommendOptions{Format: "rechorus", Path: dir, Ks: []int{1, 2}, Models: []string{"pop"},
		New: func(string, model.Params) (model.Model, error) { return &popModel{fitted: &fitted, mu: &mu}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Results[0].Metrics
	// Sampled: rank 2 of 3 (1 and the tied 5 above) → HR@1 0, HR@2 0.
	// Full: history {1,2,3} excluded; 4 and 5 tie, 4 wins by index → HR@1 1.
	want := map[string]float64{"HR@1": 0, "HR@2": 0, "HR@1:all": 1, "NDCG@2:all": 1, "AUC": 0.25}
	for k, w := range want {
		if !near(m[k], w) {
			t.Errorf("%s = %v, want %v (all: %v)", k, m[k], w, m)
		}
	}
}

func TestRunRecommendCancel(t *testing.T) {
	path := writeSynthetic(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var fitted []*model.Dataset
	var mu sync.Mutex
	_, err := RunRecommend(ctx, RecommendOptions{Format: "interactions", Path: path, Models: []string{"pop"},
		New: func(string, model.Params) (model.Model, error) { return &popModel{fitted: &fitted, mu: &mu}, nil }})
	if err == nil {
		t.Error("cancelled context: want an error")
	}
}

func TestQueryPassesHistoryOnlyWhenItAddsItems(t *testing.T) {
	ds := &model.Dataset{UserIDs: []string{"a"}, ItemIDs: []string{"x", "y", "z"}, UserPtr: []int{0, 2}, Items: []int32{0, 1}}
	tests := []struct {
		name    string
		history []int32
		want    []int32
	}{
		{"training row", []int32{0, 1}, nil},
		{"row plus validation item", []int32{0, 1, 2}, []int32{0, 1, 2}},
	}
	for _, tc := range tests {
		q := query(ds, &Case{User: 0, History: tc.history})
		if q.User != 0 || !slices.Equal(q.History, tc.want) {
			t.Errorf("%s: query = %+v, want history %v", tc.name, q, tc.want)
		}
	}
}

func TestRunRecommendReportsEachFold(t *testing.T) {
	var b strings.Builder
	for u := 1; u <= 30; u++ {
		for i := 1; i <= 10; i++ {
			if (u+i)%3 != 0 {
				fmt.Fprintf(&b, "%d\t%d\t%d\t%d\n", u, i*(1+u%2), 1+(u*i)%5, i)
			}
		}
	}
	dir := writeFiles(t, map[string]string{"u.data": b.String()})
	var fitted []*model.Dataset
	var mu sync.Mutex
	rep, err := RunRecommend(context.Background(), RecommendOptions{Format: "movielens-100k", Path: dir, Models: []string{"pop"},
		New: func(string, model.Params) (model.Model, error) { return &popModel{fitted: &fitted, mu: &mu}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	res := rep.Results[0]
	if len(res.Splits) != 5 || len(fitted) != 5 {
		t.Fatalf("%d split results, %d fits; want 5 and 5", len(res.Splits), len(fitted))
	}
	var mean float64
	for _, sp := range res.Splits {
		mean += sp.Metrics["NDCG@10"] / 5
	}
	if !near(mean, res.Metrics["NDCG@10"]) || res.Splits[0].Split != "fold 1" {
		t.Errorf("mean of folds %v, reported %v; first split %q", mean, res.Metrics["NDCG@10"], res.Splits[0].Split)
	}
}

// OnlySplit fits and scores the named split alone, and its metrics are the
// ones that split has in a run over every fold; an unknown name is an error
// that lists the splits.
func TestRunRecommendOnlySplit(t *testing.T) {
	var b strings.Builder
	for u := 1; u <= 30; u++ {
		for i := 1; i <= 10; i++ {
			if (u+i)%3 != 0 {
				fmt.Fprintf(&b, "%d\t%d\t%d\t%d\n", u, i*(1+u%2), 1+(u*i)%5, i)
			}
		}
	}
	dir := writeFiles(t, map[string]string{"u.data": b.String()})
	run := func(only string) (*Report, int, error) {
		var fitted []*model.Dataset
		var mu sync.Mutex
		rep, err := RunRecommend(context.Background(), RecommendOptions{Format: "movielens-100k", Path: dir, Models: []string{"pop"}, OnlySplit: only,
			New: func(string, model.Params) (model.Model, error) { return &popModel{fitted: &fitted, mu: &mu}, nil }})
		return rep, len(fitted), err
	}
	all, _, err := run("")
	if err != nil {
		t.Fatal(err)
	}
	one, fits, err := run("fold 3")
	if err != nil {
		t.Fatal(err)
	}
	res := one.Results[0]
	if fits != 1 || len(res.Splits) != 0 {
		t.Fatalf("%d fits, %d split results; want 1 fit, no per-split list", fits, len(res.Splits))
	}
	want := all.Results[0].Splits[2]
	if want.Split != "fold 3" || len(res.Metrics) == 0 || !maps.EqualFunc(res.Metrics, want.Metrics, func(a, b float64) bool { return near(a, b) }) {
		t.Errorf("fold 3 alone: %v; in the run over every fold (%s): %v", res.Metrics, want.Split, want.Metrics)
	}
	if _, _, err := run("u9"); err == nil || !strings.Contains(err.Error(), `no split "u9"`) || !strings.Contains(err.Error(), "fold 5") {
		t.Errorf("unknown split: %v", err)
	}
}

// flipPop is popModel with a query-time setting: "flip" 1 scores the least
// popular first. It counts its fits.
type flipPop struct {
	popModel
	flip float64
	pad  bool    // also offer "pad" (65 values that change nothing)
	padV float64 // its value
}

func (m *flipPop) Name() string { return "flippop" }
func (m *flipPop) Score(q model.Query, scores []float32) {
	for i, c := range m.counts {
		if m.flip == 1 {
			c = -c
		}
		scores[i] = c
	}
}
func (m *flipPop) Params() model.Params { return model.Params{"flip": m.flip, "pad": m.padV} }
func (m *flipPop) Adjustments() map[string][]float64 {
	g := map[string][]float64{"flip": {0, 1}}
	if m.pad {
		for v := range 65 {
			g["pad"] = append(g["pad"], float64(v))
		}
	}
	return g
}
func (m *flipPop) Adjust(p model.Params) error {
	for k, v := range p {
		switch {
		case k == "flip" && (v == 0 || v == 1):
			m.flip = v
		case k == "pad" && m.pad:
			m.padV = v
		default:
			return fmt.Errorf("bad setting %s=%v", k, v)
		}
	}
	return nil
}

// TestRunRecommendAdjusts: a model.Adjustable fitted with a bad query-time
// setting gets the better one, chosen on one validation fit (never the
// test split), unless the setting was given or NoAdjust is set.
func TestRunRecommendAdjusts(t *testing.T) {
	path := writeSynthetic(t)
	data, err := Load(context.Background(), "interactions", path, LoadOptions{Split: "random:0.2"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		params   model.Params
		noAdjust bool
		fits     int
		want     float64
		trials   int
	}{
		{"chooses", model.Params{"start": 1}, false, 2, 0, 2},
		// 130 combinations: a coordinate descent (the fitted setting,
		// flip's better value, then pad's 64 other values, which change
		// nothing; the second pass finds nothing new).
		{"coordinate descent", model.Params{"start": 1, "padded": 1}, false, 2, 0, 66},
		{"given setting kept", model.Params{"flip": 1}, false, 1, 1, 0},
		{"off", model.Params{"start": 1}, true, 1, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fitted []*model.Dataset
			var mu sync.Mutex
			newModel := func(name string, p model.Params) (model.Model, error) {
				flip := p["flip"]
				if _, ok := p["flip"]; !ok {
					flip = p["start"]
				}
				return &flipPop{popModel: popModel{fitted: &fitted, mu: &mu}, flip: flip, pad: p["padded"] == 1}, nil
			}
			rep, err := RunRecommend(context.Background(), RecommendOptions{Format: "interactions", Path: path,
				Split: "random:0.2", Models: []string{"flippop"}, Ks: []int{5}, NoAdjust: tc.noAdjust,
				Params: map[string]model.Params{"flippop": tc.params}, New: newModel, Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			res := rep.Results[0]
			if res.Params["flip"] != tc.want {
				t.Errorf("flip %v, want %v (trials %+v)", res.Params["flip"], tc.want, res.Adjusted)
			}
			if len(fitted) != tc.fits {
				t.Fatalf("%d fits, want %d", len(fitted), tc.fits)
			}
			if tc.fits == 2 {
				if fitted[0].NumInteractions() != data.Validation.Train.NumInteractions() {
					t.Errorf("adjusting fit used %d rows, want the validation training set's %d", fitted[0].NumInteractions(), data.Validation.Train.NumInteractions())
				}
				if len(res.Adjusted) != tc.trials || !(res.Adjusted[len(res.Adjusted)-1].Metric > res.Adjusted[0].Metric) {
					t.Errorf("%d trials %+v: want %d, the last better than the fitted setting", len(res.Adjusted), res.Adjusted, tc.trials)
				}
			} else if len(res.Adjusted) != 0 {
				t.Errorf("trials %+v, want none", res.Adjusted)
			}
		})
	}
}
