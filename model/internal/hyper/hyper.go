// Package hyper reads model hyper-parameters (model.Params) with defaults and
// checks that no unknown name was given, and holds the small versioned gob
// envelope the models of this module use for Save/Load.
package hyper

import (
	"encoding/gob"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/aisle-dev/aisle/model"
)

// Spec is one hyper-parameter a model accepts.
type Spec struct {
	Name    string
	Default float64
	Min     float64 // inclusive lower bound
	Max     float64 // inclusive upper bound; 0 means no upper bound
	Int     bool    // the value must be a whole number
}

// Read resolves p against specs: every name in p must be known and in range;
// missing names take their defaults. The result holds every spec's name.
func Read(modelName string, p model.Params, specs []Spec) (map[string]float64, error) {
	known := make(map[string]Spec, len(specs))
	out := make(map[string]float64, len(specs))
	for _, s := range specs {
		known[s.Name] = s
		out[s.Name] = s.Default
	}
	for name, v := range p {
		s, ok := known[name]
		if !ok {
			names := make([]string, 0, len(specs))
			for _, s := range specs {
				names = append(names, s.Name)
			}
			sort.Strings(names)
			return nil, fmt.Errorf("%s: unknown parameter %q (known: %s)", modelName, name, strings.Join(names, ", "))
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || v < s.Min || (s.Max != 0 && v > s.Max) {
			if s.Max != 0 {
				return nil, fmt.Errorf("%s: parameter %s=%v out of range [%v, %v]", modelName, name, v, s.Min, s.Max)
			}
			return nil, fmt.Errorf("%s: parameter %s=%v must be at least %v", modelName, name, v, s.Min)
		}
		if s.Int && v != math.Trunc(v) {
			return nil, fmt.Errorf("%s: parameter %s=%v must be a whole number", modelName, name, v)
		}
		out[name] = v
	}
	return out, nil
}

// header starts every saved model so that Load can refuse a file of another
// model or of an unknown format version.
type header struct {
	Kind    string
	Version int
}

// Save writes a header for kind/version followed by the gob encoding of v.
func Save(w io.Writer, kind string, version int, v any) error {
	enc := gob.NewEncoder(w)
	if err := enc.Encode(header{Kind: kind, Version: version}); err != nil {
		return fmt.Errorf("save %s: %w", kind, err)
	}
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("save %s: %w", kind, err)
	}
	return nil
}

// Load reads what Save wrote into v, checking kind and version.
func Load(r io.Reader, kind string, version int, v any) error {
	dec := gob.NewDecoder(r)
	var h header
	if err := dec.Decode(&h); err != nil {
		return fmt.Errorf("load %s: read header: %w", kind, err)
	}
	if h.Kind != kind {
		return fmt.Errorf("load %s: the data holds a %q model", kind, h.Kind)
	}
	if h.Version != version {
		return fmt.Errorf("load %s: format version %d, this build reads %d", kind, h.Version, version)
	}
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("load %s: %w", kind, err)
	}
	return nil
}

// CheckCSR verifies that ptr/idx is a well-formed compressed-row structure
// over column indices in [0, cols): ptr starts at 0, never decreases, ends at
// len(idx), and every index is in range. weights, when not nil, must have one
// value per index. Load uses it so that a corrupt file fails instead of
// panicking later in Score.
func CheckCSR(ptr []int, idx []int32, weights []float32, cols int) error {
	if len(ptr) == 0 || ptr[0] != 0 || ptr[len(ptr)-1] != len(idx) {
		return fmt.Errorf("row pointers do not span the %d indices", len(idx))
	}
	for r := 1; r < len(ptr); r++ {
		if ptr[r] < ptr[r-1] {
			return fmt.Errorf("row pointer %d decreases", r)
		}
	}
	for j, c := range idx {
		if c < 0 || int(c) >= cols {
			return fmt.Errorf("index %d: column %d out of range [0, %d)", j, c, cols)
		}
	}
	if weights != nil && len(weights) != len(idx) {
		return fmt.Errorf("%d weights for %d indices", len(weights), len(idx))
	}
	return nil
}
