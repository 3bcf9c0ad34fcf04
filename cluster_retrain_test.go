package aisle

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/bus/lease"
	"github.com/aisle-dev/aisle/internal/natstest"
)

// POST /api/models/retrain on a replica that does not hold the training
// lease: forwarded to the holder, which trains (202 naming it); when the
// holder does not answer (here a lease held by no replica), 409 naming
// the holder.
func TestRetrainGoesToTheLeaseHolder(t *testing.T) {
	cfg := clusterConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// a holder that is not a replica: nothing answers retrain requests
	ghost, err := lease.NewKV(ctx, natstest.Conn(t), cfg.Cluster.LeaseBucket, "background", "ghost", cfg.Cluster.LeaseTTL)
	if err != nil {
		t.Fatal(err)
	}
	if held, err := ghost.Acquire(ctx); !held || err != nil {
		t.Fatalf("the ghost could not take the lease: %v %v", held, err)
	}
	var renewing sync.WaitGroup
	gctx, stopGhost := context.WithCancel(ctx)
	renewing.Go(func() {
		for gctx.Err() == nil {
			ghost.Acquire(gctx)
			select {
			case <-gctx.Done():
			case <-time.After(cfg.Cluster.LeaseTTL / 4):
			}
		}
	})
	retrain := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Post(url+"/api/models/retrain", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	cfgA := cfg
	cfgA.Data = t.TempDir()
	a, urlA, _ := replica(t, cfgA, "a")
	if code, body := retrain(urlA); code != http.StatusConflict || !strings.Contains(body, "ghost") {
		t.Fatalf("retrain while an absent replica holds the lease: %d %s, want 409 naming the holder", code, body)
	}
	if _, _, at := a.rt.Last(); !at.IsZero() {
		t.Fatal("A trained without the lease")
	}

	stopGhost()
	renewing.Wait()
	if err := ghost.Release(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*cfg.Cluster.LeaseTTL, "A takes the training lease", a.cluster.Lease.Held)
	waitFor(t, 30*time.Second, "A's first training run ends", func() bool { return !a.rt.Busy() })
	_, _, before := a.rt.Last()

	cfgB := cfg
	cfgB.Data = t.TempDir()
	b, urlB, _ := replica(t, cfgB, "b")
	if b.cluster.Lease.Held() {
		t.Fatal("B holds the lease A holds")
	}
	code, body := retrain(urlB)
	if code != http.StatusAccepted || !strings.Contains(body, `"replica":"a"`) {
		t.Fatalf("retrain on B: %d %s, want 202 naming replica a", code, body)
	}
	waitFor(t, 30*time.Second, "A trains at B's request", func() bool {
		_, _, at := a.rt.Last()
		return at.After(before)
	})
	if _, _, at := b.rt.Last(); !at.IsZero() {
		t.Fatal("B trained although A holds the lease")
	}
	// on the holder itself the request trains there, as on a single server
	if code, body := retrain(urlA); code != http.StatusAccepted && code != http.StatusConflict || strings.Contains(body, `"replica"`) {
		t.Fatalf("retrain on the holder: %d %s, want 202 (or 409 while busy) without forwarding", code, body)
	}
}
