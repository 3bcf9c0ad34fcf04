package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle/assistant"
	"github.com/aisle-dev/aisle/assistant/assisteval"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/demo"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/store/boltstore"
)

func newEvalAssistantCmd() *cobra.Command {
	var judged, llmURL, llmModel, format, configPath string
	var timeout time.Duration
	var withRecs bool
	cmd := &cobra.Command{
		Use:   "assistant",
		Short: "Measure the shopping assistant on the judged conversations over the demo catalogue",
		Long: `Plays the judged set of shopping conversations (English and Chinese, single- and
multi-turn; built in, or --judged FILE) through the assistant over the demo catalogue and
reports constraint accuracy, nDCG@5 of the products, the share of turns showing an
ungrounded product, and latency per turn: for the built-in understanding, and for the
language model when one is configured (assistant.llm in --config or AISLE_CONFIG, the
AISLE_ASSISTANT_LLM_* variables, or --llm-url and --llm-model; key in
AISLE_ASSISTANT_LLM_KEY). The model's turns go through the same path as the server's: tool
calls, the grounding checker (what it removed is reported), and the fallback to the
built-in understanding (counted by reason).`,
		Example: "  aisle eval assistant\n  aisle eval assistant --llm-url http://127.0.0.1:11434/v1 --llm-model qwen2.5:7b\n  aisle eval assistant --config aisle.yaml --format json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data := assistant.JudgedSet
			if judged != "" {
				b, err := os.ReadFile(judged)
				if err != nil {
					return fmt.Errorf("read the judged set: %w", err)
				}
				data = b
			}
			cases, err := assisteval.Load(bytes.NewReader(data))
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			cfg, err := loadEvalConfig(configPath)
			if err != nil {
				return err
			}
			lc := cfg.Assistant.LLM
			if llmURL != "" {
				lc.BaseURL = llmURL
			}
			if llmModel != "" {
				lc.Model = llmModel
			}
			if cmd.Flags().Changed("llm-timeout") || cfg.Assistant.LLM.BaseURL == "" {
				lc.Timeout = timeout
			}
			if lc.Key == "" {
				lc.Key = os.Getenv("AISLE_ASSISTANT_LLM_KEY")
			}
			var llm *assistant.LLM
			if lc.BaseURL != "" {
				if lc.Model == "" {
					return fmt.Errorf("a language model at %s needs a model name: --llm-model or assistant.llm.model", lc.BaseURL)
				}
				if llm, err = assistant.NewLLM(assistant.LLMConfig{BaseURL: lc.BaseURL, Model: lc.Model, Key: lc.Key, Timeout: lc.Timeout,
					MaxRounds: lc.MaxRounds, PromptDir: lc.PromptDir}); err != nil {
					return err
				}
			}
			a, items, done, err := demoAssistant(ctx, llm, withRecs)
			if err != nil {
				return err
			}
			defer done()
			var reps []*assisteval.Report
			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			rep, err := assisteval.Run(ctx, a, cases, "builtin")
			if err != nil {
				return err
			}
			reps = append(reps, rep)
			if llm != nil {
				if rep, err = assisteval.Run(ctx, a, cases, ""); err != nil {
					return err
				}
				reps = append(reps, rep)
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				return json.NewEncoder(out).Encode(reps)
			}
			fmt.Fprintf(out, "judged set: %d conversations, %d turns over the demo catalogue (%d items)\n", reps[0].Conversations, reps[0].Turns, items)
			fmt.Fprintf(out, "%-8s %10s %8s %8s %11s %9s %8s %8s %8s\n", "mode", "constraint", "nDCG@5", "judged", "ungrounded", "fallback", "p50 ms", "p99 ms", "removed")
			for _, r := range reps {
				fmt.Fprintf(out, "%-8s %10.3f %8.3f %8d %11.3f %9d %8.2f %8.2f %8d\n", r.Mode, r.ConstraintAccuracy, r.NDCG5, r.JudgedTurns, r.Ungrounded, r.Fallbacks, r.P50MS, r.P99MS,
					r.Removed.Products+r.Removed.Prices+r.Removed.Attributes)
			}
			for _, r := range reps {
				if r.Mode != "llm" {
					continue
				}
				reasons := make([]string, 0, len(r.FallbackReasons))
				for k, v := range r.FallbackReasons {
					reasons = append(reasons, fmt.Sprintf("%s %d", k, v))
				}
				sort.Strings(reasons)
				fmt.Fprintf(out, "\nllm (%s at %s): %d of %d turns answered by the model; fallbacks: %s; the grounding checker removed %d products, %d prices, %d attributes\n",
					lc.Model, lc.BaseURL, r.ModelTurns, r.Turns, orNone(strings.Join(reasons, ", ")), r.Removed.Products, r.Removed.Prices, r.Removed.Attributes)
			}
			for _, r := range reps {
				if len(r.Misses) > 0 {
					fmt.Fprintf(out, "\n%s: first misses\n  %s\n", r.Mode, strings.Join(r.Misses[:min(10, len(r.Misses))], "\n  "))
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "YAML configuration whose assistant.llm section names the language model to measure (or env AISLE_CONFIG; AISLE_ASSISTANT_LLM_* variables apply too); --llm-* flags override it")
	cmd.Flags().StringVar(&judged, "judged", "", "judged set (JSON Lines; default: the built-in set over the demo catalogue)")
	cmd.Flags().StringVar(&llmURL, "llm-url", "", "OpenAI-compatible API root of a language model to measure too")
	cmd.Flags().StringVar(&llmModel, "llm-model", "", "model name at --llm-url")
	cmd.Flags().DurationVar(&timeout, "llm-timeout", 60*time.Second, "per model call (default: assistant.llm.timeout when the configuration names the model, else 60s)")
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	cmd.Flags().BoolVar(&withRecs, "recommender", true, "import the demo's purchases into a temporary store so popularity, similar items and recommendations answer (false: search only)")
	return cmd
}

// demoAssistant is an assistant over the demo catalogue: the search index
// in memory and, withRecs, a recommender over the demo's purchases in a
// temporary store.
func demoAssistant(ctx context.Context, llm *assistant.LLM, withRecs bool) (_ *assistant.Assistant, n int, done func(), err error) {
	var closers []func()
	done = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			done()
		}
	}()
	f, err := demo.Open(demo.ItemsFile)
	if err != nil {
		return nil, 0, nil, err
	}
	defer f.Close()
	items, err := readItems(f)
	if err != nil {
		return nil, 0, nil, err
	}
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
	if err != nil {
		return nil, 0, nil, err
	}
	closers = append(closers, func() { ix.Close() })
	if err := ix.Upsert(ctx, items...); err != nil {
		return nil, 0, nil, err
	}
	cat := assistant.NewCatalogue()
	cat.Add(items...)
	o := assistant.Options{Catalogue: cat, Search: ix, Conversations: assistant.NewConversations(0, nil, nil), LLM: llm}
	if withRecs {
		svc, closeStore, err := demoRecommender(ctx)
		if err != nil {
			return nil, 0, nil, err
		}
		closers = append(closers, closeStore)
		o.Recommend = svc
	}
	a, err := assistant.New(o)
	if err != nil {
		return nil, 0, nil, err
	}
	closers = append(closers, a.Close)
	return a, len(items), done, nil
}

