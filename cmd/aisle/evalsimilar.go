package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/demo"
	"github.com/aisle-dev/aisle/embed/embedders"
	"github.com/aisle-dev/aisle/eval"
	"github.com/aisle-dev/aisle/related"
	"github.com/aisle-dev/aisle/search/analysis"
)

// similarOptions are the flags of `aisle eval similar`.
type similarOptions struct {
	Format, Path, Items string
	K                   int
	// SimilarW and ComplementW fix the blends instead of learning them
	// ("signal=weight,…").
	SimilarW, ComplementW string
	// Embedder names a text embedder (embedders.Kinds) whose item vectors
	// join the blend; "" or "none" for none.
	Embedder string
	// SubstituteText overrides related.Config.SubstituteText (0 = default).
	SubstituteText float64
	// BoughtTogether overrides related.Config.BoughtTogether (0 = default).
	BoughtTogether float64
	// BasketLift and BasketSupport override the related.Config fields of
	// those names (0 = default).
	BasketLift, BasketSupport float64
	// ComplementModel is off, auto or always (related.ModelUse).
	ComplementModel string
	// ComplementHoldOut is next or shoppers (related.HoldOut).
	ComplementHoldOut string
	// BasketWindow overrides related.Config.BasketWindow (0 = default).
	BasketWindow time.Duration
}

// similarReport is what `aisle eval similar` measured.
type similarReport struct {
	Catalogue       string
	Items, Events   int
	Build, Embed    time.Duration
	Embedder        string
	HeapMB          float64
	Learn           related.LearnReport
	Similar         map[string]eval.RelationScores // method → scores vs substitutes
	BoughtTogether  map[string]eval.RelationScores // method → scores vs complements
	SimilarOrder    []string
	ComplementOrder []string
}

func newEvalSimilarCmd() *cobra.Command {
	var opt similarOptions
	cmd := &cobra.Command{
		Use:   "similar --format rechorus --path P",
		Short: "Measure similar items and bought-together against published item relations",
		Long: `Build the item relations (package related) from the training split and the catalogue exactly as
the server does — blend weights learned on a hold-out of the training behaviour, never on the
published relations — then answer similar items and bought-together for every item that has
published relations, and report NDCG@K, HR@K and the share of answers in the item's leaf category:
similar items against the substitutes ("also viewed"), bought-together against the complements
("also bought"), next to two baselines: raw co-occurrence, and content (same leaf category first,
then IDF-weighted title overlap).

  rechorus  folder with train.csv and item_meta.csv (r_substitute, r_complement); a *.item2index
            file maps its ids to the catalogue's.

The catalogue (titles, brands, category paths) comes from --items (JSON Lines of items); without it,
from the embedded demo catalogue when that covers the data set, else from the folder's *.text file
and item_meta's category and brand codes.`,
		Example: `  aisle eval similar --format rechorus --path ../shared/data/amazon-office-5core`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opt.Format != "rechorus" {
				return fmt.Errorf("--format %q: only rechorus is supported (a folder with train.csv and item_meta.csv)", opt.Format)
			}
			if opt.Path == "" {
				return fmt.Errorf("--path is required: the rechorus folder")
			}
			progress := func(s string) { fmt.Fprintln(cmd.ErrOrStderr(), s) }
			rep, err := runEvalSimilar(cmd.Context(), opt, progress)
			if err != nil {
				return err
			}
			return writeSimilarTable(cmd.OutOrStdout(), rep, opt.K)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opt.Format, "format", "rechorus", "data format: rechorus")
	f.StringVar(&opt.Path, "path", "", "data set folder")
	f.StringVar(&opt.Items, "items", "", "catalogue as JSON Lines of items (default: see above)")
	f.IntVar(&opt.K, "k", 10, "cut-off")
	f.Float64Var(&opt.SubstituteText, "substitute-text", 0, "title similarity from which a same-category item is a substitute, never a complement (default: related's)")
	f.Float64Var(&opt.BoughtTogether, "bought-together", 0, "behaviour similarity from which a same-kind item is a complement after all (default: related's)")
	f.Float64Var(&opt.BasketLift, "basket-lift", 0, "popularity discount of the basket score, 0–1: near 0 ranks partners by co-counts, 1 by lift; negative = 0 (default: related's)")
	f.Float64Var(&opt.BasketSupport, "basket-support", 0, "baskets from which a pair's basket score is trusted, c/(c+k); negative = 0 (default: related's)")
	f.StringVar(&opt.ComplementHoldOut, "complement-holdout", "next", "what the complement blend is learned on: next (the newest item of held-out baskets or shoppers) or shoppers (whole shoppers held out, items weighed by 1/popularity)")
	f.DurationVar(&opt.BasketWindow, "basket-window", 0, "purchases of one shopper within this span form a basket when events carry no order id (default: related's, 24h)")
	f.StringVar(&opt.ComplementModel, "complement-model", "off", "learned complement model (conditional logit over pair features): off, auto (serves when it beats the blend on the hold-out) or always")
	f.StringVar(&opt.Embedder, "embedder", "none", "text embedder whose item vectors join the blend: none, "+strings.Join(embedders.Kinds(), ", "))
	f.StringVar(&opt.SimilarW, "similar-weights", "", "fixed blend for similar items instead of learning it, e.g. leaf=1,text=1,behaviour=0.5")
	f.StringVar(&opt.ComplementW, "complement-weights", "", "fixed blend for bought-together instead of learning it")
	return cmd
}

