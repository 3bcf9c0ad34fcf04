package ann

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/embed"
	"github.com/aisle-dev/aisle/internal/cputime"
	"github.com/viterin/vek/vek32"
)

// BenchmarkSemanticProbes measures how many of search's semantic lists a
// query must probe for recall@10 ≥ 0.95, on the vectors of a 1M-product
// server of docs/benchmarks.md (session 7): `aisle bench synth`'s titles
// ("<adjective> <colour> <material> <noun>, line c, product i" and the
// brand) embedded by the hashing embedder at 512 dimensions, coded int8,
// in √n lists built as search builds them (k-means on 64 vectors a list).
// These vectors are far less clustered than BenchmarkSemantic1M's: a fixed
// 24 of 1,000 lists gave recall 0.89 through the server.
//
// Each sub-benchmark is one probe rule; a query is one b.N iteration, and
// it reports recall@10 against the exact float32 scan (plain, and
// tie-aware: a returned item counts when its exact score reaches the exact
// 10th score — the titles make many exact ties) and the products scored
// per query. AISLE_PROBE_ITEMS sets n (default 200,000; 1,000,000 needs
// about 1.5 GB and ~15 CPU-minutes for the lists).
//
//	AISLE_PROBE_ITEMS=1000000 go test ./ann -run '^$' -bench SemanticProbes -benchtime 200x
func BenchmarkSemanticProbes(b *testing.B) {
	n := 200_000
	if s := os.Getenv("AISLE_PROBE_ITEMS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1000 {
			b.Fatalf("AISLE_PROBE_ITEMS=%q: want a number ≥ 1000", s)
		}
		n = v
	}
	const dim, nq, k = 512, 200, 10
	ctx := context.Background()
	emb := embed.NewHashing(dim)
	embedRange := func(lo, hi int) []float32 {
		texts := make([]string, 0, hi-lo)
		for i := lo; i < hi; i++ {
			texts = append(texts, probeTitle(i))
		}
		vs, err := emb.Embed(ctx, texts)
		if err != nil {
			b.Fatal(err)
		}
		out := make([]float32, 0, len(vs)*dim)
		for _, v := range vs {
			out = append(out, v...)
		}
		return out
	}
	// queries as the server benchmark's: two to four words of the vocabulary
	qrng := rand.New(rand.NewPCG(5, 5))
	qtexts := make([]string, nq)
	for j := range qtexts {
		words := []string{probeAdj[qrng.IntN(len(probeAdj))], probeColour[qrng.IntN(len(probeColour))], probeMaterial[qrng.IntN(len(probeMaterial))]}
		qrng.Shuffle(len(words), func(a, c int) { words[a], words[c] = words[c], words[a] })
		words = append(words[:qrng.IntN(3)], probeNoun[qrng.IntN(len(probeNoun))])
		qtexts[j] = strings.Join(words, " ")
	}
	qv, err := emb.Embed(ctx, qtexts)
	if err != nil {
		b.Fatal(err)
	}

	// the lists, as search.Index.clusterSemantic: √n lists, 64 samples each
	nl := 1
	for nl*nl < n {
		nl++
	}
	start := time.Now()
	rng := rand.New(rand.NewPCG(uint64(n), 0x5e4))
	pick := rng.Perm(n)[:min(n, 64*nl)]
	slices.Sort(pick)
	sample := make([]float32, 0, len(pick)*dim)
	for _, i := range pick {
		sample = append(sample, embedRange(i, i+1)...)
	}
	lists, err := BuildLists(ctx, dim, sample, nl, n, 1)
	if err != nil {
		b.Fatal(err)
	}
	sample = nil
	codes := make([]Code, n)
	exact := make([]*topK, nq)
	for j := range exact {
		exact[j] = newTopK(k)
	}
	const block = 4096
	ids := make([]int32, block)
	for lo := 0; lo < n; lo += block {
		hi := min(n, lo+block)
		vecs := embedRange(lo, hi)
		for i := lo; i < hi; i++ {
			v := vecs[(i-lo)*dim : (i-lo+1)*dim]
			codes[i] = Encode(v)
			ids[i-lo] = int32(i)
			for j, q := range qv {
				if s := dotF32(q, v); exact[j].Beats(int32(i), s) {
					exact[j].Push(int32(i), s)
				}
			}
		}
		if err := lists.AssignBatch(ids[:hi-lo], vecs); err != nil {
			b.Fatal(err)
		}
	}
	ref := make([][]Hit, nq)
	floor := make([]float32, nq)
	for j := range exact {
		ref[j] = exact[j].Sorted()
		floor[j] = ref[j][len(ref[j])-1].Score
	}
	var sizes []int
	lists.mu.RLock()
	for _, l := range lists.lists {
		sizes = append(sizes, len(l))
	}
	lists.mu.RUnlock()
	slices.Sort(sizes)
	b.Logf("n=%d: %d lists (sizes min %d, median %d, max %d) built and filled in %v",
		n, nl, sizes[0], sizes[len(sizes)/2], sizes[len(sizes)-1], time.Since(start).Round(time.Second))

	// tieAware counts a returned item right when its exact score reaches
	// the exact 10th score.
	tieAware := func(j int, got []Hit) float64 {
		right := 0
		for _, h := range got {
			v := embedRange(int(h.Index), int(h.Index)+1)
			if dotF32(qv[j], v) >= floor[j]-1e-6 {
				right++
			}
		}
		return float64(right) / float64(len(ref[j]))
	}
	type rule struct {
		name string
		stop func(probed, scanned int) bool // true: probe no further
	}
	var rules []rule
	for _, p := range []int{24, 32, 48, 64, 96, 128, 192} {
		rules = append(rules, rule{fmt.Sprintf("lists=%d", p), func(probed, _ int) bool { return probed >= p }})
	}
	for _, per := range []int{10, 20, 30, 40, 60, 80} { // products scanned per 1,000 (per mille of n)
		budget := n * per / 1000
		rules = append(rules, rule{fmt.Sprintf("scan=%d‰", per), func(_, scanned int) bool { return scanned >= budget }})
	}
	// the default: DefaultProbeBudget, as semantic search spends it, and
	// with search's float32 re-rank of the int8 best 50
	rules = append(rules, rule{"default", nil}, rule{"default+rerank=50", nil})
	for _, r := range rules {
		b.Run(r.name, func(b *testing.B) {
			rerank := strings.HasSuffix(r.name, "+rerank=50")
			search := func(j int) ([]Hit, int) {
				qq := NewQuery(qv[j])
				t := newTopK(k)
				if rerank {
					t = newTopK(50)
				}
				score := func(ids []int32) {
					for _, id := range ids {
						if s := qq.Score(codes[id]); t.Beats(id, s) {
							t.Push(id, s)
						}
					}
				}
				if r.stop == nil {
					_, scanned := lists.ProbeWithin(qv[j], DefaultProbeBudget(), score, func() bool { return !t.Full() })
					if !rerank {
						return t.Sorted(), scanned
					}
					exact := newTopK(k)
					for _, h := range t.Sorted() {
						if s := dotF32(qv[j], embedRange(int(h.Index), int(h.Index)+1)); exact.Beats(h.Index, s) {
							exact.Push(h.Index, s)
						}
					}
					return exact.Sorted(), scanned
				}
				probed, scanned := 0, 0
				lists.Probe(qv[j], func(ids []int32) bool {
					score(ids)
					probed++
					scanned += len(ids)
					return !r.stop(probed, scanned) || !t.Full()
				})
				return t.Sorted(), scanned
			}
			approx := make([][]Hit, nq)
			var ta float64
			var scanned int
			for j := range approx {
				var s int
				approx[j], s = search(j)
				scanned += s
				ta += tieAware(j, approx[j])
			}
			// CPU time of this thread, not wall time: comparable on a
			// machine shared with other work
			runtime.LockOSThread()
			cpu0 := cputime.Thread()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				search(i % nq)
			}
			b.StopTimer()
			if cpu1 := cputime.Thread(); cpu0 > 0 {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N)/1e3, "cpu-µs/op")
			}
			runtime.UnlockOSThread()
			b.ReportMetric(recallAt(ref, approx), "recall@10")
			b.ReportMetric(ta/nq, "tie-recall@10")
			b.ReportMetric(float64(scanned)/nq, "scanned/op")
		})
	}
}

