package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
)

// usersUpserted tells UsersListeners about stored user records.
func (e *Engine) usersUpserted(users []catalog.User) {
	e.each(func(l Listener) {
		if ul, ok := l.(UsersListener); ok {
			ul.UsersUpserted(users)
		}
	})
}

// PrivacyOptions configure the background privacy jobs.
type PrivacyOptions struct {
	// CompactAfter is the longest a deletion waits for the compaction that
	// removes its bytes from disk (default DefaultCompactAfter); deletions
	// within it share one compaction. Negative disables compaction.
	CompactAfter time.Duration
	// Retention is how long events of each type are kept; types not
	// named are kept for ever.
	Retention map[events.Type]time.Duration
	// RetentionEvery is how often retention passes over the log (default
	// one hour); RetentionBatch how many events one step (transaction)
	// looks at (default 2000).
	RetentionEvery time.Duration
	RetentionBatch int
}

// RetentionStatus is the progress of the retention job, for the
// dashboard and /metrics.
type RetentionStatus struct {
	Enabled bool              `json:"enabled"`
	Rules   map[string]string `json:"rules,omitempty"` // event type → kept for
	Running bool              `json:"running"`
	Passes  int               `json:"passes"`
	// Position and Last are the sequence numbers reached and the newest
	// one when the pass began: Position/Last is the pass's progress.
	Position uint64 `json:"position"`
	Last     uint64 `json:"last"`
	// Scanned and Deleted count this pass; DeletedTotal and ByType every
	// pass since start.
	Scanned      int64            `json:"scanned"`
	Deleted      int64            `json:"deleted"`
	DeletedTotal int64            `json:"deleted_total"`
	ByType       map[string]int64 `json:"deleted_by_type,omitempty"`
	StartedAt    *time.Time       `json:"started_at,omitempty"`
	FinishedAt   *time.Time       `json:"finished_at,omitempty"`
	Error        string           `json:"error,omitempty"`
}

// Progress is the fraction of the current (or last) pass done, in [0, 1].
func (r RetentionStatus) Progress() float64 {
	if r.Last == 0 {
		return 1
	}
	return min(1, float64(r.Position)/float64(r.Last))
}

// RetentionStatus returns the retention job's progress.
func (e *Engine) RetentionStatus() RetentionStatus {
	ps := e.privacy()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	r := ps.retention
	r.ByType = make(map[string]int64, len(ps.retention.ByType))
	for k, v := range ps.retention.ByType {
		r.ByType[k] = v
	}
	return r
}

// LastCompaction returns the report of the last compaction run by the
// privacy jobs (nil when none) and its last error.
func (e *Engine) LastCompaction() (*store.CompactReport, string) {
	ps := e.privacy()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.lastCompact, ps.compactErr
}

// requestCompaction wakes the compaction job without blocking.
func (e *Engine) requestCompaction() {
	select {
	case e.privacy().compactReq <- struct{}{}:
	default:
	}
}

// RunPrivacyJobs runs, until ctx ends, the compaction that follows
// deletions (within opts.CompactAfter) and the retention job. Start it
// once, in its own goroutine, after the engine serves.
func (e *Engine) RunPrivacyJobs(ctx context.Context, opts PrivacyOptions) {
	ps := e.privacy()
	ps.mu.Lock()
	if opts.CompactAfter == 0 {
		opts.CompactAfter = DefaultCompactAfter
	}
	ps.compactAfter = opts.CompactAfter
	if len(opts.Retention) > 0 {
		ps.retention.Enabled = true
		ps.retention.Rules = map[string]string{}
		for t, d := range opts.Retention {
			ps.retention.Rules[string(t)] = d.String()
		}
	}
	ps.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.runRetention(ctx, opts)
	}()
	e.runCompactions(ctx, opts.CompactAfter)
	<-done
}

