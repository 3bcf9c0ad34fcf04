package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle/client"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a running server: throughput and latency percentiles",
	}
	cmd.AddCommand(newBenchServeCmd(), newBenchSynthCmd(), newBenchShopCmd(), newBenchSoakCmd(), newBenchPositionsCmd())
	return cmd
}

func newBenchServeCmd() *cobra.Command {
	var base, key, conc, path, queriesFile string
	var dur time.Duration
	var users int
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Load-test GET /api/recommend/{user} (or another route) at several concurrency levels",
		Long: `Send requests to a running Aisle server from N concurrent clients for a fixed
time per level and report requests per second and p50/p90/p99 latency.
User ids are sampled from GET /api/users. Every request must answer 200;
errors are counted and reported.`,
		Example: "  aisle bench serve --url http://127.0.0.1:8080 --concurrency 1,8,32 --duration 10s",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			levels, err := parseInts(conc)
			if err != nil {
				return fmt.Errorf("--concurrency: %w", err)
			}
			c, err := client.New(base, client.WithKey(key),
				client.WithHTTPClient(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}))
			if err != nil {
				return fmt.Errorf("--url: %w", err)
			}
			ids, err := sampleUsers(cmd.Context(), c, users)
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				return fmt.Errorf("the server has no users: import data first")
			}
			var queries []string
			if queriesFile != "" {
				if queries, err = readQueries(queriesFile); err != nil {
					return fmt.Errorf("--queries: %w", err)
				}
			} else if strings.Contains(path, "{query}") {
				return fmt.Errorf("--path has {query}: give --queries")
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s%s, %d users sampled, %s per level\n", base, path, len(ids), dur)
			row := "%7v  %9v  %6v  %7v  %7v  %7v  %7v  %8v\n"
			fmt.Fprintf(out, row, "clients", "requests", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms")
			for _, level := range levels {
				r := loadLevel(cmd.Context(), c, path, ids, queries, level, dur)
				f := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
				fmt.Fprintf(out, row, level, r.n, r.errors, strconv.FormatFloat(float64(r.n)/dur.Seconds(), 'f', 0, 64), f(r.pct(50)), f(r.pct(90)), f(r.pct(99)), f(r.pct(100)))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&base, "url", "http://127.0.0.1:8080", "server base URL")
	cmd.Flags().StringVar(&key, "key", "", "API key (read or admin)")
	cmd.Flags().StringVar(&conc, "concurrency", "1,8,32", "comma-separated numbers of concurrent clients")
	cmd.Flags().DurationVar(&dur, "duration", 10*time.Second, "how long each level runs")
	cmd.Flags().IntVar(&users, "users", 1000, "how many user ids to sample")
	cmd.Flags().StringVar(&path, "path", "/api/recommend/{user}?n=10", "route to request; {user} is replaced by a sampled user id, {query} by a line of --queries")
	cmd.Flags().StringVar(&queriesFile, "queries", "", "file of search queries, one a line, for {query} in --path (e.g. /api/search?q={query}&mode=semantic)")
	return cmd
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive whole number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// sampleUsers returns up to n user ids of the server, shuffled.
func sampleUsers(ctx context.Context, c *client.Client, n int) ([]string, error) {
	var ids []string
	cursor := ""
	for len(ids) < n {
		page, err := c.Users(ctx, cursor, 1000)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		for _, u := range page.Users {
			ids = append(ids, u.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	rand.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	if len(ids) > n {
		ids = ids[:n]
	}
	return ids, nil
}

type levelResult struct {
	n, errors int
	lat       []float64 // ms, sorted
}

func (r levelResult) pct(p float64) float64 {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(float64(len(r.lat)-1) * p / 100)
	return r.lat[i]
}

// readQueries reads the non-empty lines of a file.
func readQueries(file string) ([]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var qs []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			qs = append(qs, l)
		}
	}
	if len(qs) == 0 {
		return nil, fmt.Errorf("%s has no queries", file)
	}
	return qs, nil
}

// loadLevel runs c clients for d, each sending requests back to back; in
// path, {user} takes the ids and {query} the queries in turn.
func loadLevel(ctx context.Context, cl *client.Client, path string, ids, queries []string, c int, d time.Duration) levelResult {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var res levelResult
	var wg sync.WaitGroup
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var lat []float64
			errs := 0
			for i := w; ctx.Err() == nil; i += c {
				u := strings.ReplaceAll(path, "{user}", url.PathEscape(ids[i%len(ids)]))
				if len(queries) > 0 {
					u = strings.ReplaceAll(u, "{query}", url.QueryEscape(queries[i%len(queries)]))
				}
				start := time.Now()
				err := cl.Get(ctx, u, nil) // any answer but 200 is an error
				if ctx.Err() != nil {
					break
				}
				lat = append(lat, float64(time.Since(start).Microseconds())/1000)
				if err != nil {
					errs++
				}
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.errors += errs
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	slices.Sort(res.lat)
	res.n = len(res.lat)
	return res
}
