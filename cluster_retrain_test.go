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
	"github.com/aisle-dev/aisle/store/pgstore/pgtest"
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

// A user forgotten on a replica without the background lease is
// compacted out of PostgreSQL by the replica that runs the privacy jobs
// (the deletion reaches it through the feed), and the forget report on
// either replica then has no compaction pending.
func TestForgetOnAnyReplicaIsCompactedByTheLeaseHolder(t *testing.T) {
	cfg := clusterConfig(t)
	cfg.Store = pgtest.URL(t)
	cfg.Privacy.CompactAfter = 200 * time.Millisecond
	cfgA, cfgB := cfg, cfg
	cfgA.Data, cfgB.Data = t.TempDir(), t.TempDir()
	a, urlA, _ := replica(t, cfgA, "a")
	waitFor(t, 2*cfg.Cluster.LeaseTTL, "A takes the background lease", a.cluster.Lease.Held)
	b, urlB, _ := replica(t, cfgB, "b")
	if b.cluster.Lease.Held() {
		t.Fatal("B holds the lease A holds")
	}
	post := func(url, path, body string) {
		t.Helper()
		resp, err := http.Post(url+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: %d", path, resp.StatusCode)
		}
	}
	post(urlB, "/api/items", `{"id":"mug","title":"mug"}`)
	post(urlB, "/api/events", `[{"user_id":"gone","item_id":"mug","type":"view"},{"user_id":"stays","item_id":"mug","type":"view"}]`)
	req, _ := http.NewRequest("DELETE", urlB+"/api/users/gone", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("delete on B: %v %v", resp, err)
	}
	resp.Body.Close()
	waitFor(t, 15*time.Second, "A, the lease holder, compacts after the deletion made on B", func() bool {
		rep, _ := a.eng.LastCompaction()
		return rep != nil
	})
	if rep, _ := b.eng.LastCompaction(); rep != nil {
		t.Fatal("B compacted without the lease")
	}
	for _, url := range []string{urlA, urlB} {
		waitFor(t, 5*time.Second, "no compaction pending for the forgotten user", func() bool {
			_, body := get(t, url+"/api/users/gone/forgotten")
			return strings.Contains(body, `"compacted_at"`) && !strings.Contains(body, `"what":"compaction"`)
		})
	}
}
