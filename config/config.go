// Package config reads Aisle's configuration file (YAML). Every setting has
// a default, so the file is optional; command-line flags override it.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration.
type Config struct {
	// Data is the data directory (default ./aisle-data).
	Data string `yaml:"data"`
	// Store is where data is kept when not in the data directory: a
	// postgres:// URL (PostgreSQL, shared by several replicas). Empty:
	// the embedded store in Data.
	Store string `yaml:"store"`
	// Shop is the shop this configuration opens ("" or "default": the
	// default shop). Not a setting: package shops sets it, with Data, for
	// each shop it opens, so that a store shared by shops (PostgreSQL)
	// keeps each shop's data apart.
	Shop   string `yaml:"-"`
	Server Server `yaml:"server"`
	Events Events `yaml:"events"`
	// Training configures preprocessing and the models `aisle train` and
	// the server's retraining fit.
	Training Training `yaml:"training"`
	// Recommend configures online recommendations and retraining.
	Recommend Recommend `yaml:"recommend"`
	// Search configures product search.
	Search Search `yaml:"search"`
	// Privacy configures compaction after deletions and retention.
	Privacy Privacy `yaml:"privacy"`
	// Bus is the change feed between replicas: "" (default) is the
	// in-process feed of a single server; nats://host:4222 (several URLs
	// separated by commas) joins a cluster on NATS JetStream, which also
	// turns on stream ingestion and the background-work lease.
	Bus string `yaml:"bus"`
	// Cluster configures the NATS side of a cluster (used when bus is set).
	Cluster Cluster `yaml:"cluster"`
	// Experiments configures the impression log behind attribution and
	// A/B tests (issue 15).
	Experiments Experiments `yaml:"experiments"`
	// Assistant configures the shopping assistant (POST /api/assistant).
	Assistant Assistant `yaml:"assistant"`
	// Shops configures the many shops of one deployment (docs/shops.md).
	Shops Shops `yaml:"shops"`
	// Images configures search by image (POST /api/search/image).
	Images Images `yaml:"images"`
	// Ads configures sponsored products (see docs/merchandising.md).
	Ads Ads `yaml:"ads"`
	// Memory bounds the server's memory (docs/scale.md).
	Memory Memory `yaml:"memory"`
}

// Memory bounds the process's memory.
type Memory struct {
	// Limit is the Go runtime's soft memory limit (runtime/debug.SetMemoryLimit,
	// what GOMEMLIMIT sets): a size such as "1.5GiB", "800MB" or a number of
	// bytes. Near it the garbage collector runs more often instead of letting
	// the heap grow; it is not a hard cap (memory the data needs is still
	// taken). Empty (default): no limit from the configuration, GOMEMLIMIT
	// still applies.
	Limit string `yaml:"limit"`
}

// LimitBytes is Limit in bytes, 0 when empty (or invalid: Validate says so).
func (m Memory) LimitBytes() int64 {
	n, err := ParseBytes(m.Limit)
	if err != nil {
		return 0
	}
	return n
}

// byteUnits are the size suffixes ParseBytes accepts, longest first.
var byteUnits = []struct {
	suffix string
	mult   float64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

// ParseBytes reads a size: a number with an optional unit B, KB, MB, GB,
// TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), in any
// case, as in "1.5GiB", "800MB" or "1073741824". The empty string is 0.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, nil
	}
	mult := 1.0
	for _, u := range byteUnits {
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || !(f >= 0) || math.IsInf(f, 0) || strings.ContainsAny(t, "xXpPnN_") {
		return 0, fmt.Errorf("size %q: want a number with an optional unit such as 1.5GiB, 800MB or 1073741824", s)
	}
	b := f * mult
	if b >= 1<<62 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(b), nil
}

