package api

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/internal/cputime"
	"github.com/aisle-dev/aisle/pipeline"
)

// BenchmarkImpressionOverhead measures what logging every answer as an
// impression costs GET /api/recommend. The two servers — one with the
// impression log and experiments, one without (same data) — each run in
// a process of its own (this test binary, started again as a child:
// overheadChild), so that neither's garbage collector nor the log's
// writer works in the other's process. The children answer in turns,
// blocks of overheadBlock answers, the first alternating, so the load of
// the machine falls on both alike; answer i of one is paired with answer
// i of the other.
//
// It reports each one's p50 and p99 (wall and the request's own thread
// CPU), the p99 overheads in percent with a 95% block-bootstrap interval
// (…-lo, …-hi: pairs resampled in blocks of 256, so a burst of load
// counts as one), how many answers lie beyond each p99 (tail-answers),
// and each child's whole process CPU (user + sys, every thread: the
// log's writer and the collector included) per answer over the timed
// answers and 150 ms after them (the writer's last batches), with its
// overhead; then the heap bytes and allocations of each one's answer.
// Both children are collected at the same heap size (overheadHeapBudget).
// shop=small is the 30-item test shop (popularity, ~20 µs answers);
// shop=catalogue 2,400 items and 3,000 shoppers served by itemknn;
// shop=demo the same shop trained with the default models (those a
// config naming none trains: popular, itemknn, ials, ease, itemfilter),
// the demo's size and models but not its cost (~60 µs of CPU an answer
// here, the demo's Office answers ~0.7 ms).
func BenchmarkImpressionOverhead(b *testing.B) {
	shops := []struct {
		name   string
		users  int
		server func(b *testing.B, with bool) *Server
	}{
		{"small", 40, func(b *testing.B, with bool) *Server { return shopServerWith(b, with) }},
		{"catalogue", 3000, func(b *testing.B, with bool) *Server {
			return catalogueServer(b, with, []pipeline.Spec{{Name: "itemknn"}})
		}},
		{"demo", 3000, func(b *testing.B, with bool) *Server { return catalogueServer(b, with, nil) }},
	}
	for _, s := range shops {
		var kids *overheadChildren // kept between the runs of one shop (b.N 1, then the asked one)
		b.Cleanup(func() { kids.stop(b) })
		b.Run("shop="+s.name, func(b *testing.B) {
			if role := os.Getenv(overheadChildEnv); role != "" {
				overheadChild(b, s.server(b, role == "with"), s.users, os.NewFile(3, "commands"), os.NewFile(4, "results"))
				return
			}
			if kids == nil {
				kids = startOverheadChildren(b, "shop="+s.name)
			}
			impressionOverhead(b, kids, s.name)
		})
	}
}

// overheadChildEnv names the server a child of BenchmarkImpressionOverhead
// runs: "with" or "without" the impression log.
const overheadChildEnv = "AISLE_IMPRESSION_OVERHEAD_CHILD"

// overheadProfileEnv, set to a directory, has each child write its CPU
// and heap profiles there (with.cpu, with.mem, without.cpu, without.mem).
const overheadProfileEnv = "AISLE_IMPRESSION_OVERHEAD_PROFILES"

// overheadSamplesEnv, set to a directory, has each run of
// BenchmarkImpressionOverhead write its answers' times there
// (<shop>-<unix ns>.f64: wall with, wall without, CPU with, CPU without
// in µs, float64 little-endian, answer after answer), which
// BenchmarkImpressionOverheadPooled reads.
const overheadSamplesEnv = "AISLE_IMPRESSION_OVERHEAD_SAMPLES"

// overheadHeapBudget is the heap each child is collected at (GOMEMLIMIT,
// with GOGC=off): a bigger live heap (the log's memory) leaves less room
// and so means more collections, never fewer — the log is charged for its
// memory. With the default GOGC=100 each process's collections come at
// twice its own live heap, and the small shop's without-server (a few MB
// live) collected several times as often as the one holding the log: runs
// of session 10's code gave −38 % (CPU p99 overhead), of this one's −12 %.
// 128 MiB makes a collection every ~5,000 answers of the small shop, ~20
// a run of 100,000: with 512 MiB the ~4 of a run made its p99 depend on
// where they fell (runs of one code disagreed by 25 points).
const overheadHeapBudget = "128MiB"

// overheadBlock is how many answers a child gives in one turn.
const overheadBlock = 32

