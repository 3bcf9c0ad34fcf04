package lease_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aisle-dev/aisle/bus/lease"
	"github.com/aisle-dev/aisle/internal/natstest"
)

// pair returns two owners' leases on one key of a fresh bucket.
func pair(t *testing.T, ttl time.Duration) (a, b *lease.KV) {
	t.Helper()
	nc := natstest.Conn(t)
	bucket := natstest.Name("test_leases")
	t.Cleanup(func() {
		if js, err := jetstream.New(nc); err == nil {
			js.DeleteKeyValue(context.Background(), bucket)
		}
	})
	var err error
	if a, err = lease.NewKV(t.Context(), nc, bucket, "background", "replica-a", ttl); err != nil {
		t.Fatal(err)
	}
	if b, err = lease.NewKV(t.Context(), nc, bucket, "background", "replica-b", ttl); err != nil {
		t.Fatal(err)
	}
	return a, b
}

func TestKVLeaseOneHolderAndTakeover(t *testing.T) {
	ctx := t.Context()
	ttl := 2 * time.Second
	a, b := pair(t, ttl)
	if ok, err := a.Acquire(ctx); !ok || err != nil {
		t.Fatalf("first acquire = %v, %v", ok, err)
	}
	if ok, err := b.Acquire(ctx); ok || err != nil {
		t.Fatalf("second owner acquired a held lease: %v, %v", ok, err)
	}
	// renewals keep it past the TTL
	for range 4 {
		time.Sleep(ttl / 3)
		if ok, err := a.Acquire(ctx); !ok || err != nil {
			t.Fatalf("renewal = %v, %v", ok, err)
		}
		if ok, _ := b.Acquire(ctx); ok {
			t.Fatal("the other owner took a lease that was being renewed")
		}
	}
	if h, _ := a.Holder(ctx); h != "replica-a" || !a.Held() || b.Held() {
		t.Fatalf("holder %q, a held %v, b held %v", h, a.Held(), b.Held())
	}
	// a dies: it stops renewing; b takes over within the TTL (plus its polling)
	died := time.Now()
	for {
		ok, err := b.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Since(died) > 2*ttl {
			t.Fatalf("no takeover %s after the holder stopped (TTL %s)", time.Since(died), ttl)
		}
		time.Sleep(ttl / 6)
	}
	t.Logf("takeover after %s (TTL %s)", time.Since(died).Round(time.Millisecond), ttl)
	if a.Held() && time.Since(died) > ttl {
		t.Error("the old holder still believes it holds an expired lease")
	}
	// the old holder comes back: it must not steal it
	if ok, _ := a.Acquire(ctx); ok {
		t.Fatal("the old holder took the lease back from the new one")
	}
	// release hands it over at once
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.Acquire(ctx); !ok || err != nil {
		t.Fatalf("acquire after release = %v, %v", ok, err)
	}
}

// TestRunMovesWork: two replicas run the same work under one lease; the
// work runs on one at a time, and moves when its replica stops.
func TestRunMovesWork(t *testing.T) {
	ttl := 2 * time.Second
	a, b := pair(t, ttl)
	var running atomic.Int32
	var ranOn [2]atomic.Bool
	var overlap atomic.Bool
	work := func(i int) func(context.Context) {
		return func(ctx context.Context) {
			if running.Add(1) > 1 {
				overlap.Store(true)
			}
			ranOn[i].Store(true)
			<-ctx.Done()
			running.Add(-1)
		}
	}
	ctxA, stopA := context.WithCancel(t.Context())
	doneA := make(chan struct{})
	go func() { lease.Run(ctxA, a, ttl/3, nil, work(0)); close(doneA) }()
	deadline := time.Now().Add(5 * time.Second)
	for !ranOn[0].Load() {
		if time.Now().After(deadline) {
			t.Fatal("replica a never started the work")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctxB, stopB := context.WithCancel(t.Context())
	defer stopB()
	go lease.Run(ctxB, b, ttl/3, nil, work(1))
	time.Sleep(ttl + ttl/2)
	if ranOn[1].Load() {
		t.Fatal("replica b ran the work while a held the lease")
	}
	stopA() // a stops (and releases on the way out)
	<-doneA
	stopped := time.Now()
	for !ranOn[1].Load() {
		if time.Since(stopped) > 2*ttl {
			t.Fatal("the work did not move to replica b")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if overlap.Load() {
		t.Fatal("the work ran on both replicas at once")
	}
}

func TestLocalIsAlwaysHeld(t *testing.T) {
	var l lease.Lease = lease.Local{}
	ok, err := l.Acquire(t.Context())
	if !ok || err != nil || !l.Held() || l.Release(t.Context()) != nil {
		t.Fatal("the local lease is not always held")
	}
	ran := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-ran; cancel() }()
	lease.Run(ctx, l, time.Hour, nil, func(context.Context) { close(ran) })
}
