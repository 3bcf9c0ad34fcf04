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
	replicas := twoReplicas(t)
	const keys, senders, size = 12, 4, 5
	now := time.Now()
	batch := func(user string) []events.Event {
		evs := make([]events.Event, size)
		for i := range evs {
			evs[i] = events.Event{UserID: user, ItemID: fmt.Sprint(i), Type: events.View, Timestamp: now}
		}
		return evs
	}
	var mu sync.Mutex
	var answers []onceAnswer
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
				answers = append(answers, onceAnswer{k, rc, replay, conflict, evs[0].Seq})
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
	stored := storedOnce(t, answers, size)
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

// onceAnswer is what a sender of key was answered.
type onceAnswer struct {
	key      int
	rc       store.Receipt
	replay   bool
	conflict bool
	seq      uint64 // of its first event after the call
}

// storedOnce checks that every key of answers was stored by exactly one
// sender, with a receipt of size events from its first event, and every
// replay answered that receipt; it returns the storing answer of each key.
func storedOnce(t *testing.T, answers []onceAnswer, size int) map[int]onceAnswer {
	t.Helper()
	stored := map[int]onceAnswer{}
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
	return stored
}

// onceEvents is the batch of key k: size views by user "k<k>".
func onceEvents(k, size int, now time.Time) []events.Event {
	evs := make([]events.Event, size)
	for i := range evs {
		evs[i] = events.Event{UserID: fmt.Sprintf("k%d", k), ItemID: fmt.Sprint(i), Type: events.View, Timestamp: now}
	}
	return evs
}

