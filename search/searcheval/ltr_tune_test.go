//go:build tune

package searcheval

import (
	"context"
	"crypto/sha256"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/embed/embedders"
	"github.com/aisle-dev/aisle/internal/testdata"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/search/ltr"
)

// fileCachedEmbedder keeps vectors by text hash in a gob file, so that
// repeated tuning runs embed the catalogue once.
type fileCachedEmbedder struct {
	inner search.Embedder
	path  string
	mu    sync.Mutex
	vecs  map[[32]byte][]float32
	dirty bool
}

func (c *fileCachedEmbedder) Dim() int { return c.inner.Dim() }
func (c *fileCachedEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	var miss []string
	var missIdx []int
	c.mu.Lock()
	for i, t := range texts {
		if v, ok := c.vecs[sha256.Sum256([]byte(t))]; ok {
			out[i] = v
		} else {
			miss = append(miss, t)
			missIdx = append(missIdx, i)
		}
	}
	c.mu.Unlock()
	if len(miss) > 0 {
		vs, err := c.inner.Embed(ctx, miss)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		for k, i := range missIdx {
			out[i] = vs[k]
			c.vecs[sha256.Sum256([]byte(miss[k]))] = vs[k]
		}
		c.dirty = true
		c.mu.Unlock()
	}
	return out, nil
}

func (c *fileCachedEmbedder) save() error {
	if !c.dirty {
		return nil
	}
	f, err := os.Create(c.path)
	if err != nil {
		return err
	}
	defer f.Close()
	return gob.NewEncoder(f).Encode(c.vecs)
}

