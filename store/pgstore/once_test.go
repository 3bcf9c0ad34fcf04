package pgstore_test

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/pgstore"
	"github.com/aisle-dev/aisle/store/pgstore/pgtest"
)

// Idempotent batches ride the chain: sent at once from two replicas, each
// key several times (the same body, and once another body), mixed with
// plain batches, every key is stored exactly once, every other sender of
// it answers from the key (replay) or is refused (another body), and the
// counters, the outbox and the log agree with what was acknowledged.
func TestIdempotentBatchesOnTheChainAreStoredOnce(t *testing.T) {
	url := pgtest.URL(t)
	var replicas []*pgstore.Store
	for range 2 {
		s, err := pgstore.Open(ctx, url, pgstore.Options{})
		must(t, err)
		t.Cleanup(func() { s.Close() })
		replicas = append(replicas, s)
	}
	const keys, senders, size = 12, 4, 5
	now := time.Now()
	batch := func(user string) []events.Event {
		evs := make([]events.Event, size)
		for i := range evs {
			evs[i] = events.Event{UserID: user, ItemID: fmt.Sprint(i), Type: events.View, Timestamp: now}
		}
		return evs
	}
	type answer struct {
		key      int
		rc       store.Receipt
		replay   bool
		conflict bool
		seq      uint64
	}
	var mu sync.Mutex
	var answers []answer
	plain := 0
	var wg sync.WaitGroup
	for k := range keys {
		for sd := range senders {
			wg.Go(func() {
				s := replicas[(k+sd)%len(replicas)]
				body := "same"
				if sd == senders-1 && k%3 == 0 {
					body = "other" // a key reused for another batch
				}
				evs := batch(fmt.Sprintf("k%d", k))
				rc, replay, err := s.AppendEventsOnce(ctx, fmt.Sprintf("key-%d", k), sha256.Sum256([]byte(body)), evs, now, time.Hour)
				conflict := errors.Is(err, store.ErrIdempotencyConflict)
				if err != nil && !conflict {
					t.Errorf("key %d sender %d: %v", k, sd, err)
					return
				}
				if (replay || conflict) && evs[0].Seq != 0 {
					t.Errorf("key %d: an answer from the key kept seq %d", k, evs[0].Seq)
				}
				mu.Lock()
				answers = append(answers, answer{k, rc, replay, conflict, evs[0].Seq})
				mu.Unlock()
			})
		}
		wg.Go(func() {
			if err := replicas[k%2].AppendEvents(ctx, batch("plain")); err != nil {
				t.Errorf("plain batch: %v", err)
				return
			}
			mu.Lock()
			plain++
			mu.Unlock()
		})
	}
	wg.Wait()
	stored := map[int]answer{}
	for _, a := range answers {
		if a.replay || a.conflict {
			continue
		}
		if _, dup := stored[a.key]; dup {
			t.Fatalf("key %d stored twice", a.key)
		}
		if a.rc.Accepted != size || a.rc.FirstSeq != a.seq || a.seq == 0 {
			t.Fatalf("key %d: receipt %+v, first seq %d", a.key, a.rc, a.seq)
		}
		stored[a.key] = a
	}
	for _, a := range answers {
		s, ok := stored[a.key]
		switch {
		case !ok:
			t.Fatalf("key %d was never stored", a.key)
		case a.replay && a.rc.FirstSeq != s.rc.FirstSeq:
			t.Fatalf("key %d: replay answered seq %d, stored at %d", a.key, a.rc.FirstSeq, s.rc.FirstSeq)
		}
	}
	want := (keys + plain) * size
	for _, s := range replicas {
		if n, _ := s.CountEvents(ctx); n != want {
			t.Fatalf("CountEvents %d, want %d", n, want)
		}
	}
	if got := len(seqsOf(t, replicas[0])); got != want {
		t.Fatalf("%d events in the log, want %d", got, want)
	}
	rows := outboxSince(t, replicas[0], 0)
	if len(rows) != keys+plain {
		t.Fatalf("%d outbox rows for %d stored batches", len(rows), keys+plain)
	}
	for _, r := range rows {
		var p pgstore.EventsPayload
		must(t, json.Unmarshal(r.Payload, &p))
		if p.Count != size {
			t.Fatalf("payload %+v", p)
		}
	}
	// numbers taken by a sender that found its key taken in the tail
	last, _ := replicas[1].LastSeq(ctx)
	t.Logf("%d events stored, %d numbers taken: %d batches lost the race in the tail", want, last, (int(last)-want)/size)
	// a retry after the fact answers from the key without a new range
	rc, replay, err := replicas[1].AppendEventsOnce(ctx, "key-1", sha256.Sum256([]byte("same")), batch("k1"), now.Add(time.Minute), time.Hour)
	if err != nil || !replay || rc.FirstSeq != stored[1].rc.FirstSeq {
		t.Fatalf("late retry: %+v replay %v err %v", rc, replay, err)
	}
	if l, _ := replicas[1].LastSeq(ctx); l != last {
		t.Fatalf("a retry answered from the key took numbers: last seq %d, was %d", l, last)
	}
	if n, _ := replicas[0].IdempotencyKeys(ctx); n != keys {
		t.Fatalf("%d keys remembered, want %d", n, keys)
	}
}
