package shops_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/wire"
	"github.com/aisle-dev/aisle/shops"
)

// BenchmarkManyShops measures N shops of 1k–20k items in one process
// against the same data as one shop: heap, start-up and load time,
// training time for all, and recommend/search p99 at 8 clients spread
// across the shops. N is AISLE_BENCH_SHOPS (default 10), the largest
// shop AISLE_BENCH_MAX_ITEMS (default 20000):
//
//	AISLE_BENCH_SHOPS=10 go test ./shops -run '^$' -bench ManyShops -benchtime 1x -timeout 60m
func BenchmarkManyShops(b *testing.B) {
	n := 10
	if v, err := strconv.Atoi(os.Getenv("AISLE_BENCH_SHOPS")); err == nil && v > 1 {
		n = v
	}
	largest := 20000 // AISLE_BENCH_MAX_ITEMS: the largest shop (the smallest has 1000)
	if v, err := strconv.Atoi(os.Getenv("AISLE_BENCH_MAX_ITEMS")); err == nil && v >= 1000 {
		largest = v
	}
	sizes := make([]int, n)
	total := 0
	for i := range n {
		sizes[i] = 1000 + i*(largest-1000)/(n-1)
		total += sizes[i]
	}
	b.Logf("%d shops, %d items in all (%d–%d each), %d cores", n, total, sizes[0], sizes[n-1], runtime.NumCPU())
	for range b.N {
		many := runMany(b, sizes, false)
		one := runMany(b, sizes, true)
		b.Logf("%-10s %10s %10s %12s %12s %10s %10s %10s %10s", "layout", "start s", "load s", "heap MB", "unloaded MB", "train s", "p50 ms", "p99 ms", "req/s")
		for _, r := range []manyResult{many, one} {
			b.Logf("%-10s %10.2f %10.2f %12.1f %12.1f %10.1f %10.2f %10.2f %10.0f", r.name, r.start.Seconds(), r.load.Seconds(),
				r.heap/1e6, r.unloaded/1e6, r.train.Seconds(), r.p50*1e3, r.p99*1e3, r.rps)
		}
		b.Logf("per-shop overhead, all loaded: %.2f MB ((heap of %d shops − heap of one shop with the same data) / %d); p99 ratio %.2f",
			(many.heap-one.heap)/1e6/float64(n), n, n, many.p99/one.p99)
		b.ReportMetric((many.heap-one.heap)/1e6/float64(n), "MB/shop")
		b.ReportMetric(many.p99/one.p99, "p99-ratio")
	}
}

type manyResult struct {
	name               string
	start, load, train time.Duration
	heap, unloaded     float64
	p50, p99, rps      float64
	shopOf             func(i int) (prefix, idPrefix string)
	sizes              []int
}

func benchConfig(data string) config.Config {
	cfg := config.Default()
	cfg.Data = data
	cfg.Training.ValidationUsers = 200
	cfg.Training.BackgroundBudget, cfg.Training.TuneEvery = 0, 0
	// popular only: the figures are about sharing one process, not about
	// the models (itemknn made the 4-shop run 4 minutes on a loaded machine)
	cfg.Training.Models = []config.Model{{Name: "popular"}}
	cfg.Recommend.RetrainEvery, cfg.Recommend.RetrainAfterEvents = 0, 0
	cfg.Search.LearnRanking = new(bool)
	cfg.Privacy.CompactAfter = -1
	cfg.Server.LogLevel = "error"
	return cfg
}

var benchWords = []string{"mug", "candle", "lamp", "bag", "card", "clock", "frame", "cushion", "vase", "tin", "bowl", "plate", "jar", "box", "sign", "heart"}

// fill writes one shop's data (or, with prefix, a part of the single
// shop) straight into a data directory.
func fill(b *testing.B, cfg config.Config, items int, prefix string, seed uint64) {
	eng, st, err := wire.OpenEngine(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 7))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := make([]catalog.Item, 0, 5000)
	for i := range items {
		p := float64(1 + rng.IntN(50))
		batch = append(batch, catalog.Item{ID: fmt.Sprintf("%sp%d", prefix, i),
			Title:      fmt.Sprintf("%s %s %d", benchWords[rng.IntN(len(benchWords))], benchWords[rng.IntN(len(benchWords))], i),
			Categories: []string{"Home/" + benchWords[i%len(benchWords)]}, Price: &p, Available: true, CreatedAt: t0})
		if len(batch) == cap(batch) || i == items-1 {
			if err := eng.AddItems(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	users := items / 4
	evs := make([]events.Event, 0, 20000)
	for u := range users {
		home := rng.IntN(items)
		for k := range 8 { // 2 events per item in all, clustered around a "taste"
			it := (home + rng.IntN(50)) % items
			evs = append(evs, events.Event{UserID: fmt.Sprintf("%su%d", prefix, u), ItemID: fmt.Sprintf("%sp%d", prefix, it),
				Type: events.Purchase, Timestamp: t0.Add(time.Duration(u*8+k) * time.Minute)})
		}
		if len(evs) >= 20000 || u == users-1 {
			if err := eng.AddEvents(ctx, evs); err != nil {
				b.Fatal(err)
			}
			evs = evs[:0]
		}
	}
}

func heapNow() float64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc)
}