// runEvalSimilar loads the data, builds the relations and scores them and
// the baselines.
func runEvalSimilar(ctx context.Context, opt similarOptions, progress func(string)) (*similarReport, error) {
	if opt.K <= 0 {
		opt.K = 10
	}
	use, err := related.ParseModelUse(opt.ComplementModel)
	if err != nil {
		return nil, fmt.Errorf("--complement-model: %w", err)
	}
	hold, err := related.ParseHoldOut(opt.ComplementHoldOut)
	if err != nil {
		return nil, fmt.Errorf("--complement-holdout: %w", err)
	}
	cat, name, err := similarCatalogue(opt)
	if err != nil {
		return nil, err
	}
	rel, err := eval.LoadReChorusRelations(opt.Path, cat)
	if err != nil && cat != nil && opt.Items == "" {
		// the demo catalogue is not this data set's: use the folder's own text
		name = "the folder's text and codes"
		rel, err = eval.LoadReChorusRelations(opt.Path, nil)
	}
	if err != nil {
		return nil, err
	}
	rep := &similarReport{Catalogue: name, Items: len(rel.Items), Events: len(rel.Train),
		Similar: map[string]eval.RelationScores{}, BoughtTogether: map[string]eval.RelationScores{}}
	progress(fmt.Sprintf("catalogue: %s (%d items); training events: %d; items with substitutes: %d, with complements: %d",
		name, len(rel.Items), len(rel.Train), nonEmpty(rel.Substitutes), nonEmpty(rel.Complements)))
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	cfg := related.Config{SubstituteText: opt.SubstituteText, BoughtTogether: opt.BoughtTogether,
		BasketLift: opt.BasketLift, BasketSupport: opt.BasketSupport, ComplementModel: use,
		ComplementHoldOut: hold, BasketWindow: opt.BasketWindow}
	if opt.SimilarW != "" {
		w, err := related.ParseWeights(opt.SimilarW)
		if err != nil {
			return nil, fmt.Errorf("--similar-weights: %w", err)
		}
		cfg.Similar = &w
	}
	if opt.ComplementW != "" {
		w, err := related.ParseWeights(opt.ComplementW)
		if err != nil {
			return nil, fmt.Errorf("--complement-weights: %w", err)
		}
		cfg.Complement = &w
	}
	var vecs related.Vectors
	if opt.Embedder != "" && opt.Embedder != "none" {
		e, err := embedders.New(embedders.Config{Kind: opt.Embedder})
		if err != nil {
			return nil, fmt.Errorf("--embedder: %w", err)
		}
		t0 := time.Now()
		vecs, err = related.EmbedItems(ctx, e, rel.Items, func(done, total int) {
			if done%640 == 0 || done == total {
				progress(fmt.Sprintf("  embedded %d of %d items with %s", done, total, e.Name()))
			}
		})
		if err != nil {
			return nil, err
		}
		rep.Embed = time.Since(t0)
		rep.Embedder = e.Name()
	}
	ix, lr, err := related.Learn(ctx, rel.Items, rel.Train, nil, vecs, cfg, progress)
	if err != nil {
		return nil, fmt.Errorf("build item relations: %w", err)
	}
	rep.Build = time.Since(start)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	rep.HeapMB = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (1 << 20)
	runtime.KeepAlive(ix)
	rep.Learn = lr
	progress(fmt.Sprintf("built in %s (learned: %v)", rep.Build.Round(time.Millisecond), lr.Learned))

	leafOf := map[string]string{}
	for _, it := range rel.Items {
		if len(it.Categories) > 0 {
			leafOf[it.ID] = it.Categories[0]
		}
	}
	leaf := func(id string) string { return leafOf[id] }
	answer := func(truth map[string][]string, f func(id string) []related.Result) map[string][]string {
		out := map[string][]string{}
		n := 0
		for a, r := range truth {
			if len(r) == 0 {
				continue
			}
			for _, x := range f(a) {
				out[a] = append(out[a], x.ID)
			}
			if n++; n%500 == 0 {
				progress(fmt.Sprintf("  answered %d of %d", n, nonEmpty(truth)))
			}
		}
		return out
	}
	anchors := func(truth map[string][]string) []string {
		var out []string
		for a, r := range truth {
			if len(r) > 0 {
				out = append(out, a)
			}
		}
		slices.Sort(out)
		return out
	}
	an, err := analysis.NewRegistry(analysis.Options{}).Analyzer(analysis.AnalyzerEnglish)
	if err != nil {
		return nil, err
	}
	measure := func(into map[string]eval.RelationScores, truth map[string][]string, f func(id string) []related.Result) {
		got := map[string]map[string][]string{
			"related":       answer(truth, f),
			"co-occurrence": eval.CoOccurrenceBaseline(anchors(truth), rel.Train, opt.K),
			"content":       eval.ContentBaseline(anchors(truth), rel.Items, an, opt.K),
		}
		val, test := eval.SplitRelations(truth)
		for _, m := range []string{"related", "co-occurrence", "content"} {
			into[m+" (test half)"] = eval.ScoreRelations(got[m], test, leaf, opt.K)
			into[m+" (validation half)"] = eval.ScoreRelations(got[m], val, leaf, opt.K)
			into[m+" (all)"] = eval.ScoreRelations(got[m], truth, leaf, opt.K)
		}
	}
	progress("similar items: related, co-occurrence and content baselines")
	measure(rep.Similar, rel.Substitutes, func(id string) []related.Result { return ix.Similar(id, opt.K, nil) })
	progress("bought together: related, co-occurrence and content baselines")
	measure(rep.BoughtTogether, rel.Complements, func(id string) []related.Result { return ix.Complements(id, opt.K, nil) })
	for _, h := range []string{"test half", "validation half", "all"} {
		for _, m := range []string{"related", "co-occurrence", "content"} {
			rep.SimilarOrder = append(rep.SimilarOrder, m+" ("+h+")")
		}
	}
	rep.ComplementOrder = rep.SimilarOrder
	return rep, nil
}

