package related

import "strings"

// basketKinds count the shop's baskets by the leaves of their items and
// by the leaves' parents.
type basketKinds struct {
	leaf, parent     []int32 // per item, per leaf
	byLeaf, byParent *kindCounts
}

func newBasketKinds(c *content) *basketKinds {
	return &basketKinds{leaf: c.leaf, parent: leafParents(c.leafNames), byLeaf: newKindCounts(), byParent: newKindCounts()}
}

// add counts one basket of distinct items.
func (bk *basketKinds) add(items []int32) {
	bk.byLeaf.add(items, func(i int32) int32 { return bk.leaf[i] })
	bk.byParent.add(items, func(i int32) int32 {
		if l := bk.leaf[i]; l >= 0 {
			return bk.parent[l]
		}
		return -1
	})
}

// goesWith is the set of pairs of different leaves (smaller number first)
// that the baskets hold together at least once and no less often than
// chance, the lift shrunk toward the lift of the leaves' parents (itself
// shrunk toward 1), so that a basket or two holding a rare pair say little
// unless their branches go together.
func (bk *basketKinds) goesWith() map[[2]int32]bool {
	out := map[[2]int32]bool{}
	for p := range bk.byLeaf.pairs {
		l, m := p[0], p[1]
		if l == m {
			continue
		}
		prior := 1.0
		if pl, pm := bk.parent[l], bk.parent[m]; pl >= 0 && pm >= 0 && pl != pm {
			prior = bk.byParent.lift(pl, pm, 1)
		}
		if bk.byLeaf.lift(l, m, prior) >= 1 {
			out[p] = true
		}
	}
	return out
}

// kindCounts count, over the shop's baskets, the pairs of items held in
// one basket by the kinds of the two (leaf categories, or their parents),
// to tell how much more often than chance a basket holds an item of kind
// l with one of kind m (decision 0084).
type kindCounts struct {
	pairs map[[2]int32]float64 // item pairs in one basket by kinds (smaller first)
	slots map[int32]float64    // items in baskets by kind
	items float64              // items in baskets that have a kind
	total float64              // item pairs in one basket, both with a kind
}

func newKindCounts() *kindCounts {
	return &kindCounts{pairs: map[[2]int32]float64{}, slots: map[int32]float64{}}
}

// add counts one basket of distinct items whose kinds kind gives (-1 for
// none).
func (k *kindCounts) add(bk []int32, kind func(int32) int32) {
	for x, i := range bk {
		l := kind(i)
		if l < 0 {
			continue
		}
		k.slots[l]++
		k.items++
		for _, j := range bk[x+1:] {
			if m := kind(j); m >= 0 {
				k.pairs[[2]int32{min(l, m), max(l, m)}]++
				k.total++
			}
		}
	}
}

// lift is the lift of kinds l ≠ m meeting in a basket, shrunk toward
// prior: (observed + kindPrior·prior) / (expected + kindPrior) item pairs,
// the expected count being what independence predicts from how many
// items of each kind the baskets hold. A pair of kinds the baskets say
// little about says what prior does.
func (k *kindCounts) lift(l, m int32, prior float64) float64 {
	if k.total == 0 {
		return prior
	}
	exp := 2 * k.total * k.slots[l] / k.items * k.slots[m] / k.items
	return (k.pairs[[2]int32{min(l, m), max(l, m)}] + kindPrior*prior) / (exp + kindPrior)
}

// kindPrior is how many expected item pairs the prior lift weighs as.
const kindPrior = 2

// leafParents numbers the parents of the leaves (the category path but
// its last part) and returns each leaf's; -1 for a leaf right under the
// root, whose parent (the whole shop) says nothing of its kind.
func leafParents(leafNames []string) []int32 {
	out := make([]int32, len(leafNames))
	num := map[string]int32{}
	for l, name := range leafNames {
		out[l] = -1
		k := strings.LastIndex(name, "/")
		if k < 0 || !strings.Contains(name[:k], "/") {
			continue
		}
		p, ok := num[name[:k]]
		if !ok {
			p = int32(len(num))
			num[name[:k]] = p
		}
		out[l] = p
	}
	return out
}