// runMany builds the data (as N shops, or as one shop when single),
// starts the server and measures.
func runMany(b *testing.B, sizes []int, single bool) manyResult {
	data := b.TempDir()
	cfg := benchConfig(data)
	r := manyResult{name: fmt.Sprintf("%d shops", len(sizes)), sizes: sizes}
	if single {
		r.name = "one shop"
	}
	reg, err := shops.OpenRegistry(filepath.Join(data, "shops.db"))
	if err != nil {
		b.Fatal(err)
	}
	built := time.Now()
	for i, size := range sizes {
		id := fmt.Sprintf("s%03d", i)
		c := cfg
		prefix := ""
		if single {
			prefix = id + "-"
		} else {
			if _, err := reg.Create(id, shops.Settings{}, time.Now()); err != nil {
				b.Fatal(err)
			}
			c.Data = shops.Dir(data, id)
		}
		fill(b, c, size, prefix, uint64(i))
	}
	reg.Close()
	b.Logf("%s: data written in %v", r.name, time.Since(built).Round(time.Second))
	base := heapNow()
	t0 := time.Now()
	s := start(b, cfg)
	r.start = time.Since(t0)
	defer s.stop()
	shopPath := func(i int) (string, string) {
		if single {
			return "/api", fmt.Sprintf("s%03d-", i)
		}
		return fmt.Sprintf("/api/shops/s%03d", i), ""
	}
	get := func(path string) []byte {
		resp, err := http.Get(s.url + path)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 && resp.StatusCode != 202 {
			b.Fatalf("GET %s: %d %.200s", path, resp.StatusCode, body)
		}
		return body
	}
	t0 = time.Now()
	for i := range sizes {
		if p, _ := shopPath(i); !single || i == 0 {
			get(p + "/stats")
		}
	}
	r.load = time.Since(t0)
	// train every shop (through the training queue, one at a time)
	t0 = time.Now()
	for i := range sizes {
		if p, _ := shopPath(i); !single || i == 0 {
			resp, err := http.Post(s.url+p+"/models/retrain", "application/json", nil)
			if err != nil || resp.StatusCode != 202 {
				b.Fatalf("retrain %s: %v %v", p, err, resp.Status)
			}
			resp.Body.Close()
		}
	}
	for i := range sizes {
		if p, _ := shopPath(i); !single || i == 0 {
			for {
				var m struct {
					Training *struct{ Running bool } `json:"training"`
					Models   []json.RawMessage       `json:"models"`
				}
				json.Unmarshal(get(p+"/models"), &m)
				if len(m.Models) > 0 && (m.Training == nil || !m.Training.Running) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	r.train = time.Since(t0)
	r.heap = heapNow() - base
	// 8 clients, each request to a random shop (or the same user/item of
	// the single shop): recommend, search and similar in turn
	const clients, perClient = 8, 250
	lat := make([][]float64, clients)
	var wg sync.WaitGroup
	t0 = time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 99))
			for k := range perClient {
				i := rng.IntN(len(sizes))
				p, pre := shopPath(i)
				var path string
				switch k % 3 {
				case 0:
					path = fmt.Sprintf("%s/recommend/%su%d?n=10", p, pre, rng.IntN(sizes[i]/4))
				case 1:
					path = fmt.Sprintf("%s/search?q=%s+%s&n=10", p, benchWords[rng.IntN(len(benchWords))], benchWords[rng.IntN(len(benchWords))])
				default:
					path = fmt.Sprintf("%s/items/%sp%d/similar?n=10", p, pre, rng.IntN(sizes[i]))
				}
				t := time.Now()
				get(path)
				lat[c] = append(lat[c], time.Since(t).Seconds())
			}
		}()
	}
	wg.Wait()
	took := time.Since(t0)
	all := slices.Concat(lat...)
	slices.Sort(all)
	r.p50, r.p99 = all[len(all)/2], all[len(all)*99/100]
	r.rps = float64(len(all)) / took.Seconds()
	s.host.UnloadIdle(0)
	r.unloaded = heapNow() - base
	return r
}