// Cluster configures the change feed, the lease and stream ingestion on
// NATS JetStream (docs/cluster.md).
type Cluster struct {
	// ReplicaID names this replica in leases and logs (default: host
	// name and process id).
	ReplicaID string `yaml:"replica_id"`
	// Stream and Subject are the change feed's JetStream stream and
	// subject prefix (default AISLE_CHANGES, aisle.changes).
	Stream  string `yaml:"stream"`
	Subject string `yaml:"subject"`
	// KeepChanges is how long the feed keeps changes (default 24h): a
	// replica away longer reloads from the store.
	KeepChanges time.Duration `yaml:"keep_changes"`
	// LeaseBucket is the key-value bucket of leases (default aisle_leases);
	// LeaseTTL how long a lease outlives its holder's last renewal (default
	// 15s: a dead holder's work moves within 20s).
	LeaseBucket string        `yaml:"lease_bucket"`
	LeaseTTL    time.Duration `yaml:"lease_ttl"`
	// RelayLeaseBucket and RelayLeaseTTL are the outbox relay's own lease
	// (a KV bucket's TTL is the bucket's, so a shorter TTL needs its own
	// bucket). While no replica relays, committed changes wait in the
	// outbox: the TTL is the longest such pause after the relay's replica
	// dies (default 3s, renewed every second; the bucket defaults to
	// lease_bucket + "_relay").
	RelayLeaseBucket string        `yaml:"relay_lease_bucket"`
	RelayLeaseTTL    time.Duration `yaml:"relay_lease_ttl"`
	// IngestSubject receives events from a shop's systems (JSON event or
	// array, as POST /api/events); "-" turns stream ingestion off. Bad
	// messages go to DeadSubject with the reason. Both live in
	// IngestStream. Defaults: aisle.ingest.events, aisle.ingest.dead,
	// AISLE_INGEST.
	IngestSubject string `yaml:"ingest_subject"`
	DeadSubject   string `yaml:"dead_subject"`
	IngestStream  string `yaml:"ingest_stream"`
}

// Experiments configures the impression log and experiment outcomes.
type Experiments struct {
	// ImpressionRetention is how long answers are kept in the impression
	// log (default 720h = 30 days); clicks on older answers are not
	// attributed.
	ImpressionRetention time.Duration `yaml:"impression_retention"`
	// ImpressionQueue is how many answers may wait for the log writer
	// (default 4096); more are dropped and counted in
	// aisle_impressions_dropped_total, never slowing an answer.
	ImpressionQueue int `yaml:"impression_queue"`
	// ExploreShare is the share (0 … 1) of recommendation answers whose
	// first 10 items are shuffled at random and flagged in the impression
	// log, so the examination of each position can be estimated without
	// the confounding of a personalised ranking (docs/experiments.md,
	// "Exploration"). 0 (the default) disables it; 0.02 is a good start.
	// Off by default: it changes the order of answers a shop gets, which
	// a shop should choose (and which would make every check of an
	// answer's order random).
	ExploreShare float64 `yaml:"explore_share"`
	// SearchExploreShare is the share (0 … 1) of first pages of /api/search
	// (relevance order, no pin or sponsored item in the first 10, no
	// rule moving items) whose first 10 items are shuffled and flagged in
	// the impression log, so that the examination of search positions is
	// estimated from them rather than by EM, which search answers (whose
	// order barely changes) confound (decision 0070). 0 (the default)
	// disables it.
	SearchExploreShare float64 `yaml:"search_explore_share"`
	// SearchInterleaveShare is the share (0 … 1) of first pages of
	// /api/search (relevance order of a learned ranker, no rule arranging
	// them, outside search experiments, not explored) that are team-draft
	// interleaved between the serving search ranker and a newly trained
	// challenger while there is one: clicks on them decide, by a
	// sequential sign test, whether the challenger replaces the serving
	// version (decision 0073). 0 disables it: the offline check on held-out
	// judgments decides, which favours the serving version. Default 0.5
	// (docs/benchmarks.md, "Interleaved promotion of the search ranker").
	SearchInterleaveShare float64 `yaml:"search_interleave_share"`
	// CountAfterAck, on a store several replicas share, has the replica
	// that receives an event batch add what the batch counts in running
	// experiments to the store right after acknowledging it (results on
	// other replicas lag by about one transaction) instead of before (the
	// default: results agree on every replica at the acknowledgement, and
	// a batch that counts something waits one more PostgreSQL transaction;
	// decision 0049).
	CountAfterAck bool `yaml:"count_after_ack"`
}

// Images points search by image at an image embedder: an
// OpenAI-compatible embeddings endpoint serving a CLIP-style model that
// takes image URLs and data: URIs as input. With no embedder_url, items'
// images are only shown.
type Images struct {
	EmbedderURL   string `yaml:"embedder_url"`
	EmbedderModel string `yaml:"embedder_model"`
	EmbedderDim   int    `yaml:"embedder_dim"` // 0: learned from the first answer
	// EmbedderKey is the endpoint's API key; better set in
	// AISLE_IMAGES_EMBEDDER_KEY.
	EmbedderKey string `yaml:"embedder_key"`
}

