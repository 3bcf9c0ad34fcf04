package aisle

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/store/pgstore/pgtest"
)

// BenchmarkReadsOverReplicas: GET /api/recommend/{user} and GET
// /api/search throughput and latency with 32 clients spread round-robin
// over 1 and 3 replicas on one PostgreSQL schema and one feed, after a
// catalogue of 2,000 items and 40,000 events was written through REST and
// a model trained on the lease holder reached every replica; b.N is the
// number of requests of each route.
//
//	go test -run XXX -bench ReadsOverReplicas -benchtime 4000x .
func BenchmarkReadsOverReplicas(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			cfg := clusterConfigTB(b)
			cfg.Store = pgtest.URL(b)
			reps := make([]*Aisle, n)
			urls := make([]string, n)
			for i := range n {
				c := cfg
				c.Data = b.TempDir()
				reps[i], urls[i], _ = replicaTB(b, c, fmt.Sprintf("r%d", i))
			}
			post := func(url, path, body string) {
				resp, err := http.Post(url+path, "application/json", strings.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("POST %s: %d", path, resp.StatusCode)
				}
			}
			seedReads(b, urls, post)
			// train on the lease holder; the version reaches every replica
			var holder *Aisle
			waitForTB(b, 10*time.Second, "a replica holds the training lease", func() bool {
				for _, a := range reps {
					if a.cluster.Lease.Held() {
						holder = a
						return true
					}
				}
				return false
			})
			for holder.rt.Busy() {
				time.Sleep(50 * time.Millisecond)
			}
			if _, err := holder.rt.RunOnce(context.Background()); err != nil {
				b.Fatal(err)
			}
			model := func(url string) string {
				resp, err := http.Get(url + "/api/recommend/u1?n=10")
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				_, m, _ := strings.Cut(string(body), `"model":"`)
				m, _, _ = strings.Cut(m, `"`)
				return m
			}
			want := model(urls[slices.Index(reps, holder)])
			waitForTB(b, 30*time.Second, "every replica serves the trained model "+want, func() bool {
				for _, u := range urls {
					if model(u) != want {
						return false
					}
				}
				return true
			})

			readLoad(b, urls)
		})
	}
}

// readWords make the items' titles and the search queries.
var readWords = []string{"copper", "kettle", "tea", "mug", "glass", "vase", "steel", "pan", "oak", "board", "linen", "towel"}

// seedReads writes the read benchmarks' data through REST: 2,000 items on
// the first replica, then 40 batches of 1,000 events round-robin.
func seedReads(b *testing.B, urls []string, post func(url, path, body string)) {
	n := len(urls)
	words := readWords
	var sb strings.Builder
	sb.WriteByte('[')
	for i := range 2000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"id":"i%d","title":"%s %s %d","categories":["Home/%s"]}`, i, words[i%len(words)], words[(i/7)%len(words)], i, words[i%5])
	}
	sb.WriteByte(']')
	post(urls[0], "/api/items", sb.String())
	for k := range 40 {
		sb.Reset()
		sb.WriteByte('[')
		for i := range 1000 {
			if i > 0 {
				sb.WriteByte(',')
			}
			u := (k*1000 + i) % 2000
			fmt.Fprintf(&sb, `{"user_id":"u%d","item_id":"i%d","type":"view"}`, u, (u*13+i*7)%2000)
		}
		sb.WriteByte(']')
		post(urls[k%n], "/api/events", sb.String())
	}
}

// readLoad measures GET /api/recommend and GET /api/search with 32
// clients spread round-robin over urls, b.N requests of each.
func readLoad(b *testing.B, urls []string) {
	n := len(urls)
	words := readWords
	type route struct {
		name string
		path func(k int) string
	}
	routes := []route{
		{"recommend", func(k int) string { return fmt.Sprintf("/api/recommend/u%d?n=10", k%2000) }},
		{"search", func(k int) string {
			return fmt.Sprintf("/api/search?q=%s+%s&n=10", words[k%len(words)], words[(k/3)%len(words)])
		}},
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for _, rt := range routes {
		lat := make([]time.Duration, b.N)
		var next atomic.Int64
		var failed atomic.Int64
		start := time.Now()
		var wg sync.WaitGroup
		for w := range 32 {
			wg.Go(func() {
				for {
					k := int(next.Add(1)) - 1
					if k >= b.N {
						return
					}
					t0 := time.Now()
					resp, err := client.Get(urls[(w+k)%n] + rt.path(k))
					if err != nil {
						failed.Add(1)
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						failed.Add(1)
					}
					lat[k] = time.Since(t0)
				}
			})
		}
		wg.Wait()
		took := time.Since(start)
		if f := failed.Load(); f > 0 {
			b.Fatalf("%s: %d of %d requests failed", rt.name, f, b.N)
		}
		slices.Sort(lat)
		b.ReportMetric(float64(b.N)/took.Seconds(), rt.name+"_req/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, rt.name+"_p50_ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, rt.name+"_p99_ms")
	}
}

func waitForTB(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
