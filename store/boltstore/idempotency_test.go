package boltstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
)

// Issue 12 item 9: a client retry of an event batch double-counted.
func TestAppendEventsOnce(t *testing.T) {
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	batch := func() []events.Event {
		return []events.Event{{UserID: "u", ItemID: "i", Type: events.View, Timestamp: now}, {UserID: "v", ItemID: "i", Type: events.Click, Timestamp: now}}
	}
	h1, h2 := sha256.Sum256([]byte("body 1")), sha256.Sum256([]byte("body 2"))
	count := func() int { n, _ := st.CountEvents(ctx); return n }

	rc, replay, err := st.AppendEventsOnce(ctx, "k1", h1, batch(), now, time.Hour)
	if err != nil || replay || rc.Accepted != 2 || rc.FirstSeq != 1 || count() != 2 {
		t.Fatalf("first: %+v %v %v, %d events", rc, replay, err, count())
	}
	rc2, replay, err := st.AppendEventsOnce(ctx, "k1", h1, batch(), now.Add(time.Minute), time.Hour)
	if err != nil || !replay || rc2 != rc || count() != 2 {
		t.Fatalf("retry: %+v %v %v, %d events", rc2, replay, err, count())
	}
	if _, _, err := st.AppendEventsOnce(ctx, "k1", h2, batch(), now.Add(time.Minute), time.Hour); !errors.Is(err, store.ErrIdempotencyConflict) || count() != 2 {
		t.Fatalf("other body, same key: %v, %d events", err, count())
	}
	if _, replay, err := st.AppendEventsOnce(ctx, "k2", h1, batch(), now, time.Hour); err != nil || replay || count() != 4 {
		t.Fatalf("new key: %v %v, %d events", replay, err, count())
	}
	// After the ttl the key is forgotten: the batch is stored again.
	if _, replay, err := st.AppendEventsOnce(ctx, "k1", h1, batch(), now.Add(2*time.Hour), time.Hour); err != nil || replay || count() != 6 {
		t.Fatalf("after ttl: %v %v, %d events", replay, err, count())
	}
	// Expired keys are dropped by later batches: the store stays bounded.
	for i := 0; i < 200; i++ {
		if _, _, err := st.AppendEventsOnce(ctx, fmt.Sprintf("x%d", i), h1, nil, now.Add(3*time.Hour+time.Duration(i)*time.Minute), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := st.IdempotencyKeys(ctx); n > 61+expirePerBatch {
		t.Fatalf("%d keys remembered, want about an hour's worth (61)", n)
	}
	if _, _, err := st.AppendEventsOnce(ctx, "", h1, batch(), now, time.Hour); err == nil {
		t.Fatal("empty key accepted")
	}
}
