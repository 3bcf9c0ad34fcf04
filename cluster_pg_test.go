package aisle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/aisle-dev/aisle/bus"
	"github.com/aisle-dev/aisle/bus/ingest"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/cputime"
	"github.com/aisle-dev/aisle/internal/natstest"

	"github.com/aisle-dev/aisle/store/pgstore/pgtest"
)

// Three replicas on one PostgreSQL schema and one NATS feed: a write on
// A reaches B's and C's search index and recommender within a second;
// a user deleted on A is forgotten on B and C.
func TestClusterOnPostgres(t *testing.T) {
	cfg := clusterConfig(t)
	cfg.Store = pgtest.URL(t)
	cfg.Data = t.TempDir()
	_, urlA, _ := replica(t, cfg, "a")
	cfgB, cfgC := cfg, cfg
	cfgB.Data, cfgC.Data = t.TempDir(), t.TempDir()
	_, urlB, _ := replica(t, cfgB, "b")
	_, urlC, _ := replica(t, cfgC, "c")
	post := func(url, path, body string) {
		t.Helper()
		resp, err := http.Post(url+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("POST %s: %d", path, resp.StatusCode)
		}
	}
	finds := func(url, q, id string) bool {
		code, body := get(t, url+"/api/search?q="+q)
		return code == 200 && strings.Contains(body, `"`+id+`"`)
	}
	t0 := time.Now()
	post(urlA, "/api/items", `[{"id":"kettle-1","title":"copper kettle"},{"id":"mug-1","title":"tea mug"}]`)
	waitFor(t, time.Second, "B and C find the item written on A", func() bool {
		return finds(urlB, "kettle", "kettle-1") && finds(urlC, "kettle", "kettle-1")
	})
	t.Logf("item visible on B and C after %s", time.Since(t0))
	post(urlB, "/api/events", `[{"user_id":"u1","item_id":"kettle-1","type":"view"},{"user_id":"u1","item_id":"mug-1","type":"purchase"}]`)
	waitFor(t, time.Second, "A and C see u1's events", func() bool {
		_, a := get(t, urlA+"/api/users/u1/events")
		_, c := get(t, urlC+"/api/users/u1/events")
		return strings.Contains(a, "mug-1") && strings.Contains(c, "mug-1")
	})
	req, _ := http.NewRequest("DELETE", urlA+"/api/items/kettle-1", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("delete: %v %v", resp, err)
	}
	waitFor(t, time.Second, "B and C drop the deleted item", func() bool {
		return !finds(urlB, "kettle", "kettle-1") && !finds(urlC, "kettle", "kettle-1")
	})
}

