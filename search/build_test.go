package search

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/embed"
)

// The postings of a document count each term per field, whatever the
// order the terms come in, and a category path shared by two of an
// item's categories is one facet value of it.
func TestPostingFrequencies(t *testing.T) {
	ix, err := NewIndex(DefaultConfig(), Options{Registry: sharedRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	items := []catalog.Item{
		{ID: "a", Title: "Red shoe red red", Brand: "Red", Categories: []string{"Shoes/Red", "Shoes/Blue"}, Available: true},
		{ID: "b", Title: "blue shoe", Description: "a shoe, a blue shoe", Available: true},
	}
	if err := ix.Load(context.Background(), len(items), itemScan(items)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		term string
		doc  uint32
		tf   map[Field]uint8
	}{
		{"red", 0, map[Field]uint8{FieldTitle: 3, FieldBrand: 1, FieldCategories: 1}},
		{"shoe", 0, map[Field]uint8{FieldTitle: 1, FieldCategories: 2}},
		{"shoe", 1, map[Field]uint8{FieldTitle: 1, FieldDescription: 2}},
		{"blue", 1, map[Field]uint8{FieldTitle: 1, FieldDescription: 1}},
	}
	for _, tc := range tests {
		id, ok := ix.termIDs[ix.an.Terms(tc.term)[0]]
		if !ok {
			t.Fatalf("term %q not indexed", tc.term)
		}
		p := &ix.post[id]
		k := -1
		for i, d := range p.docs {
			if d == tc.doc {
				k = i
			}
		}
		if k < 0 {
			t.Fatalf("term %q: doc %d not in its postings %v", tc.term, tc.doc, p.docs)
		}
		for f := Field(0); f < numFields; f++ {
			if got := p.tf[k*int(numFields)+int(f)]; got != tc.tf[f] {
				t.Errorf("term %q doc %d field %d: tf %d, want %d", tc.term, tc.doc, f, got, tc.tf[f])
			}
		}
	}
	if got := len(ix.docs[0].cats); got != 3 { // Shoes, Shoes/Red, Shoes/Blue
		t.Errorf("item a has %d category values, want 3", got)
	}
}

// itemScan scans items as a store does.
func itemScan(items []catalog.Item) func(func(catalog.Item) error) error {
	return func(fn func(catalog.Item) error) error {
		for _, it := range items {
			if err := fn(it); err != nil {
				return err
			}
		}
		return nil
	}
}

// Load merges the sorted lists once, at its end (not after each batch),
// and passes on the scan's error.
func TestLoadMergesOnce(t *testing.T) {
	items := synthItems(2*loadBatch + 500)
	ix, err := NewIndex(DefaultConfig(), Options{Registry: sharedRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	maxPending := 0
	scan := func(fn func(catalog.Item) error) error {
		for _, it := range items {
			ix.mu.RLock()
			maxPending = max(maxPending, len(ix.titles.pendK))
			ix.mu.RUnlock()
			if err := fn(it); err != nil {
				return err
			}
		}
		return nil
	}
	if err := ix.Load(context.Background(), len(items), scan); err != nil {
		t.Fatal(err)
	}
	if maxPending != 2*loadBatch {
		t.Errorf("titles pending during the load: at most %d, want %d (no merge between batches)", maxPending, 2*loadBatch)
	}
	for name, l := range map[string]*sortedList{"terms": &ix.dict, "titles": &ix.titles, "words": &ix.words} {
		if len(l.pendK) != 0 || len(l.keys) == 0 {
			t.Errorf("%s after the load: %d sorted, %d pending", name, len(l.keys), len(l.pendK))
		}
	}
	if got := ix.Len(); got != len(items) {
		t.Errorf("%d items indexed, want %d", got, len(items))
	}
	r := search(t, ix, Request{Query: "product 20499", N: 1})
	if len(r.Items) != 1 || r.Items[0].ID != "p0020499" {
		t.Errorf("search after the load: %v", ids(r))
	}

	broken := errors.New("disk on fire")
	ix2, err := NewIndex(DefaultConfig(), Options{Registry: sharedRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	err = ix2.Load(context.Background(), 0, func(fn func(catalog.Item) error) error {
		if err := fn(items[0]); err != nil {
			return err
		}
		return broken
	})
	if !errors.Is(err, broken) {
		t.Errorf("Load with a failing scan: %v, want %v", err, broken)
	}
	if ix2.loading != 0 {
		t.Errorf("loading = %d after a failed load", ix2.loading)
	}
}

// After a Load whose products found their vectors in the store, the
// semantic lists are built without waiting for a semantic search.
func TestLoadStartsSemanticLists(t *testing.T) {
	ctx := context.Background()
	items := synthItems(600)
	st := openStore(t)
	if err := st.PutItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	opt := Options{Embedder: embed.NewHashing(32), Vectors: st, Registry: sharedRegistry(), SemanticIVFMin: 500}
	writer, err := NewIndex(DefaultConfig(), opt)
	if err != nil {
		t.Fatal(err)
	}
	vecs, err := writer.ItemVectors(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutVectors(ctx, writer.VectorSpace(), vecs); err != nil {
		t.Fatal(err)
	}
	ix, err := NewIndex(DefaultConfig(), opt)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if err := ix.Load(ctx, len(items), itemScan(items)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute) // a bound on a hung build, not a timing check
	for built, _ := ix.SemanticLists(); !built; built, _ = ix.SemanticLists() {
		if time.Now().After(deadline) {
			t.Fatal("semantic lists not built a minute after the load")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
