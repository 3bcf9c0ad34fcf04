package sasrec

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aisle-dev/aisle/model"
)

// worker is one training goroutine's state: its workspace and private
// gradient buffers (summed in a fixed order, so that a run is reproducible
// for a given seed and thread count).
type worker struct {
	ws    *workspace
	gflat []float32
	g     params
	dEmbT []float32 // output-layer gradient of the embeddings, transposed (d×items)
	dNegT []float32 // sampled softmax: gradient of the negatives, transposed (d×K)
	loss  float64
}

// adam is the Adam optimiser state over the flat parameter slice.
type adam struct {
	m, v []float32
	t    int
}

// step applies one AdamW update of w with gradient g, using `parts` goroutines.
func (a *adam) step(w, g []float32, lr, wd float64, parts int) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	a.t++
	c1 := 1 - math.Pow(b1, float64(a.t))
	c2 := 1 - math.Pow(b2, float64(a.t))
	alpha := float32(lr * math.Sqrt(c2) / c1)
	decay := float32(1 - lr*wd)
	epsHat := float32(eps * math.Sqrt(c2))
	var wg sync.WaitGroup
	chunk := (len(w) + parts - 1) / parts
	for s := 0; s < len(w); s += chunk {
		e := min(s+chunk, len(w))
		wg.Go(func() {
			m, v, ww, gg := a.m[s:e], a.v[s:e], w[s:e], g[s:e]
			for i, gi := range gg {
				mi := b1*m[i] + (1-b1)*gi
				vi := b2*v[i] + (1-b2)*gi*gi
				m[i], v[i] = mi, vi
				ww[i] = ww[i]*decay - alpha*mi/(float32(math.Sqrt(float64(vi)))+epsHat)
			}
		})
	}
	wg.Wait()
}

// lastWindow returns the last n items of r.
func lastWindow(r []int32, n int) []int32 {
	if len(r) > n {
		return r[len(r)-n:]
	}
	return r
}

