// Package soak runs the hardening soak of issue 12 against the real aisle
// binary: mixed reads and writes from concurrent clients at the highest
// rate the machine sustains, while the server is killed with SIGKILL and
// restarted, its disk is filled, and its data file is damaged. It reports
// requests served, errors by kind, acknowledged writes lost (which must be
// 0), latency percentiles before, during and after the faults, restart
// times and the server's memory at start and end.
//
// Every event a writer sends carries a unique session id; a write counts
// as acknowledged when the server answered 200. At the end every writer's
// users are read back and each acknowledged event must be there.
//
// The full-disk fault needs a file system of its own: Run mounts a tmpfs
// (root only) under the work directory and fills it; without one it is
// reported as skipped. The damaged-file fault truncates the data file of
// a killed server to half (or further, until pages in use are cut: a
// young file is mostly room to grow), checks that the server refuses to
// start and leaves the file untouched, then puts back the copy taken
// before.
package soak

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aisle-dev/aisle/store/boltstore"
)

// Config sets up one soak run.
type Config struct {
	Binary   string        // the aisle binary (required)
	Dir      string        // work directory, created; holds the data, keys, config and logs
	Duration time.Duration // the whole run (default 10m)
	Kills    int           // SIGKILL and restart cycles (default 20; negative: none)
	Writers  int           // concurrent writers (default 4)
	Readers  int           // concurrent readers (default 8)
	Batch    int           // events per write (default 20)
	Items    int           // catalogue size (default 1000)
	// FullDisk mounts a tmpfs of TmpfsBytes (default 2 GiB) for the data
	// directory and fills it once during the faults (root only; else the
	// fault is skipped and says why).
	FullDisk   bool
	TmpfsBytes int64
	// DamageFile truncates the data file once during the faults.
	DamageFile bool
	Log        io.Writer // progress lines (nil: none)
}

// Report is what a soak run measured.
type Report struct {
	Duration      string `json:"duration"`
	Elapsed       string `json:"elapsed"`
	Writers       int    `json:"writers"`
	Readers       int    `json:"readers"`
	Batch         int    `json:"batch"`
	Reads         int64  `json:"reads_ok"`
	Writes        int64  `json:"writes_ok"`
	EventsAcked   int64  `json:"events_acknowledged"`
	EventsLost    int64  `json:"acknowledged_events_lost"`
	EventsChecked int64  `json:"events_read_back"`
	// EventsUnverified could not be read back (the read failed): neither
	// found nor proven lost.
	EventsUnverified int64            `json:"acknowledged_events_unverified"`
	Errors           map[string]int64 `json:"errors_by_kind"`
	Phases           []Phase          `json:"phases"`
	Kills            int              `json:"kill9_restarts"`
	RestartSeconds   []float64        `json:"restart_to_ready_seconds"`
	FullDisk         string           `json:"full_disk"`
	DamagedFile      string           `json:"damaged_file"`
	MemStartBytes    int64            `json:"rss_start_bytes"`
	MemEndBytes      int64            `json:"rss_end_bytes"`
	HeapStartBytes   int64            `json:"go_heap_inuse_start_bytes"`
	HeapEndBytes     int64            `json:"go_heap_inuse_end_bytes"`
	DataFileBytes    int64            `json:"data_file_bytes"`
	CleanShutdown    string           `json:"clean_shutdown"`
	ServerCrashes    int              `json:"server_exits_not_caused_by_the_soak"`
	// Memory is the server's memory sampled through the run (20 samples),
	// with the events acknowledged by then: whether it grows with the log.
	Memory []MemSample `json:"memory_over_time"`
	// Restarts are the kill -9 cycles with the events stored at each;
	// IdleRestart is one more, at the end, with every event stored and no
	// load: restart-to-ready against the size of the log.
	Restarts        []Restart `json:"restarts"`
	IdleRestart     *Restart  `json:"idle_restart,omitempty"`
	ReadsPerSecond  float64   `json:"reads_per_second"`
	EventsPerSecond float64   `json:"events_per_second"`
}

// MemSample is the server's memory at one moment of the run.
type MemSample struct {
	Seconds float64 `json:"seconds"`
	Events  int64   `json:"events_acknowledged"`
	// RSS is resident memory; Anon the part of it not backed by files
	// (the data file is memory-mapped: its pages count in RSS but are the
	// kernel's page cache); Heap the Go heap in use.
	RSS  int64 `json:"rss_bytes"`
	Anon int64 `json:"rss_anon_bytes"`
	Heap int64 `json:"go_heap_inuse_bytes"`
}

