package eval

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"github.com/aisle-dev/aisle/model"
)

// Split is one train/evaluate pair: a training Dataset and the held-out cases
// to score a model fitted on it. A format yields one Split per fold, plus the
// validation Split used by tuning.
type Split struct {
	Name  string         // "fold 1", "test", "validation"…
	Train *model.Dataset // what the model is fitted on
	Cases []Case         // one per evaluated user
	// Full is true when ranking is over all items (candidates nil in Cases,
	// history excluded); false for sampled-candidate protocols.
	Full bool
	// AlsoFull asks, for sampled splits, to also rank over all items (keys
	// suffixed ":all"), excluding Case.Exclude.
	AlsoFull bool
}

// Case is one user's held-out targets.
type Case struct {
	User int32 // index in Split.Train
	// History is passed to the model as Query.History (oldest first): the
	// training row plus, where the protocol says so, the validation item.
	History []int32
	// Exclude are the items never ranked in full ranking (the training row
	// and any validation items the protocol removes); sorted not required.
	Exclude []int32
	Targets []int32 // relevant held-out items
	// Candidates, for sampled protocols, are the items the (single) target
	// is ranked against (negatives, possibly with repeats); nil for full ranking.
	Candidates []int32
	// Ratings are the true ratings of Targets, for rating prediction.
	Ratings []float32
}

// interaction is one parsed row before indexing.
type interaction struct {
	user, item int32
	time       int64
	value      float32
	seq        int // file order, to keep ties stable
}

// idMap assigns dense indices to external ids in order of first sight.
type idMap struct {
	ids   []string
	index map[string]int32
}

func newIDMap() *idMap { return &idMap{index: map[string]int32{}} }

func (m *idMap) get(id string) int32 {
	if i, ok := m.index[id]; ok {
		return i
	}
	i := int32(len(m.ids))
	m.index[id] = i
	m.ids = append(m.ids, id)
	return i
}

func (m *idMap) lookup(id string) (int32, bool) {
	i, ok := m.index[id]
	return i, ok
}

// buildDataset builds a CSR Dataset over all users and items of the maps from
// the given interactions, each row in time order (file order for ties).
// withTimes / withRatings keep those columns.
func buildDataset(users, items *idMap, rows []interaction, withTimes, withRatings bool) *model.Dataset {
	nu := len(users.ids)
	sorted := append([]interaction(nil), rows...)
	slices.SortFunc(sorted, func(x, y interaction) int {
		if c := cmp.Compare(x.user, y.user); c != 0 {
			return c
		}
		return byTime(x, y)
	})
	ds := &model.Dataset{
		UserIDs: append([]string(nil), users.ids...),
		ItemIDs: append([]string(nil), items.ids...),
		UserPtr: make([]int, nu+1),
		Items:   make([]int32, len(sorted)),
	}
	if withTimes {
		ds.Times = make([]int64, len(sorted))
	}
	if withRatings {
		ds.Ratings = make([]float32, len(sorted))
	}
	for i, r := range sorted {
		ds.UserPtr[r.user+1]++
		ds.Items[i] = r.item
		if withTimes {
			ds.Times[i] = r.time
		}
		if withRatings {
			ds.Ratings[i] = r.value
		}
	}
	for u := 0; u < nu; u++ {
		ds.UserPtr[u+1] += ds.UserPtr[u]
	}
	return ds
}

// groupByUser returns, per user index, the interactions in rows (time order,
// then file order).
func groupByUser(nUsers int, rows []interaction) [][]interaction {
	out := make([][]interaction, nUsers)
	for _, r := range rows {
		out[r.user] = append(out[r.user], r)
	}
	for _, rs := range out {
		slices.SortFunc(rs, byTime)
	}
	return out
}

// byTime orders interactions by time, then file order (seq is unique, so
// the order is total and sorting is deterministic).
func byTime(x, y interaction) int {
	if c := cmp.Compare(x.time, y.time); c != 0 {
		return c
	}
	return cmp.Compare(x.seq, y.seq)
}

// casesFromRows turns held-out rows into one Case per user with targets, with
// the user's training row as history and exclusion.
func casesFromRows(train *model.Dataset, test []interaction, withRatings bool) []Case {
	byUser := groupByUser(train.NumUsers(), test)
	var cases []Case
	for u, rs := range byUser {
		if len(rs) == 0 {
			continue
		}
		row := train.Row(u)
		c := Case{User: int32(u), History: row, Exclude: row}
		seen := map[int32]bool{}
		for _, it := range row {
			seen[it] = true // a target already trained on can never be ranked
		}
		for _, r := range rs {
			if withRatings {
				c.Targets = append(c.Targets, r.item)
				c.Ratings = append(c.Ratings, r.value)
				continue
			}
			if seen[r.item] {
				continue
			}
			seen[r.item] = true
			c.Targets = append(c.Targets, r.item)
		}
		if len(c.Targets) > 0 {
			cases = append(cases, c)
		}
	}
	return cases
}

// atoi64 parses a decimal integer.
func atoi64(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not an integer: %q", s)
	}
	return v, nil
}
