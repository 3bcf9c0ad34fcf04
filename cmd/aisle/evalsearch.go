package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle/embed/embedders"
	"github.com/aisle-dev/aisle/internal/wire"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/search/searcheval"
)

// newEvalSearchCmd is `aisle eval search`: offline search quality on a judged
// data set, retrieving over the whole catalogue.
func newEvalSearchCmd() *cobra.Command {
	var format, path, catalogPath, qrelsPath, modeFlag, jsonOut string
	var embCfg embedders.Config
	var alpha float64
	var fusion, vectorsPath, configPath string
	var lo ltrFlags
	cmd := &cobra.Command{
		Use:   "search",
		Short: "Evaluate product search (nDCG@10, Recall@10, latency) on judged queries",
		Long: `Index a judged catalogue, run every query over the whole catalogue and report
nDCG@10 (gain of unjudged items 0), Recall@10 of items with gain > 0 and p50/p99 latency.

  --format esci  --path DIR    ESCI in the OpenSearch search-relevance layout (zipped bulk ndjson,
                               judgments, query set); gains Exact 1, Substitute 0.1, Complement 0.01,
                               Irrelevant 0; every third query (positions 0, 3, 6, ...) is test.
  --format qrels --catalog items.jsonl --qrels qrels.tsv
                               items as JSON Lines, judgments as query<TAB>item_id<TAB>gain; no split.

Without --mode the server's default runs as it does before shoppers have clicked: the server's ltr
mode ranks with a ranker learned from clicks, and only queries with click history; a judged data set
has no clicks, so every query takes the fallback, keyword. --mode ltr learns from the judgments.

--mode ltr trains a learning-to-rank model (LambdaMART by default) on the judged candidates and
searches with it, never scoring a query with a model trained on it: for esci one model is trained on
the train split only (its size chosen by cross-validation inside the train queries), so the
"train" numbers are in-sample and "test" is held out; for qrels, which has no split, --folds-fold
cross-validation by query: each query is searched by a model trained on the other folds. Features
use semantic similarity only when --embedder is given. --ltr-model FILE scores with a saved model
instead of training (e.g. one trained on another catalogue); --ltr-save FILE keeps the trained one.
--ltr-config FILE (YAML) holds the research settings of training (algorithm, trees, features to
ignore, ...); docs/ltr/default.yaml lists them with their defaults.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// the shop's search settings (file, then AISLE_SEARCH_* variables),
			// as `aisle serve` reads them; the flags below override them
			shop, err := loadEvalConfig(configPath)
			if err != nil {
				return err
			}
			cfg, err := wire.SearchConfig(shop.Search)
			if err != nil {
				return err
			}
			if modeFlag == "" && shop.Search.Mode != "" {
				modeFlag = shop.Search.Mode
			}
			if embCfg.Kind == "" && shop.Search.Embedder != "" && shop.Search.Embedder != "none" {
				embCfg = embedders.Config{Kind: shop.Search.Embedder, URL: shop.Search.EmbedderURL, Model: shop.Search.EmbedderModel,
					Dim: shop.Search.EmbedderDim, APIKey: shop.Search.EmbedderKey}
			}
			// the server's default on a fresh install: ltr ranks with a ranker
			// learned from the shop's clicks, and only queries with click
			// history; here there are no clicks, so every query takes the
			// fallback, keyword
			mode := cfg.DefaultMode
			if modeFlag != "" {
				m, err := search.ParseMode(modeFlag)
				if err != nil {
					return fmt.Errorf("--mode: %w", err)
				}
				mode = m
			}
			var lc ltrConfig
			if mode == search.ModeLTR {
				if lc, err = loadLTRConfig(lo.configPath); err != nil {
					return err
				}
				if lc.Depth > 0 {
					cfg.Fusion.Depth = lc.Depth
				}
			}
			opts := search.Options{Logger: progressLogger(cmd.ErrOrStderr()), // background embedding progress
				Float32Vectors: shop.Search.Vectors == "float32"} // search.vectors: the comparison with int8
			var vcache *vectorCache
			if mode == search.ModeSemantic || mode == search.ModeHybrid || mode == search.ModeLTR && embCfg.Kind != "" {
				emb, err := embedders.New(embCfg)
				if err != nil {
					return fmt.Errorf("--embedder: %w", err)
				}
				opts.Embedder = emb
				if vcache, err = openVectorCache(cmd.Context(), vectorsPath, emb, cmd.ErrOrStderr()); err != nil {
					return err
				}
				if vcache != nil {
					opts.Vectors = vcache.file
				}
				if fusion != "" {
					cfg.Fusion.Method = fusion
				}
				if alpha >= 0 {
					cfg.Fusion.Alpha = alpha
				}
			}
			var ds *searcheval.Dataset
			switch format {
			case "esci":
				if path == "" {
					return fmt.Errorf("--format esci needs --path DIR")
				}
				ds, err = searcheval.LoadESCI(path)
			case "qrels":
				if catalogPath == "" || qrelsPath == "" {
					return fmt.Errorf("--format qrels needs --catalog items.jsonl and --qrels qrels.tsv")
				}
				ds, err = searcheval.LoadQrels(catalogPath, qrelsPath)
			default:
				return fmt.Errorf("--format %q: want esci or qrels", format)
			}
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			errw := cmd.ErrOrStderr()
			ix, err := search.NewIndex(cfg, opts)
			if err != nil {
				return err
			}
			start := time.Now()
			if err := ix.Upsert(ctx, ds.Items...); err != nil {
				return fmt.Errorf("index %d items: %w", len(ds.Items), err)
			}
			if err := vcache.waitAndSave(ctx, ix, errw); err != nil {
				return fmt.Errorf("embed %d items: %w", len(ds.Items), err)
			}
			fmt.Fprintf(errw, "indexed %d items in %v\n", ix.Len(), time.Since(start).Round(time.Millisecond))
			start = time.Now()
			progress := func(done, total int) {
				if done == total || done%10 == 0 {
					el := time.Since(start)
					eta := time.Duration(float64(el) / float64(done) * float64(total-done))
					fmt.Fprintf(errw, "\rqueries %d/%d  ETA %v   ", done, total, eta.Round(time.Second))
				}
			}
			var rep *searcheval.Report
			if mode == search.ModeLTR {
				rep, err = evalLTR(ctx, errw, ix, ds, &lo, &lc, progress)
			} else {
				rep, err = searcheval.Evaluate(ctx, ix, ds, mode, progress)
			}
			fmt.Fprintln(errw)
			if err != nil {
				return err
			}
			if jsonOut != "" {
				return writeSearchReport(cmd.OutOrStdout(), jsonOut, rep)
			}
			printSearchReport(cmd.OutOrStdout(), rep)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "YAML configuration whose search section (synonyms, field weights, fusion, mode) is evaluated (or env AISLE_CONFIG; AISLE_SEARCH_* variables apply too); flags override it")
	f.StringVar(&format, "format", "esci", "data set format: esci or qrels")
	f.StringVar(&path, "path", "", "ESCI data set directory (--format esci)")
	f.StringVar(&catalogPath, "catalog", "", "items as JSON Lines (--format qrels)")
	f.StringVar(&qrelsPath, "qrels", "", "judgments query<TAB>item_id<TAB>gain (--format qrels)")
	f.StringVar(&modeFlag, "mode", "", "keyword, semantic, hybrid or ltr (default keyword: the server's default before it has learned from clicks)")
	f.StringVar(&jsonOut, "json", "", "write the report as JSON to FILE, or - for stdout")
	f.StringVar(&embCfg.Kind, "embedder", "", "text embedder for semantic and hybrid modes: "+strings.Join(embedders.Kinds(), ", ")+" (default use-lite)")
	f.StringVar(&embCfg.URL, "embedder-url", "", "OpenAI-compatible embeddings endpoint (--embedder openai)")
	f.StringVar(&embCfg.Model, "embedder-model", "", "model name sent to the endpoint (--embedder openai)")
	f.IntVar(&embCfg.Dim, "embedder-dim", 0, "vector length of the endpoint's model (--embedder openai)")
	f.StringVar(&fusion, "fusion", "", "hybrid fusion: convex or rrf (default from the search config)")
	f.Float64Var(&alpha, "alpha", -1, "hybrid keyword weight in [0,1] (default from the search config)")
	f.StringVar(&vectorsPath, "vectors", "", "item vector cache for semantic and hybrid modes, keyed by embedder and text hash (default: a file under the user cache dir; none: no cache)")
	lo.register(f)
	return cmd
}

func writeSearchReport(stdout io.Writer, dest string, rep *searcheval.Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	b = append(b, '\n')
	if dest == "-" {
		_, err = stdout.Write(b)
		return err
	}
	if err := os.WriteFile(dest, b, 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func printSearchReport(w io.Writer, rep *searcheval.Report) {
	fmt.Fprintf(w, "format %s, mode %s\n", rep.Format, rep.Mode)
	splits := make([]string, 0, len(rep.Metrics))
	for s := range rep.Metrics {
		splits = append(splits, s)
	}
	sort.Strings(splits)
	fmt.Fprintf(w, "%-6s %8s %8s %10s\n", "split", "queries", "nDCG@10", "Recall@10")
	for _, s := range splits {
		n := rep.Queries[s]
		if s == "all" {
			n = len(rep.PerQuery)
		}
		m := rep.Metrics[s]
		fmt.Fprintf(w, "%-6s %8d %8.4f %10.4f\n", s, n, m.NDCG, m.Recall)
	}
	fmt.Fprintf(w, "latency p50 %.2f ms, p99 %.2f ms\n", rep.Latency.P50, rep.Latency.P99)
}
