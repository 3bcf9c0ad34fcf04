package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/internal/natstest"
	"github.com/aisle-dev/aisle/store/pgstore/pgtest"
)

// clusterReplica starts `aisle serve` as replica id of a cluster on
// PostgreSQL (pgURL) and NATS, with stream and bucket names of the test.
func clusterReplica(t *testing.T, dir, id, pgURL, names string) *server {
	t.Helper()
	cfg := filepath.Join(dir, id+".yaml")
	yaml := fmt.Sprintf(`store: %q
bus: %q
data: %q
cluster:
  replica_id: %s
  stream: CHANGES_%s
  subject: e2e.changes.%s
  lease_bucket: leases_%s
  lease_ttl: 3s
  ingest_stream: INGEST_%s
  ingest_subject: e2e.ingest.%s
  dead_subject: e2e.dead.%s
recommend:
  retrain_after_events: 0
`, pgURL, natstest.URL(), filepath.Join(dir, id), id, names, names, names, names, names, names)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return startCmd(t, "serve", "--addr", "127.0.0.1:0", "--config", cfg, "--admin-key", "test-admin", "--embedder", "none")
}

func (s *server) finds(q, id string) bool {
	resp, err := http.Get(s.url + "/api/search?q=" + q)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode == 200 && strings.Contains(b.String(), `"`+id+`"`)
}

func (s *server) leaseHeld() bool {
	req, _ := http.NewRequest("GET", s.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return strings.Contains(b.String(), "\naisle_lease_held 1")
}

func within(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("not within %s: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// Three `aisle serve` processes on one PostgreSQL and one NATS: a write
// on A is found on B and C within a second; kill -9 of B while clients
// write to all three loses no acknowledged event, A and C keep
// answering, and B catches up when it comes back; kill -9 of the
// replica holding the background lease moves the lease to another.
func TestClusterOfThreeProcesses(t *testing.T) {
	pgURL := pgtest.URL(t)
	natstest.Conn(t)
	names := strings.ToUpper(natstest.Name("E2E")[4:])
	dir := t.TempDir()
	a := clusterReplica(t, dir, "a", pgURL, names)
	b := clusterReplica(t, dir, "b", pgURL, names)
	c := clusterReplica(t, dir, "c", pgURL, names)

	if code, _ := a.do("POST", "/api/items", `[{"id":"kettle","title":"copper kettle"},{"id":"mug","title":"tea mug"},{"id":"pot","title":"iron pot"}]`); code != 200 {
		t.Fatalf("POST items on A: %d", code)
	}
	d := within(t, time.Second, "B and C find the item written on A", func() bool { return b.finds("kettle", "kettle") && c.finds("kettle", "kettle") })
	t.Logf("write on A visible on B and C after %s", d)

	// clients write to all three; B is killed in the middle
	var acked sync.Map // user id → true for each acknowledged event
	var n atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w, s := range []*server{a, b, c} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				user := fmt.Sprintf("w%d-%d", w, i)
				req, _ := http.NewRequest("POST", s.url+"/api/events", strings.NewReader(`{"user_id":"`+user+`","item_id":"mug","type":"view"}`))
				req.Header.Set("Authorization", "Bearer test-admin")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == 200 {
					acked.Store(user, true)
					n.Add(1)
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	b.kill() // kill -9
	if code, _ := a.do("POST", "/api/items", `{"id":"lamp","title":"brass lamp"}`); code != 200 {
		t.Fatalf("A refused a write after B died: %d", code)
	}
	within(t, time.Second, "C finds the item written on A while B is down", func() bool { return c.finds("lamp", "lamp") })
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d events acknowledged", n.Load())
	missing := 0
	acked.Range(func(k, _ any) bool {
		code, body := c.do("GET", "/api/users/"+k.(string)+"/events", "")
		if code != 200 || body == nil {
			missing++
		}
		return true
	})
	if missing > 0 {
		t.Fatalf("%d acknowledged events missing after kill -9", missing)
	}

	// B comes back and catches up before it is ready
	b = clusterReplica(t, dir, "b", pgURL, names)
	if !b.finds("lamp", "lamp") {
		t.Fatal("B was ready before it had the item written while it was down")
	}

	// kill -9 the lease holder: another replica takes over (TTL 3 s)
	var holder *server
	within(t, 10*time.Second, "one replica holds the lease", func() bool {
		for _, s := range []*server{a, b, c} {
			if s.leaseHeld() {
				holder = s
				return true
			}
		}
		return false
	})
	holder.kill()
	d = within(t, 30*time.Second, "another replica takes the lease", func() bool {
		for _, s := range []*server{a, b, c} {
			if s != holder && s.leaseHeld() {
				return true
			}
		}
		return false
	})
	t.Logf("lease taken over %s after kill -9 of its holder", d)
}
