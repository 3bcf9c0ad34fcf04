package related

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/search/analysis"
)

// content holds what the catalogue says about each item: category path,
// brand, attributes and a TF-IDF vector of its title, brand and
// description.
type content struct {
	ids       []string
	pos       map[string]int32
	deleted   []bool // entries with an empty id (never answered)
	leaf      []int32
	path      [][]string // components of the first category path
	brand     []int32
	attrs     [][]string     // sorted "key=value" pairs
	vec       [][]termWeight // each item's strongest terms, by term number
	post      [][]posting    // by term number: the items whose vec holds it
	byLeaf    map[int32][]int32
	leafNames []string
	leafIDs   map[string]int32
	// head is each item's kind as its title names it (the head noun:
	// "calculator" of "TI-30X IIS Scientific Calculator, Black"), by a
	// number of its own, or -1 when the title names none the catalogue
	// confirms (see titleHeads); headNames are the heads by number.
	head      []int32
	headNames []string
	// kinds are, per item, the heads its title's name part holds ("TI-30X
	// IIS Scientific Calculator": scientific, calculator), sorted.
	kinds [][]int32
	// texts is the analysed texts recorded for the snapshot (nil unless
	// the build was asked to keep them); the Index takes it over
	texts *textTable
	// analysed is the number of items whose texts the build analysed
	// (the others' terms came from a snapshot)
	analysed int
}

// termWeight is one term of an item's TF-IDF vector: the term by its
// number in the build (the strings are not kept: 8 bytes a term instead of
// a string header and its bytes per item, 3–4× less at 1M products).
type termWeight struct {
	term int32
	w    float32
}

type posting struct {
	item int32
	w    float32
}

// maxTerms bounds the terms kept per item (the strongest by TF-IDF), and
// maxPosting the items scanned per term when looking for neighbours.
const (
	maxTerms   = 32
	maxPosting = 5000
)

// descriptionWeight is how much a description term counts against a title
// term: descriptions are long and say more about use than about kind.
const descriptionWeight = 0.3

