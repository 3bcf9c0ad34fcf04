// Package config reads Aisle's configuration file (YAML). Every setting has
// a default, so the file is optional; command-line flags override it.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration.
type Config struct {
	// Data is the data directory (default ./aisle-data).
	Data   string `yaml:"data"`
	Server Server `yaml:"server"`
	Events Events `yaml:"events"`
	// Training configures preprocessing and the models `aisle train` and
	// the server's retraining fit.
	Training Training `yaml:"training"`
	// Recommend configures online recommendations and retraining.
	Recommend Recommend `yaml:"recommend"`
	// Search configures product search.
	Search Search `yaml:"search"`
}

// Search configures product search.
type Search struct {
	// Mode is the default retrieval mode: keyword (default), semantic or
	// hybrid; ltr means the learned ranker, falling back to keyword.
	Mode string `yaml:"mode"`
	// LearnRanking trains a learning-to-rank model from what shoppers do
	// after searching (clicks, carts, purchases in the same session) with
	// every retraining; once a version beats keyword ranking on held-out
	// queries it re-ranks searches in the default mode. Default true.
	LearnRanking *bool `yaml:"learn_ranking"`
	// RankingMinQueries is the fewest judged queries (distinct queries with
	// shopper actions in the newer half of the search log) to train the
	// ranker (default 30).
	RankingMinQueries int `yaml:"ranking_min_queries"`
	// Embedder enables semantic and hybrid search: use-lite (built in,
	// English), openai (an OpenAI-compatible endpoint; key in
	// AISLE_EMBEDDER_KEY), hash (character n-grams), use-lite+hash, or none.
	Embedder      string `yaml:"embedder"`
	EmbedderURL   string `yaml:"embedder_url"`
	EmbedderModel string `yaml:"embedder_model"`
	EmbedderDim   int    `yaml:"embedder_dim"`
	// JapaneseHan analyses text written in kanji only as Japanese instead
	// of Chinese: set it for a Japanese catalogue.
	JapaneseHan bool `yaml:"japanese_han"`
	// EmbedWorkers bounds the goroutines computing item vectors in the
	// background (0: one per core); EmbedBatch is the texts per embedder
	// call (0: 64).
	EmbedWorkers int `yaml:"embed_workers"`
	EmbedBatch   int `yaml:"embed_batch"`
	// Synonyms are groups of equivalent words, e.g. [[sneaker, trainer]].
	Synonyms [][]string `yaml:"synonyms"`
	// FieldWeights overrides the BM25F weight of fields by name: title,
	// brand, categories, attributes, description.
	FieldWeights map[string]float64 `yaml:"field_weights"`
	// Fusion overrides the hybrid fusion defaults.
	Fusion SearchFusion `yaml:"fusion"`
	// BoostWeight bounds personalisation: an affinity b in [0,1] multiplies
	// a result's score by at most 1+BoostWeight·b (default 0.1, at most 1).
	BoostWeight *float64 `yaml:"boost_weight"`
	// PriceRanges are the buckets of the price facet as [min, max] pairs,
	// max 0 meaning open-ended.
	PriceRanges [][2]float64 `yaml:"price_ranges"`
}

// SearchFusion overrides how hybrid search merges keyword and semantic
// results; zero values keep the defaults.
type SearchFusion struct {
	// Method is convex (normalised scores over both lists), rerank (the
	// same over the keyword results only) or rrf (reciprocal rank fusion).
	Method string `yaml:"method"`
	// Norm normalises scores for convex and rerank: minmax, zscore or rank.
	Norm string `yaml:"norm"`
	// Gate in [0,1] lowers the semantic weight when the keyword top 10
	// holds exact title matches.
	Gate *float64 `yaml:"gate"`
	// Alpha is the keyword weight in [0,1].
	Alpha *float64 `yaml:"alpha"`
	// RRFK is RRF's rank constant.
	RRFK float64 `yaml:"rrf_k"`
	// Depth is how many results of each list are fused.
	Depth int `yaml:"depth"`
}

// Recommend configures the recommendation service.
type Recommend struct {
	// Primary is the model that ranks personal recommendations; "" picks
	// the serving model with the best validation NDCG@10.
	Primary string `yaml:"primary"`
	// ExcludeTypes are event types whose items are not recommended again to
	// the same user, however long ago (default: purchase and rating).
	ExcludeTypes []string `yaml:"exclude_types"`
	// HistoryLen is how many of a user's most recent items form the recent
	// interest that affinity_boost blends in (default 50); models are
	// always queried with the whole history.
	HistoryLen int `yaml:"history_len"`
	// AffinityBoost blends recent category interest into model scores (default 0.25).
	AffinityBoost float64 `yaml:"affinity_boost"`
	// RecencyHalfLife (in items) and TimeHalfLife weigh a user's recent
	// items above older ones in the category affinity (defaults 5 items and
	// 168h; negative disables). How recent items adjust the model query is
	// chosen on validation by training.
	RecencyHalfLife float64       `yaml:"recency_half_life"`
	TimeHalfLife    time.Duration `yaml:"time_half_life"`
	// RetrainEvery retrains on a schedule (default 6h; 0 = off);
	// RetrainAfterEvents retrains once this many new events arrived and
	// none for RetrainQuiet, or 10 minutes after (default 1000;
	// 0 = off), so a shop that loads its history is trained seconds after.
	RetrainEvery       time.Duration `yaml:"retrain_every"`
	RetrainAfterEvents int           `yaml:"retrain_after_events"`
	RetrainQuiet       time.Duration `yaml:"retrain_quiet"` // default 5s; negative: no wait
	// PromoteTolerance accepts a retrained version whose validation NDCG@10
	// is at most this fraction below the serving one (default 0).
	PromoteTolerance float64 `yaml:"promote_tolerance"`
}

