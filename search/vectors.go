package search

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/store"
)

// Item vectors are computed in the background so that keyword search never
// waits for the embedder: Upsert makes items keyword-searchable at once,
// attaches the vectors it already knows (from the previous version of an
// unchanged item, or from Options.Vectors) and queues the rest. A bounded
// pool of workers embeds the queue in batches, writes the vectors to the
// store and attaches them to the index. Items without a vector yet are
// skipped by the semantic list; in hybrid mode the keyword list still
// finds them.

// A failed batch is retried for as long as the index is open, its wait
// doubling from Options.EmbedRetry up to maxRetryWait. After a failure the
// worker asks the embedder for one short probe text: when that works, the
// model server is up and the batch itself is at fault (one text it
// rejects), so the batch is split in halves and tried again at once,
// down to the single item, which is then skipped (logged once; it is
// embedded again when it changes or the index is rebuilt). When the probe
// fails too, the server is down, and the whole batch waits for its retry.

// Defaults of the background embedding.
const (
	defaultEmbedBatch = 64
	defaultEmbedRetry = 30 * time.Second
	maxRetryWait      = 5 * time.Minute
	progressEvery     = 5 * time.Second
	// probeText is embedded to tell a model server that is down from a
	// batch it rejects.
	probeText = "probe"
)

// retryWait is the wait before the attempt-th retry of a batch (attempt ≥
// 1): base doubled attempt-1 times, at most maxRetryWait.
func retryWait(base time.Duration, attempt int) time.Duration {
	w := base
	for i := 1; i < attempt && w < maxRetryWait; i++ {
		w *= 2
	}
	return min(w, maxRetryWait)
}

// storeError is a failure to write computed vectors to the store; the
// vectors are attached to the index all the same.
type storeError struct{ err error }

func (e storeError) Error() string { return e.err.Error() }
func (e storeError) Unwrap() error { return e.err }

// namer is implemented by embedders that tell their model (embed.Embedder).
type namer interface{ Name() string }

// vecJob is one item waiting for its vector.
type vecJob struct {
	id      string
	hash    [32]byte
	text    string
	attempt int // failed tries of its batch while the embedder was down
	limit   int // most jobs in its batch (half the batch that failed); 0: no limit
}

// vectorizer is the queue and worker pool of background embedding.
type vectorizer struct {
	ctx     context.Context
	cancel  context.CancelFunc
	workers int
	batch   int
	retry   time.Duration // first wait before a failed batch is retried; ≤ 0: never

	mu      sync.Mutex
	queue   []*vecJob
	queued  map[string]*vecJob       // id → its job while not yet taken
	active  int                      // running workers
	flying  int                      // jobs taken by workers, not finished
	waiting int                      // jobs of failed batches waiting to be retried
	timers  map[*time.Timer]struct{} // pending retries, stopped by Close
	skipped map[string][32]byte      // id → text hash of items given up on
	idle    chan struct{}            // closed while nothing is queued or running
	err     error                    // first failure since the last WaitVectors
	failed  int                      // items given up on since the pool was last idle
	closed  bool
	wg      sync.WaitGroup
	done    int // embedded since the pool was last idle
	started time.Time
	logged  time.Time
}

func newVectorizer(opt Options) *vectorizer {
	ctx, cancel := context.WithCancel(context.Background())
	idle := make(chan struct{})
	close(idle)
	v := &vectorizer{ctx: ctx, cancel: cancel, workers: opt.EmbedWorkers, batch: opt.EmbedBatch,
		queued: map[string]*vecJob{}, timers: map[*time.Timer]struct{}{}, skipped: map[string][32]byte{}, idle: idle}
	if v.workers <= 0 {
		v.workers = runtime.GOMAXPROCS(0)
	}
	if v.batch <= 0 {
		v.batch = defaultEmbedBatch
	}
	switch v.retry = opt.EmbedRetry; {
	case v.retry == 0:
		v.retry = defaultEmbedRetry
	case v.retry < 0:
		v.retry = 0
	}
	return v
}