// buildContent builds the content of items. saved, when not nil, is a
// snapshot's analysed texts: an item found in it with the same texts takes
// its terms from it instead of being analysed. keep records the analysed
// texts (content.texts) for the next snapshot.
func buildContent(items []catalog.Item, an *analysis.Analyzer, saved *savedTexts, keep bool) *content {
	n := len(items)
	c := &content{
		ids: make([]string, n), pos: make(map[string]int32, n), deleted: make([]bool, n),
		leaf: make([]int32, n), path: make([][]string, n), brand: make([]int32, n),
		attrs: make([][]string, n), vec: make([][]termWeight, n),
		byLeaf: map[int32][]int32{},
	}
	leaves, brands := map[string]int32{}, map[string]int32{}
	// Terms are numbered as first seen; the term counts of every item are
	// kept as short slices until the document frequencies are known (one
	// map per item would hold several times more at 1M products).
	tn := termNumbers{}
	if saved != nil {
		tn.fromSaved = make([]int32, len(saved.t.names))
		for k := range tn.fromSaved {
			tn.fromSaved[k] = -1
		}
	}
	var rec *textTable
	if keep {
		rec = &textTable{tag: textTag(an), print: make([]uint64, n), off: make([]uint32, 1, n+1)}
	}
	tfs := make([][]termCount, n)
	cnt := map[int32]uint64{} // term → title and brand count <<32 | description count
	addTerms := func(text string, one uint64) {
		for _, t := range an.Terms(text) {
			cnt[tn.named(t)] += one
		}
	}
	for i, it := range items {
		c.ids[i] = it.ID
		c.deleted[i] = it.ID == ""
		c.pos[it.ID] = int32(i)
		c.leaf[i], c.brand[i] = -1, -1
		if len(it.Categories) > 0 && it.Categories[0] != "" {
			l, ok := leaves[it.Categories[0]]
			if !ok {
				l = int32(len(leaves))
				leaves[it.Categories[0]] = l
			}
			c.leaf[i] = l
			c.byLeaf[l] = append(c.byLeaf[l], int32(i))
			c.path[i] = strings.Split(it.Categories[0], "/")
		}
		if b := strings.ToLower(strings.TrimSpace(it.Brand)); b != "" {
			id, ok := brands[b]
			if !ok {
				id = int32(len(brands))
				brands[b] = id
			}
			c.brand[i] = id
		}
		for k, v := range it.Attributes {
			c.attrs[i] = append(c.attrs[i], strings.ToLower(k)+"="+strings.ToLower(fmt.Sprint(v)))
		}
		slices.Sort(c.attrs[i])
		clear(cnt)
		var fp uint64
		if saved != nil && saved.prints != nil {
			fp = saved.prints[i]
		} else if saved != nil || keep {
			fp = textPrint(&it)
		}
		if k, ok := saved.find(i, it.ID, fp); ok {
			t := saved.t
			for j := t.off[k]; j < t.off[k+1]; j++ {
				cnt[tn.saved(t.terms[j], t.names)] = uint64(t.counts[j]>>16)<<32 | uint64(t.counts[j]&0xffff)
			}
		} else {
			c.analysed++
			addTerms(it.Title+" "+it.Brand, 1<<32)
			if it.Description != "" {
				addTerms(it.Description, 1)
			}
		}
		counts := make([]termCount, 0, len(cnt))
		fits := true // every count fits the table's 16 bits
		for t, k := range cnt {
			tn.df[t]++
			// as the occurrences add up: the title and brand ones
			// first, then the description's
			f := float64(k >> 32)
			for range k & math.MaxUint32 {
				f += descriptionWeight
			}
			counts = append(counts, termCount{t, f})
			if rec != nil {
				fits = fits && k>>32 <= 0xffff && k&math.MaxUint32 <= 0xffff
				rec.terms = append(rec.terms, t)
				rec.counts = append(rec.counts, uint32(k>>32)<<16|uint32(k&0xffff))
			}
		}
		tfs[i] = counts
		if rec != nil {
			if fits {
				rec.print[i] = fp
				sortTerms(rec.terms[rec.off[i]:], rec.counts[rec.off[i]:])
			} else {
				rec.terms, rec.counts = rec.terms[:rec.off[i]], rec.counts[:rec.off[i]]
			}
			rec.off = append(rec.off, uint32(len(rec.terms)))
		}
	}
	names, df := tn.names, tn.df
	tn = termNumbers{}
	if rec != nil {
		rec.names = names
		c.texts = rec
	}
	c.head, c.headNames, c.kinds = titleHeads(items, an)
	c.leafIDs = leaves
	c.leafNames = make([]string, len(leaves))
	for name, l := range leaves {
		c.leafNames[l] = name
	}
	c.post = make([][]posting, len(names))
	for i, counts := range tfs {
		v := make([]termWeight, 0, len(counts))
		var norm float64
		for _, tc := range counts {
			w := (1 + math.Log(max(tc.f, 0.5)+0.5)) * math.Log(1+float64(n)/float64(df[tc.term]))
			v = append(v, termWeight{tc.term, float32(w)})
		}
		tfs[i] = nil
		slices.SortFunc(v, func(a, b termWeight) int {
			if c := cmp.Compare(b.w, a.w); c != 0 {
				return c
			}
			return strings.Compare(names[a.term], names[b.term])
		})
		if len(v) > maxTerms {
			v = slices.Clone(v[:maxTerms]) // the longer array goes
		}
		for _, tw := range v {
			norm += float64(tw.w) * float64(tw.w)
		}
		norm = math.Sqrt(norm)
		for k := range v {
			v[k].w = float32(float64(v[k].w) / norm)
			c.post[v[k].term] = append(c.post[v[k].term], posting{int32(i), v[k].w})
		}
		c.vec[i] = v
	}
	for t, ps := range c.post {
		if len(ps) > maxPosting {
			slices.SortFunc(ps, func(a, b posting) int { return cmp.Compare(b.w, a.w) })
			c.post[t] = slices.Clone(ps[:maxPosting])
		}
	}
	return c
}

// termNumbers numbers the terms of a build as first seen.
type termNumbers struct {
	names []string // number → term
	df    []int32  // number → items holding the term
	// byName is built when an item is analysed (a build from a snapshot
	// whose items are all unchanged never needs it)
	byName map[string]int32
	// fromSaved maps a snapshot's term number to this build's (-1: not
	// seen yet)
	fromSaved []int32
}

func (tn *termNumbers) add(t string) int32 {
	id := int32(len(tn.names))
	tn.names = append(tn.names, t)
	tn.df = append(tn.df, 0)
	if tn.byName != nil {
		tn.byName[t] = id
	}
	return id
}

// named is term t's number.
func (tn *termNumbers) named(t string) int32 {
	if tn.byName == nil {
		tn.byName = make(map[string]int32, len(tn.names))
		for id, name := range tn.names {
			tn.byName[name] = int32(id)
		}
	}
	if id, ok := tn.byName[t]; ok {
		return id
	}
	return tn.add(t)
}

