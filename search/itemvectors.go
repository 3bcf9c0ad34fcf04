package search

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/store"
)

// ItemVectors embeds the available items of items the way the index does
// in the background (the same text, text hash and unit length) and
// returns them for the store, without indexing anything: a bulk loader
// (`aisle bench synth`) writes them in large transactions, and a server
// starting on that store finds every vector there instead of embedding
// (and storing) each batch of 64 again. The embedder runs on up to
// Options.EmbedWorkers goroutines in batches of Options.EmbedBatch.
func (ix *Index) ItemVectors(ctx context.Context, items []catalog.Item) ([]store.ItemVector, error) {
	if ix.emb == nil {
		return nil, fmt.Errorf("item vectors: the index has no embedder")
	}
	var jobs []vecJob
	for i := range items {
		if !items[i].Available {
			continue
		}
		t := embedText(&items[i])
		jobs = append(jobs, vecJob{id: items[i].ID, hash: textHash(t), text: t})
	}
	out := make([]store.ItemVector, len(jobs))
	size := ix.vec.batch
	nb := (len(jobs) + size - 1) / size
	workers := min(ix.vec.workers, nb, runtime.GOMAXPROCS(0))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for b := w; b < nb && errs[w] == nil; b += workers {
				lo, hi := b*size, min(len(jobs), (b+1)*size)
				var vs []store.ItemVector
				if vs, errs[w] = ix.embedJobs(ctx, jobs[lo:hi]); errs[w] == nil {
					copy(out[lo:hi], vs)
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("item vectors: %w", err)
		}
	}
	return out, nil
}
