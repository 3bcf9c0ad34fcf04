package related

import (
	"reflect"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
)

// The leaf pairs that go together (decision 0084) over baskets with
// nothing to count, items without a category, leaves with no parent and
// a rare pair across branches the baskets keep apart; lift never divides
// by zero and a table is never nil once counted.
func TestBasketKindsGoesWith(t *testing.T) {
	items := []catalog.Item{
		item("x", "mug", "Shop/Kitchen/Mugs", ""),        // 0, leaf 0
		item("x2", "tea pot", "Shop/Kitchen/Pots", ""),   // 1, leaf 1
		item("y", "tea", "Shop/Food/Tea", ""),            // 2, leaf 2
		item("y2", "biscuits", "Shop/Food/Biscuits", ""), // 3, leaf 3
		item("z", "pan", "Shop/Kitchen/Pans", ""),        // 4, leaf 4
		item("w", "jam", "Shop/Food/Jam", ""),            // 5, leaf 5
		item("r1", "lamp", "Lamps", ""),                  // 6, leaf 6: right under the root
		item("r2", "fan", "Fans", ""),                    // 7, leaf 7: right under the root
		item("n1", "gift card", "", ""),                  // 8, no leaf
		item("n2", "gift wrap", "", ""),                  // 9, no leaf
	}
	cfg := Config{}
	cfg.defaults()
	c := buildContent(items, cfg.Analyzer, nil, false)
	if got := leafParents(c.leafNames); !reflect.DeepEqual(got, []int32{0, 0, 1, 1, 0, 1, -1, -1}) {
		t.Fatalf("leaf parents %v", got)
	}
	times := func(n int, bk ...int32) [][]int32 {
		out := make([][]int32, n)
		for k := range out {
			out[k] = bk
		}
		return out
	}
	cat := func(bs ...[][]int32) [][]int32 {
		var out [][]int32
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		baskets [][]int32
		want    map[[2]int32]bool
	}{
		{"no baskets", nil, map[[2]int32]bool{}},
		{"items without a category only", times(3, 8, 9), map[[2]int32]bool{}},
		{"one item with a category", times(3, 0, 8), map[[2]int32]bool{}},
		{"one leaf", times(3, 0, 0), map[[2]int32]bool{}},
		// 1 pair observed, 0.5 expected, prior 1: (1+2)/(0.5+2) = 1.2
		{"one basket of two leaves under the root", times(1, 6, 7, 9), map[[2]int32]bool{{6, 7}: true}},
		// Kitchen×Food: 1 pair of 21, 10.5 expected: (1+2)/(10.5+2) =
		// 0.24; mugs×tea 1 of 0.024 expected: (1+2·0.24)/(0.024+2) =
		// 0.73, where a prior of 1 would give 1.48
		{"a rare pair across branches kept apart", cat(times(10, 1, 4), times(10, 3, 5), times(1, 0, 2)), map[[2]int32]bool{{1, 4}: true, {3, 5}: true}},
		// the same pair where the branches go together
		{"a rare pair across branches bought together", cat(times(10, 1, 5), times(10, 3, 4), times(1, 0, 2)), map[[2]int32]bool{{1, 5}: true, {3, 4}: true, {0, 2}: true}},
	} {
		bk := newBasketKinds(c)
		for _, b := range tc.baskets {
			bk.add(b)
		}
		got := bk.goesWith()
		if got == nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: goes with %v, want %v", tc.name, got, tc.want)
		}
		for l := range int32(len(c.leafNames)) {
			for m := range int32(len(c.leafNames)) {
				if x := bk.byLeaf.lift(l, m, 1); x != x || x < 0 || x > 1e9 {
					t.Errorf("%s: lift of leaves %d and %d is %v", tc.name, l, m, x)
				}
			}
		}
	}
}