// overheadChild serves BenchmarkImpressionOverhead in a child process: it
// warms srv, then reads commands (a little-endian uint32) from cmds until
// they end: n > 0 answers n requests and writes each one's wall and
// thread CPU time in µs (float64s); 0 ends a period and writes its report
// (overheadReport) after letting the log's writer finish its batches.
func overheadChild(b *testing.B, srv *Server, users int, cmds io.Reader, results io.Writer) {
	paths := make([]string, users)
	for u := range paths {
		paths[u] = fmt.Sprintf("/api/recommend/u%02d?n=10", u)
	}
	call := func(i int) {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", paths[i%users], nil))
		if rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	for i := range 2 * users { // the first answers fill caches
		call(i)
	}
	runtime.LockOSThread() // the thread's CPU is the answer's
	defer runtime.UnlockOSThread()
	out := bufio.NewWriter(results)
	var cmd [4]byte
	var times []float64
	next, answers := 0, 0
	var cpu0 time.Duration
	var gc0 uint64
	started := false
	for {
		if _, err := io.ReadFull(cmds, cmd[:]); err == io.EOF {
			return
		} else if err != nil {
			b.Fatalf("read a command: %v", err)
		}
		n := int(binary.LittleEndian.Uint32(cmd[:]))
		if n == 0 {
			time.Sleep(150 * time.Millisecond) // the writer's batches of these answers (50 ms apart)
			rep := overheadReport{Answers: float64(answers), ProcessCPU: float64(cputime.Process()-cpu0) / 1e3}
			rep.GCs, rep.Live = float64(gcCycles()-gc0), liveHeap()
			var m0, m1 runtime.MemStats
			const k = 2000
			runtime.ReadMemStats(&m0)
			for range k {
				call(next)
				next++
			}
			runtime.ReadMemStats(&m1)
			rep.Bytes, rep.Allocs = float64(m1.TotalAlloc-m0.TotalAlloc)/k, float64(m1.Mallocs-m0.Mallocs)/k
			writeFloats(b, out, rep.Answers, rep.ProcessCPU, rep.Bytes, rep.Allocs, rep.GCs, rep.Live)
			started, answers = false, 0
			continue
		}
		if !started {
			started, cpu0, gc0 = true, cputime.Process(), gcCycles()
		}
		times = times[:0]
		for range n {
			c0, t0 := cputime.Thread(), time.Now()
			call(next)
			d, c := time.Since(t0), cputime.Thread()-c0
			times = append(times, float64(d.Nanoseconds())/1e3, float64(c.Nanoseconds())/1e3)
			next++
		}
		answers += n
		writeFloats(b, out, times...)
	}
}

func writeFloats(b *testing.B, w *bufio.Writer, xs ...float64) {
	var buf [8]byte
	for _, x := range xs {
		binary.LittleEndian.PutUint64(buf[:], math.Float64bits(x))
		w.Write(buf[:])
	}
	if err := w.Flush(); err != nil {
		b.Fatalf("write results: %v", err)
	}
}

// overheadReport is what a child reports of a period: answers, its process
// CPU in µs over them, heap bytes and allocations per answer, the garbage
// collections over them and the live heap (bytes marked by the last one).
type overheadReport struct{ Answers, ProcessCPU, Bytes, Allocs, GCs, Live float64 }

// gcCycles is how many garbage collections the process has completed.
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// liveHeap is the heap the last garbage collection marked live, in bytes.
func liveHeap() float64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return float64(s[0].Value.Uint64())
}

// overheadChildren are the two child processes of a shop, with and without
// the impression log.
type overheadChildren struct {
	with, without *overheadKid
}

type overheadKid struct {
	cmd     *exec.Cmd
	cmds    io.WriteCloser
	results *bufio.Reader
	stderr  *strings.Builder
}

func startOverheadChildren(b *testing.B, sub string) *overheadChildren {
	start := func(role string) *overheadKid {
		cr, cw, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		rr, rw, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		args := []string{"-test.run=^$", "-test.bench=^BenchmarkImpressionOverhead$/^" + sub + "$", "-test.benchtime=1x"}
		if dir := os.Getenv(overheadProfileEnv); dir != "" {
			args = append(args, "-test.cpuprofile="+filepath.Join(dir, role+".cpu"), "-test.memprofile="+filepath.Join(dir, role+".mem"))
		}
		cmd := exec.Command(os.Args[0], args...)
		// the same heap budget for both (GOGC and GOMEMLIMIT set here
		// win): with the default GOGC the smaller live heap (without the
		// log's memory) is collected more often, and the log's memory
		// made the with-server's tail shorter rather than longer
		cmd.Env = append([]string{"GOGC=off", "GOMEMLIMIT=" + overheadHeapBudget}, os.Environ()...)
		cmd.Env = append(cmd.Env, overheadChildEnv+"="+role)
		cmd.ExtraFiles = []*os.File{cr, rw}
		k := &overheadKid{cmd: cmd, cmds: cw, results: bufio.NewReaderSize(rr, 1<<16), stderr: &strings.Builder{}}
		cmd.Stdout, cmd.Stderr = k.stderr, k.stderr
		if err := cmd.Start(); err != nil {
			b.Fatalf("start the %s child: %v", role, err)
		}
		cr.Close()
		rw.Close()
		return k
	}
	return &overheadChildren{with: start("with"), without: start("without")}
}

