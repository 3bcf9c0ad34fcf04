package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/ads"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/cputime"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/rules"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/store"
)

// merchBenchServer is a shop of 5,000 items and 20,000 views with 50
// rules (5 of which match "blue pen" or popular, 1 recommend on the
// Office/pen category page, 1 on Office/marker) and 20 campaigns (5 targeting "pen", 5
// popular, 5 recommend on Office/pen).
func merchBenchServer(b testing.TB) *Server {
	ctx := context.Background()
	st, eng := testEngine(b)
	colours := []string{"blue", "red", "gel", "black", "green"}
	kinds := []string{"pen", "stapler", "notebook", "folder", "marker"}
	var items []catalog.Item
	for i := range 5000 {
		p := 1 + float64(i%100)
		items = append(items, catalog.Item{ID: fmt.Sprintf("i%04d", i), Title: fmt.Sprintf("%s %s %d", colours[i%5], kinds[(i/5)%5], i),
			Brand: []string{"Pilot", "Bic", "Acme"}[i%3], Categories: []string{"Office/" + kinds[(i/5)%5]}, Price: &p, Available: true})
	}
	if err := eng.AddItems(ctx, items); err != nil {
		b.Fatal(err)
	}
	var evs []events.Event
	for k := range 20000 {
		evs = append(evs, events.Event{UserID: fmt.Sprintf("u%d", k%500), ItemID: items[(k*k+7*k)%5000].ID, Type: events.View})
	}
	if err := eng.AddEvents(ctx, evs); err != nil {
		b.Fatal(err)
	}
	srv := searchRecServer(b, st, eng, items)
	book, err := rules.Open(ctx, st, nil)
	if err != nil {
		b.Fatal(err)
	}
	for k := range 50 {
		r := rules.Rule{Name: fmt.Sprint("r", k), If: rules.Condition{Query: fmt.Sprintf("query %d", k)}, Then: rules.Consequence{Hide: []string{"i0001"}}}
		switch k {
		case 0:
			r.If.Query = "blue pen"
			r.Then = rules.Consequence{Pin: []rules.Pin{{ItemID: "i0003", Position: 1}}, Hide: []string{"i0000"}}
		case 1:
			r.If = rules.Condition{Query: "pen", QueryMatch: "contains"}
			r.Then = rules.Consequence{Boost: []rules.Weighted{{Filter: rules.Filter{Brands: []string{"Bic"}}, Strength: 0.3}}}
		case 2:
			r.If = rules.Condition{Surfaces: []string{"popular"}}
			r.Then = rules.Consequence{Pin: []rules.Pin{{ItemID: "i0042", Position: 2}}, Bury: []rules.Weighted{{Filter: rules.Filter{Brands: []string{"Acme"}}, Strength: 0.2}}}
		case 3:
			r.If = rules.Condition{Surfaces: []string{"popular"}}
			r.Then = rules.Consequence{Hide: []string{"i0007"}}
		case 4:
			r.If = rules.Condition{Query: "blue pen", Synonyms: []string{"azure pen"}}
			r.Then = rules.Consequence{Filter: &rules.Filter{MaxPrice: ptrF(90)}}
		case 5: // recommend on the pen category page only
			r.If = rules.Condition{Surfaces: []string{"recommend"}, Category: "Office/pen"}
			r.Then = rules.Consequence{Pin: []rules.Pin{{ItemID: "i0000", Position: 3}}, Boost: []rules.Weighted{{Filter: rules.Filter{Brands: []string{"Bic"}}, Strength: 0.3}}}
		case 6: // recommend on the marker category page: a boost and a bury
			r.If = rules.Condition{Surfaces: []string{"recommend"}, Category: "Office/marker"}
			r.Then = rules.Consequence{Boost: []rules.Weighted{{Filter: rules.Filter{Brands: []string{"Bic"}}, Strength: 0.3}},
				Bury: []rules.Weighted{{Filter: rules.Filter{Brands: []string{"Acme"}}, Strength: 0.2}}}
		}
		if _, err := book.Save(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	cache := rules.NewItemCache(eng.GetItem, 100_000)
	eng.Subscribe(cache)
	adSvc, err := ads.New(ctx, ads.Options{Store: st, Item: cache.Get, ReadItems: cache.Read})
	if err != nil {
		b.Fatal(err)
	}
	for k := range 20 {
		c := ads.Campaign{Name: fmt.Sprint("c", k), Advertiser: "a", Items: []string{items[k*5].ID, items[k*5+25].ID}, Bid: 0.2 + float64(k)/20, DailyBudget: 1e6, Pacing: "asap",
			Targeting: ads.Targeting{Queries: []string{fmt.Sprintf("kw%d", k)}}}
		if k < 5 {
			c.Targeting.Queries = []string{"pen"}
		}
		if k >= 10 && k < 15 { // recommend on the pen category page only
			c.Targeting = ads.Targeting{Surfaces: []string{"recommend"}, Categories: []string{"Office/pen"}}
		}
		if k >= 15 {
			c.Targeting = ads.Targeting{Surfaces: []string{"popular"}}
		}
		if _, err := adSvc.Save(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	srv.AddMerchRoutes(MerchOptions{Rules: book, Ads: adSvc, Items: cache})
	// impressions are written in the background, as the server does
	bctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { adSvc.Run(bctx, 200*time.Millisecond); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	srv.SetReady(true)
	return srv
}

// searchRecServer serves eng's shop (stored in st) with the
// recommendation routes and a keyword search index of items, ready for
// the merchandising routes: what the merchandising tests' servers share.
func searchRecServer(tb testing.TB, st store.Store, eng *engine.Engine, items []catalog.Item) *Server {
	ctx := context.Background()
	srv, err := New(Options{Engine: eng})
	if err != nil {
		tb.Fatal(err)
	}
	svc := recommend.New(st, recommend.Config{}, nil)
	srv.AddRecommendRoutes(svc, nil)
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ix.Close() })
	tb.Cleanup(srv.AddSearchRoutes(ix, nil, svc, search.ModeKeyword))
	if err := svc.Load(ctx); err != nil {
		tb.Fatal(err)
	}
	if err := ix.Upsert(ctx, items...); err != nil {
		tb.Fatal(err)
	}
	return srv
}

func ptrF(v float64) *float64 { return &v }

// servePlain and serveMerch serve one request of BenchmarkMerchOverhead:
// two functions, so that an instruction count (valgrind --tool=callgrind,
// callgrind_annotate --inclusive=yes) tells the plain answers' cost from
// the merchandised ones'.
//
//go:noinline
func servePlain(srv *Server, w http.ResponseWriter, r *http.Request) { srv.ServeHTTP(w, r) }

//go:noinline
func serveMerch(srv *Server, w http.ResponseWriter, r *http.Request) { srv.ServeHTTP(w, r) }

// BenchmarkMerchOverhead measures search, popular and recommend answers
// with and without rules and ads, alternating the two requests so that
// both see the same machine load, and reports the p50 and p99 latency of
// each and the p99 overhead in percent. It also reports the CPU time the
// request's own thread spent (the handler runs on the benchmark's locked
// thread): on a shared machine wall-clock percentiles are mostly the
// scheduler's, CPU time is not. And the bytes the process allocated
// during each kind of request (runtime/metrics, counted as the
// allocator refills its per-thread caches: a mean over many requests).
func BenchmarkMerchOverhead(b *testing.B) {
	srv := merchBenchServer(b)
	serveAnswer := [2]func(*Server, http.ResponseWriter, *http.Request){servePlain, serveMerch}
	for _, c := range []struct{ name, plain, merch string }{
		{"search", "/api/search?q=blue+pen&n=20&rules=off&ads=off&user_id=u1", "/api/search?q=blue+pen&n=20&user_id=u1"},
		{"popular", "/api/popular?n=20&rules=off&ads=off&user_id=u1", "/api/popular?n=20&user_id=u1"},
		// the two parts of popular's cost: the rules alone, the ads alone
		{"popular-rules-only", "/api/popular?n=20&rules=off&ads=off&user_id=u1", "/api/popular?n=20&ads=off&user_id=u1"},
		{"popular-ads-only", "/api/popular?n=20&rules=off&ads=off&user_id=u1", "/api/popular?n=20&rules=off&user_id=u1"},
		// recommend on the pen category page: 1 rule (pin and boost), 5 campaigns
		{"recommend", "/api/recommend/u1?n=20&category=Office/pen&rules=off&ads=off", "/api/recommend/u1?n=20&category=Office/pen"},
		// the same page for a different shopper each time (%d: the
		// iteration's shopper); in this shop the page's answer is
		// trending's, the same for every shopper, so one kept arrangement
		// (decision 0057) still serves them all: recommend-boost-bury-anew
		// arranges anew
		{"recommend-many-shoppers", "/api/recommend/u%d?n=20&category=Office/pen&rules=off&ads=off", "/api/recommend/u%d?n=20&category=Office/pen"},
		// a boost and a bury (the marker page, whose answer is the same
		// for every shopper), excluding a different unknown id each time:
		// the same 100 candidates, arranged anew for every answer (a kept
		// arrangement is for one filter)
		{"recommend-boost-bury-anew", "/api/recommend/u1?n=20&category=Office/marker&exclude=x%d&rules=off&ads=off", "/api/recommend/u1?n=20&category=Office/marker&exclude=x%d"},
		// no rule matches and no campaign targets the answer: the fixed cost
		{"search-unmatched", "/api/search?q=green+folder&n=20&rules=off&ads=off&user_id=u1", "/api/search?q=green+folder&n=20&user_id=u1"},
		{"recommend-unmatched", "/api/recommend/u1?n=20&category=Office/folder&rules=off&ads=off", "/api/recommend/u1?n=20&category=Office/folder"},
		{"trending-unmatched", "/api/trending?n=20&rules=off&ads=off&user_id=u1", "/api/trending?n=20&user_id=u1"},
	} {
		b.Run(c.name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var lat, cpu [2][]time.Duration
			var alloc [2]uint64 // bytes allocated (by the whole process) during each kind of request
			heap := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
			allocated := func() uint64 { metrics.Read(heap); return heap[0].Value.Uint64() }
			// the request's URL, its shopper varying when it says %d
			shopper := 0
			at := func(url string) string {
				if strings.Contains(url, "%d") {
					return fmt.Sprintf(url, shopper%500)
				}
				return url
			}
			// warm up: an answer's first request fills caches (the
			// popular list, plans, eligible ads) that later ones reuse
			for range 20 {
				for _, url := range []string{c.plain, c.merch} {
					srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", at(url), nil))
				}
				shopper++
			}
			for b.Loop() {
				shopper++
				for k, url := range []string{at(c.plain), at(c.merch)} {
					req := httptest.NewRequest("GET", url, nil)
					rec := httptest.NewRecorder()
					a0 := allocated()
					c0, t0 := cputime.Thread(), time.Now()
					// labelled so that a -cpuprofile can be split: go tool
					// pprof -tagfocus answer=merch
					pprof.Do(req.Context(), pprof.Labels("answer", []string{"plain", "merch"}[k]), func(context.Context) { serveAnswer[k](srv, rec, req) })
					lat[k] = append(lat[k], time.Since(t0))
					cpu[k] = append(cpu[k], cputime.Thread()-c0)
					alloc[k] += allocated() - a0
					if rec.Code != http.StatusOK {
						b.Fatalf("%s: %d %s", url, rec.Code, rec.Body)
					}
				}
			}
			// AISLE_MERCH_DUMP=prefix writes each pair's thread CPU
			// (plain, merchandised, in ns) to prefix.<answer>: where the
			// p99 overhead comes from (docs/benchmarks.md, session 11)
			if prefix := os.Getenv("AISLE_MERCH_DUMP"); prefix != "" {
				var out strings.Builder
				for i := range cpu[0] {
					fmt.Fprintf(&out, "%d %d\n", cpu[0][i].Nanoseconds(), cpu[1][i].Nanoseconds())
				}
				if err := os.WriteFile(prefix+"."+c.name, []byte(out.String()), 0o644); err != nil {
					b.Fatalf("writing the requests' CPU times: %v", err)
				}
			}
			q := func(d []time.Duration, f float64) float64 {
				slices.Sort(d)
				return float64(d[int(float64(len(d)-1)*f)].Nanoseconds()) / 1e3
			}
			mean := func(d []time.Duration) float64 {
				var s time.Duration
				for _, x := range d {
					s += x
				}
				return float64(s.Nanoseconds()) / 1e3 / float64(len(d))
			}
			b.ReportMetric(q(lat[0], 0.5), "plain_p50_µs")
			b.ReportMetric(q(lat[0], 0.99), "plain_p99_µs")
			b.ReportMetric(q(lat[1], 0.5), "merch_p50_µs")
			b.ReportMetric(q(lat[1], 0.99), "merch_p99_µs")
			b.ReportMetric(100*(q(lat[1], 0.99)/q(lat[0], 0.99)-1), "p99_overhead_%")
			b.ReportMetric(mean(cpu[0]), "plain_cpu_µs")
			b.ReportMetric(mean(cpu[1]), "merch_cpu_µs")
			b.ReportMetric(q(cpu[0], 0.99), "plain_cpu_p99_µs")
			b.ReportMetric(q(cpu[1], 0.99), "merch_cpu_p99_µs")
			b.ReportMetric(100*(mean(cpu[1])/mean(cpu[0])-1), "cpu_overhead_%")
			b.ReportMetric(float64(alloc[0])/float64(len(cpu[0])), "plain_B/req")
			b.ReportMetric(float64(alloc[1])/float64(len(cpu[1])), "merch_B/req")
		})
	}
}
