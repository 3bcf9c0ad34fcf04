package search

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
)

// clusterEmbedder maps a text naming a cluster ("… cN …") to a unit vector
// near that cluster's centre, the rest of the text choosing the noise: a
// catalogue whose semantic neighbours are known.
type clusterEmbedder struct {
	dim    int
	centre [][]float32
}

func newClusterEmbedder(dim, clusters int) *clusterEmbedder {
	e := &clusterEmbedder{dim: dim}
	rng := rand.New(rand.NewPCG(1, 2))
	for c := 0; c < clusters; c++ {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		e.centre = append(e.centre, v)
	}
	return e
}

func (e *clusterEmbedder) Dim() int { return e.dim }

func (e *clusterEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for k, t := range texts {
		c := 0
		for _, w := range strings.Fields(t) {
			if _, err := fmt.Sscanf(w, "c%d", &c); err == nil {
				break
			}
		}
		h := fnv.New64a()
		h.Write([]byte(t))
		rng := rand.New(rand.NewPCG(h.Sum64(), 3))
		v := make([]float32, e.dim)
		var norm float64
		for i := range v {
			v[i] = e.centre[c%len(e.centre)][i] + 0.8*float32(rng.NormFloat64())
			norm += float64(v[i]) * float64(v[i])
		}
		for i := range v {
			v[i] /= float32(math.Sqrt(norm))
		}
		out[k] = v
	}
	return out, nil
}

// TestSemanticListsRecall: once the catalogue is large enough, semantic
// search probes the semantic index's lists; its answers must match the
// exact scan's (recall@10 ≥ 0.95), filtered ones too, with a full page.
// Compaction drops the lists and the next search builds them again.
func TestSemanticListsRecall(t *testing.T) {
	ctx := context.Background()
	const n, clusters = 3000, 30
	emb := newClusterEmbedder(32, clusters)
	var items []catalog.Item
	for i := 0; i < n; i++ {
		items = append(items, catalog.Item{ID: fmt.Sprintf("p%04d", i), Title: fmt.Sprintf("product %d c%d", i, i%clusters),
			Categories: []string{fmt.Sprintf("Shop/K%d", i%5)}, Available: true})
	}
	open := func(exact bool) *Index {
		ix, err := NewIndex(DefaultConfig(), Options{Embedder: emb, Registry: sharedRegistry(), SemanticIVFMin: 1000, ExactSemantic: exact})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ix.Close() })
		if err := ix.Upsert(ctx, items...); err != nil {
			t.Fatal(err)
		}
		if err := ix.WaitVectors(ctx); err != nil {
			t.Fatal(err)
		}
		return ix
	}
	lists, exact := open(false), open(true)
	waitBuilt := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			lists.Search(ctx, Request{Query: "c1", Mode: ModeSemantic}) // starts the build
			if built, builds := lists.SemanticLists(); built && builds == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("semantic lists not built (want build %d)", want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitBuilt(1)
	if built, _ := exact.SemanticLists(); built {
		t.Fatal("ExactSemantic built lists")
	}
	check := func(cats []string) {
		t.Helper()
		var found, total int
		for q := 0; q < 40; q++ {
			req := Request{Query: fmt.Sprintf("shopper query %d c%d", q, q%clusters), Mode: ModeSemantic, Categories: cats, N: 10}
			got, err := lists.Search(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			want, err := exact.Search(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Items) != 10 || len(want.Items) != 10 {
				t.Fatalf("query %d (categories %v): %d items from the lists, %d exact; want 10", q, cats, len(got.Items), len(want.Items))
			}
			in := map[string]bool{}
			for _, h := range want.Items {
				in[h.ID] = true
			}
			for _, h := range got.Items {
				if in[h.ID] {
					found++
				}
			}
			total += len(want.Items)
		}
		if r := float64(found) / float64(total); r < 0.95 {
			t.Fatalf("recall@10 %.3f (categories %v), want ≥ 0.95", r, cats)
		}
	}
	check(nil)
	check([]string{"Shop/K2"})
	// Deleting half the catalogue compacts: the lists go, and come back.
	var gone []string
	for i := 0; i < n; i += 2 {
		gone = append(gone, items[i].ID)
	}
	lists.Delete(gone...)
	exact.Delete(gone...)
	if built, _ := lists.SemanticLists(); built {
		t.Fatal("lists kept after compaction renumbered the products")
	}
	waitBuilt(2)
	check(nil)
}