// Restart is one restart of the server: the events acknowledged before
// it and the seconds from the kill to ready.
type Restart struct {
	Events  int64   `json:"events_acknowledged"`
	Seconds float64 `json:"seconds_to_ready"`
}

// Phase is the latency of successful requests in one part of the run.
type Phase struct {
	Name         string  `json:"name"`
	Seconds      float64 `json:"seconds"`
	Reads        int     `json:"reads_ok"`
	Writes       int     `json:"writes_ok"`
	ReadP50Ms    float64 `json:"read_p50_ms"`
	ReadP99Ms    float64 `json:"read_p99_ms"`
	WriteP50Ms   float64 `json:"write_p50_ms"`
	WriteP99Ms   float64 `json:"write_p99_ms"`
	ErrorsInside int64   `json:"errors"`
}

const (
	phaseBefore = iota
	phaseFaults
	phaseAfter
	numPhases
)

var phaseNames = [numPhases]string{"before faults", "during faults", "after faults"}

// run is the state of one soak run.
type run struct {
	cfg     Config
	dataDir string
	port    int
	keyFile string
	rdFile  string
	cfgFile string
	admin   string
	readKey string
	client  *http.Client
	logf    func(format string, a ...any)

	mu     sync.Mutex
	srv    *exec.Cmd
	exited chan struct{} // closed when srv exits
	killed bool          // the soak stopped srv on purpose
	stderr *os.File

	phase   atomic.Int32
	lat     [numPhases][2][]float32 // [phase][read=0,write=1] milliseconds
	latMu   sync.Mutex
	errs    sync.Map // kind -> *atomic.Int64
	errsIn  [numPhases]atomic.Int64
	reads   atomic.Int64
	writes  atomic.Int64
	acked   atomic.Int64
	crashes atomic.Int32

	ackMu   sync.Mutex
	ackedBy map[string][]string // user -> acknowledged session ids
}

// Run runs the soak and returns its figures. It returns an error only
// when the soak itself cannot run (no binary, the server never starts);
// faults the server mishandles are in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Binary == "" {
		return nil, errors.New("soak: no aisle binary given")
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Minute
	}
	if cfg.Kills == 0 {
		cfg.Kills = 20
	}
	if cfg.Kills < 0 {
		cfg.Kills = 0
	}
	cfg.Writers = max(cfg.Writers, 0)
	if cfg.Writers == 0 {
		cfg.Writers = 4
	}
	if cfg.Readers <= 0 {
		cfg.Readers = 8
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 20
	}
	if cfg.Items <= 0 {
		cfg.Items = 1000
	}
	if cfg.TmpfsBytes <= 0 {
		cfg.TmpfsBytes = 2 << 30
	}
	if cfg.Dir == "" {
		return nil, errors.New("soak: no work directory given")
	}
	r := &run{cfg: cfg, ackedBy: map[string][]string{},
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	r.logf = func(format string, a ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "%s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, a...)...)
		}
	}
	rep := &Report{Duration: cfg.Duration.String(), Writers: cfg.Writers, Readers: cfg.Readers, Batch: cfg.Batch,
		Errors: map[string]int64{}, FullDisk: "not run", DamagedFile: "not run"}
	if err := r.setup(rep); err != nil {
		return nil, err
	}
	defer r.teardown()
	if err := r.start(); err != nil {
		return nil, err
	}
	if err := r.seed(ctx); err != nil {
		return nil, err
	}
	rep.MemStartBytes, rep.HeapStartBytes = r.rss(), r.heapInuse()

	start := time.Now()
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := range cfg.Writers {
		wg.Add(1)
		go func() { defer wg.Done(); r.writer(loadCtx, w) }()
	}
	for i := range cfg.Readers {
		wg.Add(1)
		go func() { defer wg.Done(); r.reader(loadCtx, i) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); r.sampleMemory(loadCtx, start, rep) }()
	faultsAt := start.Add(cfg.Duration / 10)
	r.faults(ctx, start, rep)
	// after faults: steady load until the end, and for at least 30 % of
	// the run (restarts slower than planned push the end back)
	r.phase.Store(phaseAfter)
	afterAt := time.Now()
	end := start.Add(cfg.Duration)
	if least := afterAt.Add(cfg.Duration * 3 / 10); end.Before(least) {
		end = least
	}
	r.sleepUntil(ctx, end)
	rep.MemEndBytes, rep.HeapEndBytes = r.rss(), r.heapInuse()
	stopLoad()
	wg.Wait()
	elapsed := time.Since(start)
	r.logf("load stopped after %s: reading back the acknowledged events", elapsed.Round(time.Second))
	if err := r.ensureUp(); err != nil {
		return rep, err
	}
	// the read-back runs even when the soak was interrupted: it is the
	// figure that matters
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	r.verify(vctx, rep)
	cancel()
	if ctx.Err() == nil {
		n := r.acked.Load()
		if secs, err := r.restart(); err != nil {
			r.logf("idle restart failed: %v", err)
		} else {
			rep.IdleRestart = &Restart{Events: n, Seconds: secs}
			r.logf("idle restart with %d events acknowledged: ready in %.2f s", n, secs)
		}
	}
	rep.CleanShutdown = r.stop()
	if fi, err := os.Stat(filepath.Join(r.dataDir, "aisle.db")); err == nil {
		rep.DataFileBytes = fi.Size()
	}
	rep.Reads, rep.Writes, rep.EventsAcked = r.reads.Load(), r.writes.Load(), r.acked.Load()
	rep.ReadsPerSecond = float64(rep.Reads) / elapsed.Seconds()
	rep.EventsPerSecond = float64(rep.EventsAcked) / elapsed.Seconds()
	rep.ServerCrashes = int(r.crashes.Load())
	r.errs.Range(func(k, v any) bool { rep.Errors[k.(string)] = v.(*atomic.Int64).Load(); return true })
	rep.Elapsed = elapsed.Round(time.Second).String()
	r.fillPhases(rep, [numPhases]float64{faultsAt.Sub(start).Seconds(), afterAt.Sub(faultsAt).Seconds(), start.Add(elapsed).Sub(afterAt).Seconds()})
	return rep, nil
}