// fit trains on rows (time-ordered item sequences) with early stopping on valid.
func (m *Model) fit(ctx context.Context, ds *model.Dataset, rows [][]int32, valid []Case, progress model.Progress) error {
	numItems := ds.NumItems()
	if numItems < 1 {
		return errors.New("sasrec: fit: empty catalogue")
	}
	cfg := m.cfg
	if cfg.Negatives > 0 && 2*cfg.Negatives > numItems {
		cfg.Negatives = 0 // small catalogue: the full softmax costs about the same
	}
	numAttrs := 0
	if cfg.UseAttrs && ds.ItemAttrs != nil && ds.NumAttrs > 0 {
		a, err := newItemAttrs(ds.ItemAttrs, numItems, ds.NumAttrs)
		if err != nil {
			return fmt.Errorf("sasrec: fit: %w", err)
		}
		m.attrs, numAttrs = a, ds.NumAttrs
	} else {
		m.attrs = itemAttrs{}
	}
	m.setDims(numItems, numAttrs)
	m.keepUserTails(ds)
	dm := m.dm
	rng := rand.New(rand.NewPCG(cfg.Seed, 1))
	dm.initParams(m.p, rng)
	m.refreshItems()
	m.popularity(rows)
	for _, c := range valid {
		if c.Target < 0 || int(c.Target) >= numItems {
			return fmt.Errorf("sasrec: fit: validation target %d outside the catalogue of %d items", c.Target, numItems)
		}
	}

	// Training sequences: every row cut from its end into windows of
	// MaxLen+1 items that overlap by one, so that each interaction after a
	// row's first is a target exactly once, also in histories longer than
	// MaxLen.
	var seqs [][]int32
	for _, r := range rows {
		for _, it := range r {
			if it < 0 || int(it) >= numItems {
				return fmt.Errorf("sasrec: fit: item %d outside the catalogue of %d items", it, numItems)
			}
		}
		for end := len(r); end >= 2; end -= cfg.MaxLen {
			start := max(0, end-cfg.MaxLen-1)
			seqs = append(seqs, r[start:end])
			if start == 0 {
				break
			}
		}
	}
	if len(seqs) == 0 {
		return errors.New("sasrec: fit: no sequence has two or more interactions")
	}

	nw := min(m.threads(), cfg.Batch)
	workers := make([]*worker, nw)
	for i := range workers {
		gflat := make([]float32, len(m.w))
		workers[i] = &worker{ws: newWorkspace(dm), gflat: gflat, g: dm.layout(gflat)}
		if cfg.Negatives > 0 {
			workers[i].dNegT = make([]float32, dm.d*cfg.Negatives)
		} else {
			workers[i].dEmbT = make([]float32, dm.d*numItems)
		}
	}
	var negs []int32
	var negE, negT []float32
	if cfg.Negatives > 0 {
		negs = make([]int32, cfg.Negatives)
		negE = make([]float32, cfg.Negatives*dm.d)
		negT = make([]float32, cfg.Negatives*dm.d)
	}
	cl := cfg.CLWeight > 0
	var z1, z2, dz1, dz2, clS []float32
	if cl {
		z1, z2 = make([]float32, cfg.Batch*dm.d), make([]float32, cfg.Batch*dm.d)
		dz1, dz2 = make([]float32, cfg.Batch*dm.d), make([]float32, cfg.Batch*dm.d)
		clS = make([]float32, 2*cfg.Batch*cfg.Batch)
	}
	start := time.Now()
	stop := false
	opt := &adam{m: make([]float32, len(m.w)), v: make([]float32, len(m.w))}
	var embT []float32
	if cfg.Negatives == 0 {
		embT = make([]float32, len(m.items))
		transpose(embT, m.items, numItems, dm.d)
	}
	drop, attDrop := float32(cfg.Dropout), float32(cfg.AttnDropout)

	order := make([]int, len(seqs))
	for i := range order {
		order[i] = i
	}
	// Validate every epoch, but at least minStepsPerValidation steps apart,
	// so that data sets with few sequences are not stopped after a handful
	// of steps; Patience counts validations.
	const minStepsPerValidation = 100
	stepsPerEpoch := (len(seqs) + cfg.Batch - 1) / cfg.Batch
	validEvery := (minStepsPerValidation + stepsPerEpoch - 1) / stepsPerEpoch
	best := math.Inf(-1)
	var bestW []float32
	bad := 0
	for epoch := 1; epoch <= cfg.Epochs && !stop; epoch++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var epochLoss float64
		epochPos := 0
		for b0 := 0; b0 < len(order); b0 += cfg.Batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			if cfg.TimeBudget > 0 && time.Since(start) > cfg.TimeBudget {
				stop = true
				break
			}
			batch := order[b0:min(b0+cfg.Batch, len(order))]
			npos := 0
			for _, si := range batch {
				npos += len(seqs[si]) - 1
			}
			scale := 1 / float32(npos)
			if negs != nil {
				for k := range negs {
					negs[k] = int32(rng.IntN(numItems))
					copy(negE[k*dm.d:k*dm.d+dm.d], m.items[int(negs[k])*dm.d:])
				}
				transpose(negT, negE, len(negs), dm.d)
			}
			// Dropout masks come from a generator per (epoch, sequence, view),
			// so a view's forward pass can be replayed exactly.
			view := func(si, v int) *rand.Rand {
				return rand.New(rand.NewPCG(cfg.Seed^uint64(epoch)<<40^uint64(v)<<32, uint64(si)))
			}
			per := (len(batch) + nw - 1) / nw
			parallel := func(f func(wk *worker, lo, hi int)) {
				var wg sync.WaitGroup
				for wi, wk := range workers {
					lo, hi := min(wi*per, len(batch)), min((wi+1)*per, len(batch))
					wg.Go(func() { f(wk, lo, hi) })
				}
				wg.Wait()
			}
			var clLoss float64
			if cl {
				// Contrastive pass: two dropout views of every sequence, whose
				// last-position representations are pulled together (InfoNCE
				// against the batch's other sequences).
				parallel(func(wk *worker, lo, hi int) {
					for k := lo; k < hi; k++ {
						s := seqs[batch[k]]
						n := len(s) - 1
						for v, z := range [2][]float32{z1, z2} {
							h := forward(m.pn, wk.ws, s[:n], drop, attDrop, view(batch[k], v))
							copy(z[k*dm.d:(k+1)*dm.d], h[(n-1)*dm.d:n*dm.d])
						}
					}
				})
				clLoss = infoNCE(z1, z2, len(batch), dm.d, float32(cfg.CLTemp), float32(cfg.CLWeight), dz1, dz2, clS)
			}
			parallel(func(wk *worker, lo, hi int) {
				clear(wk.gflat)
				clear(wk.dEmbT)
				clear(wk.dNegT)
				wk.loss = 0
				for k := lo; k < hi; k++ {
					si := batch[k]
					s := seqs[si]
					n := len(s) - 1
					h := forward(m.pn, wk.ws, s[:n], drop, attDrop, view(si, 0))
					dh := wk.ws.dh[:len(h)]
					if negs != nil {
						wk.loss += sampledLoss(m.items, negs, negE, negT, wk.ws, h, s[1:], scale, dh, wk.g.emb, wk.dNegT)
					} else {
						wk.loss += softmaxLoss(m.items, embT, wk.ws, h, s[1:], scale, dh, wk.dEmbT)
					}
					if cl {
						axpy(1, dz1[k*dm.d:(k+1)*dm.d], dh[(n-1)*dm.d:n*dm.d])
					}
					backward(m.pn, wk.g, wk.ws, dh)
					if cl {
						forward(m.pn, wk.ws, s[:n], drop, attDrop, view(si, 1))
						clear(dh)
						copy(dh[(n-1)*dm.d:n*dm.d], dz2[k*dm.d:(k+1)*dm.d])
						backward(m.pn, wk.g, wk.ws, dh)
					}
				}
			})
			g := workers[0]
			for _, wk := range workers[1:] {
				axpyLong(1, wk.gflat, g.gflat)
				if negs != nil {
					axpyLong(1, wk.dNegT, g.dNegT)
				} else {
					axpyLong(1, wk.dEmbT, g.dEmbT)
				}
			}
			for _, wk := range workers {
				epochLoss += wk.loss * float64(npos)
			}
			epochLoss += clLoss * float64(npos)
			epochPos += npos
			if negs != nil {
				for k, it := range negs {
					row := g.g.emb[int(it)*dm.d : int(it)*dm.d+dm.d]
					for c := range row {
						row[c] += g.dNegT[c*len(negs)+k]
					}
				}
			} else {
				addTransposed(g.g.emb, g.dEmbT, dm.d, numItems)
			}
			if dm.attrs > 0 {
				m.attrs.composeBack(g.g.attr, g.g.emb, dm.d)
			}
			opt.step(m.w, g.gflat, cfg.LR, cfg.WeightDecay, nw)
			m.refreshItems()
			if embT != nil {
				transpose(embT, m.items, numItems, dm.d)
			}
		}
		if epochPos == 0 {
			break // the time budget ran out before this epoch began
		}
		st := model.Status{Stage: "epoch", Epoch: epoch, Of: cfg.Epochs, Loss: epochLoss / float64(epochPos), Metric: math.NaN()}
		validate := len(valid) > 0 && (epoch%validEvery == 0 || epoch == cfg.Epochs || stop)
		if validate {
			ndcg, _ := m.evaluate(ctx, valid, nw)
			if err := ctx.Err(); err != nil {
				return err
			}
			st.Metric = ndcg
			if ndcg > best {
				best, bad = ndcg, 0
				bestW = append(bestW[:0], m.w...)
			} else {
				bad++
			}
		}
		if progress != nil {
			progress(st)
		}
		if validate && bad >= cfg.Patience {
			break
		}
	}
	if bestW != nil {
		copy(m.w, bestW)
		m.refreshItems()
	}
	return nil
}

