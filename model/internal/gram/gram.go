// Package gram builds the item-item Gram matrix XᵀWX of an interaction
// data set, the first step of the closed-form item models (ease,
// itemfilter).
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