func nonEmpty(m map[string][]string) int {
	n := 0
	for _, v := range m {
		if len(v) > 0 {
			n++
		}
	}
	return n
}

// similarCatalogue reads --items, or the embedded demo catalogue.
func similarCatalogue(opt similarOptions) ([]catalog.Item, string, error) {
	if opt.Items != "" {
		f, err := os.Open(opt.Items)
		if err != nil {
			return nil, "", fmt.Errorf("open --items: %w", err)
		}
		defer f.Close()
		its, err := readItemsJSONL(f)
		if err != nil {
			return nil, "", fmt.Errorf("read --items %q: %w", opt.Items, err)
		}
		return its, opt.Items, nil
	}
	r, err := demo.Open(demo.ItemsFile)
	if err != nil {
		return nil, "", err
	}
	defer r.Close()
	its, err := readItemsJSONL(r)
	return its, "the embedded demo catalogue", err
}

func readItemsJSONL(r io.Reader) ([]catalog.Item, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	var out []catalog.Item
	line := 0
	for sc.Scan() {
		line++
		b := strings.TrimSpace(sc.Text())
		if b == "" {
			continue
		}
		var it catalog.Item
		if err := json.Unmarshal([]byte(b), &it); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, it)
	}
	return out, sc.Err()
}

func writeSimilarTable(w io.Writer, rep *similarReport, k int) error {
	fmt.Fprintf(w, "catalogue: %s, %d items, %d training events; build %s, heap +%.1f MB\n",
		rep.Catalogue, rep.Items, rep.Events, rep.Build.Round(time.Millisecond), rep.HeapMB)
	if rep.Embedder != "" {
		fmt.Fprintf(w, "item vectors: %s, embedded in %s\n", rep.Embedder, rep.Embed.Round(time.Millisecond))
	}
	if rep.Learn.Learned {
		fmt.Fprintf(w, "learned on %d held-out anchors: similar %s (held-out NDCG@10 %.4f → %.4f); complement %s (%.4f → %.4f)\n",
			rep.Learn.Anchors, rep.Learn.Similar, rep.Learn.SimilarBefore, rep.Learn.SimilarAfter,
			rep.Learn.Complement, rep.Learn.ComplementBefore, rep.Learn.ComplementAfter)
	} else {
		fmt.Fprintf(w, "too little behaviour to learn from: default weights\n")
	}
	if rep.Learn.Model != "" {
		fmt.Fprintf(w, "complement model: held-out NDCG@10 %.4f (blend %.4f), serving: %v; %s\n",
			rep.Learn.ModelNDCG, rep.Learn.ModelBlend, rep.Learn.ModelUsed, rep.Learn.Model)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "surface\tmethod\tanchors\tNDCG@%d\tHR@%d\tsame-leaf\tcoverage\n", k, k)
	for _, s := range []struct {
		name  string
		m     map[string]eval.RelationScores
		order []string
	}{{"similar vs substitutes", rep.Similar, rep.SimilarOrder}, {"bought-together vs complements", rep.BoughtTogether, rep.ComplementOrder}} {
		for _, meth := range s.order {
			r := s.m[meth]
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.4f\t%.4f\t%.3f\t%.3f\n", s.name, meth, r.Anchors, r.NDCG, r.HR, r.SameLeaf, r.Coverage)
		}
	}
	return tw.Flush()
}
