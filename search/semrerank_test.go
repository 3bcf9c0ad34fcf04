package search

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/aisle-dev/aisle/ann"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/embed"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// nearTieEmbedder maps every text to one direction plus a small
// perturbation of its own: cosines to a query differ by less than int8
// codes resolve, so the int8 order of the products is not the exact one.
type nearTieEmbedder struct{ dim int }

func (e nearTieEmbedder) Dim() int { return e.dim }

func (e nearTieEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for k, t := range texts {
		var seed uint64
		for _, c := range t {
			seed = seed*131 + uint64(c)
		}
		rng := rand.New(rand.NewPCG(seed, 9))
		v := make([]float32, e.dim)
		var norm float64
		for i := range v {
			v[i] = float32(math.Sin(float64(i))) + 0.1*float32(rng.NormFloat64())
			norm += float64(v[i]) * float64(v[i])
		}
		for i := range v {
			v[i] /= float32(math.Sqrt(norm))
		}
		out[k] = v
	}
	return out, nil
}

// Semantic search re-scores its int8 short list with the stored float32
// vectors (decision 0056): its top 10 is the exact float32 top 10 where
// the int8 codes order the near-ties differently; a product whose stored
// vector is stale (its text changed since) keeps its int8 score.
func TestSemanticRerankFromStoredVectors(t *testing.T) {
	ctx := context.Background()
	emb := nearTieEmbedder{dim: 64}
	var items []catalog.Item
	for i := 0; i < 400; i++ {
		items = append(items, catalog.Item{ID: fmt.Sprintf("p%03d", i), Title: fmt.Sprintf("thing number %d", i), Available: true})
	}
	st := openStore(t)
	if err := st.PutItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	ix := storedIndex(t, emb, st, items)
	qs, _ := emb.Embed(ctx, []string{"the query"})
	q := qs[0]
	// the exact float32 order, and the int8 one
	vecs, _ := emb.Embed(ctx, func() []string {
		var ts []string
		for i := range items {
			ts = append(ts, embedText(&items[i]))
		}
		return ts
	}())
	order := func(score func(i int) float64) []string {
		idx := make([]int, len(items))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			if sa, sb := score(a), score(b); sa != sb {
				if sa > sb {
					return -1
				}
				return 1
			}
			return 0
		})
		var ids []string
		for _, i := range idx[:10] {
			ids = append(ids, items[i].ID)
		}
		return ids
	}
	var dots []float64
	for _, v := range vecs {
		var s float64
		for i := range v {
			s += float64(v[i]) * float64(q[i])
		}
		dots = append(dots, s)
	}
	exact := order(func(i int) float64 { return dots[i] })
	qq := ann.NewQuery(q)
	coded := order(func(i int) float64 { return float64(qq.Score(ann.Encode(vecs[i]))) })
	if slices.Equal(exact, coded) {
		t.Fatal("fixture: the int8 codes order the top 10 as float32 does; nothing to re-rank")
	}
	got := func() []string {
		ix.mu.RLock()
		defer ix.mu.RUnlock()
		var ids []string
		for _, s := range ix.semantic(q, &filter{}, 10, ix.prefetchSemantic(context.Background(), q, parsedQuery{}, &Request{}, 10)) {
			ids = append(ids, ix.docs[s.doc].item.ID)
		}
		return ids
	}
	if g := got(); !slices.Equal(g, exact) {
		t.Fatalf("semantic top 10 %v, want the float32 order %v (int8 order %v)", g, exact, coded)
	}
	// without the store's vectors (all stale: another text hash), the
	// int8 order stands
	ix.mu.Lock()
	for d := range ix.docs {
		ix.docs[d].vhash[0] ^= 0xff
	}
	ix.mu.Unlock()
	if g := got(); !slices.Equal(g, coded) {
		t.Fatalf("stale stored vectors: top 10 %v, want the int8 order %v", g, coded)
	}
}