// Requests carrying several keys, sent at once from two replicas over
// overlapping key sets (each key in three requests): every key's events
// are stored once — a part whose key another request took, before or in
// the chain's tail, leaves no event — and the counters, the users, the
// outbox and the receipts agree with what was stored.
func TestSeveralKeysInOneChainRequestStoredOnce(t *testing.T) {
	replicas := twoReplicas(t)
	const keys, window, senders, size = 30, 9, 10, 3
	now := time.Now()
	var mu sync.Mutex
	var answers []onceAnswer
	start := make(chan struct{})
	var wg sync.WaitGroup
	for sd := range senders {
		wg.Go(func() {
			var parts []store.OncePart
			var ks []int
			for j := range window {
				k := (sd*3 + j) % keys // each key in window/3 senders' windows
				ks = append(ks, k)
				parts = append(parts, store.OncePart{Key: fmt.Sprintf("m-%d", k), BodyHash: sha256.Sum256([]byte(fmt.Sprint(k))), Events: onceEvents(k, size, now)})
			}
			<-start
			res, err := replicas[sd%2].AppendEventsOnceBatch(ctx, parts, now, time.Hour)
			if err != nil {
				t.Errorf("sender %d: %v", sd, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for j, r := range res {
				if r.Err != nil {
					t.Errorf("sender %d key %d: %v", sd, ks[j], r.Err)
				}
				if r.Replay && parts[j].Events[0].Seq != 0 {
					t.Errorf("key %d: an answer from the key kept seq %d", ks[j], parts[j].Events[0].Seq)
				}
				answers = append(answers, onceAnswer{ks[j], r.Receipt, r.Replay, false, parts[j].Events[0].Seq})
			}
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	stored := storedOnce(t, answers, size)
	want := keys * size
	for _, s := range replicas {
		if n, _ := s.CountEvents(ctx); n != want {
			t.Fatalf("CountEvents %d, want %d", n, want)
		}
	}
	if got := len(seqsOf(t, replicas[0])); got != want {
		t.Fatalf("%d events in the log, want %d", got, want)
	}
	for k := range keys {
		evs, err := replicas[0].UserEvents(ctx, fmt.Sprintf("k%d", k), 0)
		must(t, err)
		if len(evs) != size || evs[len(evs)-1].Seq != stored[k].seq {
			t.Fatalf("key %d: %d events from seq %d, want %d from %d", k, len(evs), evs[len(evs)-1].Seq, size, stored[k].seq)
		}
	}
	if n, _ := replicas[1].CountUsers(ctx); n != keys {
		t.Fatalf("CountUsers %d, want %d", n, keys)
	}
	counted, users := 0, 0
	for _, r := range outboxSince(t, replicas[0], 0) {
		var p pgstore.EventsPayload
		must(t, json.Unmarshal(r.Payload, &p))
		if p.Count == 0 || p.LastSeq < p.FirstSeq {
			t.Fatalf("payload %+v", p)
		}
		counted += p.Count
		users += len(p.NewUsers)
	}
	if counted != want || users != keys {
		t.Fatalf("the outbox counts %d events and %d new users, want %d and %d", counted, users, want, keys)
	}
	last, _ := replicas[1].LastSeq(ctx)
	t.Logf("%d events stored, %d numbers taken: %d parts lost the race in the tail", want, last, (int(last)-want)/size)
	if n, _ := replicas[0].IdempotencyKeys(ctx); n != keys {
		t.Fatalf("%d keys remembered, want %d", n, keys)
	}
}

// In one request: a key stored before is answered from it, a key used
// before for another body is refused, a key repeated in the request is
// answered from its first part, a bad key and an empty part fail or
// record alone, and the new parts are stored.
func TestSeveralKeysInOneRequestPartsAlone(t *testing.T) {
	s, err := pgstore.Open(ctx, pgtest.URL(t), pgstore.Options{})
	must(t, err)
	t.Cleanup(func() { s.Close() })
	now := time.Now()
	h := func(b string) [32]byte { return sha256.Sum256([]byte(b)) }
	before, replay, err := s.AppendEventsOnce(ctx, "old", h("a"), onceEvents(0, 2, now), now, time.Hour)
	must(t, err)
	if replay {
		t.Fatal("a new key answered as a replay")
	}
	_, _, err = s.AppendEventsOnce(ctx, "other", h("a"), onceEvents(1, 2, now), now, time.Hour)
	must(t, err)
	parts := []store.OncePart{
		{Key: "old", BodyHash: h("a"), Events: onceEvents(0, 2, now)},   // replay
		{Key: "other", BodyHash: h("b"), Events: onceEvents(1, 2, now)}, // another body
		{Key: "new", BodyHash: h("a"), Events: onceEvents(2, 3, now)},
		{Key: "new", BodyHash: h("a"), Events: onceEvents(2, 3, now)}, // repeated
		{Key: "", BodyHash: h("a"), Events: onceEvents(3, 1, now)},
		{Key: "empty", BodyHash: h("a")},
		{Key: "new2", BodyHash: h("a"), Events: onceEvents(4, 1, now)},
	}
	res, err := s.AppendEventsOnceBatch(ctx, parts, now, time.Hour)
	must(t, err)
	for i, c := range []struct {
		replay   bool
		accepted int
		err      error
	}{{true, 2, nil}, {false, 0, store.ErrIdempotencyConflict}, {false, 3, nil}, {true, 3, nil}, {false, 0, errors.New("")}, {false, 0, nil}, {false, 1, nil}} {
		r := res[i]
		if r.Replay != c.replay || r.Receipt.Accepted != c.accepted || (r.Err == nil) != (c.err == nil) ||
			(errors.Is(c.err, store.ErrIdempotencyConflict) && !errors.Is(r.Err, store.ErrIdempotencyConflict)) {
			t.Fatalf("part %d (key %q): %+v, want replay %v, %d accepted, error %v", i, parts[i].Key, r, c.replay, c.accepted, c.err)
		}
	}
	if res[0].Receipt.FirstSeq != before.FirstSeq || res[3].Receipt.FirstSeq != res[2].Receipt.FirstSeq {
		t.Fatalf("replays answered %d and %d, want %d and %d", res[0].Receipt.FirstSeq, res[3].Receipt.FirstSeq, before.FirstSeq, res[2].Receipt.FirstSeq)
	}
	if n, _ := s.CountEvents(ctx); n != 2+2+3+1 {
		t.Fatalf("CountEvents %d, want 8", n)
	}
	for i, p := range parts {
		if (res[i].Replay || res[i].Err != nil) && len(p.Events) > 0 && p.Events[0].Seq != 0 {
			t.Fatalf("part %d not stored kept seq %d", i, p.Events[0].Seq)
		}
	}
	if n, _ := s.IdempotencyKeys(ctx); n != 5 {
		t.Fatalf("%d keys remembered, want 5 (old, other, new, empty, new2)", n)
	}
}

// twoReplicas opens two stores on one new schema, as two replicas would.
func twoReplicas(t *testing.T) []*pgstore.Store {
	url := pgtest.URL(t)
	var replicas []*pgstore.Store
	for range 2 {
		s, err := pgstore.Open(ctx, url, pgstore.Options{})
		must(t, err)
		t.Cleanup(func() { s.Close() })
		replicas = append(replicas, s)
	}
	return replicas
}