// Assistant configures the shopping assistant.
type Assistant struct {
	// ConversationTTL is how long a conversation is remembered after its
	// last turn (default 24h); conversations survive restarts.
	ConversationTTL time.Duration `yaml:"conversation_ttl"`
	// Products is the number of products in an answer (default 5).
	Products int          `yaml:"products"`
	LLM      AssistantLLM `yaml:"llm"`
}

// AssistantLLM points the assistant at an OpenAI-compatible chat
// completions endpoint; with no base_url it uses its built-in
// understanding only.
type AssistantLLM struct {
	BaseURL string `yaml:"base_url"` // e.g. http://127.0.0.1:11434/v1 (Ollama), http://127.0.0.1:8000/v1 (vLLM)
	Model   string `yaml:"model"`
	// Key is the API key; better set in AISLE_ASSISTANT_LLM_KEY.
	Key string `yaml:"key"`
	// Timeout bounds one model call (default 20s); past it the turn is
	// answered by the built-in understanding.
	Timeout time.Duration `yaml:"timeout"`
	// MaxRounds bounds the tool-calling rounds of one turn (default 4).
	MaxRounds int `yaml:"max_rounds"`
	// PromptDir holds system.md and tools.json overriding the built-in
	// prompt and tool descriptions ("" keeps them).
	PromptDir string `yaml:"prompt_dir"`
}

// Shops configures how a deployment holds many shops.
type Shops struct {
	// IdleUnload unloads a shop's in-memory state after this long without
	// a request (default 30m; 0: never); its next request loads it again.
	// The default shop is never unloaded.
	IdleUnload time.Duration `yaml:"idle_unload"`
}

// AdSlots are the 1-based ad positions of each surface (empty: no ads).
type AdSlots struct {
	Search         []int `yaml:"search"`
	Recommend      []int `yaml:"recommend"`
	Similar        []int `yaml:"similar"`
	BoughtTogether []int `yaml:"bought_together"`
	Popular        []int `yaml:"popular"`
	Trending       []int `yaml:"trending"`
	Session        []int `yaml:"session"`
	Rows           []int `yaml:"rows"`
	// BecauseYouViewed is the merged row of because-you-viewed answers;
	// Basket the complete-your-basket answer.
	BecauseYouViewed []int `yaml:"because_you_viewed"`
	Basket           []int `yaml:"basket"`
}

// Map returns the slots by surface name.
func (s AdSlots) Map() map[string][]int {
	return map[string][]int{"search": s.Search, "recommend": s.Recommend, "similar": s.Similar, "bought_together": s.BoughtTogether,
		"popular": s.Popular, "trending": s.Trending, "session": s.Session, "rows": s.Rows,
		"because_you_viewed": s.BecauseYouViewed, "basket": s.Basket}
}

// AdFloors override ads.relevance_floor on some surfaces (unset: the
// shared floor).
type AdFloors struct {
	Search           *float64 `yaml:"search"`
	Recommend        *float64 `yaml:"recommend"`
	Similar          *float64 `yaml:"similar"`
	BoughtTogether   *float64 `yaml:"bought_together"`
	Popular          *float64 `yaml:"popular"`
	Trending         *float64 `yaml:"trending"`
	Session          *float64 `yaml:"session"`
	Rows             *float64 `yaml:"rows"`
	BecauseYouViewed *float64 `yaml:"because_you_viewed"`
	Basket           *float64 `yaml:"basket"`
}

// Map returns the floors that are set, by surface name.
func (f AdFloors) Map() map[string]float64 {
	out := map[string]float64{}
	for name, p := range map[string]*float64{"search": f.Search, "recommend": f.Recommend, "similar": f.Similar,
		"bought_together": f.BoughtTogether, "popular": f.Popular, "trending": f.Trending, "session": f.Session,
		"rows": f.Rows, "because_you_viewed": f.BecauseYouViewed, "basket": f.Basket} {
		if p != nil {
			out[name] = *p
		}
	}
	return out
}

