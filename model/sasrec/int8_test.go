package sasrec_test

import (
	"bytes"
	"context"
	"math"
	"slices"
	"testing"

	"github.com/aisle-dev/aisle/ann"
	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/modeltest"
	"github.com/aisle-dev/aisle/model/sasrec"
)

// TestInt8Serving: the same fitted weights served in int8 rank nearly as
// the float32 model does, take under half the memory, save and load as the
// same int8 model, and score concurrently.
func TestInt8Serving(t *testing.T) {
	f32, q8, train, c := fitFloatAndInt8(t, 3)
	n := train.NumItems()
	// the float32 table is 4·d bytes an item, the int8 one d+4
	if got, was := q8.Bytes(), f32.Bytes(); float64(was-got) < 0.7*float64(4*n*c.Dim) {
		t.Errorf("int8 model holds %d bytes, float32 %d: want at least 70%% of the %d-byte item table saved", got, was, 4*n*c.Dim)
	}
	a, b := make([]float32, n), make([]float32, n)
	top := func(s []float32) []int {
		idx := make([]int, len(s))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(x, y int) int { return cmpDesc(s[x], s[y]) })
		return idx[:10]
	}
	var overlap, users float64
	for u := 0; u < train.NumUsers(); u += 7 {
		q := model.Query{User: int32(u)}
		f32.Score(q, a)
		q8.Score(q, b)
		ta, tb := top(a), top(b)
		for _, i := range ta {
			if slices.Contains(tb, i) {
				overlap++
			}
		}
		users++
		var scale float64
		for i := range a {
			scale = max(scale, math.Abs(float64(a[i])))
		}
		for i := range a {
			if d := math.Abs(float64(a[i] - b[i])); d > 0.05*scale {
				t.Fatalf("user %d item %d: float32 %v, int8 %v (largest score %v)", u, i, a[i], b[i], scale)
			}
		}
	}
	if r := overlap / (10 * users); r < 0.8 {
		t.Errorf("top-10 overlap of int8 with float32 = %.2f, want ≥ 0.8", r)
	}
	fresh, _ := sasrec.New(c)
	modeltest.AssertRoundTrip(t, q8, fresh, train)
	modeltest.AssertConcurrentScore(t, q8, train)
	if d, v := q8.ItemVectors(); d != c.Dim || len(v) != n*d {
		t.Errorf("int8 ItemVectors: dim %d, %d values", d, len(v))
	}
}

func cmpDesc(x, y float32) int {
	switch {
	case x > y:
		return -1
	case x < y:
		return 1
	}
	return 0
}

// TestUserEmbedder: the sequence model is a model.UserEmbedder — the user
// vector's dot product with the item vectors is Score — so a large
// catalogue is served through the ann index; an int8 IVF re-ranked by the
// model's own int8 scores (ItemScore) returns Score's top 10.
func TestUserEmbedder(t *testing.T) {
	f32, q8, train, c := fitFloatAndInt8(t, 2)
	var _ model.UserEmbedder = f32
	n := train.NumItems()
	for _, tc := range []struct {
		name string
		m    *sasrec.Model
		tol  float64 // of the largest score
	}{{"float32", f32, 1e-4}, {"int8", q8, 0.02}} {
		t.Run(tc.name, func(t *testing.T) {
			d, vecs := tc.m.ItemVectors()
			x, err := ann.BuildIVF(context.Background(), d, vecs, ann.IVFOptions{Seed: 1, Quant: ann.Int8, Lists: 8, NProbe: 8}, nil)
			if err != nil {
				t.Fatal(err)
			}
			x.SetRescore(tc.m.ItemScore)
			scores, v := make([]float32, n), make([]float32, d)
			var same, total float64
			for u := 0; u < train.NumUsers(); u += 5 {
				q := model.Query{User: int32(u)}
				tc.m.Score(q, scores)
				if !tc.m.UserVector(q, v) {
					t.Fatalf("user %d: no user vector", u)
				}
				var top float64
				for _, sc := range scores {
					top = max(top, math.Abs(float64(sc)))
				}
				for j := 0; j < n; j++ {
					if got := tc.m.ItemScore(v, int32(j)); math.Abs(float64(got-scores[j])) > tc.tol*top {
						t.Fatalf("user %d item %d: ItemScore %v, Score %v", u, j, got, scores[j])
					}
				}
				want := topIndices(scores, 10)
				for _, h := range x.Search(v, 10, nil) {
					if slices.Contains(want, int(h.Index)) {
						same++
					}
				}
				total += 10
			}
			if r := same / total; r < 0.9 {
				t.Errorf("index top 10 shares %.2f with Score's, want ≥ 0.9", r)
			}
		})
	}
	if q8.UserVector(model.Query{User: -1}, make([]float32, c.Dim)) {
		t.Error("a query without history or user has a user vector")
	}
}

func topIndices(s []float32, k int) []int {
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(x, y int) int { return cmpDesc(s[x], s[y]) })
	return idx[:k]
}

// fitFloatAndInt8 fits a small model for epochs on the synthetic set's
// training split and loads its weights into an int8 model; c is the int8
// model's configuration.
func fitFloatAndInt8(t *testing.T, epochs int) (f32, q8 *sasrec.Model, train *model.Dataset, c sasrec.Config) {
	t.Helper()
	train, _ = modeltest.LeaveLastOut(modeltest.Synthetic().DS)
	c = newSmall(t).Config()
	c.Epochs = epochs
	f32, err := sasrec.New(c)
	if err != nil {
		t.Fatal(err)
	}
	modeltest.Fit(t, f32, train)
	var buf bytes.Buffer
	if err := f32.Save(&buf); err != nil {
		t.Fatal(err)
	}
	c.Int8 = true
	q8, _ = sasrec.New(c)
	if err := q8.Load(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	return f32, q8, train, c
}
