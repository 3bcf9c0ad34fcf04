package search

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
)

// TestSemanticListsSaved: the semantic lists are saved after a build and a
// restart loads them (counted, not timed) instead of clustering again,
// with items added, deleted and changed since mapped correctly and the
// docs numbered differently; another vector space, another dimension or
// a damaged file builds again.
func TestSemanticListsSaved(t *testing.T) {
	ctx := context.Background()
	const n, clusters = 1200, 12
	items := func(from, to int, tag string) []catalog.Item {
		var out []catalog.Item
		for i := from; i < to; i++ {
			out = append(out, catalog.Item{ID: fmt.Sprintf("p%04d", i), Title: fmt.Sprintf("product %d%s c%d", i, tag, i%clusters), Available: true})
		}
		return out
	}
	dir := t.TempDir()
	emb32, emb16 := newClusterEmbedder(32, clusters), newClusterEmbedder(16, clusters)

	type stats struct{ builds, loads, saves int64 }
	// open indexes the items (in the order given), deletes del, waits for
	// the lists (built or loaded) and for their save, if any.
	open := func(t *testing.T, emb *clusterEmbedder, space string, its []catalog.Item, del []string) (*Index, stats) {
		t.Helper()
		ix, err := NewIndex(DefaultConfig(), Options{Embedder: emb, Registry: sharedRegistry(), SemanticIVFMin: 1000, IndexDir: dir, VectorSpace: space})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ix.Close() })
		if err := ix.Upsert(ctx, its...); err != nil {
			t.Fatal(err)
		}
		if err := ix.WaitVectors(ctx); err != nil {
			t.Fatal(err)
		}
		if len(del) > 0 {
			ix.Delete(del...)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			ix.Search(ctx, Request{Query: "c1", Mode: ModeSemantic}) // starts the build or load
			built, _ := ix.SemanticLists()
			if built && !ix.sem.building.Load() { // building ends after the save
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("semantic lists neither built nor loaded")
			}
			time.Sleep(10 * time.Millisecond)
		}
		b, l := ix.SemanticIndexStats()
		return ix, stats{b, l, ix.sem.saves.Load()}
	}
	// listed checks that the lists hold every live doc with a vector
	// exactly once, in the list nearest to its vector (a changed vector
	// kept in its old list fails), and nothing else.
	listed := func(t *testing.T, ix *Index) {
		t.Helper()
		ix.mu.RLock()
		defer ix.mu.RUnlock()
		var got, want []int32
		ix.sem.lists.Probe(make([]float32, ix.sem.lists.Dim()), func(ids []int32) bool {
			for _, id := range ids {
				if ix.docs[id].live {
					got = append(got, id)
				}
			}
			return true
		})
		for d := range ix.docs {
			if ix.docs[d].live && ix.docs[d].vec.Len() > 0 {
				want = append(want, int32(d))
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("lists hold %d live docs, want each of the %d live docs with a vector once", len(got), len(want))
		}
		for _, d := range want {
			ix.sem.lists.Probe(ix.docs[d].vec.Decode(nil), func(ids []int32) bool {
				if !slices.Contains(ids, d) {
					t.Fatalf("doc %d (%s) is not in the list nearest to its vector", d, ix.docs[d].item.ID)
				}
				return false
			})
		}
	}

	ix, st := open(t, emb32, "", items(0, n, ""), nil)
	if st != (stats{1, 0, 1}) {
		t.Fatalf("first start: %+v, want 1 build, 0 loads, 1 save", st)
	}
	listed(t, ix)
	ix.Close()

	// Restart: the same catalogue in another order (other doc numbers),
	// 60 items deleted, 60 changed (another vector), 100 new.
	var again []catalog.Item
	again = append(again, items(n, n+100, "")...)
	again = append(again, items(0, 60, " renamed")...)
	rest := items(60, n, "")
	slices.Reverse(rest)
	again = append(again, rest...)
	var del []string
	for i := 100; i < 160; i++ {
		del = append(del, fmt.Sprintf("p%04d", i))
	}

	for _, tc := range []struct {
		name   string
		emb    *clusterEmbedder
		space  string
		damage bool
		want   stats
	}{
		{name: "restart loads (and saves: 160 items assigned again)", emb: emb32, want: stats{0, 1, 1}},
		{name: "other vector space builds", emb: emb32, space: "other-model/32", want: stats{1, 0, 1}},
		{name: "back to the first space: stale file (saved for the other) builds", emb: emb32, want: stats{1, 0, 1}},
		{name: "other dimension builds", emb: emb16, want: stats{1, 0, 1}},
		{name: "damaged file builds", emb: emb16, damage: true, want: stats{1, 0, 1}},
		{name: "then loads", emb: emb16, want: stats{0, 1, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.damage {
				path := filepath.Join(dir, semanticFile)
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				b[len(b)/2] ^= 0xff
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ix, st := open(t, tc.emb, tc.space, again, del)
			listed(t, ix)
			if st != tc.want {
				t.Fatalf("builds, loads, saves = %+v, want %+v", st, tc.want)
			}
			// a deleted item is never answered; a changed one is found by its new text
			res, err := ix.Search(ctx, Request{Query: "product 5 renamed c5", Mode: ModeSemantic, N: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Items) == 0 || res.Items[0].ID != "p0005" {
				t.Fatalf("changed item not first for its own text: %v", res.Items)
			}
			res, err = ix.Search(ctx, Request{Query: "product 120 c0", Mode: ModeSemantic, N: 50})
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range res.Items {
				if h.ID == "p0120" {
					t.Fatal("deleted item p0120 answered")
				}
			}
			ix.Close()
		})
	}
}
