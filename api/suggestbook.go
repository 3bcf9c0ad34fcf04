package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/store"
)

// Buckets of store.Merch that keep what a restart must not lose about
// suggestions (decision 0061):
//
//	suggest_blocked: normalised query → JSON blockedQuery (DELETE /api/suggest/{query})
//	suggest_earned:  normalised query → "" (searched by enough distinct shoppers and
//	                 networks; the search log, which holds no networks, cannot tell)
const (
	bucketSuggestBlocked = "suggest_blocked"
	bucketSuggestEarned  = "suggest_earned"
)

// A replica rereads the blocked and earned queries, to take up other
// replicas' changes, when it serves /api/suggest and its copy is older
// than suggestRefresh, and in any case every suggestRefreshIdle (a replica
// that serves only the storefront's suggestions).
const (
	suggestRefresh     = 10 * time.Second
	suggestRefreshIdle = time.Minute
)

// BlockedQuery is one query an operator removed from the suggestions.
type BlockedQuery struct {
	Query     string    `json:"query"`
	BlockedAt time.Time `json:"blocked_at"`
}

// suggestBook keeps blocked and earned suggestions in the store and applies
// them to the index: at start, every suggestRefresh while suggesting (so
// that a block on one replica reaches the others), and at once for changes
// made here. Earned queries are written in the background (writer).
type suggestBook struct {
	st  store.Merch
	ix  *search.Index
	log *slog.Logger
	goF func(func()) bool
	// every is how old a copy /api/suggest rereads (suggestRefresh)
	every time.Duration

	mu       sync.Mutex // guards blocked, earned, loadedAt
	blocked  map[string]bool
	earned   map[string]bool
	loadedAt time.Time
	loading  atomic.Bool
	runs     sync.WaitGroup // background rereads, joined by close

	wmu    sync.RWMutex // held for reading while sending on ch, for writing to close it
	closed bool
	ch     chan earnedChange
	done   chan struct{}
}

type earnedChange struct {
	query  string
	earned bool
}

// maxEarned bounds the earned queries kept in the store.
const maxEarned = search.DefaultSuggestMaxQueries

