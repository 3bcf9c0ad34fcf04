package topk

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// reference selects by sorting everything: the obviously right answer.
func reference(scores []float32, k int, allow func(int32) bool, positive bool) []Hit[int32, float32] {
	var all []Hit[int32, float32]
	for i, v := range scores {
		if math.IsNaN(float64(v)) || (positive && v <= 0) || (allow != nil && !allow(int32(i))) {
			continue
		}
		all = append(all, Hit[int32, float32]{int32(i), v})
	}
	slices.SortFunc(all, func(a, b Hit[int32, float32]) int {
		if a.Score != b.Score {
			if a.Score > b.Score {
				return -1
			}
			return 1
		}
		return int(a.Index - b.Index)
	})
	return all[:min(max(k, 0), len(all))]
}

func TestSelectMatchesFullSort(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for trial := range 300 {
		n := r.IntN(200)
		scores := make([]float32, n)
		for i := range scores {
			switch r.IntN(10) {
			case 0:
				scores[i] = float32(math.NaN())
			case 1, 2, 3:
				scores[i] = float32(r.IntN(4) - 1) // many ties, some ≤ 0
			default:
				scores[i] = r.Float32()*2 - 0.5
			}
		}
		k := r.IntN(30) - 2
		var allow func(int32) bool
		if trial%3 == 0 {
			allow = func(i int32) bool { return i%4 != 1 }
		}
		positive := trial%2 == 0
		got := Select(scores, k, allow, positive)
		want := reference(scores, k, allow, positive)
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("trial %d (n=%d k=%d positive=%v): got %v, want %v", trial, n, k, positive, got, want)
		}
	}
}

func TestTies(t *testing.T) {
	tests := []struct {
		name   string
		scores []float64
		k      int
		want   []int32
	}{
		{"ties by lower index", []float64{1, 1, 1, 1}, 2, []int32{0, 1}},
		{"a later higher score evicts the higher index of a tie", []float64{1, 1, 2}, 2, []int32{2, 0}},
		{"negative and zero scores rank", []float64{-1, 0, -2}, 3, []int32{1, 0, 2}},
		{"infinities rank", []float64{math.Inf(-1), math.Inf(1), 0}, 3, []int32{1, 2, 0}},
		{"NaN never ranks", []float64{math.NaN(), 1, math.NaN()}, 3, []int32{1}},
		{"k = 0 keeps nothing", []float64{1, 2}, 0, nil},
		{"k larger than the input", []float64{3, 1, 2}, 10, []int32{0, 2, 1}},
	}
	for _, tc := range tests {
		var got []int32
		for _, h := range Select(tc.scores, tc.k, nil, false) {
			got = append(got, h.Index)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestAllowAskedOnlyForEntrants(t *testing.T) {
	scores := []float32{5, 4, 3, 2, 1, 9}
	var asked []int32
	got := Select(scores, 2, func(i int32) bool { asked = append(asked, i); return i != 1 }, false)
	// 0 and 1 are asked (the heap is not full); 2 is asked when 1 was
	// refused; 3 and 4 cannot beat {5, 3}; 5 beats them.
	if want := []int32{0, 1, 2, 5}; !slices.Equal(asked, want) {
		t.Errorf("allow asked about %v, want %v", asked, want)
	}
	if want := []Hit[int32, float32]{{5, 9}, {0, 5}}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestHeapMinAndReset(t *testing.T) {
	if f := New[uint32, float64](0).Floor(); !math.IsInf(f, 1) {
		t.Errorf("Floor with k = 0 is %v, want +Inf (nothing enters)", f)
	}
	h := New[uint32, float64](2)
	if _, ok := h.Min(); ok {
		t.Fatal("Min of an empty heap reported a hit")
	}
	if f := h.Floor(); !math.IsInf(f, -1) {
		t.Errorf("Floor of a heap with room is %v, want -Inf", f)
	}
	for i, s := range []float64{0.5, 0.9, 0.7, 0.1} {
		h.Push(uint32(i), s)
	}
	if m, _ := h.Min(); m != (Hit[uint32, float64]{2, 0.7}) || !h.Full() || h.Len() != 2 {
		t.Errorf("Min = %v full=%v len=%d, want {2 0.7} full len 2", m, h.Full(), h.Len())
	}
	if f := h.Floor(); f != 0.7 {
		t.Errorf("Floor of a full heap = %v, want its worst score 0.7", f)
	}
	if h.Push(3, 0.7) {
		t.Error("a tie with a higher index than the root entered")
	}
	if !h.Push(0, 0.7) {
		t.Error("a tie with a lower index than the root did not enter")
	}
	buf := h.Sorted()
	if want := []Hit[uint32, float64]{{1, 0.9}, {0, 0.7}}; !slices.Equal(buf, want) {
		t.Errorf("Sorted = %v, want %v", buf, want)
	}
	if h.Len() != 0 {
		t.Errorf("Len after Sorted = %d, want 0", h.Len())
	}
	h.Reset(1, buf)
	h.Push(4, 1)
	h.Push(5, 2)
	if got := h.Sorted(); len(got) != 1 || got[0] != (Hit[uint32, float64]{5, 2}) || &got[0] != &buf[0] {
		t.Errorf("after Reset(1, buf): %v (reused storage: %v)", got, len(got) > 0 && &got[0] == &buf[0])
	}
}

// BenchmarkSelect selects the top 20 of an ML-1M-sized catalogue (3,043
// items) and the top 100 of 100,000, the shapes of eval and ann.
func BenchmarkSelect(b *testing.B) {
	for _, c := range []struct {
		name string
		n, k int
	}{{"3043/20", 3043, 20}, {"100000/100", 100_000, 100}} {
		r := rand.New(rand.NewPCG(1, 1))
		scores := make([]float32, c.n)
		for i := range scores {
			scores[i] = r.Float32()
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				Select(scores, c.k, nil, false)
			}
		})
		b.Run(c.name+"/push-only", func(b *testing.B) {
			// Push on every score, without the Floor test: what a caller
			// pays for not rejecting inline.
			h := New[int32, float32](c.k)
			var buf []Hit[int32, float32]
			for b.Loop() {
				h.Reset(c.k, buf)
				for i, s := range scores {
					h.Push(int32(i), s)
				}
				buf = h.Sorted()
			}
		})
	}
}
