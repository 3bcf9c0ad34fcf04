package embed

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Part is one Embedder of a Concat with its weight (> 0).
type Part struct {
	Embedder Embedder
	Weight   float64
}

// Concat joins several Embedders into one vector space: each part's vector
// is normalised, scaled by sqrt(weight/Σweights) and the parts are
// concatenated. The result is a unit vector, and the dot product of two
// results is the weighted mean of the parts' cosine similarities. Used to
// pair the English encoder with Hashing so that Chinese texts, which the
// encoder maps to nearly one point, still differ.
type Concat struct {
	parts []Part
	scale []float32
	dim   int
	name  string
}

// NewConcat returns the concatenation of parts.
func NewConcat(parts ...Part) (*Concat, error) {
	if len(parts) == 0 {
		return nil, errors.New("concat: no embedders")
	}
	c := &Concat{parts: parts}
	var total float64
	var names []string
	for _, p := range parts {
		if p.Embedder == nil || !(p.Weight > 0) {
			return nil, fmt.Errorf("concat: part %d needs an embedder and a positive weight", len(names))
		}
		total += p.Weight
		c.dim += p.Embedder.Dim()
		names = append(names, fmt.Sprintf("%s*%g", p.Embedder.Name(), p.Weight))
	}
	for _, p := range parts {
		c.scale = append(c.scale, float32(math.Sqrt(p.Weight/total)))
	}
	c.name = "concat(" + strings.Join(names, ",") + ")"
	return c, nil
}

// Name lists the parts and their weights.
func (c *Concat) Name() string { return c.name }

// Dim is the sum of the parts' dimensions.
func (c *Concat) Dim() int { return c.dim }

// Embed runs every part on texts and concatenates the scaled vectors.
func (c *Concat) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	flat := make([]float32, len(texts)*c.dim)
	out := make([][]float32, len(texts))
	for i := range out {
		out[i] = flat[i*c.dim : (i+1)*c.dim : (i+1)*c.dim]
	}
	off := 0
	for k, p := range c.parts {
		d := p.Embedder.Dim()
		vecs, err := p.Embedder.Embed(ctx, texts)
		if err != nil {
			return nil, fmt.Errorf("concat part %s: %w", p.Embedder.Name(), err)
		}
		if len(vecs) != len(texts) {
			return nil, fmt.Errorf("concat part %s: %d vectors for %d texts", p.Embedder.Name(), len(vecs), len(texts))
		}
		for i, v := range vecs {
			if len(v) != d {
				return nil, fmt.Errorf("concat part %s: vector of length %d, want %d", p.Embedder.Name(), len(v), d)
			}
			dst := out[i][off : off+d]
			copy(dst, v)
			Normalize(dst)
			for j := range dst {
				dst[j] *= c.scale[k]
			}
		}
		off += d
	}
	return out, nil
}