// BenchmarkSemanticRerank is the cost of the re-rank on one semantic
// search: 2,000 products with 512-d hashed vectors in a bolt store, the
// exact int8 scan (below SemanticIVFMin) with and without re-scoring its
// best 50 from the store.
//
//	go test ./search -run '^$' -bench SemanticRerank -benchtime 200x
func BenchmarkSemanticRerank(b *testing.B) {
	ctx := context.Background()
	st, err := boltstore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var items []catalog.Item
	for i := 0; i < 2000; i++ {
		items = append(items, catalog.Item{ID: fmt.Sprintf("p%04d", i), Title: fmt.Sprintf("item %d colour %d kind %d", i, i%12, i%40), Available: true})
	}
	if err := st.PutItems(ctx, items); err != nil {
		b.Fatal(err)
	}
	emb := embed.NewHashing(512)
	ix, err := NewIndex(DefaultConfig(), Options{Embedder: emb, Vectors: st, Registry: sharedRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	if err := ix.Upsert(ctx, items...); err != nil {
		b.Fatal(err)
	}
	if err := ix.WaitVectors(ctx); err != nil {
		b.Fatal(err)
	}
	qs, _ := emb.Embed(ctx, []string{"colour 3 kind 7", "item kind 12", "colour 11"})
	vstore := ix.vstore
	for _, rerank := range []bool{false, true} {
		b.Run(fmt.Sprintf("rerank=%v", rerank), func(b *testing.B) {
			ix.mu.Lock()
			ix.vstore = nil
			if rerank {
				ix.vstore = vstore
			}
			ix.mu.Unlock()
			for i := 0; i < b.N; i++ {
				q := qs[i%len(qs)]
				pre := ix.prefetchSemantic(ctx, q, parsedQuery{}, &Request{}, 10)
				ix.mu.RLock()
				ix.semantic(q, &filter{}, 10, pre)
				ix.mu.RUnlock()
			}
		})
	}
}

// lockProbe is a vector store that notes, at each read of vectors,
// whether the index's lock was held and whether the read carried the
// search's context.
type lockProbe struct {
	store.Vectors
	ix            *Index
	reads, locked int
	ctxSeen       bool
}

type probeKey struct{}

func (p *lockProbe) GetVectors(ctx context.Context, space string, ids []string) ([]store.ItemVector, error) {
	if p.ix != nil {
		p.reads++
		if p.ix.mu.TryLock() {
			p.ix.mu.Unlock()
		} else {
			p.locked++
		}
		p.ctxSeen = p.ctxSeen || ctx.Value(probeKey{}) != nil
	}
	return p.Vectors.GetVectors(ctx, space, ids)
}

// The re-rank reads the stored vectors without holding the index's lock
// (on PostgreSQL a read is a round trip: Upserts, Deletes and, behind a
// waiting writer, every search would queue behind it) and with the
// search's context (a search given up on stops waiting for the store).
func TestSemanticRerankReadsTheStoreOutsideTheLock(t *testing.T) {
	ctx := context.Background()
	emb := nearTieEmbedder{dim: 32}
	var items []catalog.Item
	for i := 0; i < 120; i++ {
		items = append(items, catalog.Item{ID: fmt.Sprintf("p%03d", i), Title: fmt.Sprintf("thing number %d", i), Available: true})
	}
	st := openStore(t)
	if err := st.PutItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	probe := &lockProbe{Vectors: st}
	ix := storedIndex(t, emb, probe, items)
	probe.ix = ix
	sctx := context.WithValue(ctx, probeKey{}, true)
	for _, mode := range []Mode{ModeSemantic, ModeHybrid} {
		if _, err := ix.Search(sctx, Request{Query: "thing", Mode: mode, N: 5}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ix.Candidates(sctx, Request{Query: "thing", N: 5}); err != nil {
		t.Fatal(err)
	}
	if probe.reads < 3 || probe.locked != 0 || !probe.ctxSeen {
		t.Fatalf("%d reads of stored vectors, %d under the index's lock, the search's context seen: %v", probe.reads, probe.locked, probe.ctxSeen)
	}
}
