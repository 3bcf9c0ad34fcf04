// Package gram builds the item-item Gram matrix XᵀWX of an interaction
// data set: dense, the first step of the closed-form item models (ease,
// itemfilter), or one sparse row at a time (Cooccurrence), the neighbour
// search of ItemKNN and sparse EASE.
package gram

import (
	"context"
	"runtime"
	"sync"

	"github.com/aisle-dev/aisle/model"
)

// Of returns G = XᵀWX (row-major n×n, float64) of the user-item matrix X
// whose values are the interaction weights (1 when weights is false), with
// W = diag(userW) (all 1 when userW is nil). Rows are filled in parallel.
func Of(ctx context.Context, ds *model.Dataset, weights bool, userW []float64) ([]float64, error) {
	n := ds.NumItems()
	w := func(j int) float64 {
		if weights && ds.Weights != nil {
			return float64(ds.Weights[j])
		}
		return 1
	}
	colPtr, colUser, colPos, err := ds.Columns()
	if err != nil {
		return nil, err
	}
	g := make([]float64, n*n)
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for k := 0; k < workers; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < n; i += workers {
				if i%64 == k && ctx.Err() != nil {
					return
				}
				row := g[i*n : (i+1)*n]
				for c := colPtr[i]; c < colPtr[i+1]; c++ {
					u, wu := colUser[c], w(colPos[c])
					if userW != nil {
						wu *= userW[u]
					}
					for j := ds.UserPtr[u]; j < ds.UserPtr[u+1]; j++ {
						row[ds.Items[j]] += wu * w(j)
					}
				}
			}
		}()
	}
	wg.Wait()
	return g, ctx.Err()
}

// Cooccurrence computes single rows of G = XᵀX (off the diagonal, only the
// non-zero entries) without the n×n matrix: the neighbour search of ItemKNN
// and of sparse EASE. It is safe for concurrent use; each goroutine needs
// its own Row.
type Cooccurrence struct {
	ds      *model.Dataset
	weights bool
	colPtr  []int
	colUser []int32
	colPos  []int
}

// NewCooccurrence indexes ds by item. With weights false every interaction
// counts 1, otherwise Dataset.Weights (when present) are the values of X.
func NewCooccurrence(ds *model.Dataset, weights bool) (*Cooccurrence, error) {
	colPtr, colUser, colPos, err := ds.Columns()
	if err != nil {
		return nil, err
	}
	return &Cooccurrence{ds: ds, weights: weights && ds.Weights != nil, colPtr: colPtr, colUser: colUser, colPos: colPos}, nil
}

// Columns returns the item-major index of the data set: the users of item
// i are colUser[colPtr[i]:colPtr[i+1]], at interaction colPos[…].
func (c *Cooccurrence) Columns() (colPtr []int, colUser []int32, colPos []int) {
	return c.colPtr, c.colUser, c.colPos
}

// Weight is the value of interaction j in X.
func (c *Cooccurrence) Weight(j int) float64 {
	if c.weights {
		return float64(c.ds.Weights[j])
	}
	return 1
}

// Row is one goroutine's scratch space for Cooccurrence.Row.
type Row struct {
	acc     []float64
	touched []int32
}

// NewRow returns scratch space for rows of an n-item matrix.
func (c *Cooccurrence) NewRow() *Row { return &Row{acc: make([]float64, c.ds.NumItems())} }

// Row calls visit(j, G[i,j]) for every item j ≠ i that shares a user with
// item i, in the order the users' rows first reach them. It costs the
// summed row lengths of item i's users.
func (c *Cooccurrence) Row(r *Row, i int, visit func(j int32, g float64)) {
	ds := c.ds
	r.touched = r.touched[:0]
	for p := c.colPtr[i]; p < c.colPtr[i+1]; p++ {
		u, wu := c.colUser[p], c.Weight(c.colPos[p])
		for j := ds.UserPtr[u]; j < ds.UserPtr[u+1]; j++ {
			it := ds.Items[j]
			if int(it) == i {
				continue
			}
			if r.acc[it] == 0 {
				r.touched = append(r.touched, it)
			}
			r.acc[it] += wu * c.Weight(j)
		}
	}
	for _, it := range r.touched {
		g := r.acc[it]
		r.acc[it] = 0
		visit(it, g)
	}
}

// Chunks runs body over [0, n) in steps chunks, each split among
// workers goroutines (body gets its chunk and worker number and strides by
// workers), checking ctx and reporting after every chunk.
func Chunks(ctx context.Context, n, workers, steps int, body func(lo, hi, g int), done func(step, of int)) error {
	chunk := max(1, (n+steps-1)/steps)
	of := (n + chunk - 1) / chunk
	for step := 0; step*chunk < n; step++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		lo, hi := step*chunk, min(n, (step+1)*chunk)
		var wg sync.WaitGroup
		for g := 0; g < workers; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body(lo, hi, g)
			}()
		}
		wg.Wait()
		done(step+1, of)
	}
	return ctx.Err()
}