// setup makes the work directory, the keys, the config and (for the
// full-disk fault) the tmpfs.
func (r *run) setup(rep *Report) error {
	if err := os.MkdirAll(r.cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	disk := filepath.Join(r.cfg.Dir, "disk")
	if err := os.MkdirAll(disk, 0o755); err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	if r.cfg.FullDisk {
		opts := "size=" + strconv.FormatInt(r.cfg.TmpfsBytes, 10)
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", disk).CombinedOutput(); err != nil {
			rep.FullDisk = fmt.Sprintf("skipped: cannot mount a tmpfs (%v: %s)", err, bytes.TrimSpace(out))
			r.cfg.FullDisk = false
		}
	}
	r.dataDir = filepath.Join(disk, "data")
	if err := os.MkdirAll(r.dataDir, 0o755); err != nil {
		return fmt.Errorf("soak: %w", err)
	}
	r.admin, r.readKey = "soak-admin-"+strconv.FormatUint(rand.Uint64(), 36), "soak-read-"+strconv.FormatUint(rand.Uint64(), 36)
	r.keyFile, r.rdFile = filepath.Join(r.cfg.Dir, "admin.key"), filepath.Join(r.cfg.Dir, "read.key")
	if err := os.WriteFile(r.keyFile, []byte(r.admin+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(r.rdFile, []byte(r.readKey+"\n"), 0o600); err != nil {
		return err
	}
	// The fast models only: the soak measures serving, not training.
	r.cfgFile = filepath.Join(r.cfg.Dir, "aisle.yaml")
	conf := "training:\n  models:\n    - name: popular\n    - name: itemknn\n  background_budget: 0s\n  tune_every: 0s\n"
	if err := os.WriteFile(r.cfgFile, []byte(conf), 0o644); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("soak: pick a port: %w", err)
	}
	r.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return nil
}

func (r *run) teardown() {
	r.mu.Lock()
	srv := r.srv
	r.mu.Unlock()
	if srv != nil && srv.Process != nil {
		r.kill()
	}
	if r.stderr != nil {
		r.stderr.Close()
	}
	if r.cfg.FullDisk {
		exec.Command("umount", filepath.Join(r.cfg.Dir, "disk")).Run()
	}
}

func (r *run) base() string { return "http://127.0.0.1:" + strconv.Itoa(r.port) }

// spawn starts the server process without waiting for it.
func (r *run) spawn() (*exec.Cmd, chan struct{}, error) {
	if r.stderr == nil {
		f, err := os.OpenFile(filepath.Join(r.cfg.Dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, err
		}
		r.stderr = f
	}
	cmd := exec.Command(r.cfg.Binary, "serve", "--addr", "127.0.0.1:"+strconv.Itoa(r.port), "--data", r.dataDir,
		"--config", r.cfgFile, "--admin-key-file", r.keyFile, "--read-key-file", r.rdFile)
	cmd.Stdout = io.Discard
	var tail tailBuffer
	cmd.Stderr = io.MultiWriter(r.stderr, &tail)
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("soak: start %s: %w", r.cfg.Binary, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
		r.mu.Lock()
		if r.srv == cmd && !r.killed {
			r.crashes.Add(1)
			r.logf("the server exited on its own: %s; last log: %s", cmd.ProcessState, tail.String())
		}
		r.mu.Unlock()
	}()
	return cmd, exited, nil
}

// start runs the server and waits until it is ready (2 minutes at most).
func (r *run) start() error {
	cmd, exited, err := r.spawn()
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.srv, r.exited, r.killed = cmd, exited, false
	r.mu.Unlock()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("soak: the server exited while starting (%s); see %s", cmd.ProcessState, filepath.Join(r.cfg.Dir, "server.log"))
		default:
		}
		resp, err := r.client.Get(r.base() + "/api/ready")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("soak: the server was not ready within 2 minutes; see %s", filepath.Join(r.cfg.Dir, "server.log"))
}

// kill sends SIGKILL and waits for the process to end.
func (r *run) kill() {
	r.mu.Lock()
	cmd, exited := r.srv, r.exited
	r.killed = true
	r.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// stop ends the server with SIGTERM and reports how it exited.
func (r *run) stop() string {
	r.mu.Lock()
	cmd, exited := r.srv, r.exited
	r.killed = true
	r.mu.Unlock()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		r.kill()
		return "no: still running 60 s after SIGTERM (killed)"
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		return fmt.Sprintf("no: exit status %d after SIGTERM", code)
	}
	return "yes: exit status 0 after SIGTERM"
}

// ensureUp restarts the server if it is not running.
func (r *run) ensureUp() error {
	r.mu.Lock()
	exited := r.exited
	r.mu.Unlock()
	select {
	case <-exited:
		return r.start()
	default:
		return nil
	}
}

// restart kills the server and starts it again, returning the seconds
// from the kill to ready.
func (r *run) restart() (float64, error) {
	t := time.Now()
	r.kill()
	if err := r.start(); err != nil {
		return 0, err
	}
	return time.Since(t).Seconds(), nil
}

// sampleMemory records the server's memory 20 times over the run (not
// while it is down or restarting).
func (r *run) sampleMemory(ctx context.Context, start time.Time, rep *Report) {
	every := max(r.cfg.Duration/20, time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rss, anon := r.rssAnon()
		if rss == 0 {
			continue
		}
		heap := r.heapInuse()
		r.latMu.Lock()
		rep.Memory = append(rep.Memory, MemSample{Seconds: time.Since(start).Seconds(), Events: r.acked.Load(), RSS: rss, Anon: anon, Heap: heap})
		r.latMu.Unlock()
	}
}

// rss is the server's resident memory in bytes (0 when unknown).
func (r *run) rss() int64 {
	rss, _ := r.rssAnon()
	return rss
}

// rssAnon is the server's resident memory and its anonymous part, in
// bytes (0 when unknown).
func (r *run) rssAnon() (rss, anon int64) {
	r.mu.Lock()
	cmd := r.srv
	r.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return 0, 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "RssAnon:":
			anon = kb << 10
		}
	}
	return rss, anon
}