func newSuggestBook(st store.Merch, ix *search.Index, log *slog.Logger, goF func(func()) bool) *suggestBook {
	b := &suggestBook{st: st, ix: ix, log: log, goF: goF, every: suggestRefresh, blocked: map[string]bool{}, earned: map[string]bool{},
		ch: make(chan earnedChange, 1024), done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.load(ctx); err != nil {
		// served meanwhile without them; the next suggestion request retries
		log.Error("suggestions: cannot read the blocked and earned queries", "error", err)
	}
	ix.OnEarned(b.heard)
	if goF == nil || !goF(b.write) {
		go b.write()
	}
	return b
}

// load reads both buckets and applies the differences to the index.
func (b *suggestBook) load(ctx context.Context) error {
	blocked, earned := map[string]bool{}, map[string]bool{}
	err := b.st.MerchView(ctx, func(tx store.MerchTx) error {
		if err := tx.Scan(bucketSuggestBlocked, "", func(k string, _ []byte) error {
			blocked[k] = true
			return nil
		}); err != nil {
			return err
		}
		return tx.Scan(bucketSuggestEarned, "", func(k string, _ []byte) error {
			earned[k] = true
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("read %s and %s: %w", bucketSuggestBlocked, bucketSuggestEarned, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for q := range blocked {
		if !b.blocked[q] {
			b.ix.RemoveSuggestion(q)
		}
	}
	for q := range b.blocked {
		if !blocked[q] {
			b.ix.RestoreSuggestion(q)
		}
	}
	var fresh []string
	for q := range earned {
		if !b.earned[q] {
			fresh = append(fresh, q)
		}
	}
	b.ix.MarkEarned(fresh)
	b.blocked, b.earned, b.loadedAt = blocked, earned, time.Now()
	return nil
}

// refresh rereads the store in the background when the last read is older
// than maxAge (one read at a time).
func (b *suggestBook) refresh(maxAge time.Duration) {
	b.mu.Lock()
	stale := time.Since(b.loadedAt) > maxAge
	b.mu.Unlock()
	if !stale || !b.loading.CompareAndSwap(false, true) {
		return
	}
	b.wmu.RLock()
	defer b.wmu.RUnlock()
	if b.closed {
		b.loading.Store(false)
		return
	}
	b.runs.Add(1)
	run := func() {
		defer b.runs.Done()
		defer b.loading.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := b.load(ctx); err != nil {
			b.log.Warn("suggestions: cannot reread the blocked and earned queries", "error", err)
		}
	}
	if b.goF == nil || !b.goF(run) {
		b.runs.Done()
		b.loading.Store(false) // closing
	}
}

// block removes query from the suggestions and keeps it out across
// restarts and replicas. known is false (and nothing is stored) when the
// query was neither suggested nor waiting for shoppers.
func (b *suggestBook) block(ctx context.Context, query string) (known bool, err error) {
	s := search.NormalizeQuery(query)
	if !b.ix.RemoveSuggestion(s) {
		return false, nil
	}
	v, err := json.Marshal(BlockedQuery{Query: s, BlockedAt: time.Now().UTC()})
	if err != nil {
		return true, fmt.Errorf("encode the blocked query: %w", err)
	}
	err = b.st.MerchUpdate(ctx, func(tx store.MerchTx) error {
		if err := tx.Put(bucketSuggestBlocked, s, v); err != nil {
			return err
		}
		return tx.Delete(bucketSuggestEarned, s)
	})
	if err != nil {
		return true, fmt.Errorf("store the blocked query %q (removed until the next restart; retry to keep it out): %w", s, err)
	}
	b.mu.Lock()
	b.blocked[s] = true
	delete(b.earned, s)
	b.mu.Unlock()
	return true, nil
}

// unblock lets query be suggested again once searched enough; false when
// it was not blocked.
func (b *suggestBook) unblock(ctx context.Context, query string) (bool, error) {
	s := search.NormalizeQuery(query)
	found := false
	err := b.st.MerchUpdate(ctx, func(tx store.MerchTx) error {
		found = tx.Get(bucketSuggestBlocked, s) != nil
		return tx.Delete(bucketSuggestBlocked, s)
	})
	if err != nil {
		return false, fmt.Errorf("unblock %q: %w", s, err)
	}
	b.ix.RestoreSuggestion(s)
	b.mu.Lock()
	delete(b.blocked, s)
	b.mu.Unlock()
	return found, nil
}

// list returns the blocked queries, as stored (every replica's), by query.
func (b *suggestBook) list(ctx context.Context) ([]BlockedQuery, error) {
	out := []BlockedQuery{}
	err := b.st.MerchView(ctx, func(tx store.MerchTx) error {
		return tx.Scan(bucketSuggestBlocked, "", func(k string, v []byte) error {
			bq := BlockedQuery{Query: k}
			if err := json.Unmarshal(v, &bq); err != nil {
				return fmt.Errorf("blocked query %q: %w", k, err)
			}
			out = append(out, bq)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list the blocked queries: %w", err)
	}
	slices.SortFunc(out, func(a, c BlockedQuery) int { return strings.Compare(a.Query, c.Query) })
	return out, nil
}

// heard queues a query that earned (or lost) its place for the writer;
// dropped when the queue is full or the book closed (it is earned again
// by the next searches, or stays until a forget of another voucher).
func (b *suggestBook) heard(query string, earned bool) {
	b.wmu.RLock()
	defer b.wmu.RUnlock()
	if b.closed {
		return
	}
	select {
	case b.ch <- earnedChange{query, earned}:
	default:
	}
}

// write stores queued changes in batches until close.
func (b *suggestBook) write() {
	defer close(b.done)
	var batch []earnedChange
	flush := func() {
		if len(batch) == 0 {
			return
		}
		b.mu.Lock()
		n := len(b.earned)
		b.mu.Unlock()
		err := b.st.MerchUpdate(context.Background(), func(tx store.MerchTx) error {
			for _, c := range batch {
				switch {
				case !c.earned:
					if err := tx.Delete(bucketSuggestEarned, c.query); err != nil {
						return err
					}
				case n < maxEarned && tx.Get(bucketSuggestBlocked, c.query) == nil:
					if err := tx.Put(bucketSuggestEarned, c.query, []byte("1")); err != nil {
						return err
					}
					n++
				}
			}
			return nil
		})
		if err != nil {
			b.log.Error("suggestions: cannot store earned queries", "error", err, "queries", len(batch))
		} else {
			b.mu.Lock()
			for _, c := range batch {
				if c.earned {
					b.earned[c.query] = true
				} else {
					delete(b.earned, c.query)
				}
			}
			b.mu.Unlock()
		}
		batch = batch[:0]
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case c, ok := <-b.ch:
			if !ok {
				flush()
				return
			}
			batch = append(batch, c)
			if len(batch) >= 200 {
				flush()
			}
		case <-tick.C:
			flush()
			b.refresh(suggestRefreshIdle)
		}
	}
}

// close stops the writer once the queued changes are stored.
func (b *suggestBook) close() {
	b.wmu.Lock()
	if !b.closed {
		b.closed = true
		close(b.ch)
	}
	b.wmu.Unlock()
	<-b.done
	b.runs.Wait()
}