// textHash identifies the embedded text of an item.
func textHash(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// VectorSpace returns the identity of the index's embedder under which its
// vectors are stored: Options.VectorSpace, or the embedder's name and
// dimension ("use-lite-en/512"). It is "" without an embedder, or while
// the dimension is not known yet (a remote model before its first answer).
func (ix *Index) VectorSpace() string {
	if ix.emb == nil {
		return ""
	}
	if ix.space != "" {
		return ix.space
	}
	dim := ix.emb.Dim()
	if dim <= 0 {
		return ""
	}
	name := "embedder"
	if n, ok := ix.emb.(namer); ok {
		name = n.Name()
	}
	return name + "/" + strconv.Itoa(dim)
}

// prepareVectors fills in the vectors of items that need no embedding (the
// indexed version has the same text, or the store has a vector of that
// text) and returns the jobs for the others.
func (ix *Index) prepareVectors(ctx context.Context, items []catalog.Item, an []analysed) []vecJob {
	var idx []int
	for i := range items {
		if !items[i].Available || an[i].code.Len() > 0 {
			continue // the code and text hash came from the saved keyword index
		}
		t := embedText(&items[i])
		an[i].vtext, an[i].vhash = t, textHash(t)
		idx = append(idx, i)
	}
	if len(idx) == 0 {
		return nil
	}
	var missing []int
	ix.mu.RLock()
	for _, i := range idx {
		if d, ok := ix.byID[items[i].ID]; ok && ix.docs[d].vec.Len() > 0 && ix.docs[d].vhash == an[i].vhash {
			an[i].vec = ix.docVec(d)
		} else {
			missing = append(missing, i)
		}
	}
	ix.mu.RUnlock()
	if space := ix.VectorSpace(); ix.vstore != nil && space != "" && len(missing) > 0 {
		ids := make([]string, len(missing))
		for k, i := range missing {
			ids[k] = items[i].ID
		}
		got, err := ix.vstore.GetVectors(ctx, space, ids)
		if err != nil {
			ix.log.Warn("search index: read stored vectors; embedding again", "items", len(ids), "err", err)
			got = nil
		}
		dim := ix.emb.Dim()
		n := 0
		for k, g := range got {
			i := missing[k]
			if g.Vec != nil && g.TextHash == an[i].vhash && len(g.Vec) == dim {
				an[i].vec = g.Vec
				continue
			}
			missing[n] = i
			n++
		}
		if got != nil {
			missing = missing[:n]
		}
	}
	jobs := make([]vecJob, len(missing))
	for k, i := range missing {
		jobs[k] = vecJob{id: items[i].ID, hash: an[i].vhash, text: an[i].vtext}
	}
	return jobs
}

// enqueue queues jobs for the workers, replacing the queued job of an item
// that changed again, and starts workers up to the pool size.
func (ix *Index) enqueue(jobs []vecJob) {
	if len(jobs) == 0 {
		return
	}
	v := ix.vec
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}
	if v.active == 0 && len(v.queue) == 0 {
		v.idle = make(chan struct{})
		v.started, v.logged, v.done = time.Now(), time.Now(), 0
		if len(jobs) >= v.batch {
			ix.log.Info("embedding items in the background", "items", len(jobs), "workers", v.workers, "batch", v.batch, "space", ix.VectorSpace())
		}
	}
	for i := range jobs {
		delete(v.skipped, jobs[i].id)
		if j, ok := v.queued[jobs[i].id]; ok {
			*j = jobs[i]
			continue
		}
		j := jobs[i]
		v.queue = append(v.queue, &j)
		v.queued[j.id] = &j
	}
	for v.active < v.workers && v.active*v.batch < len(v.queue) {
		v.active++
		v.wg.Add(1)
		go ix.embedWorker()
	}
}

