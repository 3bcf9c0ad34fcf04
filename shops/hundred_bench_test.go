package shops_test

import (
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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/shops"
)

// BenchmarkHundredShops measures a deployment of N shops (default 100) of
// 1k–20k items in one process, as issue 14 asks, without the one-shop
// comparison of BenchmarkManyShops (a million items in one shop takes too
// long here). It measures memory (the heap of all shops loaded, per shop,
// the fixed part of a shop as the intercept of memory_bytes against items,
// and the heap of empty shops); the p99 of the busiest shop, which half of
// 8 clients ask while the other half are spread over all other shops,
// against the same shop alone (every other shop unloaded, the same 4
// clients); and the time to create a shop (POST, then its
// first request) and to delete one (empty, and loaded with data):
//
//	AISLE_BENCH_SHOPS=100 nice -n 10 go test ./shops -run '^$' -bench HundredShops -benchtime 1x -timeout 120m
func BenchmarkHundredShops(b *testing.B) {
	n := 100
	if v, err := strconv.Atoi(os.Getenv("AISLE_BENCH_SHOPS")); err == nil && v > 2 {
		n = v
	}
	largest := 20000
	if v, err := strconv.Atoi(os.Getenv("AISLE_BENCH_MAX_ITEMS")); err == nil && v >= 1000 {
		largest = v
	}
	sizes := make([]int, n)
	total := 0
	for i := range n {
		sizes[i] = 1000 + i*(largest-1000)/(n-1)
		total += sizes[i]
	}
	b.Logf("%d shops, %d items and %d events in all (%d–%d items each), %d cores", n, total, total*2, sizes[0], sizes[n-1], runtime.NumCPU())
	for range b.N {
		hundredShops(b, sizes)
	}
}

