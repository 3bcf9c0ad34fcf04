package rating

import (
	"encoding/gob"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/aisle-dev/aisle/model"
)

// paramSpec is a hyper-parameter's default and allowed range.
type paramSpec struct {
	def, lo, hi float64
}

// resolve fills defaults into p and rejects unknown or out-of-range names.
func resolve(modelName string, specs map[string]paramSpec, p model.Params) (model.Params, error) {
	out := model.Params{}
	for k, s := range specs {
		out[k] = s.def
	}
	for k, v := range p {
		s, ok := specs[k]
		if !ok {
			known := make([]string, 0, len(specs))
			for n := range specs {
				known = append(known, n)
			}
			sort.Strings(known)
			return nil, fmt.Errorf("%s: unknown parameter %q (known: %s)", modelName, k, strings.Join(known, ", "))
		}
		if math.IsNaN(v) || v < s.lo || v > s.hi {
			return nil, fmt.Errorf("%s: parameter %s=%v outside [%v, %v]", modelName, k, v, s.lo, s.hi)
		}
		out[k] = v
	}
	return out, nil
}

func cloneParams(p model.Params) model.Params {
	out := make(model.Params, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

// ratingStats returns the mean and range of the training targets: the
// ratings, or 1 for every interaction when the data has none.
func ratingStats(ds *model.Dataset) (mean, lo, hi float32) {
	if ds.Ratings == nil {
		return 1, 1, 1
	}
	var s float64
	lo, hi = float32(math.Inf(1)), float32(math.Inf(-1))
	for _, r := range ds.Ratings {
		s += float64(r)
		lo, hi = min(lo, r), max(hi, r)
	}
	if len(ds.Ratings) == 0 {
		return 0, 0, 0
	}
	return float32(s / float64(len(ds.Ratings))), lo, hi
}

// target returns the training target of interaction j.
func target(ds *model.Dataset, j int) float32 {
	if ds.Ratings == nil {
		return 1
	}
	return ds.Ratings[j]
}

func clamp(x, lo, hi float32) float32 {
	if lo >= hi {
		return x
	}
	return min(max(x, lo), hi)
}

// userOf returns, for every interaction index, its user (the CSR row).
func userOf(ds *model.Dataset) []int32 {
	out := make([]int32, ds.NumInteractions())
	for u := 0; u < ds.NumUsers(); u++ {
		for j := ds.UserPtr[u]; j < ds.UserPtr[u+1]; j++ {
			out[j] = int32(u)
		}
	}
	return out
}

// save and load write a model's state with gob behind a name check.
func save(w io.Writer, name string, state any) error {
	enc := gob.NewEncoder(w)
	if err := enc.Encode(name); err != nil {
		return fmt.Errorf("save %s: %w", name, err)
	}
	if err := enc.Encode(state); err != nil {
		return fmt.Errorf("save %s: %w", name, err)
	}
	return nil
}

func load(r io.Reader, name string, state any) error {
	dec := gob.NewDecoder(r)
	var got string
	if err := dec.Decode(&got); err != nil {
		return fmt.Errorf("load %s: %w", name, err)
	}
	if got != name {
		return fmt.Errorf("load %s: the artefact holds a %q model", name, got)
	}
	if err := dec.Decode(state); err != nil {
		return fmt.Errorf("load %s: %w", name, err)
	}
	return nil
}

func dot(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	n := len(a)
	b = b[:n]
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}