// embedWorker takes batches off the queue until it is empty.
func (ix *Index) embedWorker() {
	v := ix.vec
	defer v.wg.Done()
	for {
		v.mu.Lock()
		if len(v.queue) == 0 || v.ctx.Err() != nil {
			v.queue, v.queued = nil, map[string]*vecJob{}
			v.active--
			if v.active == 0 {
				if v.done > 0 || v.failed > 0 {
					el := time.Since(v.started)
					ix.log.Info("item vectors ready", "embedded", v.done, "failed", v.failed, "retrying", v.waiting,
						"took", el.Round(time.Millisecond), "items_per_s", int(float64(v.done)/max(el.Seconds(), 1e-3)))
				}
				if v.done > 0 && v.ctx.Err() == nil {
					// the vectors are in: the saved keyword index gets
					// their codes when they are many (before idle, so
					// WaitVectors covers it)
					ix.saveKeywordForCodes()
				}
				v.failed = 0
				close(v.idle)
			}
			v.mu.Unlock()
			return
		}
		// a batch holds no more jobs than any of its jobs' limit, so a job
		// of a split batch is next embedded in a smaller one
		n, lim := 0, v.batch
		for n < len(v.queue) && n < lim {
			if l := v.queue[n].limit; l > 0 && l < lim {
				lim = l
				if n >= lim {
					break
				}
			}
			n++
		}
		batch := make([]vecJob, n)
		for i, j := range v.queue[:n] {
			batch[i] = *j
			delete(v.queued, j.id)
		}
		v.queue = v.queue[n:]
		v.flying += n
		v.mu.Unlock()

		err := ix.embedBatch(batch)
		var serr storeError
		stored := errors.As(err, &serr)
		up := false
		if err != nil && !stored && v.retry > 0 && v.ctx.Err() == nil {
			up = ix.embedderAnswers()
		}

		var again []vecJob // split halves, queued at once
		v.mu.Lock()
		v.flying -= n
		switch {
		case err != nil && v.ctx.Err() != nil:
			// closing: the rest of the queue is dropped too
		case err != nil:
			if v.err == nil {
				v.err = err
			}
			switch {
			case stored:
				// the vectors are attached; they are stored again when the
				// item changes or the index is rebuilt
				v.done += n
				ix.log.Error("search index: store item vectors", "items", n, "err", err)
			case v.retry <= 0 || up && n == 1:
				v.failed += n
				for _, j := range batch {
					v.skipped[j.id] = j.hash
				}
				if n == 1 {
					ix.log.Error("search index: embed item failed while the embedder answers; it stays keyword-only until it changes",
						"item", batch[0].id, "err", err)
				} else {
					ix.log.Error("search index: embed items; they stay keyword-only until updated", "items", n, "err", err)
				}
			case up:
				// the embedder works: find the item(s) it rejects
				ix.log.Warn("search index: embed items failed while the embedder answers; splitting the batch", "items", n, "err", err)
				again = batch
			default:
				a := 0
				for i := range batch {
					batch[i].attempt++
					a = max(a, batch[i].attempt)
				}
				wait := retryWait(v.retry, a)
				if a <= 3 || a%12 == 0 {
					ix.log.Error("search index: embed items; they stay keyword-only until a retry succeeds",
						"items", n, "attempt", a, "retry_in", wait, "err", err)
				}
				v.waiting += n
				var t *time.Timer
				t = time.AfterFunc(wait, func() {
					v.mu.Lock()
					_, pending := v.timers[t]
					if pending {
						delete(v.timers, t)
						v.waiting -= n
					}
					v.mu.Unlock()
					if pending {
						ix.requeue(batch)
					}
				})
				v.timers[t] = struct{}{}
			}
		default:
			v.done += n
		}
		if time.Since(v.logged) >= progressEvery {
			v.logged = time.Now()
			ix.log.Info("embedding items", "done", v.done, "queued", len(v.queue)+v.flying, "retrying", v.waiting,
				"items_per_s", int(float64(v.done)/max(time.Since(v.started).Seconds(), 1e-3)))
		}
		v.mu.Unlock()
		if len(again) > 0 {
			h := len(again) / 2
			for i := range again {
				again[i].limit = h
				if i >= h {
					again[i].limit = len(again) - h
				}
			}
			ix.requeue(again[:h])
			ix.requeue(again[h:])
		}
	}
}

// embedderAnswers reports whether the embedder embeds a probe text, i.e.
// whether a failed batch failed for its own texts.
func (ix *Index) embedderAnswers() bool {
	vs, err := ix.emb.Embed(ix.vec.ctx, []string{probeText})
	return err == nil && len(vs) == 1 && len(vs[0]) == ix.emb.Dim() && ix.emb.Dim() > 0
}

// requeue queues jobs of a failed batch again, except items changed or
// deleted since (their newer version has its own job) or queued again.
func (ix *Index) requeue(batch []vecJob) {
	var jobs []vecJob
	ix.mu.RLock()
	for _, j := range batch {
		if d, ok := ix.byID[j.id]; ok && ix.docs[d].vhash == j.hash && ix.docs[d].vec.Len() == 0 {
			jobs = append(jobs, j)
		}
	}
	ix.mu.RUnlock()
	v := ix.vec
	v.mu.Lock()
	k := 0
	for _, j := range jobs {
		if _, queued := v.queued[j.id]; !queued {
			jobs[k] = j
			k++
		}
	}
	v.mu.Unlock()
	ix.enqueue(jobs[:k])
}

// embedBatch embeds one batch, stores the vectors and attaches them to the
// items whose text has not changed meanwhile.
func (ix *Index) embedBatch(batch []vecJob) error {
	ctx := ix.vec.ctx
	out, err := ix.embedJobs(ctx, batch)
	if err != nil {
		return err
	}
	var serr error
	if ix.vstore != nil {
		if space := ix.VectorSpace(); space != "" {
			if err := ix.vstore.PutVectors(ctx, space, out); err != nil {
				serr = storeError{fmt.Errorf("store %d vectors: %w", len(out), err)}
			}
		}
	}
	ix.mu.Lock()
	coded := int64(0)
	for i := range out {
		if d, ok := ix.byID[out[i].ItemID]; ok && ix.docs[d].vhash == out[i].TextHash {
			had := ix.docs[d].vec.Len() > 0
			ix.setVec(&ix.docs[d], out[i].Vec)
			coded++
			if !had {
				ix.vecAttached(d)
			}
		}
	}
	ix.kw.changes.Add(1)
	ix.kw.coded.Add(coded)
	ix.mu.Unlock()
	return serr
}

