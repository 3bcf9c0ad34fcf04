package itemfilter

import (
	"math"
	"slices"
	"sync"
)

// The user-neighbour part (issue 19 item 6, session 11, docs/decisions/0077):
// a user-based nearest-neighbour score mixed into the filter's at score
// level. The filter and the factor model both see items through item-item
// or low-rank summaries; the k training users whose rows overlap the
// history most (rare shared items counting more) add what users like this
// one took, which neither summary keeps.
//
// A training user v's similarity to a history h is
// Σ_{i ∈ h ∩ r_v} deg_i^-uknnGamma · |r_v|^-uknnBeta (cosine up to the
// history's own constant when uknnGamma is 0); the k most similar users
// other than the querying one vote for each item of their rows with their
// similarity, and the votes are multiplied by deg_j^-uknnDelta. Rows are
// read as 0/1 (weights do not enter). The exponents were chosen on the
// ML-1M validation split (docs/benchmarks.md "Research numbers (session
// 11, ml11)") and are constants: what varies between shops is the share,
// uknn_weight.
const (
	uknnBeta  = 0.5
	uknnGamma = 0.25
	uknnDelta = 0.1
)

// DefaultUKNNWeight is the default share of the user-neighbour part: 0,
// off (decision 0077: share 0.1 gained on ML-1M's validation split, best
// of about 50 cells, nothing on any test split, for 13 % more time a
// query). DefaultUKNNK is its neighbour count when a share is set.
const (
	DefaultUKNNWeight = 0
	DefaultUKNNK      = 50
)

// maxUKNNK bounds uknn_k (also when a file is loaded).
const maxUKNNK = 10000

// userIndex is the training rows seen from the items (each item's users)
// with the per-user and per-item factors of the neighbour score. It is
// built from the state by Fit and Load and not saved.
type userIndex struct {
	colPtr  []int
	colUser []int32
	inW     []float32 // deg_i^-uknnGamma
	outW    []float32 // deg_j^-uknnDelta
	userW   []float32 // |r_v|^-uknnBeta
	pool    sync.Pool // *[]float32 of one overlap per user
}

// newUserIndex builds the index of st's training rows (nil without users).
func newUserIndex(st state) *userIndex {
	nu := len(st.UserPtr) - 1
	if nu <= 0 || st.N == 0 {
		return nil
	}
	n := st.N
	deg := make([]int, n)
	for _, it := range st.Items {
		deg[it]++
	}
	x := &userIndex{colPtr: make([]int, n+1), inW: make([]float32, n), outW: make([]float32, n), userW: make([]float32, nu)}
	for i, d := range deg {
		x.colPtr[i+1] = x.colPtr[i] + d
		if d > 0 {
			x.inW[i] = float32(math.Pow(float64(d), -uknnGamma))
			x.outW[i] = float32(math.Pow(float64(d), -uknnDelta))
		}
	}
	x.colUser = make([]int32, len(st.Items))
	fill := slices.Clone(x.colPtr[:n])
	for u := range nu {
		lo, hi := st.UserPtr[u], st.UserPtr[u+1]
		if hi > lo {
			x.userW[u] = float32(math.Pow(float64(hi-lo), -uknnBeta))
		}
		for _, it := range st.Items[lo:hi] {
			x.colUser[fill[it]] = int32(u)
			fill[it]++
		}
	}
	x.pool.New = func() any {
		s := make([]float32, nu)
		return &s
	}
	return x
}

type neighbour struct {
	u int32
	s float32
}

// score writes the neighbour votes for hist (self: the querying training
// user, or -1) into out (length n, cleared first); k neighbours at most.
func (x *userIndex) score(st *state, hist []int32, self int32, k int, out []float32) {
	clear(out)
	n := st.N
	k = min(k, len(x.userW))
	if k <= 0 || len(hist) == 0 {
		return
	}
	p := x.pool.Get().(*[]float32)
	ov := *p
	var touched []int32
	for _, h := range hist {
		if h < 0 || int(h) >= n {
			continue
		}
		w := x.inW[h]
		for _, v := range x.colUser[x.colPtr[h]:x.colPtr[h+1]] {
			if ov[v] == 0 {
				touched = append(touched, v)
			}
			ov[v] += w
		}
	}
	top := make([]neighbour, 0, k)
	for _, v := range touched {
		o := ov[v]
		ov[v] = 0
		if v == self {
			continue
		}
		s := o * x.userW[v]
		if len(top) == k && s <= top[k-1].s {
			continue
		}
		if len(top) < k {
			top = append(top, neighbour{v, s})
		} else {
			top[k-1] = neighbour{v, s}
		}
		for a := len(top) - 1; a > 0 && top[a].s > top[a-1].s; a-- {
			top[a], top[a-1] = top[a-1], top[a]
		}
	}
	x.pool.Put(p)
	for _, t := range top {
		for _, it := range st.Items[st.UserPtr[t.u]:st.UserPtr[t.u+1]] {
			out[it] += t.s
		}
	}
	for j := range out[:n] {
		out[j] *= x.outW[j]
	}
}