func dotF32(a, b []float32) float32 { return vek32.Dot(a, b) }

// probeTitle is `aisle bench synth`'s item i with its default 1,000
// categories, as search embeds it (title, then brand); the words are drawn
// from a generator of i so any item can be made again on its own.
func probeTitle(i int) string {
	c := i % 1000
	r := rand.New(rand.NewPCG(uint64(i), 7))
	return fmt.Sprintf("%s %s %s %s, line %d, product %d Brand %d", probeAdj[r.IntN(len(probeAdj))],
		probeColour[r.IntN(len(probeColour))], probeMaterial[r.IntN(len(probeMaterial))], probeNoun[c%len(probeNoun)], c, i, c%97)
}

// The vocabulary of cmd/aisle's synthetic titles.
var (
	probeAdj = []string{"classic", "compact", "deluxe", "ergonomic", "foldable", "heavy-duty", "lightweight", "modern", "portable", "premium",
		"rechargeable", "rustic", "slim", "smart", "soft", "sturdy", "vintage", "waterproof", "wireless", "adjustable"}
	probeColour   = []string{"black", "white", "red", "blue", "green", "grey", "yellow", "pink", "brown", "silver", "navy", "beige"}
	probeMaterial = []string{"cotton", "leather", "steel", "bamboo", "ceramic", "glass", "wool", "plastic", "oak", "linen", "aluminium", "silicone"}
	probeNoun     = []string{"backpack", "blender", "bookshelf", "candle", "chair", "desk lamp", "dress", "drill", "earbuds", "headphones",
		"jacket", "kettle", "keyboard", "mug", "notebook", "pan", "pillow", "printer paper", "rug", "scarf",
		"sneakers", "sofa", "speaker", "sunglasses", "tent", "toaster", "towel", "umbrella", "vase", "wallet",
		"watch", "water bottle", "yoga mat", "phone case", "monitor stand", "laundry basket", "cutting board", "coffee grinder", "bike helmet", "dog bed"}
)