// heapInuse is the server's Go heap in use, from /metrics (0 when unknown).
func (r *run) heapInuse() int64 {
	resp, err := r.client.Get(r.base() + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_heap_inuse_bytes "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int64(f)
		}
	}
	return 0
}

// seed loads the catalogue: cfg.Items items in 10 categories and 5 brands.
func (r *run) seed(ctx context.Context) error {
	words := []string{"pen", "paper", "stapler", "toner", "desk", "lamp", "folder", "marker", "binder", "tape"}
	for lo := 0; lo < r.cfg.Items; lo += 500 {
		var items []map[string]any
		for i := lo; i < min(lo+500, r.cfg.Items); i++ {
			items = append(items, map[string]any{"id": itemID(i), "title": fmt.Sprintf("%s %s %d", []string{"blue", "red", "black", "green"}[i%4], words[i%10], i),
				"brand": fmt.Sprintf("brand-%d", i%5), "categories": []string{"Office/" + words[i%10]}, "price": 1 + float64(i%97), "available": true})
		}
		body, _ := json.Marshal(items)
		code, err := r.do(ctx, "POST", "/api/items", body, r.admin)
		if err != nil || code != 200 {
			return fmt.Errorf("soak: load the catalogue: %d %v", code, err)
		}
	}
	return nil
}

func itemID(i int) string { return "item-" + strconv.Itoa(i) }

// do sends one request and returns its status.
func (r *run) do(ctx context.Context, method, path string, body []byte, key string) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base()+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-API-Key", key)
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return resp.StatusCode, err
	}
	return resp.StatusCode, nil
}