// saved is the number of the snapshot's term number st (of names).
func (tn *termNumbers) saved(st int32, names []string) int32 {
	if id := tn.fromSaved[st]; id >= 0 {
		return id
	}
	var id int32
	if tn.byName != nil {
		id = tn.named(names[st])
	} else {
		id = tn.add(names[st]) // the snapshot's names are distinct
	}
	tn.fromSaved[st] = id
	return id
}

// sortTerms sorts an item's recorded terms by number, counts alongside
// (in place: an item has a few terms).
func sortTerms(terms []int32, counts []uint32) {
	for k := 1; k < len(terms); k++ {
		for j := k; j > 0 && terms[j] < terms[j-1]; j-- {
			terms[j], terms[j-1] = terms[j-1], terms[j]
			counts[j], counts[j-1] = counts[j-1], counts[j]
		}
	}
}

// savedTexts is a snapshot's analysed texts and the ids of its items.
type savedTexts struct {
	t   *textTable
	ids []string
	pos map[string]int // built when the orders differ
	// prints, when set, is the fingerprint of each item of the build
	// (computed by Restore to tell whether any item must be analysed)
	prints []uint64
}

// find returns the snapshot's item k holding id with the same texts.
func (s *savedTexts) find(i int, id string, print uint64) (int, bool) {
	if s == nil || id == "" {
		return 0, false
	}
	k := i
	if k >= len(s.ids) || s.ids[k] != id {
		if s.pos == nil {
			s.pos = make(map[string]int, len(s.ids))
			for k, id := range s.ids {
				if id != "" {
					s.pos[id] = k
				}
			}
		}
		var ok bool
		if k, ok = s.pos[id]; !ok {
			return 0, false
		}
	}
	return k, s.t.print[k] != 0 && s.t.print[k] == print
}

// termCount is one term's frequency in an item during buildContent.
type termCount struct {
	term int32
	f    float64
}

func (c *content) sameLeaf(a, j int32) bool { return c.leaf[a] >= 0 && c.leaf[a] == c.leaf[j] }

// kindsMeet reports whether the name parts of a's and j's titles hold a
// kind in common.
func (c *content) kindsMeet(a, j int32) bool {
	if int(a) >= len(c.kinds) || int(j) >= len(c.kinds) {
		return false
	}
	for _, h := range c.kinds[a] {
		if _, ok := slices.BinarySearch(c.kinds[j], h); ok {
			return true
		}
	}
	return false
}

// namesKind reports whether j's title names a kind the catalogue confirms
// (its head, or any kind in its name part).
func (c *content) namesKind(j int32) bool {
	return int(j) < len(c.head) && (c.head[j] >= 0 || len(c.kinds[j]) > 0)
}

// sameHead reports whether the titles of a and j name the same kind.
func (c *content) sameHead(a, j int32) bool {
	return int(a) < len(c.head) && int(j) < len(c.head) && c.head[a] >= 0 && c.head[a] == c.head[j]
}

// headCuts end the part of a title that names the product: what follows
// is its size, colour, pack, maker's number or what it goes with
// ("Calculator Rolls, 2.25 Inches", "Case for TI-84", "Pens (Blue)").
var headCuts = []string{",", "(", "[", " - ", " – ", " -", "|", ";", ":", " with ", " for ", " w/ ", " in "}

// titleHead is the head noun of a title through the analyzer: the last
// term of the part before any of headCuts that is a word (three letters
// or more, no digit: not a model number) and not a term of the brand;
// "" when there is none.
func titleHead(an *analysis.Analyzer, title, brand string) string {
	if ws, _ := nameWords(an, title, an.Terms(brand)); len(ws) > 0 {
		return ws[0]
	}
	return ""
}

// nameWords are the terms of a title's name part (before the first of
// headCuts) that could head it — words, not model numbers, not the
// brand's terms — last first, and all the title's terms. The title is
// analysed once.
func nameWords(an *analysis.Analyzer, title string, brand []string) (name, all []string) {
	s := " " + strings.ToLower(title) + " "
	end := len(s)
	for _, cut := range headCuts {
		if k := strings.Index(s[:end], cut); k > 0 {
			end = k
		}
	}
	toks := an.Analyze(s)
	all = make([]string, len(toks))
	for k := len(toks) - 1; k >= 0; k-- {
		t := toks[k]
		all[k] = t.Term
		if t.End > end || len(t.Term) < 3 || strings.ContainsAny(t.Term, "0123456789") || slices.Contains(brand, t.Term) || slices.Contains(name, t.Term) {
			continue
		}
		name = append(name, t.Term)
	}
	return name, all
}

// minHeadItems and minHeadShare confirm a title head as a kind: it heads
// at least that many titles, and at least that share of the titles that
// hold the term at all. A colour or a model word that ends one title
// ("… Calculator -Silver", "FX-115ES PLUS") appears in many titles
// without heading them; "calculator", "printer" and "stapler" head most
// of the titles they appear in.
const (
	minHeadItems = 2
	minHeadShare = 1.0 / 3
)