// Ads configures sponsored products: the ad slots of each answer, the
// auction and what makes a click billable.
type Ads struct {
	// Slots are the 1-based positions of ad slots per surface (search,
	// recommend, similar, bought_together, popular, trending, session,
	// rows, because_you_viewed, basket); a surface not listed shows no ads, and no campaign means no
	// ads anywhere.
	Slots AdSlots `yaml:"slots"`
	// Reserve is the least price of a click (currency units).
	Reserve float64 `yaml:"reserve"`
	// RelevanceFloor (0..1): an ad less relevant to the answer than this
	// never competes, whatever its bid.
	RelevanceFloor float64 `yaml:"relevance_floor"`
	// RelevanceFloors set another floor on some surfaces. Relevance is
	// the share of the query's words an ad matches on search, and the
	// share of the answer's items in the ad's category elsewhere, so the
	// two may want different floors (docs/merchandising.md measures what
	// a recommendation floor costs organic quality and buys in fill).
	RelevanceFloors AdFloors `yaml:"relevance_floors"`
	// RepeatWindow: a shopper's further clicks on the same ad within it
	// are not charged.
	RepeatWindow time.Duration `yaml:"repeat_window"`
	// ClickTTL: a click this long after its impression is not charged.
	ClickTTL time.Duration `yaml:"click_ttl"`
	// AttributionWindow: purchases this long after an ad click count as
	// the campaign's sales.
	AttributionWindow time.Duration `yaml:"attribution_window"`
	// BotClicksPerMinute: a shopper clicking more ads a minute is
	// filtered as a bot.
	BotClicksPerMinute int `yaml:"bot_clicks_per_minute"`
	// PacingSlack is how far (share of the daily budget) an evenly paced
	// campaign may run ahead of the clock.
	PacingSlack float64 `yaml:"pacing_slack"`
	// Retention is how long ad impressions are kept (late clicks,
	// attribution, training the click model); 0 keeps them for ever.
	Retention time.Duration `yaml:"retention"`
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
	// AISLE_SEARCH_EMBEDDER_KEY), hash (character n-grams), use-lite+hash, or none.
	Embedder      string `yaml:"embedder"`
	EmbedderURL   string `yaml:"embedder_url"`
	EmbedderModel string `yaml:"embedder_model"`
	EmbedderDim   int    `yaml:"embedder_dim"`
	// EmbedderKey is the API key of the openai endpoint; better set in
	// the environment (AISLE_SEARCH_EMBEDDER_KEY, or AISLE_EMBEDDER_KEY)
	// than in the file.
	EmbedderKey string `yaml:"embedder_key"`
	// JapaneseHan analyses text written in kanji only as Japanese instead
	// of Chinese: set it for a Japanese catalogue.
	JapaneseHan bool `yaml:"japanese_han"`
	// EmbedWorkers bounds the goroutines computing item vectors in the
	// background (0: one per core); EmbedBatch is the texts per embedder
	// call (0: 64).
	EmbedWorkers int `yaml:"embed_workers"`
	EmbedBatch   int `yaml:"embed_batch"`
	// Vectors is how semantic search keeps item vectors in memory: int8
	// (default; a byte a dimension) or float32 (4× the memory, kept to
	// compare).
	Vectors string `yaml:"vectors"`
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
	// SuggestMinShoppers is how many distinct shoppers (users or sessions)
	// must have searched a query before it is suggested to everyone, and
	// from how many distinct client networks (IPv4 /24, IPv6 /48) when the
	// shoppers' ids are not trusted (default 3; 0 or 1: any single search;
	// nil keeps the engine's default). A lower number lets one visitor
	// plant suggestions. See decision 0061.
	SuggestMinShoppers *int `yaml:"suggest_min_shoppers"`
	// SuggestTrustClientIDs makes a search with only the read key vouch
	// for its query by its session_id (or user_id) alone, as one with the
	// admin key does, instead of by session and client network: set it
	// when the read key never leaves the shop's backend, which searches
	// for all shoppers from one address and cannot forward their
	// addresses (with server.trust_proxy and X-Forwarded-For it can, and
	// this stays off). Anyone holding the read key can then plant
	// suggestions by varying session_id (decision 0061).
	SuggestTrustClientIDs bool `yaml:"suggest_trust_client_ids"`
	// SuggestMaxQueries bounds the queries remembered for suggestions, and
	// separately those waiting for more shoppers (default 50000; 0 keeps
	// the engine's default).
	SuggestMaxQueries int `yaml:"suggest_max_queries"`
	// SuggestBlock lists phrases never suggested: a query containing one
	// as whole words is not remembered (DELETE /api/suggest/{query}
	// blocks one query, kept in the store; GET /api/suggest/blocked lists
	// them).
	SuggestBlock []string `yaml:"suggest_block"`
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
	// MaxHistory bounds the items remembered per user in memory (default
	// 1000; -1: unbounded), so memory does not grow with the event log:
	// past it the items touched least recently are forgotten (purchased
	// or rated ones only when all are) and models see the newest ones; the
	// per-user interest weights of the rows keep the strongest.
	MaxHistory int `yaml:"max_history"`
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
	// ANNThreshold is the catalogue size from which factor models answer
	// through the approximate index (package ann) instead of scoring every
	// item (default 100000); negative always scores every item, the exact
	// path kept for comparisons.
	ANNThreshold int `yaml:"ann_threshold"`
	// Vectors is how the index stores item vectors: int8 (one byte a
	// dimension, per-vector scale, the short list re-ranked with the
	// model's float32 vectors; default), int8dim (per-dimension scale) or
	// float32, or pq (product-quantised codes, 16 bytes an item at 64
	// dimensions, the short list re-ranked like int8's). See
	// docs/vectors.md for the measured recall, loss and speed.
	Vectors string `yaml:"vectors"`
	// SnapshotEvery writes a snapshot of the recommender's counts
	// (popularity, baskets, profiles, rows), and of the search click model
	// and ad billing's handled events, to <data>/snapshots every this
	// many events and at a clean shutdown, so a start replays only the
	// events after them (default 100000; -1: only at shutdown). See
	// decisions 0040 and 0047 (the item relations are written after each
	// build).
	SnapshotEvery int `yaml:"snapshot_every"`
	// ModelVectors chooses the storage per model (name → one of the
	// values of Vectors), overriding Vectors for that model: e.g. pq for
	// the model whose catalogue must fit in the least memory.
	ModelVectors map[string]string `yaml:"model_vectors"`
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
	// PositionWeights multiplies the training weight of an event that
	// carries a request id and a position by the clipped inverse
	// propensity of that position on the surface that showed it, when the
	// surface has a trusted fit (experiments.explore_share; the popular
	// list's weight, decision 0043); off by default (decision 0049).
	PositionWeights bool `yaml:"position_weights"`
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
	Addr     string `yaml:"addr"`      // default 127.0.0.1:8080
	AdminKey string `yaml:"admin_key"` // or AISLE_ADMIN_KEY
	ReadKey  string `yaml:"read_key"`  // or AISLE_READ_KEY
	// AdminKeyFile and ReadKeyFile name files holding the keys (one line;
	// a trailing newline is dropped), so that keys stay out of the
	// process list and the config file; each excludes its key set another
	// way.
	AdminKeyFile string `yaml:"admin_key_file"`
	ReadKeyFile  string `yaml:"read_key_file"`
	MaxBodyBytes int64  `yaml:"max_body_bytes"` // default 16 MiB
	// ShutdownTimeout is how long requests still running when the server
	// is told to stop may finish; then they are cut (default 10s).
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// LogFormat is text (default) or json; LogLevel debug, info (default),
	// warn or error.
	LogFormat string `yaml:"log_format"`
	LogLevel  string `yaml:"log_level"`
	// AccessLog logs one line per HTTP request (method, path, status,
	// duration) at info level.
	AccessLog bool `yaml:"access_log"`
	// RateLimit is the requests per second allowed to each client IP and,
	// separately, to each API key sent (0, the default: no limit).
	// Requests with the admin key and the health, readiness and metrics
	// routes are never limited. Over the limit the answer is 429 with
	// Retry-After.
	RateLimit float64 `yaml:"rate_limit"`
	// RateBurst is how many requests may come at once above the rate
	// (0: one second's worth, rate_limit rounded up, at least 1).
	RateBurst int `yaml:"rate_burst"`
	// TrustProxy takes the client IP from the last X-Forwarded-For entry
	// (set it only behind a proxy that appends the address it saw;
	// otherwise clients choose their own IP).
	TrustProxy bool `yaml:"trust_proxy"`
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
	// RatingScale is the [lo, hi] range of accepted rating values,
	// inclusive (default [-10, 10]); a rating outside it is refused with
	// a 400. Empty keeps the engine's default.
	RatingScale []float64 `yaml:"rating_scale"`
	// Retention is how long events of each type are kept (for example
	// view: 2160h, purchase: 17520h); a background job deletes older ones
	// in small steps. Types not named are kept for ever.
	Retention map[string]time.Duration `yaml:"retention"`
}