// Model names a model to train, its hyper-parameters and, optionally, its
// own data requirements.
type Model struct {
	Name         string             `yaml:"name"`
	Params       map[string]float64 `yaml:"params"`
	Requirements map[string]float64 `yaml:"requirements"` // min_users, min_items, min_interactions, min_density, max_items, min_avg_row, needs_ratings, min_seq_users, min_order_signal
}

// Training configures the training pipeline.
type Training struct {
	// Models to train, in order; empty means the built-in default list.
	Models []Model `yaml:"models"`
	// ValidationUsers is how many users' newest interactions (a fifth of
	// each) are held out to measure every model and choose its weighting
	// (0: 5000; negative: no validation).
	ValidationUsers int  `yaml:"validation_users"`
	SkipRefit       bool `yaml:"skip_refit"`
	// Preprocessing.
	DedupWindow        *time.Duration `yaml:"dedup_window"`          // default 5s
	MaxEventsPerMinute *int           `yaml:"max_events_per_minute"` // default 120; 0 disables
	MaxSessionViews    *int           `yaml:"max_session_views"`     // default 300; 0 disables
	HalfLife           time.Duration  `yaml:"half_life"`             // time decay; 0 disables
	MinUserItems       int            `yaml:"min_user_items"`        // k-core; 0 disables
	MinItemUsers       int            `yaml:"min_item_users"`
	// BackgroundModels are trained by the server after the fast Models,
	// in the background, once the data passes their checks (sasrec: enough
	// users with time-ordered histories and an order that predicts the
	// next item); empty means sasrec. Each fit is bounded by
	// BackgroundBudget (default 3m; 0 = no background models) and
	// BackgroundThreads goroutines (default 1, leaving the other cores to
	// requests). A background model serves if it validates no worse than
	// its previous version, and ranks personal recommendations only if it
	// validates best of all.
	BackgroundModels  []Model       `yaml:"background_models"`
	BackgroundBudget  time.Duration `yaml:"background_budget"`
	BackgroundThreads int           `yaml:"background_threads"`
	// TuneEvery searches the fast models' main hyper-parameters on the
	// validation split on this schedule (default 6h; 0 = never), each
	// search bounded by TuneBudget (default 10m); parameters that win are
	// kept by later retrainings. Parameters set in Models are not varied.
	TuneEvery  time.Duration `yaml:"tune_every"`
	TuneBudget time.Duration `yaml:"tune_budget"`
}

// Server configures `aisle serve`.
type Server struct {
	Addr         string `yaml:"addr"`           // default 127.0.0.1:8080
	AdminKey     string `yaml:"admin_key"`      // or AISLE_ADMIN_KEY
	ReadKey      string `yaml:"read_key"`       // or AISLE_READ_KEY
	MaxBodyBytes int64  `yaml:"max_body_bytes"` // default 16 MiB
}

// Events configures which events are accepted and how much each counts.
type Events struct {
	// CustomTypes are event types accepted besides the built-in ones.
	CustomTypes []string `yaml:"custom_types"`
	// Weights maps event types to training weights (defaults: view 1,
	// click 2, add_to_cart 4, purchase 8; rating uses its value).
	Weights map[string]float64 `yaml:"weights"`
	// AcceptUnknownItems accepts events naming items not in the catalogue.
	AcceptUnknownItems bool `yaml:"accept_unknown_items"`
}

// Default returns the configuration used when there is no file.
func Default() Config {
	return Config{
		Data:   "./aisle-data",
		Server: Server{Addr: "127.0.0.1:8080", MaxBodyBytes: 16 << 20},
		Events: Events{Weights: map[string]float64{"view": 1, "click": 2, "add_to_cart": 4, "purchase": 8, "search": 0}},
		// models (and the search ranker) follow behaviour without anyone
		// asking; each new version serves only if it validates no worse
		Recommend: Recommend{RetrainEvery: 6 * time.Hour, RetrainAfterEvents: 1000, RetrainQuiet: 5 * time.Second},
		// the sequence model follows the fast ones when the data is
		// sequential enough; hyper-parameters are searched as Gorse does
		Training: Training{BackgroundBudget: 3 * time.Minute, TuneEvery: 6 * time.Hour, TuneBudget: 10 * time.Minute},
	}
}

// Load reads a YAML file over the defaults. Unknown keys are errors, so a
// typo does not silently leave a default in place. An empty path gives the
// defaults.
func Load(path string) (Config, error) {
	c := Default()
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, c.Validate()
}

// Validate checks values that have a valid range.
func (c Config) Validate() error {
	if c.Server.MaxBodyBytes < 0 {
		return errors.New("config: server.max_body_bytes must be ≥ 0")
	}
	t := c.Training
	if t.BackgroundBudget < 0 || t.BackgroundThreads < 0 || t.TuneEvery < 0 || t.TuneBudget < 0 {
		return errors.New("config: training.background_budget, background_threads, tune_every and tune_budget must be ≥ 0 (0 turns background models and tuning off)")
	}
	for t, w := range c.Events.Weights {
		if w < 0 {
			return fmt.Errorf("config: events.weights.%s must be ≥ 0", t)
		}
	}
	return nil
}