// titleHeads numbers each item's confirmed title head (-1 for none),
// returns the heads by number, and per item the confirmed heads its
// title's name part holds anywhere (sorted).
func titleHeads(items []catalog.Item, an *analysis.Analyzer) ([]int32, []string, [][]int32) {
	words := make([][]string, len(items))
	// headOf counts the titles each word heads, in the titles that hold
	// it at all
	headOf, in := map[string]int{}, map[string]int{}
	brands := map[string][]string{}
	for i, it := range items {
		bt, ok := brands[it.Brand]
		if !ok {
			bt = an.Terms(it.Brand)
			brands[it.Brand] = bt
		}
		var all []string
		words[i], all = nameWords(an, it.Title, bt)
		if len(words[i]) > 0 {
			headOf[words[i][0]]++
		}
		slices.Sort(all)
		for _, t := range slices.Compact(all) {
			in[t]++
		}
	}
	ids := map[string]int32{}
	var names []string
	num := func(h string) int32 {
		if headOf[h] < minHeadItems || float64(headOf[h]) < minHeadShare*float64(in[h]) {
			return -1
		}
		id, ok := ids[h]
		if !ok {
			id = int32(len(names))
			ids[h] = id
			names = append(names, h)
		}
		return id
	}
	out := make([]int32, len(items))
	kinds := make([][]int32, len(items))
	for i, ws := range words {
		out[i] = -1
		for k, w := range ws {
			h := num(w)
			if h < 0 {
				continue
			}
			if k == 0 {
				out[i] = h
			}
			kinds[i] = append(kinds[i], h)
		}
		slices.Sort(kinds[i])
	}
	return out, names, kinds
}

// pathShare is the share of a's category path that j shares, leaf
// excluded (same leaf is its own signal): 0 for unrelated categories.
func (c *content) pathShare(a, j int32) float64 {
	pa, pj := c.path[a], c.path[j]
	if len(pa) < 2 {
		return 0
	}
	k := 0
	for k < len(pa)-1 && k < len(pj) && pa[k] == pj[k] {
		k++
	}
	return float64(k) / float64(len(pa)-1)
}

// sameParent reports whether j's category path holds all of a's but its
// leaf, a's leaf being below the shop's top level: j is in a's leaf or a
// sibling leaf.
func (c *content) sameParent(a, j int32) bool {
	return len(c.path[a]) >= 3 && c.pathShare(a, j) >= 1
}

// attrShare is the Jaccard overlap of the attribute pairs.
func (c *content) attrShare(a, j int32) float64 {
	x, y := c.attrs[a], c.attrs[j]
	if len(x) == 0 || len(y) == 0 {
		return 0
	}
	common, p, q := 0, 0, 0
	for p < len(x) && q < len(y) {
		switch strings.Compare(x[p], y[q]) {
		case 0:
			common++
			p++
			q++
		case -1:
			p++
		default:
			q++
		}
	}
	return float64(common) / float64(len(x)+len(y)-common)
}

// textCos is the cosine of the two TF-IDF vectors.
func (c *content) textCos(a, j int32) float64 {
	var s float64
	for _, x := range c.vec[a] {
		for _, y := range c.vec[j] {
			if x.term == y.term {
				s += float64(x.w) * float64(y.w)
				break
			}
		}
	}
	return s
}

// textNeighbours returns up to n items with the highest text cosine to a.
func (c *content) textNeighbours(a int32, n int) []int32 {
	acc := map[int32]float32{}
	for _, tw := range c.vec[a] {
		for _, p := range c.post[tw.term] {
			if p.item != a {
				acc[p.item] += tw.w * p.w
			}
		}
	}
	type kv struct {
		j int32
		s float32
	}
	all := make([]kv, 0, len(acc))
	for j, s := range acc {
		all = append(all, kv{j, s})
	}
	slices.SortFunc(all, func(x, y kv) int {
		if c := cmp.Compare(y.s, x.s); c != 0 {
			return c
		}
		return cmp.Compare(x.j, y.j)
	})
	out := make([]int32, 0, min(n, len(all)))
	for _, e := range all[:min(n, len(all))] {
		out = append(out, e.j)
	}
	return out
}

// leafMembers returns up to n other items of a's leaf category.
func (c *content) leafMembers(a int32, n int) []int32 {
	if c.leaf[a] < 0 {
		return nil
	}
	m := c.byLeaf[c.leaf[a]]
	return m[:min(n, len(m))]
}
