package eval

import (
	"runtime/metrics"
	"sync"
	"time"
)

// memSampler records the peak live heap (bytes of heap objects) by sampling
// runtime/metrics every 20 ms until stopped.
type memSampler struct {
	mu   sync.Mutex
	peak uint64
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

const heapMetric = "/memory/classes/heap/objects:bytes"

func readHeap() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

func startMemSampler() *memSampler {
	m := &memSampler{quit: make(chan struct{}), done: make(chan struct{}), peak: readHeap()}
	go func() {
		defer close(m.done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-m.quit:
				return
			case <-t.C:
				h := readHeap()
				m.mu.Lock()
				m.peak = max(m.peak, h)
				m.mu.Unlock()
			}
		}
	}()
	return m
}

// stop ends sampling (idempotent) and returns the peak in bytes.
func (m *memSampler) stop() uint64 {
	m.once.Do(func() {
		close(m.quit)
		<-m.done
	})
	h := readHeap()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.peak = max(m.peak, h)
	return m.peak
}