func hundredShops(b *testing.B, sizes []int) {
	n := len(sizes)
	data := b.TempDir()
	cfg := benchConfig(data)
	// loading 100 shops can take longer than the default 30 minutes of idling
	cfg.Shops.IdleUnload = 0
	// b.Logf shows only at the end
	progress := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, args...)...)
	}
	reg, err := shops.OpenRegistry(filepath.Join(data, "shops.db"))
	if err != nil {
		b.Fatal(err)
	}
	id := func(i int) string { return fmt.Sprintf("s%03d", i) }
	t0 := time.Now()
	for i, size := range sizes {
		if _, err := reg.Create(id(i), shops.Settings{}, time.Now()); err != nil {
			b.Fatal(err)
		}
		c := cfg
		c.Data = shops.Dir(data, id(i))
		fill(b, c, size, "", uint64(i))
	}
	reg.Close()
	b.Logf("data written in %v", time.Since(t0).Round(time.Second))
	progress("data written in %v", time.Since(t0).Round(time.Second))

	base := heapNow()
	s := start(b, cfg)
	defer s.stop()
	get := func(path string) []byte {
		req, _ := http.NewRequest("GET", s.url+path, nil)
		req.Header.Set("X-API-Key", opKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			b.Fatalf("GET %s: %d %.200s", path, resp.StatusCode, body)
		}
		return body
	}
	timed := func(method, path, body string, want int) time.Duration {
		t := time.Now()
		s.must(want, method, path, opKey, body)
		return time.Since(t)
	}

	// 20 empty shops, measured before any other shop loads: what a shop
	// costs without data
	before := heapNow()
	var creates, firsts, deletes []float64
	for i := range 20 {
		sid := fmt.Sprintf("new%02d", i)
		creates = append(creates, timed("POST", "/api/shops", fmt.Sprintf(`{"id":%q}`, sid), 201).Seconds())
		t := time.Now()
		get("/api/shops/" + sid + "/stats")
		firsts = append(firsts, time.Since(t).Seconds())
	}
	empty := (heapNow() - before) / 20
	for i := range 20 {
		deletes = append(deletes, timed("DELETE", fmt.Sprintf("/api/shops/new%02d", i), "", 200).Seconds())
	}
	b.Logf("20 empty shops: create p50/max %.1f/%.1f ms, first request (load) p50/max %.0f/%.0f ms, heap %.2f MB each loaded; delete p50/max %.0f/%.0f ms",
		quantile(creates, 0.5)*1e3, quantile(creates, 1)*1e3, quantile(firsts, 0.5)*1e3, quantile(firsts, 1)*1e3, empty/1e6,
		quantile(deletes, 0.5)*1e3, quantile(deletes, 1)*1e3)
	b.ReportMetric(empty/1e6, "MB/empty-shop")

	// load every shop, one after another
	t0 = time.Now()
	loads := make([]float64, n)
	for i := range sizes {
		t := time.Now()
		get("/api/shops/" + id(i) + "/stats")
		loads[i] = time.Since(t).Seconds()
	}
	loadAll := time.Since(t0)
	progress("loaded in %v", loadAll.Round(time.Second))
	heapLoaded := heapNow() - base
	var list struct{ Shops []shops.Info }
	json.Unmarshal(get("/api/shops"), &list)
	var xs, ys []float64
	for _, in := range list.Shops {
		var i int
		if _, err := fmt.Sscanf(in.ID, "s%03d", &i); err == nil && in.MemoryBytes > 0 {
			xs, ys = append(xs, float64(sizes[i])), append(ys, float64(in.MemoryBytes))
		}
	}
	slope, intercept := fitLine(xs, ys)
	b.Logf("load all %d: %.1f s (per shop p50 %.2f s, max %.2f s); heap with all loaded %.1f MB = %.2f MB per shop; "+
		"memory_bytes (an estimate from the last collection) ≈ %.2f MB + %.0f bytes × items (fit over the %d shops with a positive estimate)",
		n, loadAll.Seconds(), quantile(loads, 0.5), quantile(loads, 1), heapLoaded/1e6, heapLoaded/1e6/float64(n), intercept/1e6, slope, len(xs))

	// train every shop through the training queue
	t0 = time.Now()
	for i := range sizes {
		s.must(202, "POST", "/api/shops/"+id(i)+"/models/retrain", opKey, "")
	}
	for i := range sizes {
		for {
			var m struct {
				Training *struct{ Running bool } `json:"training"`
				Models   []json.RawMessage       `json:"models"`
			}
			json.Unmarshal(get("/api/shops/"+id(i)+"/models"), &m)
			if len(m.Models) > 0 && (m.Training == nil || !m.Training.Running) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	b.Logf("train all %d (popular, through the queue): %.1f s", n, time.Since(t0).Seconds())
	progress("trained in %v", time.Since(t0).Round(time.Second))

	// the busiest shop: half the clients; the others spread over the rest
	busiest := n - 1
	ask := func(rng *rand.Rand, i, k int) string {
		p := "/api/shops/" + id(i)
		switch k % 3 {
		case 0:
			return fmt.Sprintf("%s/recommend/u%d?n=10", p, rng.IntN(sizes[i]/4))
		case 1:
			return fmt.Sprintf("%s/search?q=%s+%s&n=10", p, benchWords[rng.IntN(len(benchWords))], benchWords[rng.IntN(len(benchWords))])
		default:
			return fmt.Sprintf("%s/items/p%d/similar?n=10", p, rng.IntN(sizes[i]))
		}
	}
	const perClient = 300
	phase := func(round int, others bool) (busy, rest []float64) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for c := range 8 {
			if c >= 4 && !others {
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(c), uint64(round)))
				var lat []float64
				for k := range perClient {
					i := busiest
					if c >= 4 {
						i = rng.IntN(n - 1)
					}
					path := ask(rng, i, k)
					t := time.Now()
					get(path)
					lat = append(lat, time.Since(t).Seconds())
				}
				mu.Lock()
				if c < 4 {
					busy = append(busy, lat...)
				} else {
					rest = append(rest, lat...)
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		return busy, rest
	}
	for round := range 1 { // one round: loading every shop again takes long here
		busy, rest := phase(round, true)
		s.host.UnloadIdle(0) // every shop leaves memory: the busiest is alone
		heapUnloaded := heapNow() - base
		get("/api/shops/" + id(busiest) + "/stats")
		alone, _ := phase(round, false)
		b.Logf("round %d: busiest shop (%d items) p50/p99 %.1f/%.1f ms among %d loaded shops (the others' p99 %.1f ms) vs %.1f/%.1f ms alone: p99 ratio %.2f; heap with every shop unloaded %.1f MB",
			round+1, sizes[busiest], quantile(busy, 0.5)*1e3, quantile(busy, 0.99)*1e3, n, quantile(rest, 0.99)*1e3,
			quantile(alone, 0.5)*1e3, quantile(alone, 0.99)*1e3, quantile(busy, 0.99)/quantile(alone, 0.99), heapUnloaded/1e6)
		b.ReportMetric(quantile(busy, 0.99)/quantile(alone, 0.99), "p99-ratio")
		progress("round %d: busiest p99 %.1f ms among all, %.1f ms alone", round+1, quantile(busy, 0.99)*1e3, quantile(alone, 0.99)*1e3)
	}

	var parts []string
	for _, i := range []int{busiest, n / 2, 0} {
		loaded := strings.Contains(string(get("/api/shops/"+id(i))), `"loaded":true`)
		d := timed("DELETE", "/api/shops/"+id(i), "", 200)
		parts = append(parts, fmt.Sprintf("%d items (loaded %v) %.2f s", sizes[i], loaded, d.Seconds()))
	}
	b.Logf("delete with data, counts and files: %s", strings.Join(parts, "; "))
}

// quantile is the q-quantile of xs (sorted in place); q=1 is the maximum.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[min(len(xs)-1, int(q*float64(len(xs))))]
}

// fitLine fits y = slope·x + intercept by least squares.
func fitLine(xs, ys []float64) (slope, intercept float64) {
	var sx, sy, sxx, sxy float64
	k := float64(len(xs))
	for i := range xs {
		sx, sy, sxx, sxy = sx+xs[i], sy+ys[i], sxx+xs[i]*xs[i], sxy+xs[i]*ys[i]
	}
	if d := k*sxx - sx*sx; d != 0 {
		slope = (k*sxy - sx*sy) / d
	}
	if k > 0 {
		intercept = (sy - slope*sx) / k
	}
	return slope, intercept
}
