package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aisle-dev/aisle/api"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/client"
	"github.com/aisle-dev/aisle/eval"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/model/blend"
	"github.com/aisle-dev/aisle/pipeline"
)

// servedOptions configure a served-quality measurement.
type servedOptions struct {
	Format, Path string
	// Fold names the split to measure (movielens-100k: u1..u5, official
	// folds); "" takes the format's first (s3rec: test).
	Fold string
	// Ks are the cut-offs; empty means 10 and 20 (s3rec: its published
	// 5, 10 and 20).
	Ks []int
	// EventType is the type every interaction is posted as (default
	// purchase: the protocols treat every interaction as a positive).
	EventType string
	// Offline also fits the served primary model offline on the same
	// split, with `aisle eval recommend`'s code, for comparison.
	Offline bool
	// Binary is the aisle executable to start; "" is this one.
	Binary string
	// Config is an optional YAML config for the server ("" = defaults).
	Config string
	// Workers are the parallel recommendation requests (default 4).
	Workers int
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// servedReport is the outcome of a served-quality measurement.
type servedReport struct {
	Format  string             `json:"format"`
	Path    string             `json:"path"`
	Split   string             `json:"split"`
	Primary string             `json:"primary"` // "name@version" that answered
	Served  map[string]float64 `json:"served"`
	// SeenReturned counts returned items the user already had an event
	// for in what was posted (already rated or bought).
	SeenReturned int `json:"seen_returned"`
	// NotModel counts answers not ranked by a model (fallbacks).
	NotModel int `json:"not_model"`
	Users    int `json:"users"`
	// Offline is the same model fitted offline on the same split.
	Offline map[string]float64 `json:"offline,omitempty"`
	// Seconds spent loading, training and querying through HTTP.
	LoadSeconds, TrainSeconds, QuerySeconds float64
	// Training is what the retraining reported for each model.
	Training []pipeline.Result `json:"training,omitempty"`
}

// newEvalServedCmd is `aisle eval served`: measure what a real server
// answers after a data set's training split is loaded through HTTP.
func newEvalServedCmd() *cobra.Command {
	var (
		opt      servedOptions
		jsonPath string
	)
	cmd := &cobra.Command{
		Use:   "served --format F --path P",
		Short: "Measure what a real server answers after a data set is loaded through its REST API",
		Long: `Start a real server on 127.0.0.1 with a temporary data directory and the settings any
` + "`aisle serve`" + ` would read (--server-config, else AISLE_CONFIG, then AISLE_* variables),
post the training split through HTTP as a shop would (items first, then every interaction as an
event with its timestamp, in batches), trigger POST /api/models/retrain, wait for it, then ask
GET /api/recommend/{user}?n=K for every test user and score the answers with the protocol's
metrics. Also counts the returned items the user already had (which must be 0) and, with
--offline (default), fits the primary model offline on the same split for comparison.

Formats: movielens-100k (official folds, --fold u1..u5), lcfn, rechorus (full ranking of the
test target; the dev item is posted as history), s3rec (one file, e.g. Beauty.txt: leave-one-out,
full ranking of the last item, the validation item posted as history; the file holds an order but
no times, so interactions are posted one minute apart, as for lcfn).`,
		Example: `  aisle eval served --format movielens-100k --path data/movielens-100k --fold u1
  aisle eval served --format lcfn --path data/movielens-1m-implicit
  aisle eval served --format rechorus --path data/amazon-office-5core
  aisle eval served --format s3rec --path data/s3rec-sequential/Beauty.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opt.Format == "" || opt.Path == "" {
				return errors.New("--format and --path are required (formats: movielens-100k, lcfn, rechorus, s3rec)")
			}
			opt.Log = cmd.ErrOrStderr()
			rep, err := runServedEval(cmd.Context(), opt)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if jsonPath == "-" {
				out = cmd.ErrOrStderr()
			}
			writeServedTable(out, rep)
			if jsonPath != "" {
				b, err := json.MarshalIndent(rep, "", "  ")
				if err != nil {
					return err
				}
				b = append(b, '\n')
				if jsonPath == "-" {
					_, err = cmd.OutOrStdout().Write(b)
					return err
				}
				return os.WriteFile(jsonPath, b, 0o644)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opt.Format, "format", "", "data format: movielens-100k, lcfn, rechorus or s3rec")
	f.StringVar(&opt.Path, "path", "", "data set folder")
	f.StringVar(&opt.Fold, "fold", "", "movielens-100k: official fold u1..u5 (default u1)")
	f.IntSliceVar(&opt.Ks, "k", nil, "cut-offs (default: 10 and 20; s3rec: 5, 10 and 20)")
	f.StringVar(&opt.EventType, "event-type", "purchase", "event type every interaction is posted as (purchase, rating, click, view…)")
	f.BoolVar(&opt.Offline, "offline", true, "also measure the primary model offline on the same split")
	f.StringVar(&opt.Config, "server-config", "", "YAML config for the server (default: AISLE_CONFIG, else default settings; AISLE_* variables apply as for aisle serve)")
	f.IntVar(&opt.Workers, "workers", 4, "parallel recommendation requests")
	f.StringVar(&jsonPath, "json", "", "also write the report as JSON to FILE, or - for stdout")
	return cmd
}

func writeServedTable(w io.Writer, rep *servedReport) {
	names := make([]string, 0, len(rep.Served))
	for n := range rep.Served {
		names = append(names, n)
	}
	metricOrder(names)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s %s (%s), %d users, primary %s\n", rep.Format, rep.Path, rep.Split, rep.Users, rep.Primary)
	fmt.Fprintln(tw, "\t"+strings.Join(names, "\t")+"\tseen returned\tnot model\t")
	row := func(label string, m map[string]float64, extra string) {
		cells := []string{label}
		for _, n := range names {
			v, ok := m[n]
			if !ok {
				cells = append(cells, "-")
				continue
			}
			cells = append(cells, fmt.Sprintf("%.4f", v))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t"+extra+"\t")
	}
	row("served", rep.Served, fmt.Sprintf("%d\t%d", rep.SeenReturned, rep.NotModel))
	if rep.Offline != nil {
		row("offline", rep.Offline, "-\t-")
	}
	tw.Flush()
	fmt.Fprintf(w, "load %.1fs, train %.1fs, query %.1fs\n", rep.LoadSeconds, rep.TrainSeconds, rep.QuerySeconds)
}

// metricLine renders metrics on one line in the table's order.
func metricLine(m map[string]float64) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	metricOrder(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %.4f", n, m[n])
	}
	return strings.Join(parts, ", ")
}

// servedSplit picks the split a served measurement uses.
func servedSplit(ctx context.Context, opt servedOptions) (*eval.Split, []int, error) {
	lo := eval.LoadOptions{}
	if opt.Format == "movielens-100k" {
		lo.Folds = "official"
	}
	switch opt.Format {
	case "movielens-100k", "lcfn", "rechorus", "s3rec":
	default:
		return nil, nil, fmt.Errorf("eval served: format %q is not supported (use movielens-100k, lcfn, rechorus or s3rec)", opt.Format)
	}
	data, err := eval.Load(ctx, opt.Format, opt.Path, lo)
	if err != nil {
		return nil, nil, err
	}
	name := opt.Fold
	if name == "" {
		name = data.Splits[0].Name
	}
	for i := range data.Splits {
		if data.Splits[i].Name == name {
			ks := opt.Ks
			if len(ks) == 0 {
				ks = []int{10, 20}
				if opt.Format == "s3rec" { // the papers on these files report @5 too
					ks = data.DefaultKs
				}
			}
			return &data.Splits[i], ks, nil
		}
	}
	var have []string
	for _, sp := range data.Splits {
		have = append(have, sp.Name)
	}
	return nil, nil, fmt.Errorf("eval served: no split %q in %s (have %s)", name, opt.Path, strings.Join(have, ", "))
}

// runServedEval starts a server, loads the split through HTTP, trains,
// queries every test user and scores the answers.
func runServedEval(ctx context.Context, opt servedOptions) (*servedReport, error) {
	logw := opt.Log
	if logw == nil {
		logw = io.Discard
	}
	if opt.EventType == "" {
		opt.EventType = "purchase"
	}
	if opt.EventType == "rating" || opt.EventType == "search" {
		return nil, fmt.Errorf("eval served: --event-type %s: the protocols' interactions carry no rating value or query; post them as purchase, add_to_cart, click or view", opt.EventType)
	}
	if opt.Workers <= 0 {
		opt.Workers = 4
	}
	sp, ks, err := servedSplit(ctx, opt)
	if err != nil {
		return nil, err
	}
	bin := opt.Binary
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find the aisle executable: %w", err)
		}
	}
	dir, err := os.MkdirTemp("", "aisle-served-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	c, err := startServedServer(ctx, bin, dir, opt.Config, logw)
	if err != nil {
		return nil, err
	}
	defer c.stop()

	rep := &servedReport{Format: opt.Format, Path: opt.Path, Split: sp.Name}
	start := time.Now()
	seen, err := c.load(ctx, sp, opt.EventType, servedClock(opt.Format), logw)
	if err != nil {
		return nil, err
	}
	rep.LoadSeconds = time.Since(start).Seconds()
	start = time.Now()
	if rep.Training, err = c.retrain(ctx, logw); err != nil {
		return nil, err
	}
	rep.TrainSeconds = time.Since(start).Seconds()
	start = time.Now()
	if err := c.score(ctx, sp, ks, seen, opt.Workers, rep, logw); err != nil {
		return nil, err
	}
	rep.QuerySeconds = time.Since(start).Seconds()
	// the served numbers before a possibly long offline fit, so that an
	// interrupted run still has them
	fmt.Fprintf(logw, "served by %s: %s\n", rep.Primary, metricLine(rep.Served))
	if name, _, _ := strings.Cut(rep.Primary, "@"); opt.Offline && name == blend.Name {
		// a blend joins a budgeted background fit with the primary: it has
		// no offline protocol of its own to compare with
		fmt.Fprintf(logw, "primary %s is a blend of fitted models: no offline comparison\n", rep.Primary)
	} else if opt.Offline && rep.Primary != "" {
		fmt.Fprintf(logw, "fitting %s offline on %s…\n", name, sp.Name)
		off, err := offlineMetrics(ctx, opt, name, sp.Name, ks)
		if err != nil {
			return nil, fmt.Errorf("offline %s: %w", name, err)
		}
		rep.Offline = off
	}
	return rep, nil
}

// offlineMetrics runs `aisle eval recommend`'s code for one model and
// returns the metrics of the named split.
func offlineMetrics(ctx context.Context, opt servedOptions, modelName, split string, ks []int) (map[string]float64, error) {
	// The server chooses a model.Adjustable's query-time settings on its
	// own hold-out; the offline twin chooses them on the format's
	// validation split (eval's default), which is the number to match.
	// OnlySplit: the served numbers are of one split, so the other folds'
	// fits would be thrown away.
	ro := eval.RecommendOptions{Format: opt.Format, Path: opt.Path, Models: []string{modelName}, Ks: ks, OnlySplit: split}
	if opt.Format == "movielens-100k" {
		ro.Folds = "official"
	}
	rep, err := eval.RunRecommend(ctx, ro)
	if err != nil {
		return nil, err
	}
	if len(rep.Results) == 0 {
		return nil, errors.New("no result")
	}
	r := rep.Results[0]
	if r.Error != "" {
		return nil, errors.New(r.Error)
	}
	m := r.Metrics
	for _, s := range r.Splits {
		if s.Split == split {
			m = s.Metrics
		}
	}
	if opt.Format == "rechorus" { // served answers rank all items
		full := map[string]float64{}
		for k, v := range m {
			if base, ok := strings.CutSuffix(k, ":all"); ok {
				full[base] = v
			}
		}
		m = full
	}
	return m, nil
}

// servedClient talks to the server a measurement started.
type servedClient struct {
	url, key string
	cmd      *exec.Cmd
	api      *client.Client
}

func startServedServer(ctx context.Context, bin, dir, cfgPath string, logw io.Writer) (*servedClient, error) {
	key := fmt.Sprintf("served-%d", time.Now().UnixNano())
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data", dir, "--admin-key", key}
	if cfgPath != "" {
		args = append(args, "--config", cfgPath)
	}
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(dir + ".log")
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	c := &servedClient{key: key, cmd: cmd}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if i := strings.Index(line, "http://"); i >= 0 && strings.Contains(line, "listening") {
				select {
				case urlc <- strings.Fields(line[i:])[0]:
				default:
				}
			}
		}
	}()
	fail := func(err error) (*servedClient, error) {
		c.stop()
		b, _ := os.ReadFile(logf.Name())
		return nil, fmt.Errorf("%w; server log:\n%s", err, tail(string(b), 2000))
	}
	select {
	case c.url = <-urlc:
	case <-time.After(60 * time.Second):
		return fail(errors.New("the server did not start within 60s"))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	fmt.Fprintf(logw, "server %s (pid %d, log %s)\n", c.url, cmd.Process.Pid, logf.Name())
	if c.api, err = client.New(c.url, client.WithKey(key), client.WithHTTPClient(&http.Client{Timeout: 10 * time.Minute})); err != nil {
		return fail(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; {
		if ready, err := c.api.Ready(ctx); err == nil && ready {
			return c, nil
		}
		if time.Now().After(deadline) {
			return fail(errors.New("the server was not ready within 2 minutes"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func (c *servedClient) stop() {
	if c.cmd.Process == nil || c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// servedClock reports whether a format's times are a clock's, to be posted
// as they are. s3rec's are positions in a user's line (0, 1, 2…): an order
// without a clock, posted like a file without times, one minute apart.
func servedClock(format string) bool { return format != "s3rec" }

// load posts the catalogue, then every training interaction (and each
// case's extra history) as events, and returns each user's posted items.
func (c *servedClient) load(ctx context.Context, sp *eval.Split, typ string, clock bool, logw io.Writer) ([]map[int32]bool, error) {
	tr := sp.Train
	var batch []catalog.Item
	for i, id := range tr.ItemIDs {
		title := "item " + id
		if i < len(tr.ItemText) && strings.TrimSpace(tr.ItemText[i]) != "" {
			title = tr.ItemText[i]
		}
		batch = append(batch, catalog.Item{ID: id, Title: title, Available: true})
		if len(batch) == 1000 || i == len(tr.ItemIDs)-1 {
			if _, err := c.api.AddItems(ctx, batch...); err != nil {
				return nil, err
			}
			batch = batch[:0]
		}
	}
	evs, seen := servedEvents(sp, typ, clock)
	for i := 0; i < len(evs); i += 5000 {
		part := evs[i:min(i+5000, len(evs))]
		if _, err := c.api.AddEvents(ctx, part...); err != nil {
			return nil, err
		}
		fmt.Fprintf(logw, "\rposted %d/%d events", i+len(part), len(evs))
	}
	fmt.Fprintln(logw)
	return seen, nil
}

// servedEvents turns a split's training interactions, and each case's
// history beyond its training row (rechorus and s3rec: the validation
// item), into events in user order, and returns each user's posted items.
// With clock the data set's times are posted; without, one interaction a
// minute in the file's order from 2020-01-01, the extra history following
// at the same step.
func servedEvents(sp *eval.Split, typ string, clock bool) ([]events.Event, []map[int32]bool) {
	tr := sp.Train
	extra := map[int32][]int32{}
	for _, cs := range sp.Cases {
		if row := tr.Row(int(cs.User)); len(cs.History) > len(row) {
			extra[cs.User] = cs.History[len(row):]
		}
	}
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	seen := make([]map[int32]bool, tr.NumUsers())
	evs := make([]events.Event, 0, tr.NumInteractions()+len(extra))
	for u := 0; u < tr.NumUsers(); u++ {
		row := tr.Row(u)
		seen[u] = make(map[int32]bool, len(row))
		last := base.Add(-time.Minute)
		for k, it := range row {
			ts := base.Add(time.Duration(k) * time.Minute)
			if clock && tr.Times != nil {
				ts = time.Unix(tr.Times[tr.UserPtr[u]+k], 0).UTC()
			}
			last = ts
			evs = append(evs, events.Event{UserID: tr.UserIDs[u], ItemID: tr.ItemIDs[it], Type: events.Type(typ), Timestamp: ts})
			seen[u][it] = true
		}
		for k, it := range extra[int32(u)] {
			evs = append(evs, events.Event{UserID: tr.UserIDs[u], ItemID: tr.ItemIDs[it], Type: events.Type(typ), Timestamp: last.Add(time.Duration(k+1) * time.Minute)})
			seen[u][it] = true
		}
	}
	return evs, seen
}

// retrain asks for a training run (waiting out one already under way) and
// waits until it is done; it returns the run's results.
func (c *servedClient) retrain(ctx context.Context, logw io.Writer) ([]pipeline.Result, error) {
	training := func() (api.Training, error) {
		m, err := c.api.Models(ctx)
		if err != nil || m.Training == nil {
			if err == nil {
				err = errors.New("the server reports no retrainer")
			}
			return api.Training{}, err
		}
		return *m.Training, nil
	}
	waitIdle := func() (api.Training, error) {
		for {
			st, err := training()
			if err != nil || !st.Running {
				return st, err
			}
			select {
			case <-ctx.Done():
				return st, ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	for {
		before, err := waitIdle()
		if err != nil {
			return nil, err
		}
		err = c.api.Retrain(ctx)
		var ce *client.Error
		if errors.As(err, &ce) && ce.Status == http.StatusConflict {
			continue // a run started on its own in between: wait for it, then ask again
		}
		if err != nil {
			return nil, err
		}
		fmt.Fprintln(logw, "training…")
		for {
			st, err := waitIdle()
			if err != nil {
				return nil, err
			}
			if st.LastRun != nil && (before.LastRun == nil || st.LastRun.After(*before.LastRun)) {
				if st.LastError != "" {
					return st.LastResults, fmt.Errorf("training failed: %s", st.LastError)
				}
				return st.LastResults, nil
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// score asks for every test user's top max(ks) and computes the metrics.
func (c *servedClient) score(ctx context.Context, sp *eval.Split, ks []int, seen []map[int32]bool, workers int, rep *servedReport, logw io.Writer) error {
	kMax := slices.Max(ks)
	tr := sp.Train
	itemIdx := make(map[string]int32, len(tr.ItemIDs))
	for i, id := range tr.ItemIDs {
		itemIdx[id] = int32(i)
	}
	sums := map[string]float64{}
	var (
		mu       sync.Mutex
		firstErr error
		done     int
		models   = map[string]int{}
	)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				cs := sp.Cases[i]
				ans, err := c.api.Recommend(ctx, tr.UserIDs[cs.User], client.Query{N: kMax})
				target := map[int32]bool{}
				for _, t := range cs.Targets {
					target[t] = true
				}
				hits := make([]bool, len(ans.Items))
				nSeen, notModel := 0, 0
				for r, it := range ans.Items {
					ii, ok := itemIdx[it.ID]
					hits[r] = ok && target[ii]
					if ok && seen[cs.User][ii] {
						nSeen++
					}
					if !strings.HasPrefix(it.Reason, "model:") {
						notModel++
					}
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				for _, k := range ks {
					n := len(cs.Targets)
					sums[fmt.Sprintf("NDCG@%d", k)] += eval.NDCG(hits, k, n)
					sums[fmt.Sprintf("Recall@%d", k)] += eval.Recall(hits, k, n)
					sums[fmt.Sprintf("Precision@%d", k)] += eval.Precision(hits, k)
					sums[fmt.Sprintf("HR@%d", k)] += eval.HR(hits, k)
				}
				rep.SeenReturned += nSeen
				if notModel > 0 {
					rep.NotModel++
				}
				models[ans.Model]++
				done++
				if done%500 == 0 {
					fmt.Fprintf(logw, "\rqueried %d/%d users", done, len(sp.Cases))
				}
				mu.Unlock()
			}
		}()
	}
	for i := range sp.Cases {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	fmt.Fprintln(logw)
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rep.Users = len(sp.Cases)
	rep.Served = map[string]float64{}
	for k, v := range sums {
		rep.Served[k] = v / float64(max(1, rep.Users))
	}
	best := 0
	for m, n := range models {
		if m != "" && n > best {
			rep.Primary, best = m, n
		}
	}
	return nil
}
