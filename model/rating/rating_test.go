package rating

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/modeltest"
)

// fast parameters keep every test well under a second.
var constructors = []struct {
	name string
	new  func(model.Params) (model.Model, error)
	fast model.Params
}{
	{"biased-mf", NewBiasedMF, model.Params{"factors": 16, "epochs": 30, "lr": 0.01, "reg": 0.05}},
	{"neural-rating", NewNeural, model.Params{"dim": 16, "hidden1": 32, "hidden2": 16, "epochs": 10, "lr": 0.005, "reg": 0.01}},
	{"linear", NewLinear, model.Params{"epochs": 20}},
}

func build(t *testing.T, i int, extra model.Params) model.Model {
	t.Helper()
	p := model.Params{}
	for k, v := range constructors[i].fast {
		p[k] = v
	}
	for k, v := range extra {
		p[k] = v
	}
	m, err := constructors[i].new(p)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != constructors[i].name {
		t.Errorf("Name() = %q, want %q", m.Name(), constructors[i].name)
	}
	return m
}

// plantedRatings builds users and items in 4 clusters: a user rates items of
// its own cluster about 4.5 and others about 2, plus item bias and noise.
// Items carry their cluster as attribute. It returns train and test parts.
func plantedRatings() (train *model.Dataset, test [][3]float32) {
	r := rand.New(rand.NewPCG(9, 9))
	const nu, ni, k = 200, 120, 4
	ds := &model.Dataset{UserPtr: []int{0}, NumAttrs: k}
	for i := 0; i < ni; i++ {
		ds.ItemIDs = append(ds.ItemIDs, "i"+strconv.Itoa(i))
		ds.ItemAttrs = append(ds.ItemAttrs, []int32{int32(i % k)})
	}
	itemBias := make([]float64, ni)
	for i := range itemBias {
		itemBias[i] = r.NormFloat64() * 0.3
	}
	for u := 0; u < nu; u++ {
		ds.UserIDs = append(ds.UserIDs, "u"+strconv.Itoa(u))
		for _, i := range r.Perm(ni)[:30] {
			v := 2.0
			if i%k == u%k {
				v = 4.5
			}
			v = math.Round(min(5, max(1, v+itemBias[i]+r.NormFloat64()*0.4)))
			if r.Float64() < 0.2 {
				test = append(test, [3]float32{float32(u), float32(i), float32(v)})
				continue
			}
			ds.Items = append(ds.Items, int32(i))
			ds.Ratings = append(ds.Ratings, float32(v))
		}
		ds.UserPtr = append(ds.UserPtr, len(ds.Items))
	}
	return ds, test
}

func TestRatingModelsLearnPlantedTaste(t *testing.T) {
	train, test := plantedRatings()
	var mean float64
	for _, v := range train.Ratings {
		mean += float64(v)
	}
	mean /= float64(len(train.Ratings))
	rmse := func(pred func(u, i int32) float32) float64 {
		var s float64
		for _, c := range test {
			d := float64(pred(int32(c[0]), int32(c[1]))) - float64(c[2])
			s += d * d
		}
		return math.Sqrt(s / float64(len(test)))
	}
	base := rmse(func(u, i int32) float32 { return float32(mean) })
	for i := range constructors {
		m := build(t, i, nil)
		modeltest.Fit(t, m, train)
		got := rmse(m.(model.RatingPredictor).PredictRating)
		t.Logf("%s: RMSE %.3f, global mean %.3f", m.Name(), got, base)
		if got > 0.6*base {
			t.Errorf("%s: RMSE %.3f is not well below the global mean's %.3f", m.Name(), got, base)
		}
	}
}

func TestRatingModelsBeatPopularityOnImplicitData(t *testing.T) {
	s := modeltest.Synthetic()
	// The linear model converges in fewer epochs.
	implicit := []model.Params{nil, nil, {"epochs": 8}}
	for i := range constructors {
		m := build(t, i, implicit[i])
		if constructors[i].name == "linear" {
			// The linear model has no per-user taste without item
			// attributes: give it the planted clusters as attributes.
			ds := *s.DS
			ds.ItemAttrs = make([][]int32, ds.NumItems())
			for it := range ds.ItemAttrs {
				ds.ItemAttrs[it] = []int32{int32(s.ItemCluster[it])}
			}
			ds.NumAttrs = s.Clusters
			s2 := *s
			s2.DS = &ds
			modeltest.AssertBeatsPopularity(t, m, &s2, 0.05)
			continue
		}
		modeltest.AssertBeatsPopularity(t, m, s, 0.05)
	}
}

func TestRatingModelsRoundTripAndConcurrentScore(t *testing.T) {
	train, _ := plantedRatings()
	for i := range constructors {
		m := build(t, i, model.Params{"epochs": 2})
		modeltest.Fit(t, m, train)
		modeltest.AssertRoundTrip(t, m, build(t, i, nil), train)
		modeltest.AssertConcurrentScore(t, m, train)
		p := m.(interface{ Params() model.Params }).Params()
		if p["epochs"] != 2 {
			t.Errorf("%s: Params() = %v, want epochs 2", m.Name(), p)
		}
		for j := range constructors {
			if j != i {
				other := build(t, j, nil)
				var buf writerBuf
				if err := m.Save(&buf); err != nil {
					t.Fatal(err)
				}
				if err := other.Load(&buf); err == nil {
					t.Errorf("%s loaded a %s artefact", other.Name(), m.Name())
				}
			}
		}
	}
}

func TestRatingModelsRejectBadParamsAndStopOnCancel(t *testing.T) {
	train, _ := plantedRatings()
	for i, c := range constructors {
		if _, err := c.new(model.Params{"nope": 1}); err == nil {
			t.Errorf("%s accepted an unknown parameter", c.name)
		}
		if _, err := c.new(model.Params{"epochs": -1}); err == nil {
			t.Errorf("%s accepted epochs=-1", c.name)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := build(t, i, nil).Fit(ctx, train, nil); err == nil {
			t.Errorf("%s: Fit ignored a cancelled context", c.name)
		}
	}
}

func TestRatingModelsTuneGrids(t *testing.T) {
	for i := range constructors {
		m := build(t, i, nil)
		g := m.(interface{ TuneGrid() map[string][]float64 }).TuneGrid()
		for name, vals := range g {
			for _, v := range vals {
				if _, err := constructors[i].new(model.Params{name: v}); err != nil {
					t.Errorf("%s: grid value %s=%v rejected: %v", m.Name(), name, v, err)
				}
			}
		}
	}
}

// writerBuf is a minimal io.ReadWriter.
type writerBuf struct{ b []byte }

func (w *writerBuf) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
func (w *writerBuf) Read(p []byte) (int, error) {
	if len(w.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, w.b)
	w.b = w.b[n:]
	return n, nil
}
