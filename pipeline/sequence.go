package pipeline

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/aisle-dev/aisle/model"
)

// Sequence measures how sequential the interaction data is: whether users
// have histories long enough, in a known time order, and whether that order
// carries information a sequence model can use.
type Sequence struct {
	// Users is how many users have at least SeqMinLen interactions at
	// SeqMinLen or more distinct times (a time-ordered history); Share is
	// their share of all users.
	Users int     `json:"users"`
	Share float64 `json:"share"`
	// OrderSignal is how often the item a user took next is more related to
	// the item they took just before than to a random earlier one of their
	// history (ties count half), over sampled positions: 0.5 means the order
	// tells nothing beyond the set of items, higher means the previous item
	// predicts the next one. Relatedness is co-occurrence (cosine of the
	// items' user sets) counted on a disjoint half of the users, so the
	// measure does not see the sequences it judges.
	OrderSignal float64 `json:"order_signal"`
	// Positions is how many positions OrderSignal was measured on.
	Positions int `json:"positions"`
	// Clocked is the share of the time-ordered users (see Users) whose
	// history is not spaced at one constant step. A loader that has no
	// times posts a file's order one step apart (one interaction a minute
	// per user), so Clocked near 0 says the order is a file's, which may
	// or may not be the order in time; a shop's real times vary. 0 when
	// no user is time-ordered.
	Clocked float64 `json:"clocked"`
}

// Timed reports whether the order is a clock's: most time-ordered users'
// histories are not spaced at a constant step (see Clocked).
func (s Sequence) Timed() bool { return s.Users > 0 && s.Clocked >= minClocked }

// minClocked is the share of users with varied gaps from which the times
// count as real: data loaded without times has none (every history one
// minute a step), a shop's real times nearly all (day-granular reviews:
// the rare shopper with equal gaps).
const minClocked = 0.5

// String renders the measure for people.
func (s Sequence) String() string {
	clock := "times vary"
	if !s.Timed() {
		clock = "constant time steps: a file's order, not a clock's"
	}
	return fmt.Sprintf("%d users (%.0f%%) with ≥%d time-ordered interactions, order signal %.3f over %d positions (0.5 = none), %s (%.0f%% of users)",
		s.Users, 100*s.Share, SeqMinLen, s.OrderSignal, s.Positions, clock, 100*s.Clocked)
}

// SeqMinLen is the history length (at distinct times) a user needs to
// count as sequential.
const SeqMinLen = 5

// seqMaxPositions bounds the positions the order signal samples, and
// seqMaxRefUsers the users its co-occurrence is counted on, so that the
// check takes well under a second on any shop.
const (
	seqMaxPositions = 20000
	seqMaxRefUsers  = 50000
)

// Sequence measures the implicit data (once; later calls return the first
// answer).
func (d *Data) Sequence() Sequence {
	d.seqOnce.Do(func() { d.seq = measureSequence(d.Implicit, 1) })
	return d.seq
}

// seqCache memoises Data.Sequence.
type seqCache struct {
	seqOnce sync.Once
	seq     Sequence
}

// measureSequence computes Sequence on ds (rows in time order, Times set).
func measureSequence(ds *model.Dataset, seed uint64) Sequence {
	var s Sequence
	n := ds.NumUsers()
	if n == 0 {
		return s
	}
	distinctTimes := func(u int) int {
		if ds.Times == nil {
			return 0
		}
		t := ds.Times[ds.UserPtr[u]:ds.UserPtr[u+1]]
		k := 0
		for j := range t {
			if j == 0 || t[j] != t[j-1] {
				k++
			}
		}
		return k
	}
	rng := rand.New(rand.NewPCG(seed, 0x5e9))
	perm := rng.Perm(n)
	// Even positions of the permutation count co-occurrence (the
	// reference), odd ones are judged.
	// stepped: every gap between the user's consecutive distinct times is
	// the same (a loader's invented times)
	stepped := func(u int) bool {
		t := ds.Times[ds.UserPtr[u]:ds.UserPtr[u+1]]
		var gap int64
		for j := 1; j < len(t); j++ {
			if d := t[j] - t[j-1]; d != 0 {
				if gap != 0 && d != gap {
					return false
				}
				gap = d
			}
		}
		return true
	}
	itemUsers := make([][]int32, ds.NumItems())
	var judged []int
	clocked := 0
	for k, u := range perm {
		if distinctTimes(u) >= SeqMinLen {
			s.Users++
			if !stepped(u) {
				clocked++
			}
		}
		if k%2 == 0 {
			if k/2 < seqMaxRefUsers {
				for _, it := range ds.Row(u) {
					itemUsers[it] = append(itemUsers[it], int32(u))
				}
			}
			continue
		}
		judged = append(judged, u)
	}
	s.Share = float64(s.Users) / float64(n)
	if s.Users > 0 {
		s.Clocked = float64(clocked) / float64(s.Users)
	}
	for _, us := range itemUsers {
		slices.Sort(us)
	}
	sim := func(a, b int32) float64 {
		x, y := itemUsers[a], itemUsers[b]
		if len(x) == 0 || len(y) == 0 {
			return 0
		}
		c := 0
		for i, j := 0, 0; i < len(x) && j < len(y); {
			switch {
			case x[i] < y[j]:
				i++
			case x[i] > y[j]:
				j++
			default:
				c++
				i++
				j++
			}
		}
		return float64(c) / math.Sqrt(float64(len(x))*float64(len(y)))
	}
	// Positions t ≥ 2 whose item came strictly after the previous one: is
	// the previous item (t−1) more related to item t than a random item
	// before it (j < t−1, no later than t−1)?
	type pos struct{ u, t int }
	ordered := func(t int) bool { return ds.Times == nil || ds.Times[t] > ds.Times[t-1] }
	total := 0
	for _, u := range judged {
		for t := ds.UserPtr[u] + 2; t < ds.UserPtr[u+1]; t++ {
			if ordered(t) {
				total++
			}
		}
	}
	// keep about seqMaxPositions of them, each with the same chance
	keep := min(1, float64(seqMaxPositions)/float64(max(1, total)))
	cands := make([]pos, 0, min(total, seqMaxPositions+seqMaxPositions/10))
	for _, u := range judged {
		for t := ds.UserPtr[u] + 2; t < ds.UserPtr[u+1]; t++ {
			if ordered(t) && (keep == 1 || rng.Float64() < keep) { // same time: the order is unknown
				cands = append(cands, pos{u, t})
			}
		}
	}
	var wins float64
	for _, p := range cands {
		lo := ds.UserPtr[p.u]
		next, prev := ds.Items[p.t], ds.Items[p.t-1]
		// the random earlier item comes from strictly before the previous
		// one: an item at the same time could as well have come just before
		end := p.t - 1
		if ds.Times != nil {
			for end > lo && ds.Times[end-1] == ds.Times[p.t-1] {
				end--
			}
		}
		if end <= lo {
			continue
		}
		a, b := sim(next, prev), sim(next, ds.Items[lo+rng.IntN(end-lo)])
		switch {
		case a > b:
			wins++
		case a == b:
			wins += 0.5
		}
		s.Positions++
	}
	if s.Positions > 0 {
		s.OrderSignal = wins / float64(s.Positions)
	} else {
		s.OrderSignal = 0.5
	}
	return s
}

// MeasureSequence measures a data set whose rows are in time order (Times
// set; without Times the order is taken as known), with the given sampling
// seed.
func MeasureSequence(ds *model.Dataset, seed uint64) Sequence { return measureSequence(ds, seed) }
