// Package embed turns text into dense vectors for semantic retrieval. It
// defines the Embedder interface that search uses for item vectors (computed
// at ingest) and query vectors (per request), and small building blocks on
// top of any Embedder: an LRU cache for repeated queries (Cache), a cheap
// character n-gram hashing embedder for text the neural model cannot read,
// e.g. Chinese (Hashing), and a weighted concatenation of embedders into one
// vector space (Concat).
//
// Implementations: embed/uselite (Universal Sentence Encoder lite, English,
// in pure Go, offline) and embed/openai (a client for any OpenAI-compatible
// /embeddings endpoint).
package embed

import (
	"context"
	"math"
)

// Embedder maps texts to vectors of one fixed dimension. Vectors returned by
// the implementations in this module are L2-normalised, so a dot product is
// the cosine similarity. Vectors from different Embedders (or different
// Names) live in different spaces and must never be compared.
// Implementations are safe for concurrent use.
type Embedder interface {
	// Embed returns one vector per text, in order. The caller may keep the
	// vectors but must not assume they are independent copies unless the
	// implementation says so.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	// Dim is the length of every vector.
	Dim() int
	// Name identifies the model (and so the vector space), e.g.
	// "use-lite-en"; store it next to persisted vectors.
	Name() string
}

// Normalize scales v to unit L2 norm in place; a zero vector stays zero.
func Normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
}

// Dot returns the dot product of a and b (the cosine similarity of unit
// vectors). It panics if the lengths differ.
func Dot(a, b []float32) float32 {
	if len(a) != len(b) {
		panic("embed.Dot: vectors of different length")
	}
	var s float32
	for i, x := range a {
		s += x * b[i]
	}
	return s
}

var (
	_ Embedder = (*Cache)(nil)
	_ Embedder = (*Hashing)(nil)
	_ Embedder = (*Concat)(nil)
)
