package aisle

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/internal/natstest"
	"github.com/aisle-dev/aisle/store/pgstore/pgtest"
)

// BenchmarkReadsOverProcesses is BenchmarkReadsOverReplicas with each
// replica a separate `aisle serve` process (built from ./cmd/aisle), as
// in a deployment: 32 clients spread round-robin over 1 and 3 processes
// on one PostgreSQL schema and one NATS, after the same catalogue and
// events and a retrain that reached every replica. On one machine the
// processes still share its cores; what it adds over the in-process
// benchmark is separate heaps, garbage collectors and schedulers.
//
//	go test -run XXX -bench ReadsOverProcesses -benchtime 3000x .
func BenchmarkReadsOverProcesses(b *testing.B) {
	bin := buildAisle(b)
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			urls := startProcesses(b, bin, n)
			seedReads(b, urls, func(url, path, body string) {
				if code, out := adminCall(b, "POST", url+path, body); code != 200 {
					b.Fatalf("POST %s: %d %s", path, code, out)
				}
			})
			model := func(url string) string {
				_, body := adminCall(b, "GET", url+"/api/recommend/u1?n=10", "")
				_, m, _ := strings.Cut(body, `"model":"`)
				m, _, _ = strings.Cut(m, `"`)
				return m
			}
			first := model(urls[0])
			if code, body := adminCall(b, "POST", urls[len(urls)-1]+"/api/models/retrain", ""); code != http.StatusAccepted {
				b.Fatalf("retrain: %d %s", code, body)
			}
			waitForTB(b, 5*time.Minute, "every replica serves a newly trained model", func() bool {
				m := model(urls[0])
				if m == "" || m == first {
					return false
				}
				for _, u := range urls[1:] {
					if model(u) != m {
						return false
					}
				}
				return true
			})
			readLoad(b, urls)
		})
	}
}

// BenchmarkRESTIngestOverProcesses is BenchmarkRESTIngestPostgres with
// each replica a separate `aisle serve` process: POST /api/events in
// batches of 1,000 from 4 clients spread over 1 and 3 processes; b.N is
// the number of batches.
//
//	go test -run XXX -bench RESTIngestOverProcesses -benchtime 200x .
func BenchmarkRESTIngestOverProcesses(b *testing.B) {
	bin := buildAisle(b)
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			urls := startProcesses(b, bin, n)
			if code, out := adminCall(b, "POST", urls[0]+"/api/items", benchItems()); code != 200 {
				b.Fatalf("POST /api/items: %d %s", code, out)
			}
			ingestLoad(b, urls, benchAdminKey)
		})
	}
}

// buildAisle builds ./cmd/aisle into a temporary directory.
func buildAisle(b *testing.B) string {
	b.Helper()
	natstest.Conn(b)
	pgtest.URL(b) // skips without the services, before the build
	bin := filepath.Join(b.TempDir(), "aisle")
	out, err := exec.Command("go", "build", "-o", bin, "./cmd/aisle").CombinedOutput()
	if err != nil {
		b.Fatalf("go build ./cmd/aisle: %v\n%s", err, out)
	}
	return bin
}

// startProcesses starts n `aisle serve` processes of one new cluster and
// returns their URLs once every one is ready; they are killed when b ends.
func startProcesses(b *testing.B, bin string, n int) []string {
	b.Helper()
	store := pgtest.URL(b)
	cfg := clusterConfigTB(b) // stream and bucket names, removed at the end
	cc := cfg.Cluster
	dir := b.TempDir()
	urls := make([]string, n)
	for i := range n {
		id := fmt.Sprintf("p%d", i)
		path := filepath.Join(dir, id+".yaml")
		yaml := fmt.Sprintf(`store: %q
bus: %q
data: %q
cluster:
  replica_id: %s
  stream: %s
  subject: %s
  lease_bucket: %s
  lease_ttl: 3s
  ingest_stream: %s
  ingest_subject: %s
  dead_subject: %s
recommend:
  retrain_after_events: 0
`, store, natstest.URL(), filepath.Join(dir, id), id, cc.Stream, cc.Subject, cc.LeaseBucket, cc.IngestStream, cc.IngestSubject, cc.DeadSubject)
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--config", path, "--admin-key", benchAdminKey, "--embedder", "none")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		var logs strings.Builder
		var mu sync.Mutex
		cmd.Stderr = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) })
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		urlc := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				line := sc.Text()
				if k := strings.Index(line, "http://"); k >= 0 && strings.Contains(line, "listening") {
					urlc <- strings.Fields(line[k:])[0]
				}
			}
			io.Copy(io.Discard, stdout)
		}()
		select {
		case urls[i] = <-urlc:
		case <-time.After(2 * time.Minute):
			mu.Lock()
			defer mu.Unlock()
			b.Fatalf("replica %s did not start; logs:\n%s", id, logs.String())
		}
		waitForTB(b, 2*time.Minute, "replica "+id+" is ready", func() bool {
			code, _ := adminCall(b, "GET", urls[i]+"/api/ready", "")
			return code == 200
		})
	}
	return urls
}

const benchAdminKey = "bench-admin"

// adminCall makes a request with the admin key: status and body (0 and
// "" when the replica does not answer).
func adminCall(b *testing.B, method, url, body string) (int, string) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+benchAdminKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