// embedJobs embeds the texts of batch in one Embed call and returns the
// unit-length vectors as the store keeps them.
func (ix *Index) embedJobs(ctx context.Context, batch []vecJob) ([]store.ItemVector, error) {
	texts := make([]string, len(batch))
	for i := range batch {
		texts[i] = batch[i].text
	}
	vecs, err := ix.emb.Embed(ctx, texts)
	if err != nil {
		return nil, fmt.Errorf("embed %d items: %w", len(texts), err)
	}
	if len(vecs) != len(texts) {
		return nil, fmt.Errorf("embed %d items: got %d vectors", len(texts), len(vecs))
	}
	dim := ix.emb.Dim()
	out := make([]store.ItemVector, len(batch))
	for i := range batch {
		if len(vecs[i]) != dim || dim == 0 {
			return nil, fmt.Errorf("embed item %q: vector has %d dimensions, want %d", batch[i].id, len(vecs[i]), dim)
		}
		out[i] = store.ItemVector{ItemID: batch[i].id, TextHash: batch[i].hash, Vec: normalized(vecs[i])}
	}
	return out, nil
}

// WaitVectors blocks until every queued item vector is computed (or ctx
// ends) and returns the first embedding or storage failure since the
// previous call. Search does not need it: items are searchable by keyword
// before their vectors exist. Offline evaluation and tests use it.
func (ix *Index) WaitVectors(ctx context.Context) error {
	if ix.vec == nil {
		return nil
	}
	v := ix.vec
	v.mu.Lock()
	ch := v.idle
	v.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return ctx.Err()
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	err := v.err
	v.err = nil
	return err
}

// VectorStats counts the live items with and without a vector.
type VectorStats struct {
	// Live items with their vector attached.
	WithVector int
	// Pending items queued or being embedded.
	Pending int
	// Retrying items of failed batches waiting for their next try (the
	// embedder did not answer).
	Retrying int
	// Failed live items the embedder failed on alone (or with retries
	// off): keyword-only until they change or the index is rebuilt.
	Failed int
}

// VectorStats reports the progress of background embedding.
func (ix *Index) VectorStats() VectorStats {
	var s VectorStats
	if ix.vec == nil {
		return s
	}
	ix.vec.mu.Lock()
	s.Pending = len(ix.vec.queue) + ix.vec.flying
	s.Retrying = ix.vec.waiting
	skipped := make(map[string][32]byte, len(ix.vec.skipped))
	for id, h := range ix.vec.skipped {
		skipped[id] = h
	}
	ix.vec.mu.Unlock()
	ix.mu.RLock()
	for d := range ix.docs {
		if ix.docs[d].live && ix.docs[d].vec.Len() > 0 {
			s.WithVector++
		}
	}
	for id, h := range skipped {
		if d, ok := ix.byID[id]; ok && ix.docs[d].live && ix.docs[d].vec.Len() == 0 && ix.docs[d].vhash == h {
			s.Failed++
		}
	}
	ix.mu.RUnlock()
	return s
}

// Close stops background embedding (queued items and pending retries stay
// without vectors) and waits for the workers to finish their current
// batch; with Options.IndexDir, it stops a keyword index save under way
// (at its next chunk of products) and writes nothing: the next start
// analyses the products changed since the file was written (kwsave.go,
// decision 0063), so a clean stop takes seconds whatever the catalogue's
// size. The index stays usable for search and keyword indexing.
func (ix *Index) Close() error {
	ix.kw.closing.Store(true)
	ix.closeVectors()
	ix.kw.wg.Wait()
	return nil
}

// closeVectors stops background embedding.
func (ix *Index) closeVectors() {
	if ix.vec == nil {
		return
	}
	v := ix.vec
	v.mu.Lock()
	v.closed = true
	for t := range v.timers {
		t.Stop()
	}
	v.timers = map[*time.Timer]struct{}{}
	v.waiting = 0
	v.mu.Unlock()
	v.cancel()
	v.wg.Wait()
	v.mu.Lock()
	defer v.mu.Unlock()
	if errors.Is(v.err, context.Canceled) {
		v.err = nil
	}
}