func (e *Engine) runCompactions(ctx context.Context, after time.Duration) {
	c, ok := e.st.(store.Compactor)
	if !ok || after < 0 {
		<-ctx.Done()
		return
	}
	req := e.privacy().compactReq
	for {
		select {
		case <-ctx.Done():
			return
		case <-req:
		}
		t := time.NewTimer(after)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		// requests made until now are served by this compaction
		select {
		case <-req:
		default:
		}
		e.scrubForgotten(ctx)
		rep, err := c.Compact(ctx)
		ps := e.privacy()
		ps.mu.Lock()
		if err != nil {
			ps.compactErr = err.Error()
		} else {
			ps.compactErr = ""
			ps.lastCompact = &rep
		}
		ps.mu.Unlock()
		if err != nil {
			e.log.Error("compaction after deletions failed; it is tried again in 10s", "err", err)
			time.AfterFunc(10*time.Second, e.requestCompaction)
			continue
		}
		e.log.Info("data file compacted: deleted records are gone from disk", "bytes_before", rep.BytesBefore, "bytes_after", rep.BytesAfter, "took", rep.Took)
	}
}

func (e *Engine) runRetention(ctx context.Context, opts PrivacyOptions) {
	x, ok := e.st.(store.Expirer)
	if !ok || len(opts.Retention) == 0 {
		return
	}
	every := opts.RetentionEvery
	if every <= 0 {
		every = time.Hour
	}
	for {
		if err := e.RetentionPass(ctx, x, opts); err != nil && ctx.Err() == nil {
			e.log.Error("retention pass failed; it is tried again at the next one", "err", err)
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// RetentionPass deletes, in small steps, every event older than its
// type's retention, updating RetentionStatus after each step.
func (e *Engine) RetentionPass(ctx context.Context, x store.Expirer, opts PrivacyOptions) error {
	batch := opts.RetentionBatch
	if batch <= 0 {
		batch = 2000
	}
	now := e.now()
	cut := make(map[events.Type]time.Time, len(opts.Retention))
	for _, t := range sortedTypes(opts.Retention) {
		cut[t] = now.Add(-opts.Retention[t])
	}
	ps := e.privacy()
	set := func(f func(r *RetentionStatus)) {
		ps.mu.Lock()
		f(&ps.retention)
		ps.mu.Unlock()
	}
	start := now.UTC()
	set(func(r *RetentionStatus) {
		r.Running, r.Position, r.Scanned, r.Deleted, r.StartedAt, r.FinishedAt, r.Error = true, 0, 0, 0, &start, nil, ""
	})
	var after uint64
	deleted := 0
	for steps := 0; ; steps++ {
		b, err := x.ExpireEvents(ctx, cut, after, batch)
		if err != nil {
			set(func(r *RetentionStatus) { r.Running, r.Error = false, err.Error() })
			return fmt.Errorf("retention after event %d: %w", after, err)
		}
		after = b.Next
		deleted += b.Deleted
		set(func(r *RetentionStatus) {
			r.Position, r.Last = b.Next, b.Last
			r.Scanned += int64(b.Scanned)
			r.Deleted += int64(b.Deleted)
			r.DeletedTotal += int64(b.Deleted)
			if r.ByType == nil {
				r.ByType = map[string]int64{}
			}
			for k, v := range b.ByType {
				r.ByType[k] += int64(v)
			}
		})
		if steps%100 == 99 {
			e.log.Info("retention in progress", "position", b.Next, "of", b.Last, "deleted", deleted)
		}
		if b.Done {
			break
		}
		// leave room for other writers between steps
		select {
		case <-ctx.Done():
			set(func(r *RetentionStatus) { r.Running = false })
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	fin := e.now().UTC()
	set(func(r *RetentionStatus) {
		r.Running, r.FinishedAt = false, &fin
		r.Passes++
		if r.Last > 0 {
			r.Position = r.Last
		}
	})
	if deleted > 0 {
		e.log.Info("retention pass done; relearning counts without the expired events", "deleted", deleted)
		e.relearnAfterRetention(ctx)
		e.requestCompaction()
	}
	return nil
}
