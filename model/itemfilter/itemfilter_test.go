package itemfilter_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/adjust"
	"github.com/aisle-dev/aisle/model/blend"
	"github.com/aisle-dev/aisle/model/ease"
	"github.com/aisle-dev/aisle/model/itemfilter"
	"github.com/aisle-dev/aisle/model/mf"
	"github.com/aisle-dev/aisle/model/modeltest"
)

func tiny() *model.Dataset {
	return &model.Dataset{
		UserIDs: []string{"a", "b", "c", "d", "e"}, ItemIDs: []string{"x", "y", "z", "w"},
		UserPtr: []int{0, 2, 5, 6, 8, 11},
		Items:   []int32{0, 1, 0, 1, 2, 2, 1, 2, 0, 2, 3},
	}
}

// dense returns the user-item matrix of ds (interaction counts).
func dense(ds *model.Dataset) *mat.Dense {
	x := mat.NewDense(ds.NumUsers(), ds.NumItems(), nil)
	for u := range ds.NumUsers() {
		for _, i := range ds.Row(u) {
			x.Set(u, int(i), x.At(u, int(i))+1) // repeats count, as in Fit
		}
	}
	return x
}

// TestEASEPart checks B against a direct dense computation of EASE on
// X·D^-beta (lambda rescaled by the ratio of mean diagonals), mapped back
// by D^-beta·B'·D^beta, and the scores against the popularity correction.
func TestEASEPart(t *testing.T) {
	ds := tiny()
	x := dense(ds)
	n := ds.NumItems()
	var g mat.Dense
	g.Mul(x.T(), x)
	for _, tc := range []struct{ lambda, beta, delta float64 }{{2, 0, 0}, {2, 0.25, 0.1}, {0.5, 0.5, -0.2}} {
		m, err := itemfilter.New(model.Params{"lambda": tc.lambda, "beta": tc.beta, "delta": tc.delta, "recency": 0, "gf_weight": 0, "ials_weight": 0, "uknn_weight": 0})
		if err != nil {
			t.Fatal(err)
		}
		modeltest.Fit(t, m, ds)
		deg := make([]float64, n)
		sc := make([]float64, n)
		md, md2 := 0.0, 0.0
		for i := range n {
			deg[i] = g.At(i, i)
			sc[i] = math.Pow(deg[i], -tc.beta)
			md += deg[i]
			md2 += deg[i] * sc[i] * sc[i]
		}
		gp := mat.NewDense(n, n, nil)
		for i := range n {
			for j := range n {
				gp.Set(i, j, g.At(i, j)*sc[i]*sc[j])
			}
			gp.Set(i, i, gp.At(i, i)+tc.lambda*md2/md)
		}
		var p mat.Dense
		if err := p.Inverse(gp); err != nil {
			t.Fatal(err)
		}
		row := make([]float32, n)
		for i := range n {
			m.Similar(int32(i), row)
			for j := range n {
				want := 0.0
				if i != j {
					want = -p.At(i, j) / p.At(j, j) * sc[i] / sc[j]
				}
				if math.Abs(float64(row[j])-want) > 1e-5 {
					t.Errorf("%+v: B[%d][%d] = %v, want %v", tc, i, j, row[j], want)
				}
			}
		}
		got, want := make([]float32, n), make([]float32, n)
		for u := range ds.NumUsers() {
			clear(want)
			for _, h := range ds.Row(u) {
				m.Similar(h, row)
				for i := range want {
					want[i] += row[i]
				}
			}
			m.Score(model.Query{User: int32(u)}, got)
			for i := range got {
				w := float64(want[i]) * math.Pow(deg[i], -tc.delta)
				if math.Abs(float64(got[i])-w) > 1e-5 {
					t.Errorf("%+v: user %d score[%d] = %v, want %v", tc, u, i, got[i], w)
				}
			}
		}
	}
}

// TestMatchesEASE: with no normalisation, no correction and no graph filter
// the model is EASE.
func TestMatchesEASE(t *testing.T) {
	s := modeltest.Synthetic()
	m, _ := itemfilter.New(model.Params{"lambda": 30, "beta": 0, "delta": 0, "recency": 0, "gf_weight": 0, "ials_weight": 0, "uknn_weight": 0})
	e, _ := ease.New(model.Params{"lambda": 30})
	modeltest.Fit(t, m, s.DS)
	modeltest.Fit(t, e, s.DS)
	n := s.DS.NumItems()
	a, b := make([]float32, n), make([]float32, n)
	for _, q := range modeltest.Queries(s.DS, 20) {
		m.Score(q, a)
		e.Score(q, b)
		for i := range a {
			if math.Abs(float64(a[i]-b[i])) > 1e-4 {
				t.Fatalf("query %+v item %d: %v, EASE %v", q, i, a[i], b[i])
			}
		}
	}
}

