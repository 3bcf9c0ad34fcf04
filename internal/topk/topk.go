// Package topk keeps the k best (index, score) pairs of a stream: a bounded
// min-heap whose root is the worst pair kept, so a candidate that cannot
// enter costs one comparison.
//
// The order is total and deterministic: a higher score ranks first, and
// equal scores rank by the lower index. NaN scores never enter. It is the one
// top-k of the project (ann, eval, model/knn, search, search/ltr and
// recommend select through it).
package topk

import (
	"math"
	"slices"
)

// Score is a score type: a float. NaN never ranks.
type Score interface{ ~float32 | ~float64 }

// Index is an index type: a row, doc or item number.
type Index interface{ ~int32 | ~uint32 | ~int }

// Hit is one kept pair.
type Hit[I Index, S Score] struct {
	Index I
	Score S
}

// Worse reports whether a ranks below b: a lower score, or an equal score
// and a higher index.
func Worse[I Index, S Score](a, b Hit[I, S]) bool {
	return a.Score < b.Score || (a.Score == b.Score && a.Index > b.Index)
}

// Compare orders hits best first, for slices.SortFunc.
func Compare[I Index, S Score](a, b Hit[I, S]) int {
	switch {
	case Worse(b, a):
		return -1
	case Worse(a, b):
		return 1
	}
	return 0
}

// Heap keeps the k best hits pushed into it. The zero value keeps nothing;
// use New or Reset.
type Heap[I Index, S Score] struct {
	k int
	h []Hit[I, S]
}

// New returns a heap that keeps the k best hits (none when k ≤ 0).
func New[I Index, S Score](k int) *Heap[I, S] {
	t := &Heap[I, S]{}
	t.Reset(k, nil)
	return t
}

// Reset empties the heap to keep the k best hits, reusing buf's storage
// when it is large enough (buf may be nil).
func (t *Heap[I, S]) Reset(k int, buf []Hit[I, S]) {
	t.k = max(k, 0)
	if cap(buf) == 0 {
		buf = make([]Hit[I, S], 0, min(t.k, 1024))
	}
	t.h = buf[:0]
}

// K is the number of hits the heap keeps at most.
func (t *Heap[I, S]) K() int { return t.k }

// Len is the number of hits kept.
func (t *Heap[I, S]) Len() int { return len(t.h) }

// Full reports whether k hits are kept: from then on a hit enters only by
// beating Min.
func (t *Heap[I, S]) Full() bool { return len(t.h) >= t.k }

// Min returns the worst hit kept, the one the next entrant replaces; ok is
// false when the heap is empty.
func (t *Heap[I, S]) Min() (h Hit[I, S], ok bool) {
	if len(t.h) == 0 {
		return h, false
	}
	return t.h[0], true
}

// Floor is the score a hit needs at least to enter: the worst kept score
// once the heap is full, else -Inf (+Inf when k = 0). Push costs a call; a caller scanning
// many scores skips those below Floor inline first ("if s < h.Floor()
// { continue }"), leaving ties and NaN to Push.
func (t *Heap[I, S]) Floor() S {
	if len(t.h) < t.k {
		return S(math.Inf(-1))
	}
	if t.k == 0 {
		return S(math.Inf(1))
	}
	return t.h[0].Score
}

// Beats reports whether (i, s) would enter the kept set. NaN never does.
func (t *Heap[I, S]) Beats(i I, s S) bool {
	if len(t.h) < t.k {
		return s == s
	}
	// A full heap compares with its root; NaN compares false and stays out.
	return t.k > 0 && Worse(t.h[0], Hit[I, S]{i, s})
}

// Push offers (i, s) and reports whether it was kept (it may be evicted by
// a later push). NaN is never kept. The common case, a full heap that (i, s)
// does not beat, costs one inlined comparison with the root.
func (t *Heap[I, S]) Push(i I, s S) bool {
	if len(t.h) >= t.k {
		if len(t.h) == 0 || !(s > t.h[0].Score || (s == t.h[0].Score && i < t.h[0].Index)) {
			return false // k = 0, or not better than the worst kept (NaN never is)
		}
	} else if s != s {
		return false
	}
	t.push(Hit[I, S]{i, s})
	return true
}

// push adds a hit known to beat the kept set.
func (t *Heap[I, S]) push(h Hit[I, S]) {
	if len(t.h) < t.k {
		t.h = append(t.h, h)
		j := len(t.h) - 1
		for j > 0 {
			p := (j - 1) / 2
			if !Worse(t.h[j], t.h[p]) {
				break
			}
			t.h[j], t.h[p] = t.h[p], t.h[j]
			j = p
		}
		return
	}
	t.h[0] = h
	j, n := 0, len(t.h)
	for {
		l := 2*j + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && Worse(t.h[r], t.h[l]) {
			c = r
		}
		if !Worse(t.h[c], t.h[j]) {
			break
		}
		t.h[j], t.h[c] = t.h[c], t.h[j]
		j = c
	}
}

// Sorted returns the kept hits best first. It sorts the heap's storage in
// place and empties the heap: the slice is the caller's until the next
// Reset with it.
func (t *Heap[I, S]) Sorted() []Hit[I, S] {
	out := t.h
	slices.SortFunc(out, Compare[I, S])
	t.h = out[:0:0]
	return out
}

// Select returns the n best indexes of scores, best first (ties by the lower
// index). NaN scores are skipped; with positive, so are scores ≤ 0; allow
// (nil: all) is asked only about indexes whose score would enter, so an
// expensive filter runs on few items.
func Select[S Score](scores []S, n int, allow func(int32) bool, positive bool) []Hit[int32, S] {
	t := New[int32, S](n)
	for i, v := range scores {
		if v < t.Floor() || (positive && !(v > 0)) || !t.Beats(int32(i), v) {
			continue
		}
		if allow != nil && !allow(int32(i)) {
			continue
		}
		t.push(Hit[int32, S]{int32(i), v})
	}
	return t.Sorted()
}