// countError counts a failed request by kind.
func (r *run) countError(op string, code int, err error) {
	kind := op + ": "
	switch {
	case err != nil && errors.Is(err, syscall.ECONNREFUSED):
		kind += "connection refused (server down)"
	case err != nil && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "EOF")):
		kind += "connection reset (server killed mid-request)"
	case err != nil && strings.Contains(err.Error(), "Timeout"):
		kind += "client timeout (30 s)"
	case err != nil:
		kind += "other transport error"
	default:
		kind += "HTTP " + strconv.Itoa(code)
	}
	v, _ := r.errs.LoadOrStore(kind, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
	r.errsIn[r.phase.Load()].Add(1)
}

func (r *run) observe(write bool, d time.Duration) {
	w := 0
	if write {
		w = 1
	}
	p := r.phase.Load()
	r.latMu.Lock()
	r.lat[p][w] = append(r.lat[p][w], float32(d.Seconds()*1000))
	r.latMu.Unlock()
}

// writer posts batches of events for its own users until ctx ends.
func (r *run) writer(ctx context.Context, w int) {
	rng := rand.New(rand.NewPCG(uint64(w), 7))
	types := []string{"view", "view", "view", "click", "click", "add_to_cart", "purchase"}
	for b := 0; ctx.Err() == nil; b++ {
		evs := make([]map[string]any, r.cfg.Batch)
		users := make([]string, r.cfg.Batch)
		sessions := make([]string, r.cfg.Batch)
		now := time.Now().UTC().Format(time.RFC3339Nano)
		for i := range evs {
			users[i] = fmt.Sprintf("soak-w%d-u%d", w, rng.IntN(500))
			sessions[i] = fmt.Sprintf("w%db%de%d", w, b, i)
			evs[i] = map[string]any{"user_id": users[i], "item_id": itemID(rng.IntN(r.cfg.Items)), "type": types[rng.IntN(len(types))],
				"session_id": sessions[i], "timestamp": now}
		}
		body, _ := json.Marshal(evs)
		t := time.Now()
		code, err := r.do(ctx, "POST", "/api/events", body, r.admin)
		if ctx.Err() != nil {
			return // stopped mid-request: neither acknowledged nor an error
		}
		if err != nil || code != 200 {
			r.countError("write", code, err)
			time.Sleep(20 * time.Millisecond) // do not spin while the server is down
			continue
		}
		r.observe(true, time.Since(t))
		r.writes.Add(1)
		r.acked.Add(int64(len(evs)))
		r.ackMu.Lock()
		for i, u := range users {
			r.ackedBy[u] = append(r.ackedBy[u], sessions[i])
		}
		r.ackMu.Unlock()
	}
}

// reader sends a mix of read requests with the read key until ctx ends.
func (r *run) reader(ctx context.Context, i int) {
	rng := rand.New(rand.NewPCG(uint64(i), 11))
	words := []string{"pen", "blue paper", "stapler", "black toner", "desk lamp", "folder", "red marker", "binder", "tape", "green pen"}
	for ctx.Err() == nil {
		var path string
		switch k := rng.IntN(10); {
		case k < 4:
			path = fmt.Sprintf("/api/recommend/soak-w%d-u%d?n=10", rng.IntN(max(1, r.cfg.Writers)), rng.IntN(500))
		case k < 7:
			path = "/api/search?n=10&q=" + strings.ReplaceAll(words[rng.IntN(len(words))], " ", "+")
		case k < 8:
			path = "/api/popular?n=10"
		case k < 9:
			path = "/api/items/" + itemID(rng.IntN(r.cfg.Items)) + "/similar?n=10"
		default:
			path = fmt.Sprintf("/api/users/soak-w%d-u%d/events?limit=10", rng.IntN(max(1, r.cfg.Writers)), rng.IntN(500))
		}
		t := time.Now()
		code, err := r.do(ctx, "GET", path, nil, r.readKey)
		if ctx.Err() != nil {
			return
		}
		if err != nil || (code != 200 && code != 404) { // 404: a user with no events yet
			r.countError("read", code, err)
			time.Sleep(20 * time.Millisecond)
			continue
		}
		r.observe(false, time.Since(t))
		r.reads.Add(1)
	}
}

func (r *run) sleepUntil(ctx context.Context, t time.Time) {
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(t)):
	}
}