// BenchmarkConvergence: a write on replica A (POST /api/items, committed
// to PostgreSQL) until replica B's search finds it; p50 and p99.
//
//	go test -run XXX -bench Convergence -benchtime 200x .
func BenchmarkConvergence(b *testing.B) {
	cfg := clusterConfigTB(b)
	cfg.Store = pgtest.URL(b)
	cfg.Data = b.TempDir()
	_, urlA, _ := replicaTB(b, cfg, "a")
	cfgB := cfg
	cfgB.Data = b.TempDir()
	_, urlB, _ := replicaTB(b, cfgB, "b")
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprintf("conv%d", i)
		t0 := time.Now()
		resp, err := http.Post(urlA+"/api/items", "application/json", strings.NewReader(`{"id":"`+id+`","title":"`+id+` lamp"}`))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		for {
			r, err := http.Get(urlB + "/api/search?q=" + id)
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if strings.Contains(string(body), `"`+id+`"`) {
				break
			}
			if time.Since(t0) > 10*time.Second {
				b.Fatalf("%s not visible on B after 10 s", id)
			}
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
}

// BenchmarkStreamIngestionPostgres: events/s from the ingest subject into
// PostgreSQL (validated, committed, acknowledged), 1 and 100 events per
// message; b.N is the number of messages.
//
//	go test -run XXX -bench StreamIngestionPostgres -benchtime 5000x .
func BenchmarkStreamIngestionPostgres(b *testing.B) {
	for _, per := range []int{1, 100} {
		b.Run(fmt.Sprintf("events_per_message=%d", per), func(b *testing.B) {
			cfg := clusterConfigTB(b)
			cfg.Store = pgtest.URL(b)
			cfg.Data = b.TempDir()
			cfg.Cluster.IngestSubject = "-" // the benchmark runs its own consumer
			a, url, _ := replicaTB(b, cfg, "a")
			resp, err := http.Post(url+"/api/items", "application/json", strings.NewReader(benchItems()))
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			nc := natstest.Conn(b)
			name := natstest.Name("BENCH")
			o := ingest.Options{Stream: "INGEST_" + name, Subject: "bench.ingest." + name, DeadSubject: "bench.dead." + name}
			c, err := ingest.New(b.Context(), nc, a.Engine(), o, nil)
			if err != nil {
				b.Fatal(err)
			}
			js, _ := jetstream.New(nc)
			defer js.DeleteStream(context.Background(), o.Stream)
			var sb strings.Builder
			sb.WriteByte('[')
			for i := range per {
				if i > 0 {
					sb.WriteByte(',')
				}
				fmt.Fprintf(&sb, `{"user_id":"u%d","item_id":"i%d","type":"view"}`, i%5000, i%1000)
			}
			sb.WriteByte(']')
			for range b.N {
				if _, err := js.PublishAsync(o.Subject, []byte(sb.String())); err != nil {
					b.Fatal(err)
				}
			}
			<-js.PublishAsyncComplete()
			b.ResetTimer()
			ctx, cancel := context.WithCancel(b.Context())
			done := make(chan struct{})
			go func() { c.Run(ctx); close(done) }()
			for c.Stats().Messages < int64(b.N) {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			cancel()
			<-done
			b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// A replica killed between commit and publish: its outbox rows stay,
// and the relay of the replica that takes the relay lease over publishes
// them, so the change still reaches the others.
func TestChangeCommittedButNotPublishedStillArrives(t *testing.T) {
	cfg := clusterConfig(t)
	cfg.Store = pgtest.URL(t)
	cfg.Data = t.TempDir()
	// A relays first (it starts alone), and dies before each publish
	_, urlA, stopA := replica(t, cfg, "a", withRelayFault(func(step string) error {
		if step == bus.FaultPublish {
			return errors.New("killed between commit and publish")
		}
		return nil
	}))
	cfgB := cfg
	cfgB.Data = t.TempDir()
	_, urlB, _ := replica(t, cfgB, "b")
	resp, err := http.Post(urlA+"/api/items", "application/json", strings.NewReader(`{"id":"stove-1","title":"camping stove"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST on A: %d", resp.StatusCode)
	}
	time.Sleep(300 * time.Millisecond)
	if code, body := get(t, urlB+"/api/search?q=stove"); code == 200 && strings.Contains(body, `"stove-1"`) {
		t.Fatal("B found the item though A's relay never published it: the test does not test what it says")
	}
	stopA() // A dies; its relay lease expires or is released
	waitFor(t, 3*cfg.Cluster.LeaseTTL+time.Second, "B finds the item committed on A", func() bool {
		code, body := get(t, urlB+"/api/search?q=stove")
		return code == 200 && strings.Contains(body, `"stove-1"`)
	})
}

// BenchmarkRESTIngestPostgres: events/s through POST /api/events in
// batches of 1,000 into PostgreSQL (a 200 only after commit), with 1 and
// 3 replicas on one schema and one feed; 4 clients spread round-robin
// over the replicas; b.N is the number of batches.
//
//	go test -run XXX -bench RESTIngestPostgres -benchtime 60x .
func BenchmarkRESTIngestPostgres(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			cfg := clusterConfigTB(b)
			cfg.Store = pgtest.URL(b) + "&application_name=" + benchApp
			urls := make([]string, n)
			for i := range n {
				c := cfg
				c.Data = b.TempDir()
				_, urls[i], _ = replicaTB(b, c, fmt.Sprintf("r%d", i))
			}
			resp, err := http.Post(urls[0]+"/api/items", "application/json", strings.NewReader(benchItems()))
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			ingestLoadWith(b, urls, "", false, benchApp)
		})
	}
}

// benchApp is the application_name of the ingest benchmarks' PostgreSQL
// connections: the CPU of their backends is what a batch costs the
// database.
const benchApp = "aisle-ingest-bench"

// pgBackendCPU is the CPU time (user and system, nanosecond resolution)
// of each backend of the local PostgreSQL server connected with
// application_name app, by process id; nil when the server is not local
// (its processes are not in /proc).
func pgBackendCPU(b *testing.B, url, app string) map[int]time.Duration {
	ctx := b.Context()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		b.Fatal(err)
	}
	out := make(map[int]time.Duration, len(pids))
	for _, pid := range pids {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/schedstat", pid))
		if err != nil {
			return nil
		}
		f := strings.Fields(string(raw))
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			b.Fatalf("/proc/%d/schedstat: %v", pid, err)
		}
		out[int(pid)] = time.Duration(ns)
	}
	return out
}

// BenchmarkRESTIngestIdempotentPostgres: as BenchmarkRESTIngestPostgres
// with one replica, each batch sent with its own Idempotency-Key (the
// path a retrying client, and the stream consumer, take).
//
//	go test -run XXX -bench RESTIngestIdempotentPostgres -benchtime 60x .
func BenchmarkRESTIngestIdempotentPostgres(b *testing.B) {
	cfg := clusterConfigTB(b)
	cfg.Store = pgtest.URL(b) + "&application_name=" + benchApp
	cfg.Data = b.TempDir()
	_, url, _ := replicaTB(b, cfg, "r0")
	resp, err := http.Post(url+"/api/items", "application/json", strings.NewReader(benchItems()))
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	ingestLoadWith(b, []string{url}, "", true, benchApp)
}

// benchItems is a JSON array of the ingest benchmarks' 1,000 items.
func benchItems() string {
	var items strings.Builder
	items.WriteByte('[')
	for i := range 1000 {
		if i > 0 {
			items.WriteByte(',')
		}
		fmt.Fprintf(&items, `{"id":"i%d","title":"item %d"}`, i, i)
	}
	items.WriteByte(']')
	return items.String()
}

// ingestLoad posts b.N batches of 1,000 events (50 new users each) from
// 4 clients spread round-robin over urls (with the admin key when key is
// not empty), each expecting 200, and reports events/s.
func ingestLoad(b *testing.B, urls []string, key string) { ingestLoadWith(b, urls, key, false, "") }

// ingestLoadWith is ingestLoad, each batch with its own Idempotency-Key
// when keyed. When pgApp is not empty (the application_name of the
// replicas' connections to a local server) it also reports the CPU the
// PostgreSQL backends and this process (replicas and clients) spent per
// batch.
func ingestLoadWith(b *testing.B, urls []string, key string, keyed bool, pgApp string) {
	n := len(urls)
	batches := make([]string, b.N)
	for k := range batches {
		var sb strings.Builder
		sb.WriteByte('[')
		for i := range 1000 {
			if i > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"user_id":"u%d-%d","item_id":"i%d","type":"view"}`, k, i%50, (k*7+i)%1000)
		}
		sb.WriteByte(']')
		batches[k] = sb.String()
	}
	var next atomic.Int64
	errs := make(chan error, 4)
	var pg0 map[int]time.Duration
	if pgApp != "" {
		pg0 = pgBackendCPU(b, pgtest.ServerURL(), pgApp)
	}
	go0 := cputime.Process()
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for {
				k := int(next.Add(1)) - 1
				if k >= len(batches) {
					return
				}
				req, err := http.NewRequest("POST", urls[(w+k)%n]+"/api/events", strings.NewReader(batches[k]))
				if err != nil {
					errs <- err
					return
				}
				req.Header.Set("Content-Type", "application/json")
				if key != "" {
					req.Header.Set("Authorization", "Bearer "+key)
				}
				if keyed {
					req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%d", k))
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("POST /api/events: %d", resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(cputime.Process()-go0)/float64(time.Millisecond)/float64(b.N), "go-cpu-ms/batch")
	if pg0 != nil {
		if pg1 := pgBackendCPU(b, pgtest.ServerURL(), pgApp); pg1 != nil {
			var spent time.Duration
			for pid, t := range pg1 {
				spent += t - pg0[pid] // a backend opened during the run started at 0
			}
			b.ReportMetric(float64(spent)/float64(time.Millisecond)/float64(b.N), "pg-cpu-ms/batch")
		}
	}
}

// BenchmarkReplicaReadyAfterEvents: how long a replica that joins (or
// restarts on an empty data directory) takes until Start returns, the
// moment /api/ready answers 200, with AISLE_BENCH_EVENTS events (default
// 1,000,000) in PostgreSQL; each of the b.N iterations starts one more
// replica.
//
//	go test -run XXX -bench ReplicaReadyAfterEvents -benchtime 1x .
func BenchmarkReplicaReadyAfterEvents(b *testing.B) {
	total := 1_000_000
	if v := os.Getenv("AISLE_BENCH_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			b.Fatalf("AISLE_BENCH_EVENTS=%q: want a number ≥ 1000", v)
		}
		total = n
	}
	cfg := clusterConfigTB(b)
	cfg.Store = pgtest.URL(b)
	cfg.Data = b.TempDir()
	a, _, _ := replicaTB(b, cfg, "writer")
	ctx := b.Context()
	items := make([]catalog.Item, 5000)
	for i := range items {
		items[i] = catalog.Item{ID: fmt.Sprintf("i%d", i), Title: fmt.Sprintf("item %d", i)}
	}
	if err := a.Engine().AddItems(ctx, items); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	base := time.Now().Add(-30 * 24 * time.Hour)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Go(func() {
			for {
				k := int(next.Add(1)) - 1
				if k*5000 >= total {
					return
				}
				evs := make([]events.Event, 0, 5000)
				for i := k * 5000; i < min((k+1)*5000, total); i++ {
					evs = append(evs, events.Event{UserID: fmt.Sprintf("u%d", i%100000), ItemID: fmt.Sprintf("i%d", (i*7)%5000), Type: events.View,
						Timestamp: base.Add(time.Duration(i) * time.Second)})
				}
				if err := a.Engine().AddEvents(ctx, evs); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	b.Logf("%d events written in %s", total, time.Since(t0))
	b.ResetTimer()
	for i := range b.N {
		c := cfg
		c.Data = b.TempDir()
		t1 := time.Now()
		_, _, stop := replicaTB(b, c, fmt.Sprintf("joiner%d", i))
		b.ReportMetric(time.Since(t1).Seconds(), "ready_s")
		b.StopTimer()
		stop()
		b.StartTimer()
	}
}