// TestTuneLTR chooses learning-to-rank settings by 5-fold cross-validation
// over the TRAIN queries of ESCI-US 150 only (the test queries are never
// loaded). Run by hand:
//
//	LTR_EMBED=1 go test -tags tune -run TuneLTR -v -timeout 60m ./search/searcheval/
func TestTuneLTR(t *testing.T) {
	full, err := LoadESCI(testdata.Path(t, "esci-us-150"))
	if err != nil {
		t.Fatal(err)
	}
	ds := &Dataset{Format: "esci-train-cv", Items: full.Items}
	for _, q := range full.Queries {
		if q.Split == "train" {
			q.Split = "" // cross-validation inside the train split
			ds.Queries = append(ds.Queries, q)
		}
	}
	ctx := context.Background()
	opts, cache := tuneOptions(t)
	depths := []int{100}
	if s := os.Getenv("LTR_DEPTHS"); s != "" {
		depths = nil
		for _, f := range splitComma(s) {
			d, _ := strconv.Atoi(f)
			depths = append(depths, d)
		}
	}
	for _, depth := range depths {
		cfg := search.DefaultConfig()
		cfg.Fusion.Depth = depth
		ix, err := search.NewIndex(cfg, opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := ix.Upsert(ctx, ds.Items...); err != nil {
			t.Fatal(err)
		}
		if cache != nil {
			if err := cache.save(); err != nil {
				t.Fatal(err)
			}
		}
		kw, err := Evaluate(ctx, ix, ds, search.ModeKeyword, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("depth %d: keyword on the 100 train queries: nDCG@10 %.4f", depth, kw.Metrics["all"].NDCG)
		type cfgT struct {
			name string
			set  func(*ltr.Params)
		}
		base := func(p *ltr.Params) { p.BaseFeature = search.LTRBaseFeature }
		grid := []cfgT{
			{"lambdamart no base", func(p *ltr.Params) {}},
			{"lambdamart base", base},
			{"lambdamart base 8 leaves minleaf 50", func(p *ltr.Params) { base(p); p.MaxLeaves, p.MinDocsPerLeaf = 8, 50 }},
			{"lambdamart base 4 leaves minleaf 100", func(p *ltr.Params) { base(p); p.MaxLeaves, p.MinDocsPerLeaf = 4, 100 }},
			{"lambdamart base ff0.5 qf0.7", func(p *ltr.Params) { base(p); p.FeatureFraction, p.QueryFraction = 0.5, 0.7 }},
			{"lambdamart base lr0.1 ff0.5", func(p *ltr.Params) { base(p); p.LearningRate, p.FeatureFraction = 0.1, 0.5 }},
			{"lambdamart base bags5", func(p *ltr.Params) { base(p); p.Bags = 5 }},
			{"lambdamart base 4 leaves minleaf 100 bags5", func(p *ltr.Params) { base(p); p.Bags, p.MaxLeaves, p.MinDocsPerLeaf = 5, 4, 100 }},
			{"lambdamart base generic", func(p *ltr.Params) { base(p); p.Ignore = []string{"log_desc_len", "log_title_len"} }},
			{"lambdamart base gk20", func(p *ltr.Params) { base(p); p.GradientK = 20 }},
			{"lambdamart base gk100", func(p *ltr.Params) { base(p); p.GradientK = 100 }},
			{"lambdamart base lr0.02", func(p *ltr.Params) { base(p); p.LearningRate = 0.02 }},
			{"lambdamart base minleaf10", func(p *ltr.Params) { base(p); p.MinDocsPerLeaf = 10 }},
			{"linear", func(p *ltr.Params) { p.Algorithm = ltr.AlgorithmLinear }},
			{"auto base", func(p *ltr.Params) { base(p); p.Algorithm = ltr.AlgorithmAuto }},
		}
		if g := os.Getenv("LTR_GRID"); g != "" {
			var keep []cfgT
			for _, c := range grid {
				if strings.HasPrefix(g, "=") && c.name == g[1:] || !strings.HasPrefix(g, "=") && strings.Contains(c.name, g) {
					keep = append(keep, c)
				}
			}
			grid = keep
		}
		for _, g := range grid {
			var sum float64
			seeds := []uint64{1}
			if os.Getenv("LTR_SEEDS") != "" {
				seeds = []uint64{1, 2, 3}
			}
			for _, seed := range seeds {
				p := ltr.DefaultParams(nil)
				g.set(&p)
				p.Seed = seed
				res, err := EvaluateLTR(ctx, ix, ds, LTROptions{Params: p, Folds: 5}, nil)
				if err != nil {
					t.Fatal(err)
				}
				sum += res.Report.Metrics["all"].NDCG
			}
			t.Logf("depth %d %-40s CV nDCG@10 %.4f (mean of %d seeds; keyword %.4f)", depth, g.name, sum/float64(len(seeds)), len(seeds), kw.Metrics["all"].NDCG)
		}
	}
	_ = fmt.Sprint()
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// TestDiagLTR compares, by 5-fold CV over the train queries, re-ranking the
// candidates by the model without any guard, the keyword order and the
// best possible order of the candidates.
//
//	go test -tags tune -run DiagLTR -v ./search/searcheval/
func TestDiagLTR(t *testing.T) {
	full, err := LoadESCI(testdata.Path(t, "esci-us-150"))
	if err != nil {
		t.Fatal(err)
	}
	var qs []Query
	for _, q := range full.Queries {
		if q.Split == "train" {
			qs = append(qs, q)
		}
	}
	ctx := context.Background()
	cfg := search.DefaultConfig()
	if d, err := strconv.Atoi(os.Getenv("LTR_DEPTH")); err == nil {
		cfg.Fusion.Depth = d
	}
	opts, cache := tuneOptions(t)
	ix, err := search.NewIndex(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert(ctx, full.Items...); err != nil {
		t.Fatal(err)
	}
	if cache != nil {
		if err := cache.save(); err != nil {
			t.Fatal(err)
		}
	}
	lab, err := Labelled(ctx, ix, qs, nil)
	if err != nil {
		t.Fatal(err)
	}
	full10 := func(q Query, labels []float64, order []int) float64 {
		ideal := make([]string, 0)
		_ = ideal
		var dcg float64
		for r := 0; r < len(order) && r < 10; r++ {
			dcg += labels[order[r]] / log2(float64(r)+2)
		}
		ids := make([]string, 0, len(q.Gains))
		for id := range q.Gains {
			ids = append(ids, id)
		}
		// ideal over all judged items
		g := make([]float64, 0, len(q.Gains))
		for _, id := range ids {
			g = append(g, q.Gains[id])
		}
		sortDesc(g)
		var idcg float64
		for r := 0; r < len(g) && r < 10; r++ {
			idcg += g[r] / log2(float64(r)+2)
		}
		if idcg == 0 {
			return 0
		}
		return dcg / idcg
	}
	algos := []ltr.Algorithm{ltr.AlgorithmLambdaMART, ltr.AlgorithmLinear}
	if os.Getenv("LTR_ONLY_TREES") != "" {
		algos = algos[:1]
	}
	for _, algo := range algos {
		var model, kw, oracle float64
		for fold := 0; fold < 5; fold++ {
			var tr, va []ltr.Query
			var testIdx []int
			k := 0
			for i := range lab {
				if i%5 == fold {
					testIdx = append(testIdx, i)
					continue
				}
				if k%4 == 3 {
					va = append(va, lab[i])
				} else {
					tr = append(tr, lab[i])
				}
				k++
			}
			p := ltr.DefaultParams(search.FeatureNames())
			p.Algorithm = algo
			p.BaseFeature = os.Getenv("LTR_BASE")
			if lr, err := strconv.ParseFloat(os.Getenv("LTR_RATE"), 64); err == nil {
				p.LearningRate = lr
			}
			if v, err := strconv.Atoi(os.Getenv("LTR_LEAVES")); err == nil {
				p.MaxLeaves = v
			}
			if v, err := strconv.Atoi(os.Getenv("LTR_MINLEAF")); err == nil {
				p.MinDocsPerLeaf = v
			}
			m, err := ltr.Train(ctx, tr, va, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range testIdx {
				q := lab[i]
				s := make([]float64, len(q.Features))
				for d, x := range q.Features {
					s[d] = m.Score(x)
				}
				model += full10(qs[i], q.Labels, order(s))
				ks := make([]float64, len(q.Features))
				for d := range ks {
					ks[d] = -float64(d)
				}
				kw += full10(qs[i], q.Labels, order(ks))
				oracle += full10(qs[i], q.Labels, order(q.Labels))
			}
			t.Logf("fold %d: %d trees, base weight %v", fold, m.Trees(), func() float64 { _, w := m.BaseFeature(); return w }())
			if fold == 0 {
				imp := m.Importances()
				t.Logf("%s fold 0 importances: %v", algo, imp[:min(12, len(imp))])
			}
		}
		n := float64(len(lab))
		t.Logf("%s: no-guard re-rank %.4f, keyword order %.4f, best order of the candidates %.4f", algo, model/n, kw/n, oracle/n)
	}
}

func log2(x float64) float64 { return math.Log2(x) }

func sortDesc(g []float64) { sort.Sort(sort.Reverse(sort.Float64Slice(g))) }

func order(s []float64) []int {
	o := make([]int, len(s))
	for i := range o {
		o[i] = i
	}
	sort.SliceStable(o, func(a, b int) bool { return s[o[a]] > s[o[b]] })
	return o
}

// TestInspectLTR prints the keyword top 10 of a few train queries with
// their gains and the best-labelled candidates below.
func TestInspectLTR(t *testing.T) {
	full, err := LoadESCI(testdata.Path(t, "esci-us-150"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert(ctx, full.Items...); err != nil {
		t.Fatal(err)
	}
	title := map[string]string{}
	for _, it := range full.Items {
		title[it.ID] = it.Title
	}
	n := 0
	for _, q := range full.Queries {
		if q.Split != "train" || n >= 6 {
			continue
		}
		n++
		cands, _ := ix.Candidates(ctx, search.Request{Query: q.Text})
		judged := 0
		for _, c := range cands {
			if _, ok := q.Gains[c.ID]; ok {
				judged++
			}
		}
		t.Logf("QUERY %q: %d candidates, %d judged, %d judged in all", q.Text, len(cands), judged, len(q.Gains))
		for i, c := range cands {
			g, ok := q.Gains[c.ID]
			lab := "unjudged"
			if ok {
				lab = fmt.Sprint(g)
			}
			if i < 12 || (ok && g == 1 && i < 40) {
				t.Logf("  %2d %-8s %.80s", i, lab, title[c.ID])
			}
		}
	}
}

// tuneOptions gives the index options of the tuning runs: with LTR_EMBED
// set, USE-lite vectors cached in /tmp/ltr.
func tuneOptions(t *testing.T) (search.Options, *fileCachedEmbedder) {
	var opts search.Options
	if os.Getenv("LTR_EMBED") == "" {
		return opts, nil
	}
	emb, err := embedders.New(embedders.Config{Kind: embedders.USELite})
	if err != nil {
		t.Fatal(err)
	}
	cache := &fileCachedEmbedder{inner: emb, path: "/tmp/ltr/use-lite-esci.gob", vecs: map[[32]byte][]float32{}}
	if f, err := os.Open(cache.path); err == nil {
		if err := gob.NewDecoder(f).Decode(&cache.vecs); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	opts.Embedder = cache
	return opts, cache
}

// TestExportESCIVariants writes ESCI catalogues with fields removed, and
// the TEST queries' judgments, in the generic qrels format under /tmp/ltr:
// stand-ins for other shops' poorer catalogues, to see whether a model
// trained on the full ESCI train split still helps there
// (aisle eval search --format qrels --mode ltr --ltr-model ...).
func TestExportESCIVariants(t *testing.T) {
	full, err := LoadESCI(testdata.Path(t, "esci-us-150"))
	if err != nil {
		t.Fatal(err)
	}
	variants := map[string]func(it *catalog.Item){
		"nodesc":    func(it *catalog.Item) { it.Description = "" },
		"titleonly": func(it *catalog.Item) { it.Description, it.Categories, it.Attributes, it.Brand = "", nil, nil, "" },
	}
	for name, strip := range variants {
		dir := "/tmp/ltr/esci-" + name
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(dir + "/items.jsonl")
		if err != nil {
			t.Fatal(err)
		}
		enc := json.NewEncoder(f)
		for _, it := range full.Items {
			strip(&it)
			if err := enc.Encode(it); err != nil {
				t.Fatal(err)
			}
		}
		f.Close()
		var b strings.Builder
		for _, q := range full.Queries {
			if q.Split != "test" {
				continue
			}
			ids := make([]string, 0, len(q.Gains))
			for id := range q.Gains {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			for _, id := range ids {
				fmt.Fprintf(&b, "%s\t%s\t%g\n", q.Text, id, q.Gains[id])
			}
		}
		if err := os.WriteFile(dir+"/qrels.tsv", []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