// demoRecommender imports the demo into a temporary store and loads a
// recommendation service over it (popularity, co-purchases; no trained
// model).
func demoRecommender(ctx context.Context) (_ *recommend.Service, done func(), err error) {
	dir, err := os.MkdirTemp("", "aisle-eval-assistant-")
	if err != nil {
		return nil, nil, err
	}
	st, err := boltstore.Open(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	done = func() { st.Close(); os.RemoveAll(dir) }
	defer func() {
		if err != nil {
			done()
		}
	}()
	eng, err := engine.New(engine.Options{Store: st})
	if err != nil {
		return nil, nil, err
	}
	for _, job := range []struct {
		kind engine.Kind
		name string
	}{{engine.KindItems, demo.ItemsFile}, {engine.KindEvents, demo.EventsFile}} {
		r, err := demo.Open(job.name)
		if err != nil {
			return nil, nil, err
		}
		_, err = eng.Import(ctx, job.kind, engine.ImportSource{R: r, Format: catalog.JSONL})
		r.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("import the demo %s: %w", job.kind, err)
		}
	}
	svc := recommend.New(st, recommend.Config{}, nil)
	if err := svc.Load(ctx); err != nil {
		return nil, nil, err
	}
	return svc, done, nil
}

func readItems(r io.Reader) ([]catalog.Item, error) {
	var out []catalog.Item
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var it catalog.Item
		if err := json.Unmarshal(sc.Bytes(), &it); err != nil {
			return nil, fmt.Errorf("demo item %d: %w", len(out)+1, err)
		}
		it.Available = true
		out = append(out, it)
	}
	return out, sc.Err()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