// faults runs the fault schedule: from 10 % to 70 % of the run, the kill
// cycles evenly spaced, the full disk after a quarter of them and the
// damaged file after half.
func (r *run) faults(ctx context.Context, start time.Time, rep *Report) {
	d := r.cfg.Duration
	r.sleepUntil(ctx, start.Add(d/10))
	r.phase.Store(phaseFaults)
	r.logf("faults begin: %d kill -9 cycles", r.cfg.Kills)
	end := start.Add(d * 7 / 10)
	steps := r.cfg.Kills + 2
	faultsAt := time.Now()
	gap := (end.Sub(faultsAt)) / time.Duration(steps)
	for k := 1; k <= r.cfg.Kills && ctx.Err() == nil; k++ {
		secs, err := r.restart()
		if err != nil {
			r.logf("restart %d failed: %v", k, err)
			rep.RestartSeconds = append(rep.RestartSeconds, -1)
			if r.start() != nil {
				return
			}
			continue
		}
		rep.Kills++
		rep.RestartSeconds = append(rep.RestartSeconds, secs)
		rep.Restarts = append(rep.Restarts, Restart{Events: r.acked.Load(), Seconds: secs})
		r.logf("kill -9 #%d: ready again in %.2f s (%d events acknowledged so far)", k, secs, r.acked.Load())
		if k == max(1, r.cfg.Kills/4) && r.cfg.FullDisk {
			rep.FullDisk = r.fullDisk(ctx, min(15*time.Second, gap))
			r.logf("full disk: %s", rep.FullDisk)
		}
		if k == max(1, r.cfg.Kills/2) && r.cfg.DamageFile {
			rep.DamagedFile = r.damage()
			r.logf("damaged file: %s", rep.DamagedFile)
		}
		r.sleepUntil(ctx, faultsAt.Add(time.Duration(k+1)*gap)) // no pause when behind the plan
	}
	if r.cfg.Kills == 0 {
		if r.cfg.FullDisk {
			rep.FullDisk = r.fullDisk(ctx, min(15*time.Second, gap))
		}
		if r.cfg.DamageFile {
			rep.DamagedFile = r.damage()
		}
	}
	r.sleepUntil(ctx, end)
}

// fullDisk fills the tmpfs for hold under load, then frees it, and says
// what happened: whether the server stayed up, how writes and reads fared
// and how long writes took to succeed again.
func (r *run) fullDisk(ctx context.Context, hold time.Duration) string {
	filler := filepath.Join(r.cfg.Dir, "disk", "filler")
	f, err := os.Create(filler)
	if err != nil {
		return "skipped: " + err.Error()
	}
	chunk := make([]byte, 1<<20)
	var filled int64
	for {
		n, err := f.Write(chunk)
		filled += int64(n)
		if err != nil {
			break
		}
	}
	f.Close()
	wBefore, rBefore := r.writes.Load(), r.reads.Load()
	eBefore := r.errorCount("write")
	r.sleepUntil(ctx, time.Now().Add(hold))
	wDuring, rDuring := r.writes.Load()-wBefore, r.reads.Load()-rBefore
	eDuring := r.errorCount("write") - eBefore
	os.Remove(filler)
	r.mu.Lock()
	exited := r.exited
	r.mu.Unlock()
	alive := "stayed up"
	select {
	case <-exited:
		alive = "EXITED"
		r.start()
	default:
	}
	// how long until a write succeeds again
	t := time.Now()
	w0 := r.writes.Load()
	for r.writes.Load() == w0 && time.Since(t) < 30*time.Second {
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Sprintf("disk filled (%d MiB more) for %s: server %s; %d writes failed, %d succeeded (space freed by the engine's own pages); %d reads served; writes succeeded again %.2f s after space was freed",
		filled>>20, hold.Round(time.Second), alive, eDuring, wDuring, rDuring, time.Since(t).Seconds())
}

func (r *run) errorCount(op string) int64 {
	var n int64
	r.errs.Range(func(k, v any) bool {
		if strings.HasPrefix(k.(string), op+":") {
			n += v.(*atomic.Int64).Load()
		}
		return true
	})
	return n
}

// damage kills the server, keeps a copy of its data file, truncates the
// file to half, checks that the server refuses to start and leaves the
// file alone, then puts the copy back and starts the server.
func (r *run) damage() string {
	r.kill()
	db := filepath.Join(r.dataDir, "aisle.db")
	good := filepath.Join(r.cfg.Dir, "aisle.db.good")
	if err := copyFile(db, good); err != nil {
		r.start()
		return "skipped: copy the data file: " + err.Error()
	}
	defer os.Remove(good)
	fi, err := os.Stat(db)
	if err != nil {
		r.start()
		return "skipped: " + err.Error()
	}
	// Truncate to half. bbolt grows its file ahead of the data, so in a
	// young file the second half may hold no page in use and the cut
	// damages nothing (the server then rightly starts, and the soak would
	// count its writes as lost when the copy goes back): halve again until
	// the store's own check finds the damage.
	size := fi.Size() / 2
	for ; ; size /= 2 {
		if size < 64<<10 {
			copyFile(good, db)
			r.start()
			return fmt.Sprintf("skipped: the data file (%d bytes) is too young to damage by truncation", fi.Size())
		}
		if err := os.Truncate(db, size); err != nil {
			copyFile(good, db)
			r.start()
			return "skipped: truncate: " + err.Error()
		}
		if rep, err := boltstore.Check(context.Background(), db, 1); err != nil || len(rep.Problems) > 0 {
			break
		}
	}
	before := fileHash(db)
	cmd, exited, err := r.spawn()
	verdict := ""
	if err != nil {
		verdict = "could not run the server: " + err.Error()
	} else {
		r.mu.Lock()
		r.srv, r.exited, r.killed = cmd, exited, true // an exit is expected
		r.mu.Unlock()
		switch r.refused(exited, 60*time.Second) {
		case true:
			code := cmd.ProcessState.ExitCode()
			untouched := fileHash(db) == before
			verdict = fmt.Sprintf("truncated to %d of %d bytes: refused to start (exit %d), file untouched: %v", size, fi.Size(), code, untouched)
			if code == 0 || !untouched {
				verdict = "FAILED: " + verdict
			}
		default:
			r.kill()
			verdict = fmt.Sprintf("FAILED: the server started over a data file truncated to %d of %d bytes", size, fi.Size())
		}
	}
	if err := copyFile(good, db); err != nil {
		return verdict + "; restoring the copy failed: " + err.Error()
	}
	t := time.Now()
	if err := r.start(); err != nil {
		return verdict + "; the restored file did not start: " + err.Error()
	}
	return fmt.Sprintf("%s; the copy put back served again in %.2f s", verdict, time.Since(t).Seconds())
}

// refused reports whether the server exited before it was ready (within
// limit); false as soon as it answers ready, or at the limit.
func (r *run) refused(exited chan struct{}, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return true
		case <-time.After(50 * time.Millisecond):
		}
		if resp, err := r.client.Get(r.base() + "/api/ready"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return false
			}
		}
	}
	return false
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func fileHash(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return fmt.Sprintf("%x", h.Sum(nil))
}