// addTransposed does dst (r×c) += srcᵀ for src c×r.
func addTransposed(dst, src []float32, r, c int) {
	const blk = 32
	for j0 := 0; j0 < c; j0 += blk {
		j1 := min(j0+blk, c)
		for i0 := 0; i0 < r; i0 += blk {
			i1 := min(i0+blk, r)
			for j := j0; j < j1; j++ {
				row := src[j*r : j*r+r]
				for i := i0; i < i1; i++ {
					dst[i*c+j] += row[i]
				}
			}
		}
	}
}

// evaluate returns NDCG@10 and HR@10 of the cases: the target's rank among
// all items, history items excluded (the leave-one-out full-ranking protocol).
func (m *Model) evaluate(ctx context.Context, cases []Case, threads int) (ndcg, hr float64) {
	type acc struct{ ndcg, hr float64 }
	res := make([]acc, threads)
	var wg sync.WaitGroup
	for w := 0; w < threads; w++ {
		wg.Go(func() {
			ws := newWorkspace(m.dm)
			scores := make([]float32, m.dm.items)
			for i := w; i < len(cases); i += threads {
				if i%256 == 0 && ctx.Err() != nil {
					return
				}
				c := cases[i]
				m.scoreWith(ws, c.History, scores)
				r := rankExcluding(scores, c.Target, c.History)
				if r < 10 {
					res[w].hr++
					res[w].ndcg += 1 / math.Log2(float64(r)+2)
				}
			}
		})
	}
	wg.Wait()
	for _, a := range res {
		ndcg += a.ndcg
		hr += a.hr
	}
	n := float64(len(cases))
	return ndcg / n, hr / n
}

// rankExcluding is the 0-based rank of target among all items whose score is
// higher, not counting the items of history (other than the target).
func rankExcluding(scores []float32, target int32, history []int32) int {
	ts := scores[target]
	r := 0
	for _, s := range scores {
		if s > ts {
			r++
		}
	}
	seen := make(map[int32]bool, len(history))
	for _, it := range history {
		if it != target && it >= 0 && int(it) < len(scores) && !seen[it] && scores[it] > ts {
			r--
		}
		seen[it] = true
	}
	return r
}