// BenchmarkSemanticRerank is the ceiling under BenchmarkSemanticProbes:
// the exact scan of every int8 code (what probing all lists gives), and
// the same scan keeping the best r by int8 score re-scored in float32 (a
// re-rank from the stored vectors), on the same vectors and queries.
// recall@10 against the exact float32 scan, plain and tie-aware.
//
//	AISLE_PROBE_ITEMS=1000000 go test ./ann -run '^$' -bench SemanticRerank -benchtime 1x
func BenchmarkSemanticRerank(b *testing.B) {
	n := 200_000
	if s := os.Getenv("AISLE_PROBE_ITEMS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1000 {
			b.Fatalf("AISLE_PROBE_ITEMS=%q: want a number ≥ 1000", s)
		}
		n = v
	}
	const dim, nq, k = 512, 200, 10
	ctx := context.Background()
	emb := embed.NewHashing(dim)
	embedOne := func(i int) []float32 {
		vs, err := emb.Embed(ctx, []string{probeTitle(i)})
		if err != nil {
			b.Fatal(err)
		}
		return vs[0]
	}
	qrng := rand.New(rand.NewPCG(5, 5))
	qtexts := make([]string, nq)
	for j := range qtexts {
		words := []string{probeAdj[qrng.IntN(len(probeAdj))], probeColour[qrng.IntN(len(probeColour))], probeMaterial[qrng.IntN(len(probeMaterial))]}
		qrng.Shuffle(len(words), func(a, c int) { words[a], words[c] = words[c], words[a] })
		words = append(words[:qrng.IntN(3)], probeNoun[qrng.IntN(len(probeNoun))])
		qtexts[j] = strings.Join(words, " ")
	}
	qv, err := emb.Embed(ctx, qtexts)
	if err != nil {
		b.Fatal(err)
	}
	qq := make([]Query, nq)
	for j := range qq {
		qq[j] = NewQuery(qv[j])
	}
	const maxR = 100
	exact, coded := make([]*topK, nq), make([]*topK, nq)
	for j := range exact {
		exact[j], coded[j] = newTopK(k), newTopK(maxR)
	}
	const block = 4096
	texts := make([]string, 0, block)
	for lo := 0; lo < n; lo += block {
		hi := min(n, lo+block)
		texts = texts[:0]
		for i := lo; i < hi; i++ {
			texts = append(texts, probeTitle(i))
		}
		vs, err := emb.Embed(ctx, texts)
		if err != nil {
			b.Fatal(err)
		}
		for i, v := range vs {
			id := int32(lo + i)
			c := Encode(v)
			for j := range qv {
				if s := dotF32(qv[j], v); exact[j].Beats(id, s) {
					exact[j].Push(id, s)
				}
				if s := qq[j].Score(c); coded[j].Beats(id, s) {
					coded[j].Push(id, s)
				}
			}
		}
	}
	ref := make([][]Hit, nq)
	floor := make([]float32, nq)
	cands := make([][]Hit, nq)
	for j := range exact {
		ref[j] = exact[j].Sorted()
		floor[j] = ref[j][len(ref[j])-1].Score
		cands[j] = coded[j].Sorted()
	}
	for _, r := range []int{10, 20, 50, 100} {
		b.Run(fmt.Sprintf("int8-scan-rerank=%d", r), func(b *testing.B) {
			var approx [][]Hit
			var ta float64
			for i := 0; i < b.N; i++ {
				approx = approx[:0]
				ta = 0
				for j := range cands {
					t := newTopK(k)
					for _, h := range cands[j][:min(r, len(cands[j]))] {
						s := h.Score
						if r > k {
							s = dotF32(qv[j], embedOne(int(h.Index)))
						}
						if t.Beats(h.Index, s) {
							t.Push(h.Index, s)
						}
					}
					got := t.Sorted()
					approx = append(approx, got)
					right := 0
					for _, h := range got {
						if dotF32(qv[j], embedOne(int(h.Index))) >= floor[j]-1e-6 {
							right++
						}
					}
					ta += float64(right) / float64(len(ref[j]))
				}
			}
			b.ReportMetric(recallAt(ref, approx), "recall@10")
			b.ReportMetric(ta/nq, "tie-recall@10")
		})
	}
}