// verify reads every writer user's events back and counts the
// acknowledged ones missing.
func (r *run) verify(ctx context.Context, rep *Report) {
	r.ackMu.Lock()
	defer r.ackMu.Unlock()
	users := make([]string, 0, len(r.ackedBy))
	for u := range r.ackedBy {
		users = append(users, u)
	}
	sort.Strings(users)
	for _, u := range users {
		want := r.ackedBy[u]
		got, err := r.userSessions(ctx, u, len(want))
		if err != nil {
			r.logf("read back %s: %v", u, err)
			rep.EventsUnverified += int64(len(want))
			continue
		}
		for _, s := range want {
			if !got[s] {
				rep.EventsLost++
			}
		}
		rep.EventsChecked += int64(len(want))
	}
}

// userSessions returns the session ids of a user's stored events.
func (r *run) userSessions(ctx context.Context, user string, atLeast int) (map[string]bool, error) {
	limit := min(10000, max(100, 2*atLeast))
	req, _ := http.NewRequestWithContext(ctx, "GET", r.base()+"/api/users/"+user+"/events?limit="+strconv.Itoa(limit), nil)
	req.Header.Set("X-API-Key", r.admin)
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("%d %s", resp.StatusCode, b)
	}
	var body struct {
		Events []struct {
			SessionID string `json:"session_id"`
		} `json:"events"`
	}
	if err := json.NewDecoder(bufio.NewReader(resp.Body)).Decode(&body); err != nil {
		return nil, err
	}
	got := map[string]bool{}
	for _, e := range body.Events {
		got[e.SessionID] = true
	}
	if len(body.Events) >= limit {
		return got, fmt.Errorf("more than %d events: cannot read them all back", limit)
	}
	return got, nil
}

func (r *run) fillPhases(rep *Report, secs [numPhases]float64) {
	r.latMu.Lock()
	defer r.latMu.Unlock()
	for p := range numPhases {
		rd, wr := r.lat[p][0], r.lat[p][1]
		rep.Phases = append(rep.Phases, Phase{Name: phaseNames[p], Seconds: secs[p], Reads: len(rd), Writes: len(wr),
			ReadP50Ms: pct(rd, 50), ReadP99Ms: pct(rd, 99), WriteP50Ms: pct(wr, 50), WriteP99Ms: pct(wr, 99), ErrorsInside: r.errsIn[p].Load()})
	}
}

