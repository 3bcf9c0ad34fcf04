package blend_test

import (
	"bytes"
	"context"
	"math"
	"testing"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/blend"
	"github.com/aisle-dev/aisle/model/zoo"
)

func TestMix(t *testing.T) {
	inf := float32(math.Inf(-1))
	nan := float32(math.NaN())
	tests := []struct {
		name string
		a, b []float32
		w    float64
		want []float32
	}{
		// z(a) = [-1, 1] (mean 2, sd 1), z(b) = [1, -1]; z([10, 0, 5]) = [√1.5, −√1.5, 0]
		{"a alone", []float32{1, 3}, []float32{10, 0}, 0, []float32{-1, 1}},
		{"b alone", []float32{1, 3}, []float32{10, 0}, 1, []float32{1, -1}},
		{"quarter of b", []float32{1, 3}, []float32{10, 0}, 0.25, []float32{-0.5, 0.5}},
		{"constant part adds nothing", []float32{1, 3}, []float32{5, 5}, 0.5, []float32{-0.5, 0.5}},
		{"unrankable stays unrankable", []float32{1, 3, inf}, []float32{10, 0, 5}, 0.5, []float32{0.5 * (-1 + 1.2247449), 0.5 * (1 - 1.2247449), inf}},
		{"unrankable in b", []float32{1, 3, 2}, []float32{10, 0, nan}, 0, []float32{-1.2247449, 1.2247449, nan}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := append([]float32(nil), tc.a...)
			blend.Mix(a, tc.b, tc.w)
			for i := range a {
				g, w := float64(a[i]), float64(tc.want[i])
				if math.IsNaN(w) != math.IsNaN(g) || (!math.IsNaN(w) && math.Abs(g-w) > 1e-5 && !(math.IsInf(w, -1) && math.IsInf(g, -1))) {
					t.Fatalf("Mix = %v, want %v", a, tc.want)
				}
			}
		})
	}
}

// parts fits two real models on a small dataset.
func parts(t testing.TB) (*model.Dataset, model.Model, model.Model) {
	ds := &model.Dataset{
		UserIDs: []string{"u", "v", "w"}, ItemIDs: []string{"a", "b", "c", "d"},
		UserPtr: []int{0, 3, 5, 7},
		Items:   []int32{0, 1, 2, 0, 3, 1, 2},
	}
	a, err := zoo.New("itemknn", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := zoo.New("popular", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []model.Model{a, b} {
		if err := m.Fit(context.Background(), ds, nil); err != nil {
			t.Fatal(err)
		}
	}
	return ds, a, b
}

func TestJoinScoreSaveLoad(t *testing.T) {
	ds, a, b := parts(t)
	m, err := blend.Join(a, nil, b, nil, 0.3, zoo.New)
	if err != nil {
		t.Fatal(err)
	}
	q := model.Query{User: 0, History: ds.Row(0)}
	want := make([]float32, ds.NumItems())
	a.Score(q, want)
	other := make([]float32, ds.NumItems())
	b.Score(q, other)
	blend.Mix(want, other, 0.3)
	got := make([]float32, ds.NumItems())
	m.Score(q, got)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("Score = %v, want the mix of the parts %v", got, want)
		}
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	re, err := zoo.New(blend.Name, m.Params())
	if err != nil {
		t.Fatal(err)
	}
	if err := re.Load(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	again := make([]float32, ds.NumItems())
	re.Score(q, again)
	for i := range got {
		if again[i] != got[i] {
			t.Fatalf("after Save/Load Score = %v, want %v", again, got)
		}
	}
	if pa, pb, w := re.(*blend.Blend).Parts(); pa != "itemknn" || pb != "popular" || w != 0.3 {
		t.Fatalf("Parts = %s, %s, %v", pa, pb, w)
	}
}

func TestRefuses(t *testing.T) {
	ds, a, b := parts(t)
	if _, err := blend.Join(a, nil, nil, nil, 0.5, zoo.New); err == nil {
		t.Error("Join with one part accepted")
	}
	if _, err := blend.Join(a, nil, b, nil, 1.5, zoo.New); err == nil {
		t.Error("weight 1.5 accepted")
	}
	m, _ := blend.New(nil, zoo.New)
	if err := m.Fit(context.Background(), ds, nil); err == nil {
		t.Error("Fit of a whole blend accepted")
	}
	if err := m.Save(&bytes.Buffer{}); err == nil {
		t.Error("Save of an empty blend accepted")
	}
	if _, err := blend.New(model.Params{"weight": 2}, zoo.New); err == nil {
		t.Error("parameter weight=2 accepted")
	}
	if err := m.Load(bytes.NewReader([]byte("not a blend"))); err == nil {
		t.Error("Load of garbage accepted")
	}
}

// FuzzLoad: Load of arbitrary bytes either fails or yields a blend whose
// Score does not panic.
func FuzzLoad(f *testing.F) {
	ds, a, b := parts(f)
	m, err := blend.Join(a, nil, b, nil, 0.5, zoo.New)
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		m, _ := blend.New(nil, zoo.New)
		if m.Load(bytes.NewReader(data)) == nil {
			m.Score(model.Query{User: 0, History: ds.Row(0)}, make([]float32, ds.NumItems()))
		}
	})
}
