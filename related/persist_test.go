package related

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// answersOf is every similar-items and complements answer of ix for the
// items, with scores and reasons.
func answersOf(ix *Index, ids []string) string {
	var s string
	for _, id := range ids {
		s += fmt.Sprintf("%s similar %v\n%s complements %v\n", id, ix.Similar(id, 20, nil), id, ix.Complements(id, 20, nil))
	}
	return s
}

// An index restored from AppendBinary over the same catalogue answers
// exactly as the one it was made from (learnt blend and complement model
// included); over a changed catalogue it answers as WithItems does; a
// damaged payload is refused.
func TestRestoreAnswersAsTheIndex(t *testing.T) {
	ctx := context.Background()
	items, evs := genShop(3, 20_000, 0.5)
	factor := Vectors{}
	for i, it := range items {
		if i%3 != 0 {
			factor[it.ID] = []float32{float32(i % 7), float32(i % 5), 1}
		}
	}
	ids := make([]string, 0, len(items))
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	built, err := Build(ctx, items, evs, factor, nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	learnt, rep, err := Learn(ctx, items, evs, factor, nil, Config{ComplementModel: ModelAlways}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if learnt.compModel == nil || learnt.simW == DefaultSimilar() {
		t.Fatalf("the learnt index has no model or default weights (%+v): the test proves nothing", rep)
	}
	for name, ix := range map[string]*Index{"built": built, "learnt": learnt} {
		p := ix.AppendBinary(nil)
		back, err := Restore(items, p, factor, nil, Config{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got, want := answersOf(back, ids), answersOf(ix, ids); got != want {
			t.Fatalf("%s: restored answers differ", name)
		}
		if !reflect.DeepEqual(back.beh.sim, ix.beh.sim) || !reflect.DeepEqual(back.beh.popLf, ix.beh.popLf) {
			t.Fatalf("%s: restored behaviour differs", name)
		}
		if len(ix.beh.headRep) == 0 || !reflect.DeepEqual(back.beh.headRep, ix.beh.headRep) {
			t.Fatalf("%s: restored head repeat rates %v, built %v", name, back.beh.headRep, ix.beh.headRep)
		}
		if len(ix.beh.goesWith) == 0 || !reflect.DeepEqual(back.beh.goesWith, ix.beh.goesWith) {
			t.Fatalf("%s: restored leaf pairs that go together %v, built %v", name, back.beh.goesWith, ix.beh.goesWith)
		}
		// version 1 (before session 10: no head repeat rates after the
		// complement model) is still read, and answers as the index
		// without them until the next build; an unknown version is not
		v1ix, v1 := asVersion1(t, ix)
		back, err = Restore(items, v1, factor, nil, Config{})
		if err != nil {
			t.Fatalf("%s: version 1: %v", name, err)
		}
		if len(back.beh.headRep) != 0 || answersOf(back, ids) != answersOf(v1ix, ids) {
			t.Fatalf("%s: restored from version 1, answers differ from the index without head rates (%d head rates)", name, len(back.beh.headRep))
		}
		if _, err := Restore(items, append([]byte{persistVersion + 1}, p[1:]...), factor, nil, Config{}); err == nil {
			t.Fatalf("%s: a payload of version %d was restored", name, persistVersion+1)
		}
		// a catalogue that lost items and gained one
		changed := append(items[10:len(items):len(items)], items[0])
		changed[len(changed)-1].ID = "new"
		back, err = Restore(changed, p, factor, nil, Config{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := answersOf(back, ids), answersOf(ix.WithItems(changed), ids); got != want {
			t.Fatalf("%s: restored over a changed catalogue differs from WithItems", name)
		}
		for _, cut := range []int{0, 1, len(p) / 3, len(p) - 1} {
			if _, err := Restore(items, p[:cut], factor, nil, Config{}); err == nil {
				t.Fatalf("%s: a payload cut at %d was restored", name, cut)
			}
		}
	}
}

// FuzzRestore: no payload makes Restore panic or allocate without bound.
func FuzzRestore(f *testing.F) {
	items, evs := genShop(4, 500, 0.5)
	ix, err := Build(context.Background(), items, evs, nil, nil, Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ix.AppendBinary(nil))
	f.Add([]byte{1, 0, 0})
	// a shop without categories: an empty table of leaf pairs ends the
	// payload (version 3)
	bare := slices.Clone(items)
	for k := range bare {
		bare[k].Categories = nil
	}
	bix, err := Build(context.Background(), bare, evs, nil, nil, Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(bix.AppendBinary(nil))
	f.Fuzz(func(t *testing.T, p []byte) {
		Restore(items[:20], p, nil, nil, Config{})
	})
}

// A restore takes the terms of unchanged items from the snapshot's texts
// (decision 0075) and builds the content a build makes; items whose texts
// changed are analysed, and a snapshot without texts (dropped, or
// written by version 1) restores as before.
func TestRestoreTakesTextsFromTheSnapshot(t *testing.T) {
	ctx := context.Background()
	items, evs := genShop(5, 5_000, 0.5)
	items[7].Description = "A heavy stapler, stapler of steel; staples 40 sheets"
	items[8].Description = "Paper paper paper"
	ix, err := Build(ctx, items, evs, nil, nil, Config{KeepTexts: true})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, len(items))
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	cfg := Config{}
	cfg.defaults()
	fresh := buildContent(items, cfg.Analyzer, nil, false)
	p := ix.AppendBinary(nil)
	back, err := Restore(items, p, nil, nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if back.Analysed() != 0 {
		t.Fatalf("%d items analysed, none changed", back.Analysed())
	}
	want := *fresh
	want.analysed = 0
	if !reflect.DeepEqual(back.content, &want) {
		t.Fatal("content restored from the snapshot's texts differs from the analysed one")
	}
	if got, want := answersOf(back, ids), answersOf(ix, ids); got != want {
		t.Fatal("restored answers differ")
	}

	// the table is what the restore reads: an item whose saved terms are
	// altered (its texts unchanged) gets the altered terms
	tt := ix.texts.p.Load()
	alt := *tt
	alt.terms = slices.Clone(tt.terms)
	k := slices.Index(ids, "i7")
	alt.terms[alt.off[k]] = tt.terms[alt.off[k+1]-1]
	ix.texts.p.Store(&alt)
	if back, err := Restore(items, ix.AppendBinary(nil), nil, nil, Config{}); err != nil || reflect.DeepEqual(back.content.vec[k], fresh.vec[k]) {
		t.Fatalf("altered saved terms were not used (err %v)", err)
	}
	ix.texts.p.Store(tt)

	// changed texts, a new item, a lost one and another order: as WithItems
	changed := slices.Clone(items[5:])
	changed[0].Title = "a retitled product of kind 3"
	changed[1].Brand = "another brand"
	changed[2].Description = "now with a description"
	changed = append(changed, catalog.Item{ID: "new", Title: "item 3 kind 3", Categories: []string{"Shop/C1/L1"}})
	slices.Reverse(changed)
	back, err = Restore(changed, p, nil, nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	an := buildContent(changed, cfg.Analyzer, nil, false)
	for a := range changed {
		for j := range changed {
			if x, y := back.content.textCos(int32(a), int32(j)), an.textCos(int32(a), int32(j)); x != y {
				t.Fatalf("restored over a changed catalogue: text cosine of %s and %s %v, analysed %v", changed[a].ID, changed[j].ID, x, y)
			}
		}
	}
	if got, want := answersOf(back, ids), answersOf(ix.WithItems(changed), ids); got != want {
		t.Fatal("restored over a changed catalogue differs from WithItems")
	}

	// without the texts: analysed, the same answers, a smaller payload
	ix.DropTexts()
	q := ix.AppendBinary(nil)
	if len(q) >= len(p) {
		t.Fatalf("a payload without texts is %d bytes, with %d", len(q), len(p))
	}
	back, err = Restore(items, q, nil, nil, Config{})
	if err != nil || !reflect.DeepEqual(back.content, fresh) {
		t.Fatalf("restore without texts: %v", err)
	}
	// kept for the next snapshot only when something was analysed
	for _, c := range []struct {
		name  string
		items []catalog.Item
		p     []byte
		want  bool
	}{{"all from the snapshot", items, p, false}, {"changed catalogue", changed, p, true}, {"no texts in the snapshot", items, q, true}} {
		back, err := Restore(c.items, c.p, nil, nil, Config{KeepTexts: true})
		if err != nil || back.HasTexts() != c.want {
			t.Fatalf("%s: kept texts %v, want %v (err %v)", c.name, back.HasTexts(), c.want, err)
		}
		if c.want {
			again, err := Restore(c.items, back.AppendBinary(nil), nil, nil, Config{})
			if err != nil || again.Analysed() != 0 {
				t.Fatalf("%s: the rewritten snapshot left %d items to analyse (err %v)", c.name, again.Analysed(), err)
			}
		}
	}
	// version 1: the same payload without the head rates and texts
	_, v1 := asVersion1(t, ix)
	if _, err := Restore(items, v1, nil, nil, Config{}); err != nil {
		t.Fatalf("a version 1 payload: %v", err)
	}
}

// asVersion1 is ix without what versions 2 and 3 added (the head repeat
// rates, the analysed texts, the leaf pairs that go together) and its
// payload as version 1 wrote it: version 3's ends in an empty rate list
// (0), an empty text table (0, 0, 0) and no pair table (0).
func asVersion1(t *testing.T, ix *Index) (*Index, []byte) {
	t.Helper()
	v1ix, v1beh := *ix, *ix.beh
	v1beh.headRep = nil
	v1beh.goesWith = nil
	v1ix.beh = &v1beh
	v1ix.texts = nil
	p := v1ix.AppendBinary(nil)
	if p[0] != persistVersion || !bytes.HasSuffix(p, []byte{0, 0, 0, 0, 0}) {
		t.Fatalf("version %d payload ending in %v, want version %d ending in no head rates, no texts and no pairs", p[0], p[max(0, len(p)-5):], persistVersion)
	}
	return &v1ix, append([]byte{1}, p[1:len(p)-5]...)
}

// leafPairNames is ix's table of leaf pairs that go together by the
// leaves' names, nil when the baskets were never counted by kind.
func leafPairNames(ix *Index) map[[2]string]bool {
	if ix.beh.goesWith == nil {
		return nil
	}
	out := map[[2]string]bool{}
	for p := range ix.beh.goesWith {
		x, y := ix.content.leafNames[p[0]], ix.content.leafNames[p[1]]
		out[[2]string{min(x, y), max(x, y)}] = true
	}
	return out
}

// The table of leaf pairs that go together (payload version 3, decision
// 0084) is read back as written, empty or not, by leaf name over a
// reordered catalogue; version 2 still loads without it; a damaged table
// is an error. An empty table is the last byte of the payload (a shop
// without categories, like Online Retail, or without baskets) and once
// made the whole snapshot "damaged".
func TestRestoreLeafPairTable(t *testing.T) {
	items := []catalog.Item{
		item("x1", "red mug", "Shop/Kitchen/Mugs", ""),
		item("y1", "tea pot", "Shop/Kitchen/Pots", ""),
		item("z1", "green tea", "Shop/Food/Tea", ""),
		item("n1", "gift card", "", ""),
	}
	var evs []events.Event
	for u := range 6 {
		user, at := fmt.Sprintf("u%d", u), time.Duration(u)*24*time.Hour
		evs = append(evs, buy(user, "x1", "", at), buy(user, "z1", "", at+time.Minute))
	}
	ix := build(t, items, evs, Config{})
	if len(ix.beh.goesWith) == 0 {
		t.Fatal("the fixture's baskets hold no leaves together: the test proves nothing")
	}
	back, err := Restore(items, ix.AppendBinary(nil), nil, nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.beh.goesWith, ix.beh.goesWith) {
		t.Fatalf("restored table %v, built %v", back.beh.goesWith, ix.beh.goesWith)
	}
	reordered := slices.Clone(items)
	slices.Reverse(reordered)
	rback, err := Restore(reordered, ix.AppendBinary(nil), nil, nil, Config{})
	if err != nil {
		t.Fatalf("over a reordered catalogue: %v", err)
	}
	for name, moved := range map[string]*Index{"restored": rback, "WithItems": ix.WithItems(reordered)} {
		if got, want := leafPairNames(moved), leafPairNames(ix); !reflect.DeepEqual(got, want) {
			t.Errorf("%s over a reordered catalogue: leaf pairs %v, want %v", name, got, want)
		}
	}

	// a shop without categories: the table is empty, not absent
	bare := slices.Clone(items)
	for k := range bare {
		bare[k].Categories = nil
	}
	bix := build(t, bare, evs, Config{})
	if bix.beh.goesWith == nil || len(bix.beh.goesWith) != 0 {
		t.Fatalf("a shop without categories: table %v, want empty", bix.beh.goesWith)
	}
	bback, err := Restore(bare, bix.AppendBinary(nil), nil, nil, Config{})
	if err != nil {
		t.Fatalf("a shop without categories: %v", err)
	}
	if bback.beh.goesWith == nil || len(bback.beh.goesWith) != 0 {
		t.Fatalf("a shop without categories: restored table %v (nil %v), want empty", bback.beh.goesWith, bback.beh.goesWith == nil)
	}

	// payloads by hand: the body before the table, then each tail
	none := *ix
	nbeh := *ix.beh
	nbeh.goesWith = nil
	none.beh = &nbeh
	p := none.AppendBinary(nil)
	if p[0] != persistVersion || p[len(p)-1] != 0 {
		t.Fatalf("version %d payload ending in %d, want version %d ending in no table (0)", p[0], p[len(p)-1], persistVersion)
	}
	body := p[1 : len(p)-1]
	nl := byte(len(ix.content.leafNames))
	for _, tc := range []struct {
		name    string
		version byte
		tail    []byte
		want    map[[2]int32]bool // nil: never counted
		damaged bool
	}{
		{"never counted", 3, []byte{0}, nil, false},
		{"empty", 3, []byte{1}, map[[2]int32]bool{}, false},
		{"one pair", 3, []byte{2, 0, 1}, map[[2]int32]bool{{0, 1}: true}, false},
		{"one pair, larger leaf first", 3, []byte{2, 2, 0}, map[[2]int32]bool{{0, 2}: true}, false},
		{"two pairs", 3, []byte{3, 0, 1, 1, 2}, map[[2]int32]bool{{0, 1}: true, {1, 2}: true}, false},
		{"version 2", 2, nil, nil, false},
		{"version 3 without the table", 3, nil, nil, true},
		{"cut inside a pair", 3, []byte{2, 0}, nil, true},
		{"more pairs than bytes", 3, []byte{3, 0, 1}, nil, true},
		{"a count past any payload", 3, binary.AppendUvarint(nil, math.MaxUint64), nil, true},
		{"a leaf out of range", 3, []byte{2, 0, nl}, nil, true},
		{"bytes after the table", 3, []byte{1, 0}, nil, true},
		{"a garbled count", 3, []byte{0x80}, nil, true},
		{"version 2 with a table", 2, []byte{0}, nil, true},
	} {
		q := append(append([]byte{tc.version}, body...), tc.tail...)
		got, err := Restore(items, q, nil, nil, Config{})
		if tc.damaged {
			if err == nil {
				t.Errorf("%s: restored, want an error", tc.name)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(got.beh.goesWith, tc.want) || (got.beh.goesWith == nil) != (tc.want == nil) {
			t.Errorf("%s: restored table %v (nil %v), want %v", tc.name, got.beh.goesWith, got.beh.goesWith == nil, tc.want)
		}
	}
}
