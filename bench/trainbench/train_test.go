package trainbench

import (
	"context"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/modeltest"
	"github.com/aisle-dev/aisle/model/zoo"
)

// events is AISLE_SCALE_EVENTS (default 200,000): the interactions of the
// synthetic set; users = events/10 (10 per user on average, 5 to 15) and
// items = events/10, 100 clusters with a Zipf-like popularity.
func events(b *testing.B) int {
	n := 200_000
	if s := os.Getenv("AISLE_SCALE_EVENTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1000 {
			b.Fatalf("AISLE_SCALE_EVENTS=%q: want a whole number ≥ 1000", s)
		}
		n = v
	}
	return n
}

var (
	dataOnce sync.Once
	data     *model.Dataset
)

func dataset(b *testing.B) *model.Dataset {
	dataOnce.Do(func() {
		n := events(b)
		data = modeltest.SyntheticWith(modeltest.Config{Users: n / 10, Items: n / 10, Clusters: 100, MinPer: 5, MaxPer: 15, Focus: 0.8, Seed: 7}).DS
	})
	return data
}

// peakHeap samples the live heap every 20 ms until stop is called and
// returns the largest value seen above the heap at the start.
func peakHeap() (stop func() int64) {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() int64 { metrics.Read(sample); return int64(sample[0].Value.Uint64()) }
	base := read()
	peak := base
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				peak = max(peak, read())
			}
		}
	}()
	return func() int64 {
		close(done)
		wg.Wait()
		return max(peak, read()) - base
	}
}

// cpuSeconds is the process's user and system CPU time so far.
func cpuSeconds(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func fit(b *testing.B, name string, p model.Params) {
	ds := dataset(b)
	for b.Loop() {
		m, err := zoo.New(name, p)
		if err != nil {
			b.Fatal(err)
		}
		stop := peakHeap()
		start, cpu0 := time.Now(), cpuSeconds(b)
		if err := m.Fit(context.Background(), ds, nil); err != nil {
			b.Fatal(err)
		}
		secs, cpu := time.Since(start).Seconds(), cpuSeconds(b)-cpu0
		peak := stop()
		b.ReportMetric(secs, "train-s")
		// on a shared machine the wall time depends on the load; the
		// process's CPU time (both cores' worth) does much less
		b.ReportMetric(cpu, "cpu-s")
		b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
		b.ReportMetric(float64(ds.NumInteractions()), "events")
		if sz, ok := m.(interface{ Bytes() int64 }); ok {
			b.ReportMetric(float64(sz.Bytes())/1e6, "model-MB")
		}
		runtime.KeepAlive(m)
	}
}

// One iteration of iALS (64 factors): the per-iteration cost to multiply
// by the iterations wanted (12 by default).
func BenchmarkIALS1Iteration(b *testing.B) {
	fit(b, "ials", model.Params{"iterations": 1})
}

// Sparse EASE (neighbours 100), forced sparse whatever the catalogue.
func BenchmarkSparseEASE(b *testing.B) {
	fit(b, "ease", model.Params{"max_items": 1, "neighbours": 100})
}

func BenchmarkItemKNN(b *testing.B) { fit(b, "itemknn", nil) }

// One epoch of the sequence model (sampled softmax, 1,024 negatives, no
// side information, no validation): the per-epoch cost.
func BenchmarkSASRec1Epoch(b *testing.B) {
	fit(b, "sasrec", model.Params{"epochs": 1, "valid_users": 0, "attrs": 0})
}