// TestDecay: the t-th newest history item counts 1 + recency·decay^t.
func TestDecay(t *testing.T) {
	ds := tiny()
	m, _ := itemfilter.New(model.Params{"lambda": 1, "delta": 0, "recency": 2, "decay": 0.5, "ials_weight": 0, "uknn_weight": 0})
	modeltest.Fit(t, m, ds)
	n := ds.NumItems()
	hist := []int32{3, 0, 1}
	want := make([]float32, n)
	row := make([]float32, n)
	for k, w := range []float32{1.5, 2, 3} {
		m.Similar(hist[k], row)
		for i := range want {
			want[i] += w * row[i]
		}
	}
	got := make([]float32, n)
	m.Score(model.Query{User: -1, History: hist}, got)
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Errorf("score[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

// TestGraphFilter: with the EASE part made negligible, B is GF-CF's
// P̃ + alpha·D^-1/2·V·Vᵀ·D^1/2 computed from a full eigendecomposition.
func TestGraphFilter(t *testing.T) {
	s := modeltest.SyntheticWith(modeltest.Config{Users: 120, Items: 40, Clusters: 4, MinPer: 3, MaxPer: 10, Focus: 0.8, Seed: 5})
	ds := s.DS
	const k, alpha = 4, 0.7
	// A huge lambda makes the EASE part ~0 relative to the graph filter,
	// but it is still there: compare the graph filter from gf_weight 1 with
	// gf_weight 2 (B = E + w·c·F, so B2 − B1 = c·F).
	fit := func(w float64) []float32 {
		m, err := itemfilter.New(model.Params{"lambda": 50, "beta": 0, "delta": 0, "gf_weight": w, "gf_k": k, "gf_alpha": alpha, "use_weights": 0, "recency": 0})
		if err != nil {
			t.Fatal(err)
		}
		modeltest.Fit(t, m, ds)
		n := ds.NumItems()
		out := make([]float32, n*n)
		for i := range n {
			m.Similar(int32(i), out[i*n:(i+1)*n])
		}
		return out
	}
	b1, b2 := fit(1), fit(2)
	n := ds.NumItems()
	x := dense(ds)
	du := make([]float64, ds.NumUsers())
	di := make([]float64, n)
	for u := range ds.NumUsers() {
		for i := range n {
			du[u] += x.At(u, i)
			di[i] += x.At(u, i)
		}
	}
	rt := mat.NewDense(ds.NumUsers(), n, nil)
	for u := range ds.NumUsers() {
		for i := range n {
			if x.At(u, i) != 0 {
				rt.Set(u, i, x.At(u, i)/math.Sqrt(du[u]*di[i]))
			}
		}
	}
	var p mat.Dense
	p.Mul(rt.T(), rt)
	var eig mat.EigenSym
	if !eig.Factorize(mat.NewSymDense(n, p.RawMatrix().Data), true) {
		t.Fatal("eigen")
	}
	var v mat.Dense
	eig.VectorsTo(&v)
	top := v.Slice(0, n, n-k, n)
	var vv mat.Dense
	vv.Mul(top, top.T())
	f := make([]float64, n*n)
	for i := range n {
		for j := range n {
			f[i*n+j] = p.At(i, j) + alpha*vv.At(i, j)*math.Sqrt(di[j]/di[i])
		}
	}
	// c = (B2 − B1)[ij] / F[ij] must be one constant.
	c := 0.0
	for i := range f {
		if math.Abs(f[i]) > 1e-3 {
			c = float64(b2[i]-b1[i]) / f[i]
			break
		}
	}
	for i := range f {
		if math.Abs(float64(b2[i]-b1[i])-c*f[i]) > 1e-4*math.Max(1, math.Abs(c)) {
			t.Fatalf("entry %d: B2−B1 = %v, want %v·%v", i, b2[i]-b1[i], c, f[i])
		}
	}
}

// TestAutoRecency: on data where each user's next item follows from their
// previous one, Fit with recency -1 picks a bonus for the newest items; on
// the same items in random order it picks none.
func TestAutoRecency(t *testing.T) {
	const users, items = 400, 60
	build := func(sequential bool) *model.Dataset {
		rng := rand.New(rand.NewPCG(7, 8))
		ds := &model.Dataset{UserPtr: []int{0}}
		for i := range items {
			ds.ItemIDs = append(ds.ItemIDs, strconv.Itoa(i))
		}
		for u := range users {
			ds.UserIDs = append(ds.UserIDs, strconv.Itoa(u))
			// a walk on the ring of items: the next item is the previous
			// one + 1, after a few random items that say nothing
			row := []int32{}
			for range 6 {
				row = append(row, int32(rng.IntN(items)))
			}
			start := rng.IntN(items)
			for k := range 4 {
				row = append(row, int32((start+k)%items))
			}
			if !sequential {
				rng.Shuffle(len(row), func(a, b int) { row[a], row[b] = row[b], row[a] })
			}
			ds.Items = append(ds.Items, row...)
			ds.UserPtr = append(ds.UserPtr, len(ds.Items))
		}
		return ds
	}
	for _, tc := range []struct {
		sequential bool
		want       func(float64) bool
	}{{true, func(r float64) bool { return r > 0 }}, {false, func(r float64) bool { return r == 0 }}} {
		m, _ := itemfilter.New(model.Params{"lambda": 5, "recency": -1})
		modeltest.Fit(t, m, build(tc.sequential))
		if r := m.Params()["recency"]; !tc.want(r) {
			t.Errorf("sequential %v: chose recency %v", tc.sequential, r)
		}
	}
}

// TestIALSPart: with ials_weight w the scores are (1−w)·z(filter) +
// w·z(iALS) of the filter alone and an iALS model of the same data and
// parameters, for known users and fold-in queries, also after a save and
// load; a file claiming a weight without the part is refused.
func TestIALSPart(t *testing.T) {
	s := modeltest.Synthetic()
	n := s.DS.NumItems()
	alone, _ := itemfilter.New(model.Params{"lambda": 20, "ials_weight": 0, "uknn_weight": 0})
	modeltest.Fit(t, alone, s.DS)
	fm, _ := mf.NewIALS(model.Params{"factors": 8})
	modeltest.Fit(t, fm, s.DS)
	for _, w := range []float64{0.3, 1} {
		m, _ := itemfilter.New(model.Params{"lambda": 20, "ials_weight": w, "ials_factors": 8, "uknn_weight": 0})
		modeltest.Fit(t, m, s.DS)
		loaded := reloaded(t, m)
		got, a, b := make([]float32, n), make([]float32, n), make([]float32, n)
		for _, q := range modeltest.Queries(s.DS, 20) {
			alone.Score(q, a)
			fm.Score(q, b)
			blend.Mix(a, b, w)
			for _, mm := range []*itemfilter.Filter{m, loaded} {
				mm.Score(q, got)
				for i := range got {
					if math.Abs(float64(got[i]-a[i])) > 1e-4 {
						t.Fatalf("w %v query %+v item %d: %v, want %v", w, q, i, got[i], a[i])
					}
				}
			}
		}
	}
}

func TestRefusesLargeCatalogue(t *testing.T) {
	s := modeltest.Synthetic()
	m, _ := itemfilter.New(model.Params{"max_items": 100})
	err := m.Fit(t.Context(), s.DS, nil)
	if err == nil || !strings.Contains(err.Error(), "max_items=100") {
		t.Fatalf("err = %v, want a max_items refusal", err)
	}
}

func TestRejectsBadParams(t *testing.T) {
	for _, p := range []model.Params{{"decay": 2}, {"recency": -2}, {"beta": 2}, {"lambda": -1}, {"nonsense": 1}, {"ials_weight": 1.5}, {"ials_factors": 0}} {
		if _, err := itemfilter.New(p); err == nil {
			t.Errorf("New(%v) accepted", p)
		}
	}
}

func TestQuality(t *testing.T) {
	for _, p := range []model.Params{{"lambda": 20}, {"lambda": 20, "gf_weight": 0.5, "gf_k": 16}} {
		s := modeltest.Synthetic()
		m, _ := itemfilter.New(p)
		modeltest.AssertBeatsPopularity(t, m, s, 0.05, modeltest.Known, modeltest.FoldIn)
		modeltest.AssertFoldIn(t, m, s)
		modeltest.AssertSimilarClusters(t, m, s)
		fresh, _ := itemfilter.New(nil)
		modeltest.AssertRoundTrip(t, m, fresh, s.DS)
		modeltest.AssertConcurrentScore(t, m, s.DS)
	}
}

// BenchmarkScore: one fold-in query of 50 items, with the defaults and
// with the user-neighbour part at share 0.1 (what the part costs a query).
func BenchmarkScore(b *testing.B) {
	s := modeltest.SyntheticWith(modeltest.Config{Users: 2000, Items: 3000, Clusters: 20, MinPer: 20, MaxPer: 100, Focus: 0.8, Seed: 3})
	for _, tc := range []struct {
		name string
		p    model.Params
	}{{"defaults", nil}, {"uknn_weight=0.1", model.Params{"uknn_weight": 0.1}}} {
		b.Run(tc.name, func(b *testing.B) {
			m, _ := itemfilter.New(tc.p)
			modeltest.Fit(b, m, s.DS)
			scores := make([]float32, s.DS.NumItems())
			hist := s.DS.Items[:50]
			b.ResetTimer()
			for b.Loop() {
				m.Score(model.Query{User: -1, History: hist}, scores)
			}
		})
	}
}

var _ model.SimilarItems = (*itemfilter.Filter)(nil)

// BenchmarkFit: one fit on 2,000 users × 3,000 items, graph filter included.
func BenchmarkFit(b *testing.B) {
	s := modeltest.SyntheticWith(modeltest.Config{Users: 2000, Items: 3000, Clusters: 20, MinPer: 20, MaxPer: 100, Focus: 0.8, Seed: 3})
	for b.Loop() {
		m, _ := itemfilter.New(nil)
		modeltest.Fit(b, m, s.DS)
	}
}

// TestAdjust: adjusting a fitted model's recency and iALS share scores
// exactly like a model fitted with those settings; anything else, or a
// share without an iALS part, is refused and changes nothing.
func TestAdjust(t *testing.T) {
	s := modeltest.Synthetic()
	n := s.DS.NumItems()
	base := model.Params{"lambda": 20, "ials_factors": 8, "ials_weight": 0.4}
	m, _ := itemfilter.New(base)
	modeltest.Fit(t, m, s.DS)
	g := m.Adjustments()
	if len(g["recency"]) == 0 || len(g["ials_weight"]) == 0 || len(g["pop"]) == 0 {
		t.Fatalf("adjustments %v, want recency, ials_weight and pop", g)
	}
	// the chooser (model/adjust, used by eval and the pipeline) scores every
	// combination only up to adjust.MaxGrid and searches greedily beyond;
	// the grid is sized for it.
	combos := 1
	for name, vs := range g {
		combos *= len(vs)
		for _, v := range vs {
			if err := m.Adjust(model.Params{name: v}); err != nil {
				t.Fatalf("offered %s %v refused: %v", name, v, err)
			}
		}
	}
	if err := m.Adjust(model.Params{"pop": 0}); err != nil {
		t.Fatal(err)
	}
	if combos > adjust.MaxGrid {
		t.Errorf("adjustments %v: %d combinations, more than the chooser scores exhaustively", g, combos)
	}
	set := model.Params{"recency": 4, "decay": 0.75, "ials_weight": 0.6}
	if err := m.Adjust(set); err != nil {
		t.Fatal(err)
	}
	p := model.Params{}
	for k, v := range base {
		p[k] = v
	}
	for k, v := range set {
		p[k] = v
	}
	want, _ := itemfilter.New(p)
	modeltest.Fit(t, want, s.DS)
	if got := m.Params(); got["recency"] != 4 || got["decay"] != 0.75 || got["ials_weight"] != 0.6 {
		t.Errorf("params after Adjust: %v", got)
	}
	a, b := make([]float32, n), make([]float32, n)
	for _, q := range modeltest.Queries(s.DS, 20) {
		m.Score(q, a)
		want.Score(q, b)
		for i := range a {
			if math.Abs(float64(a[i]-b[i])) > 1e-4 {
				t.Fatalf("query %+v item %d: %v adjusted, %v fitted", q, i, a[i], b[i])
			}
		}
	}
	for _, bad := range []model.Params{{"lambda": 5}, {"recency": -1}, {"recency": 2, "ials_weight": 1.5}, {"decay": 2}} {
		if err := m.Adjust(bad); err == nil {
			t.Errorf("Adjust(%v) accepted", bad)
		}
	}
	if got := m.Params(); got["recency"] != 4 || got["ials_weight"] != 0.6 {
		t.Errorf("a refused Adjust changed the model: %v", got)
	}
	plain, _ := itemfilter.New(model.Params{"lambda": 20, "ials_weight": 0})
	modeltest.Fit(t, plain, s.DS)
	if _, ok := plain.Adjustments()["ials_weight"]; ok {
		t.Error("ials_weight offered without an iALS part")
	}
	if err := plain.Adjust(model.Params{"ials_weight": 0.5}); err == nil {
		t.Error("ials_weight accepted without an iALS part")
	}
}

// TestPop: with pop p the scores are z(scores with pop 0) − p·z(log(1+d)),
// d the item's weighted training count, for known users and fold-in queries, whether
// p is set at construction, by Adjust or survives a save and load; a
// positive p moves popular items down the ranking, a negative one up.
func TestPop(t *testing.T) {
	s := modeltest.Synthetic()
	n := s.DS.NumItems()
	deg := make([]float64, n) // weighted, as the model counts with use_weights 1
	for j, it := range s.DS.Items {
		x := 1.0
		if s.DS.Weights != nil {
			x = float64(s.DS.Weights[j])
		}
		deg[it] += x
	}
	zlog := make([]float64, n)
	mean := 0.0
	for i, d := range deg {
		zlog[i] = math.Log1p(d)
		mean += zlog[i] / float64(n)
	}
	sd := 0.0
	for _, v := range zlog {
		sd += (v - mean) * (v - mean) / float64(n)
	}
	sd = math.Sqrt(sd)
	for i := range zlog {
		zlog[i] = (zlog[i] - mean) / sd
	}
	for _, ialsW := range []float64{0, 0.4} {
		base := model.Params{"lambda": 20, "ials_factors": 8, "ials_weight": ialsW}
		plain, _ := itemfilter.New(base)
		modeltest.Fit(t, plain, s.DS)
		for _, p := range []float64{0.5, -0.5} {
			withP := model.Params{"pop": p}
			for k, v := range base {
				withP[k] = v
			}
			fitted, _ := itemfilter.New(withP)
			modeltest.Fit(t, fitted, s.DS)
			loaded := reloaded(t, fitted)
			adjusted, _ := itemfilter.New(base)
			modeltest.Fit(t, adjusted, s.DS)
			if err := adjusted.Adjust(model.Params{"pop": p}); err != nil {
				t.Fatal(err)
			}
			if got := adjusted.Params()["pop"]; got != p {
				t.Errorf("pop after Adjust: %v, want %v", got, p)
			}
			ref, got := make([]float32, n), make([]float32, n)
			popularTop, popularTopRef := 0.0, 0.0
			for _, q := range modeltest.Queries(s.DS, 20) {
				plain.Score(q, ref)
				zref := make([]float64, n)
				m := 0.0
				for i, v := range ref {
					zref[i] = float64(v)
					m += float64(v) / float64(n)
				}
				v2 := 0.0
				for _, v := range zref {
					v2 += (v - m) * (v - m) / float64(n)
				}
				for i := range zref {
					zref[i] = (zref[i]-m)/math.Sqrt(v2) - p*zlog[i]
				}
				for name, mm := range map[string]*itemfilter.Filter{"fitted": fitted, "loaded": loaded, "adjusted": adjusted} {
					mm.Score(q, got)
					for i := range got {
						if math.Abs(float64(got[i])-zref[i]) > 1e-3 {
							t.Fatalf("ials %v pop %v %s query %+v item %d: %v, want %v", ialsW, p, name, q, i, got[i], zref[i])
						}
					}
				}
				popularTop += deg[argmax(got)]
				popularTopRef += deg[argmax(ref)]
			}
			if p > 0 && !(popularTop < popularTopRef) || p < 0 && !(popularTop > popularTopRef) {
				t.Errorf("ials %v pop %v: top items' summed degree %v, %v without", ialsW, p, popularTop, popularTopRef)
			}
		}
	}
	m, _ := itemfilter.New(nil)
	for _, bad := range []float64{11, -11, math.NaN()} {
		if err := m.Adjust(model.Params{"pop": bad}); err == nil {
			t.Errorf("Adjust(pop %v) accepted", bad)
		}
		if _, err := itemfilter.New(model.Params{"pop": bad}); err == nil {
			t.Errorf("New(pop %v) accepted", bad)
		}
	}
}

func argmax(s []float32) int {
	best := 0
	for i, v := range s {
		if v > s[best] {
			best = i
		}
	}
	return best
}

// reloaded is m saved and loaded into a new Filter.
func reloaded(t *testing.T, m *itemfilter.Filter) *itemfilter.Filter {
	t.Helper()
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	loaded, _ := itemfilter.New(nil)
	if err := loaded.Load(&buf); err != nil {
		t.Fatal(err)
	}
	return loaded
}
