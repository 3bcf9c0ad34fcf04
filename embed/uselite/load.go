package uselite

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"path"
	"slices"
)

// weightSpec is one entry of a TensorFlow.js weight manifest.
type weightSpec struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	Dtype string `json:"dtype"`
	// Quantized weights are not supported (this model has none).
	Quantization json.RawMessage `json:"quantization"`
}

type graphModel struct {
	WeightsManifest []struct {
		Paths   []string     `json:"paths"`
		Weights []weightSpec `json:"weights"`
	} `json:"weightsManifest"`
}

// tensor is a float32 weight with its shape.
type tensor struct {
	shape []int
	data  []float32
}

// readWeights decodes the weights listed in the manifest dir/model.json from
// the shard files next to it, by name. The float32 values of a group share
// one allocation; int32 weights (shape constants of the graph) are skipped:
// the port hard-codes the graph's structure and checks the shapes it uses.
func readWeights(fsys fs.FS, dir string) (map[string]tensor, error) {
	manifest, err := fs.ReadFile(fsys, path.Join(dir, "model.json"))
	if err != nil {
		return nil, err
	}
	var g graphModel
	if err := json.Unmarshal(manifest, &g); err != nil {
		return nil, fmt.Errorf("parse model.json: %w", err)
	}
	out := map[string]tensor{}
	for _, group := range g.WeightsManifest {
		// Decode the shards, in order, into one float32 slice. Every shard
		// but the last holds a whole number of 4-byte values.
		var all []float32
		for _, p := range group.Paths {
			b, err := fs.ReadFile(fsys, path.Join(dir, p))
			if err != nil {
				return nil, fmt.Errorf("weight shard: %w", err)
			}
			if len(b)%4 != 0 {
				return nil, fmt.Errorf("weight shard %q: %d bytes, not a multiple of 4", p, len(b))
			}
			if all == nil {
				all = make([]float32, 0, len(b)/4*len(group.Paths))
			}
			n := len(all)
			all = slices.Grow(all, len(b)/4)[:n+len(b)/4]
			dst := all[n:]
			for j := range dst {
				dst[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
			}
		}
		off := 0
		for _, w := range group.Weights {
			if len(w.Quantization) > 0 && string(w.Quantization) != "null" {
				return nil, fmt.Errorf("weight %q is quantized: not supported", w.Name)
			}
			if w.Dtype != "float32" && w.Dtype != "int32" {
				return nil, fmt.Errorf("weight %q has dtype %q: not supported", w.Name, w.Dtype)
			}
			n := 1
			for _, d := range w.Shape {
				if d < 0 {
					return nil, fmt.Errorf("weight %q has shape %v", w.Name, w.Shape)
				}
				n *= d
			}
			if off+n > len(all) {
				return nil, fmt.Errorf("weight %q runs past the end of the shards", w.Name)
			}
			if w.Dtype == "float32" {
				out[w.Name] = tensor{shape: w.Shape, data: all[off : off+n : off+n]}
			}
			off += n
		}
		if off != len(all) {
			return nil, fmt.Errorf("weight manifest covers %d of %d shard values", off, len(all))
		}
	}
	return out, nil
}