func (k *overheadKid) send(b *testing.B, n int) {
	var cmd [4]byte
	binary.LittleEndian.PutUint32(cmd[:], uint32(n))
	if _, err := k.cmds.Write(cmd[:]); err != nil {
		b.Fatalf("command a child: %v\n%s", err, k.stderr)
	}
}

func (k *overheadKid) read(b *testing.B, dst []float64) {
	var buf [8]byte
	for i := range dst {
		if _, err := io.ReadFull(k.results, buf[:]); err != nil {
			k.cmd.Wait()
			b.Fatalf("read a child's results: %v\n%s", err, k.stderr)
		}
		dst[i] = math.Float64frombits(binary.LittleEndian.Uint64(buf[:]))
	}
}

func (c *overheadChildren) stop(b *testing.B) {
	if c == nil {
		return
	}
	var wg sync.WaitGroup
	for _, k := range []*overheadKid{c.with, c.without} {
		k.cmds.Close()
		wg.Go(func() {
			if err := k.cmd.Wait(); err != nil {
				b.Errorf("a child of BenchmarkImpressionOverhead: %v\n%s", err, k.stderr)
			}
		})
	}
	wg.Wait()
}

func impressionOverhead(b *testing.B, kids *overheadChildren, shop string) {
	dw, dn, cw, cn := make([]float64, b.N), make([]float64, b.N), make([]float64, b.N), make([]float64, b.N)
	buf := make([]float64, 2*overheadBlock)
	turn := func(k *overheadKid, d, c []float64) {
		k.send(b, len(d))
		k.read(b, buf[:2*len(d)])
		for i := range d {
			d[i], c[i] = buf[2*i], buf[2*i+1]
		}
	}
	b.ResetTimer()
	for s, blk := 0, 0; s < b.N; s, blk = s+overheadBlock, blk+1 {
		e := min(s+overheadBlock, b.N)
		if blk%2 == 0 { // alternate which one goes first
			turn(kids.with, dw[s:e], cw[s:e])
			turn(kids.without, dn[s:e], cn[s:e])
		} else {
			turn(kids.without, dn[s:e], cn[s:e])
			turn(kids.with, dw[s:e], cw[s:e])
		}
	}
	b.StopTimer()
	if dir := os.Getenv(overheadSamplesEnv); dir != "" && b.N > 1 {
		out := make([]byte, 0, 32*b.N)
		for i := range b.N {
			for _, x := range [4]float64{dw[i], dn[i], cw[i], cn[i]} {
				out = binary.LittleEndian.AppendUint64(out, math.Float64bits(x))
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.f64", shop, time.Now().UnixNano())), out, 0o644); err != nil {
			b.Fatalf("keep the samples: %v", err)
		}
	}
	var rw, rn overheadReport
	for _, x := range []struct {
		k *overheadKid
		r *overheadReport
	}{{kids.with, &rw}, {kids.without, &rn}} {
		x.k.send(b, 0)
		var f [6]float64
		x.k.read(b, f[:])
		*x.r = overheadReport{f[0], f[1], f[2], f[3], f[4], f[5]}
	}
	report := func(name string, w, n []float64) {
		b.ReportMetric(quantile(n, 0.5), name+"p50-µs-without")
		b.ReportMetric(quantile(w, 0.5), name+"p50-µs-with")
		b.ReportMetric(quantile(n, 0.99), name+"p99-µs-without")
		b.ReportMetric(quantile(w, 0.99), name+"p99-µs-with")
		o, lo, hi := p99Overhead(w, n)
		b.ReportMetric(o, name+"p99-overhead-%")
		b.ReportMetric(lo, name+"p99-overhead-%-lo")
		b.ReportMetric(hi, name+"p99-overhead-%-hi")
	}
	report("", dw, dn)
	if quantile(cn, 0.99) > 0 {
		report("cpu-", cw, cn)
	}
	b.ReportMetric(float64(b.N-int(0.99*float64(b.N))), "tail-answers")
	if rw.Answers > 0 && rn.Answers > 0 && rn.ProcessCPU > 0 {
		pw, pn := rw.ProcessCPU/rw.Answers, rn.ProcessCPU/rn.Answers
		b.ReportMetric(pw, "process-cpu-µs/answer-with")
		b.ReportMetric(pn, "process-cpu-µs/answer-without")
		b.ReportMetric(100*(pw/pn-1), "process-cpu-overhead-%")
	}
	if rw.Answers > 0 && rn.Answers > 0 {
		b.ReportMetric(1000*rw.GCs/rw.Answers, "gcs/1k-answers-with")
		b.ReportMetric(1000*rn.GCs/rn.Answers, "gcs/1k-answers-without")
	}
	b.ReportMetric(rw.Live/(1<<20), "live-MiB-with")
	b.ReportMetric(rn.Live/(1<<20), "live-MiB-without")
	b.ReportMetric(rw.Bytes, "B/answer-with")
	b.ReportMetric(rn.Bytes, "B/answer-without")
	b.ReportMetric(rw.Allocs, "allocs/answer-with")
	b.ReportMetric(rn.Allocs, "allocs/answer-without")
}

// BenchmarkLoggingPath is the answer's own part of the log, alone: the
// request id (assignment, id and its check) and the impression (record
// in memory and queue), for an answer of 10 items, with the writer
// running; with=false is the id a server without experiments makes.
func BenchmarkLoggingPath(b *testing.B) {
	for _, with := range []bool{false, true} {
		b.Run(fmt.Sprint("with=", with), func(b *testing.B) {
			srv := shopServerWith(b, with)
			items := []string{"p01", "p02", "p03", "p04", "p05", "p06", "p07", "p08", "p09", "p10"}
			users := make([]string, 40)
			for u := range users {
				users[u] = fmt.Sprintf("u%02d", u)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				sv := srv.serve("recommend", users[i%len(users)], "")
				srv.shown(sv, items, nil)
			}
		})
	}
}

// BenchmarkImpressionOverheadPooled pools the runs of
// BenchmarkImpressionOverhead kept in $AISLE_IMPRESSION_OVERHEAD_SAMPLES
// (skipped without it), per shop: the CPU and wall p99 overheads of all
// their answers together, with a 95% two-stage bootstrap interval (runs
// resampled, then blocks of 256 answer pairs within each: a run's own
// state — its processes' heaps, the machine's load then — counts as the
// run's, not as 100,000 independent answers), the runs and the answers.
func BenchmarkImpressionOverheadPooled(b *testing.B) {
	dir := os.Getenv(overheadSamplesEnv)
	if dir == "" {
		b.Skip("set " + overheadSamplesEnv + " to the directory of BenchmarkImpressionOverhead's samples")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.f64"))
	if err != nil || len(files) == 0 {
		b.Fatalf("no samples in %s: %v", dir, err)
	}
	runs := map[string][][4][]float64{} // shop → runs → wall with, without, CPU with, without
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		var run [4][]float64
		for i := 0; i+32 <= len(raw); i += 32 {
			for k := range 4 {
				run[k] = append(run[k], math.Float64frombits(binary.LittleEndian.Uint64(raw[i+8*k:])))
			}
		}
		shop := strings.SplitN(filepath.Base(f), "-", 2)[0]
		runs[shop] = append(runs[shop], run)
	}
	for shop, rs := range runs {
		b.Run("shop="+shop, func(b *testing.B) {
			n := 0
			for _, r := range rs {
				n += len(r[0])
			}
			for _, m := range []struct {
				name string
				w, n int
			}{{"", 0, 1}, {"cpu-", 2, 3}} {
				o, lo, hi := pooledP99Overhead(rs, m.w, m.n)
				b.ReportMetric(o, m.name+"p99-overhead-%")
				b.ReportMetric(lo, m.name+"p99-overhead-%-lo")
				b.ReportMetric(hi, m.name+"p99-overhead-%-hi")
			}
			b.ReportMetric(float64(len(rs)), "runs")
			b.ReportMetric(float64(n), "answers")
		})
	}
}

// pooledP99Overhead is 100·(p99(with)/p99(without) − 1) over every run's
// answers (columns w and n of each run) and its 95% two-stage bootstrap
// interval.
func pooledP99Overhead(runs [][4][]float64, w, n int) (est, lo, hi float64) {
	const block, reps = 256, 200
	var aw, an []float64
	for _, r := range runs {
		aw, an = append(aw, r[w]...), append(an, r[n]...)
	}
	est = 100 * (quantile(aw, 0.99)/quantile(an, 0.99) - 1)
	rng := rand.New(rand.NewPCG(15, 99))
	out := make([]float64, reps)
	for k := range reps {
		aw, an = aw[:0], an[:0]
		for range runs {
			r := runs[rng.IntN(len(runs))]
			blocks := (len(r[w]) + block - 1) / block
			for range blocks {
				s := rng.IntN(blocks) * block
				e := min(s+block, len(r[w]))
				aw, an = append(aw, r[w][s:e]...), append(an, r[n][s:e]...)
			}
		}
		out[k] = 100 * (quantile(aw, 0.99)/quantile(an, 0.99) - 1)
	}
	return est, quantile(out, 0.025), quantile(out, 0.975)
}