// Privacy configures the background privacy jobs.
type Privacy struct {
	// CompactAfter is the longest a deleted user's bytes stay in the data
	// file, the impression log and the experiment store: each file is
	// rewritten at most this long after a deletion (default 1m; negative
	// disables, leaving them until freed pages are reused).
	CompactAfter time.Duration `yaml:"compact_after"`
	// RetentionEvery is how often events.retention is applied (default 1h).
	RetentionEvery time.Duration `yaml:"retention_every"`
}

// Default returns the configuration used when there is no file: every
// default in one place. docs/aisle.example.yaml documents the same values
// (a test checks that it loads to exactly this).
// DefaultSearchInterleaveShare is experiments.search_interleave_share's
// default.
const DefaultSearchInterleaveShare = 0.5

func Default() Config {
	learn := true
	minShoppers := 3
	dedup, perMinute, sessionViews := 5*time.Second, 120, 300
	return Config{
		Data: "./aisle-data",
		Server: Server{Addr: "127.0.0.1:8080", MaxBodyBytes: 16 << 20, ShutdownTimeout: 10 * time.Second,
			LogFormat: "text", LogLevel: "info"},
		Privacy:     Privacy{CompactAfter: time.Minute, RetentionEvery: time.Hour},
		Experiments: Experiments{ImpressionRetention: 30 * 24 * time.Hour, ImpressionQueue: 4096, SearchInterleaveShare: DefaultSearchInterleaveShare},
		Shops:       Shops{IdleUnload: 30 * time.Minute},
		Ads: Ads{Slots: AdSlots{Search: []int{1, 5}, Recommend: []int{3}, Similar: []int{3}, BoughtTogether: []int{3},
			Popular: []int{3}, Trending: []int{3}, Session: []int{3}, Rows: []int{3},
			BecauseYouViewed: []int{3}, Basket: []int{3}},
			Reserve: 0.05, RelevanceFloor: 0.5, RepeatWindow: 30 * time.Minute, ClickTTL: 24 * time.Hour,
			AttributionWindow: 7 * 24 * time.Hour, BotClicksPerMinute: 10, PacingSlack: 0.05, Retention: 30 * 24 * time.Hour},
		Events: Events{Weights: map[string]float64{"view": 1, "click": 2, "add_to_cart": 4, "purchase": 8, "search": 0},
			RatingScale: []float64{-10, 10}},
		Training: Training{ValidationUsers: 5000, DedupWindow: &dedup, MaxEventsPerMinute: &perMinute, MaxSessionViews: &sessionViews,
			// the sequence model follows the fast ones when the data is
			// sequential enough; hyper-parameters are searched as Gorse does
			BackgroundBudget: 3 * time.Minute, TuneEvery: 6 * time.Hour, TuneBudget: 10 * time.Minute},
		// models (and the search ranker) follow behaviour without anyone
		// asking; each new version serves only if it validates no worse
		Recommend: Recommend{RetrainEvery: 6 * time.Hour, RetrainAfterEvents: 1000, RetrainQuiet: 5 * time.Second,
			ExcludeTypes: []string{"purchase", "rating"}, HistoryLen: 50, MaxHistory: 1000,
			AffinityBoost: 0.25, RecencyHalfLife: 5, TimeHalfLife: 168 * time.Hour,
			ANNThreshold: 100_000, Vectors: "int8", SnapshotEvery: 100_000},
		Search: Search{Mode: "keyword", LearnRanking: &learn, RankingMinQueries: 30, Vectors: "int8",
			SuggestMinShoppers: &minShoppers, SuggestMaxQueries: 50000},
		Cluster: Cluster{Stream: "AISLE_CHANGES", Subject: "aisle.changes", KeepChanges: 24 * time.Hour,
			LeaseBucket: "aisle_leases", LeaseTTL: 15 * time.Second, RelayLeaseTTL: 3 * time.Second,
			IngestSubject: "aisle.ingest.events", DeadSubject: "aisle.ingest.dead", IngestStream: "AISLE_INGEST"},
		Assistant: Assistant{ConversationTTL: 24 * time.Hour, Products: 5, LLM: AssistantLLM{Timeout: 20 * time.Second, MaxRounds: 4}},
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
	switch c.Search.Vectors {
	case "", "int8", "float32":
	default:
		return fmt.Errorf("config: search.vectors is %q, want int8 or float32", c.Search.Vectors)
	}
	switch c.Recommend.Vectors {
	case "", "int8", "int8dim", "float32", "pq":
	default:
		return fmt.Errorf("config: recommend.vectors is %q, want int8, int8dim, float32 or pq", c.Recommend.Vectors)
	}
	for name, v := range c.Recommend.ModelVectors {
		switch v {
		case "int8", "int8dim", "float32", "pq":
		default:
			return fmt.Errorf("config: recommend.model_vectors.%s is %q, want int8, int8dim, float32 or pq", name, v)
		}
	}
	if c.Server.MaxBodyBytes < 0 {
		return errors.New("config: server.max_body_bytes must be ≥ 0")
	}
	if n, err := ParseBytes(c.Memory.Limit); err != nil {
		return fmt.Errorf("config: memory.limit: %w", err)
	} else if n > 0 && n < 64<<20 {
		return fmt.Errorf("config: memory.limit %q is below 64MiB: the server cannot run in that (empty: no limit)", c.Memory.Limit)
	}
	switch c.Server.LogFormat {
	case "", "text", "json":
	default:
		return fmt.Errorf("config: server.log_format %q: want text or json", c.Server.LogFormat)
	}
	switch c.Server.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config: server.log_level %q: want debug, info, warn or error", c.Server.LogLevel)
	}
	if c.Server.ShutdownTimeout < 0 {
		return errors.New("config: server.shutdown_timeout must be ≥ 0 (0 cuts running requests at once)")
	}
	if r := c.Server.RateLimit; !(r >= 0) || math.IsInf(r, 0) {
		return fmt.Errorf("config: server.rate_limit %v must be a number of requests per second ≥ 0 (0: no limit)", r)
	}
	if c.Recommend.MaxHistory < -1 || c.Recommend.MaxHistory == 0 {
		return fmt.Errorf("config: recommend.max_history %d: want items per user ≥ 1, or -1 for unbounded", c.Recommend.MaxHistory)
	}
	if c.Recommend.SnapshotEvery < -1 || c.Recommend.SnapshotEvery == 0 {
		return fmt.Errorf("config: recommend.snapshot_every %d: want events between snapshots ≥ 1, or -1 for only at shutdown", c.Recommend.SnapshotEvery)
	}
	if c.Shops.IdleUnload < 0 {
		return fmt.Errorf("config: shops.idle_unload %v must be ≥ 0 (0: shops stay loaded)", c.Shops.IdleUnload)
	}
	if c.Server.RateBurst < 0 {
		return fmt.Errorf("config: server.rate_burst %d must be ≥ 0 (0: one second's worth of server.rate_limit)", c.Server.RateBurst)
	}
	if a := c.Ads; !(a.Reserve >= 0) || !(a.RelevanceFloor >= 0 && a.RelevanceFloor <= 1) || !(a.PacingSlack >= 0 && a.PacingSlack <= 1) ||
		a.RepeatWindow < 0 || a.ClickTTL < 0 || a.AttributionWindow < 0 || a.BotClicksPerMinute < 0 || a.Retention < 0 {
		return errors.New("config: ads: reserve ≥ 0, relevance_floor and pacing_slack from 0 to 1, windows, retention and bot_clicks_per_minute ≥ 0")
	}
	for surface, f := range c.Ads.RelevanceFloors.Map() {
		if !(f >= 0 && f <= 1) {
			return fmt.Errorf("config: ads.relevance_floors.%s %v must be from 0 to 1", surface, f)
		}
	}
	for surface, ps := range c.Ads.Slots.Map() {
		for _, p := range ps {
			if p < 1 || p > 1000 {
				return fmt.Errorf("config: ads.slots.%s: position %d must be from 1 to 1000", surface, p)
			}
		}
	}
	if rs := c.Events.RatingScale; len(rs) != 0 && (len(rs) != 2 || !(rs[0] < rs[1])) {
		return fmt.Errorf("config: events.rating_scale %v: want [lo, hi] with lo < hi, such as [1, 5]", rs)
	}
	if n := c.Search.SuggestMinShoppers; n != nil && *n < 0 {
		return fmt.Errorf("config: search.suggest_min_shoppers %d must be ≥ 0", *n)
	}
	if c.Search.SuggestMaxQueries < 0 {
		return fmt.Errorf("config: search.suggest_max_queries %d must be ≥ 0 (0: the default)", c.Search.SuggestMaxQueries)
	}
	if c.Bus != "" && !strings.HasPrefix(c.Bus, "nats://") && !strings.HasPrefix(c.Bus, "tls://") {
		return fmt.Errorf("config: bus %q: want a NATS URL such as nats://127.0.0.1:4222 (or nothing, for a single server)", c.Bus)
	}
	if c.Bus != "" && c.Cluster.LeaseTTL < time.Second {
		return fmt.Errorf("config: cluster.lease_ttl %s must be ≥ 1s (15s is a good value)", c.Cluster.LeaseTTL)
	}
	if c.Bus != "" && c.Cluster.RelayLeaseTTL < time.Second {
		return fmt.Errorf("config: cluster.relay_lease_ttl %s must be ≥ 1s (3s is a good value)", c.Cluster.RelayLeaseTTL)
	}
	if c.Bus != "" && c.Cluster.RelayLeaseBucket != "" && c.Cluster.RelayLeaseBucket == c.Cluster.LeaseBucket {
		return fmt.Errorf("config: cluster.relay_lease_bucket %q is also lease_bucket: the relay's lease needs its own bucket (its TTL is the bucket's)", c.Cluster.RelayLeaseBucket)
	}
	if c.Bus != "" && c.Cluster.IngestSubject != "-" && c.Cluster.IngestSubject == c.Cluster.DeadSubject {
		return fmt.Errorf("config: cluster.ingest_subject and cluster.dead_subject are both %q: give them different names", c.Cluster.IngestSubject)
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
	for t, d := range c.Events.Retention {
		if d < time.Hour {
			return fmt.Errorf("config: events.retention.%s is %v: keep events at least 1h (write durations like 2160h for 90 days)", t, d)
		}
	}
	if a := c.Assistant; a.ConversationTTL < 0 || a.Products < 0 || a.Products > 50 || a.LLM.Timeout < 0 || a.LLM.MaxRounds < 0 {
		return errors.New("config: assistant.conversation_ttl, llm.timeout and llm.max_rounds must be ≥ 0 and assistant.products 0 to 50")
	}
	if a := c.Assistant.LLM; (a.BaseURL == "") != (a.Model == "") {
		return errors.New("config: assistant.llm.base_url and assistant.llm.model go together: set both to use a language model, or neither")
	}
	if im := c.Images; (im.EmbedderURL == "") != (im.EmbedderModel == "") || im.EmbedderDim < 0 {
		return errors.New("config: images.embedder_url and images.embedder_model go together (set both for search by image), and images.embedder_dim must be ≥ 0")
	}
	if c.Privacy.RetentionEvery < 0 {
		return errors.New("config: privacy.retention_every must be ≥ 0 (0 means 1h)")
	}
	if c.Experiments.ImpressionRetention < 0 || c.Experiments.ImpressionQueue < 0 {
		return errors.New("config: experiments.impression_retention and impression_queue must be ≥ 0 (0: the default, 720h and 4096)")
	}
	if x := c.Experiments.ExploreShare; !(x >= 0 && x <= 1) {
		return fmt.Errorf("config: experiments.explore_share %v: want a share from 0 (no exploration) to 1", x)
	}
	if x := c.Experiments.SearchExploreShare; !(x >= 0 && x <= 1) {
		return fmt.Errorf("config: experiments.search_explore_share %v: want a share from 0 (no exploration) to 1", x)
	}
	if x := c.Experiments.SearchInterleaveShare; !(x >= 0 && x <= 1) {
		return fmt.Errorf("config: experiments.search_interleave_share %v: want a share from 0 (the offline check decides) to 1", x)
	}
	return nil
}
