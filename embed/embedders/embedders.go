// Package embedders builds the configured embed.Embedder by name, so the
// CLI and the server share one mapping from flags/config
// (--embedder, --embedder-url, ...) to implementations.
package embedders

import (
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aisle-dev/aisle/embed"
	"github.com/aisle-dev/aisle/embed/openai"
	"github.com/aisle-dev/aisle/embed/uselite"
)

// Kinds of embedder New knows.
const (
	// USELite is the built-in English encoder (512-d, offline). Default.
	USELite = "use-lite"
	// OpenAI is a remote OpenAI-compatible /embeddings endpoint.
	OpenAI = "openai"
	// Hash is character n-gram feature hashing: lexical, reads any script.
	Hash = "hash"
	// USELiteHash joins USE-lite and Hash in one space (weights 1:1), for
	// catalogues mixing English and Chinese/Japanese/Korean text.
	USELiteHash = "use-lite+hash"
)

// Kinds lists the accepted Config.Kind values.
func Kinds() []string { return []string{USELite, OpenAI, Hash, USELiteHash} }

// Config selects and configures an embedder. Only the fields of the chosen
// Kind are used.
type Config struct {
	Kind string // one of Kinds(); "" means USELite

	// Workers for USE-lite; 0 means GOMAXPROCS.
	Workers int

	// HashDim is the number of buckets of Hash; 0 means 512.
	HashDim int

	// OpenAI-compatible endpoint (see openai.Config).
	URL        string
	Model      string
	APIKey     string // pass it from an environment variable, not a flag
	Dim        int
	BatchSize  int
	Timeout    time.Duration
	MaxRetries int

	Logger *slog.Logger
}

// New returns the embedder cfg describes. It does no I/O: USE-lite loads
// its weights on first use (call its Load at start-up), and an OpenAI
// client is only checked for a well-formed configuration (call its Probe).
func New(cfg Config) (embed.Embedder, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	hashDim := cfg.HashDim
	if hashDim == 0 {
		hashDim = 512
	}
	switch cfg.Kind {
	case "", USELite:
		return uselite.New(uselite.Config{Workers: cfg.Workers, Logger: cfg.Logger}), nil
	case Hash:
		return embed.NewHashing(hashDim), nil
	case USELiteHash:
		return embed.NewConcat(
			embed.Part{Embedder: uselite.New(uselite.Config{Workers: cfg.Workers, Logger: cfg.Logger}), Weight: 1},
			embed.Part{Embedder: embed.NewHashing(hashDim), Weight: 1},
		)
	case OpenAI:
		c, err := openai.New(openai.Config{
			URL: cfg.URL, Model: cfg.Model, APIKey: cfg.APIKey, Dim: cfg.Dim,
			BatchSize: cfg.BatchSize, Timeout: cfg.Timeout, MaxRetries: cfg.MaxRetries,
			Logger: cfg.Logger,
		})
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, fmt.Errorf("unknown embedder %q: want one of %v", cfg.Kind, Kinds())
}

// Valid reports whether kind is accepted by New.
func Valid(kind string) bool { return kind == "" || slices.Contains(Kinds(), kind) }