func pct(xs []float32, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float32(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p / 100 * float64(len(s)-1))
	return float64(s[i])
}

// Markdown renders the report as the tables of docs/benchmarks.md.
func (rep *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| figure | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| run | %s planned, %s elapsed; %d writers (batches of %d events), %d readers |\n", rep.Duration, rep.Elapsed, rep.Writers, rep.Batch, rep.Readers)
	fmt.Fprintf(&b, "| reads served (200) | %d (%.0f/s) |\n", rep.Reads, rep.ReadsPerSecond)
	fmt.Fprintf(&b, "| writes acknowledged | %d batches, %d events (%.0f events/s) |\n", rep.Writes, rep.EventsAcked, rep.EventsPerSecond)
	fmt.Fprintf(&b, "| **acknowledged events lost** | **%d** of %d read back (%d could not be read back) |\n", rep.EventsLost, rep.EventsChecked, rep.EventsUnverified)
	fmt.Fprintf(&b, "| kill -9 and restart cycles | %d; restart to ready %s |\n", rep.Kills, secondsSummary(rep.RestartSeconds))
	fmt.Fprintf(&b, "| server exits the soak did not cause | %d |\n", rep.ServerCrashes)
	fmt.Fprintf(&b, "| full disk | %s |\n", rep.FullDisk)
	fmt.Fprintf(&b, "| damaged file | %s |\n", rep.DamagedFile)
	fmt.Fprintf(&b, "| memory at start / end: RSS | %.1f MiB / %.1f MiB |\n", float64(rep.MemStartBytes)/(1<<20), float64(rep.MemEndBytes)/(1<<20))
	fmt.Fprintf(&b, "| memory at start / end: Go heap in use | %.1f MiB / %.1f MiB |\n", float64(rep.HeapStartBytes)/(1<<20), float64(rep.HeapEndBytes)/(1<<20))
	fmt.Fprintf(&b, "| data file at end | %.1f MiB |\n", float64(rep.DataFileBytes)/(1<<20))
	fmt.Fprintf(&b, "| clean shutdown | %s |\n", rep.CleanShutdown)
	b.WriteString("\n| phase | seconds | reads ok | read p50 / p99 ms | writes ok | write p50 / p99 ms | errors |\n|---|---|---|---|---|---|---|\n")
	for _, p := range rep.Phases {
		fmt.Fprintf(&b, "| %s | %.0f | %d | %.1f / %.1f | %d | %.1f / %.1f | %d |\n", p.Name, p.Seconds, p.Reads, p.ReadP50Ms, p.ReadP99Ms, p.Writes, p.WriteP50Ms, p.WriteP99Ms, p.ErrorsInside)
	}
	b.WriteString("\n| error kind | count |\n|---|---|\n")
	kinds := make([]string, 0, len(rep.Errors))
	for k := range rep.Errors {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(&b, "| %s | %d |\n", k, rep.Errors[k])
	}
	if len(kinds) == 0 {
		b.WriteString("| (none) | 0 |\n")
	}
	if len(rep.Memory) > 0 {
		b.WriteString("\n| seconds | events acknowledged | RSS MiB | of it anonymous MiB | Go heap in use MiB |\n|---|---|---|---|---|\n")
		for _, m := range rep.Memory {
			fmt.Fprintf(&b, "| %.0f | %d | %.1f | %.1f | %.1f |\n", m.Seconds, m.Events, float64(m.RSS)/(1<<20), float64(m.Anon)/(1<<20), float64(m.Heap)/(1<<20))
		}
	}
	if len(rep.Restarts) > 0 || rep.IdleRestart != nil {
		b.WriteString("\n| restart | events acknowledged | seconds to ready |\n|---|---|---|\n")
		for i, x := range rep.Restarts {
			fmt.Fprintf(&b, "| kill -9 #%d (under load) | %d | %.2f |\n", i+1, x.Events, x.Seconds)
		}
		if x := rep.IdleRestart; x != nil {
			fmt.Fprintf(&b, "| kill -9 at the end (no load) | %d | %.2f |\n", x.Events, x.Seconds)
		}
	}
	return b.String()
}

func secondsSummary(xs []float64) string {
	if len(xs) == 0 {
		return "-"
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return fmt.Sprintf("median %.2f s, max %.2f s", s[len(s)/2], s[len(s)-1])
}

// tailBuffer keeps the last 2 KiB written to it.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 2048 {
		t.b = append([]byte(nil), t.b[len(t.b)-2048:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
