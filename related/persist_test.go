package related

import (
	"context"
	"fmt"
	"reflect"
	"testing"
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
		// version 1 (before session 10: no head repeat rates after the
		// complement model) is still read, and answers as the index
		// without them until the next build; an unknown version is not
		v1ix, v1beh := *ix, *ix.beh
		v1beh.headRep = nil
		v1ix.beh = &v1beh
		p2 := v1ix.AppendBinary(nil)
		if p2[0] != persistVersion || p2[len(p2)-1] != 0 {
			t.Fatalf("%s: version %d payload ending in %d, want version %d ending in no head rates", name, p2[0], p2[len(p2)-1], persistVersion)
		}
		v1 := append([]byte{1}, p2[1:len(p2)-1]...)
		back, err = Restore(items, v1, factor, nil, Config{})
		if err != nil {
			t.Fatalf("%s: version 1: %v", name, err)
		}
		if len(back.beh.headRep) != 0 || answersOf(back, ids) != answersOf(&v1ix, ids) {
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
	f.Fuzz(func(t *testing.T, p []byte) {
		Restore(items[:20], p, nil, nil, Config{})
	})
}
