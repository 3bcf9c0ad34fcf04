package search

import (
	"context"
	"testing"

	"github.com/aisle-dev/aisle/embed"
)

// Vectors written ahead with ItemVectors are the index's own: an index
// opened on that store embeds nothing, and semantic search finds the same
// product as with vectors it embedded itself.
func TestItemVectorsAreReused(t *testing.T) {
	ctx := context.Background()
	items := fixture()
	for _, batch := range []int{1, 3, 64} {
		st := openStore(t)
		if err := st.PutItems(ctx, items); err != nil {
			t.Fatal(err)
		}
		writer, err := NewIndex(DefaultConfig(), Options{Embedder: embed.NewHashing(64), Registry: sharedRegistry(), EmbedBatch: batch, EmbedWorkers: 2})
		if err != nil {
			t.Fatal(err)
		}
		vecs, err := writer.ItemVectors(ctx, items)
		if err != nil {
			t.Fatal(err)
		}
		if len(vecs) != available(items) {
			t.Fatalf("batch %d: %d vectors for %d available items", batch, len(vecs), available(items))
		}
		for i, v := range vecs {
			if v.ItemID == "" || len(v.Vec) != 64 {
				t.Fatalf("batch %d: vector %d is %q with %d dimensions", batch, i, v.ItemID, len(v.Vec))
			}
		}
		if err := st.PutVectors(ctx, writer.VectorSpace(), vecs); err != nil {
			t.Fatal(err)
		}
		emb := &counting{Hashing: embed.NewHashing(64)}
		ix := storedIndex(t, emb, st, items)
		if got := emb.texts.Load(); got != 0 {
			t.Errorf("batch %d: the index embedded %d texts, want 0", batch, got)
		}
		if s := ix.VectorStats(); s.WithVector != available(items) {
			t.Errorf("batch %d: %d items with vectors, want %d", batch, s.WithVector, available(items))
		}
		r := search(t, ix, Request{Query: "printer paper sheets", Mode: ModeSemantic, N: 1})
		if len(r.Items) != 1 || r.Items[0].ID != "7" {
			t.Errorf("batch %d: semantic search: %v", batch, ids(r))
		}
	}
}

func TestItemVectorsNeedAnEmbedder(t *testing.T) {
	ix, err := NewIndex(DefaultConfig(), Options{Registry: sharedRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.ItemVectors(context.Background(), fixture()); err == nil {
		t.Error("ItemVectors without an embedder returned no error")
	}
}
