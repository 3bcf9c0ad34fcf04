package bus

import (
	"context"
	"sync"
	"time"
)

// Memory is the in-process Bus of the embedded default: one process, no
// service. It keeps the last Keep messages (0: all) and de-duplicates by
// ID within Window (0: two minutes, as JetStream).
type Memory struct {
	Keep   int
	Window time.Duration

	mu      sync.Mutex
	first   uint64 // position of msgs[0]
	msgs    []Delivery
	seen    map[int64]time.Time
	changed chan struct{} // closed and replaced on every publish
}

// NewMemory returns an empty in-process bus.
func NewMemory() *Memory { return &Memory{} }

func (m *Memory) init() {
	if m.changed == nil {
		m.changed = make(chan struct{})
		m.seen = map[int64]time.Time{}
		m.first = 1
	}
}

// Publish implements Bus.
func (m *Memory) Publish(ctx context.Context, msgs ...Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	win := m.Window
	if win == 0 {
		win = 2 * time.Minute
	}
	now := time.Now()
	for id, at := range m.seen {
		if now.Sub(at) > win {
			delete(m.seen, id)
		}
	}
	added := false
	for _, msg := range msgs {
		if msg.ID != 0 {
			if _, dup := m.seen[msg.ID]; dup {
				continue
			}
			m.seen[msg.ID] = now
		}
		m.msgs = append(m.msgs, Delivery{Message: msg, Seq: m.first + uint64(len(m.msgs))})
		added = true
	}
	if m.Keep > 0 && len(m.msgs) > m.Keep {
		drop := len(m.msgs) - m.Keep
		m.msgs = append(m.msgs[:0:0], m.msgs[drop:]...)
		m.first += uint64(drop)
	}
	if added {
		close(m.changed)
		m.changed = make(chan struct{})
	}
	return nil
}

// Bounds implements Bus.
func (m *Memory) Bounds(context.Context) (uint64, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	return m.first, m.first + uint64(len(m.msgs)) - 1, nil
}

// Subscribe implements Bus.
func (m *Memory) Subscribe(ctx context.Context, from uint64, fn func(Delivery) error) error {
	if from == 0 {
		from = 1
	}
	for {
		m.mu.Lock()
		m.init()
		if from < m.first {
			m.mu.Unlock()
			return ErrTrimmed
		}
		pending := append([]Delivery(nil), m.msgs[min(from-m.first, uint64(len(m.msgs))):]...)
		wait := m.changed
		m.mu.Unlock()
		for _, d := range pending {
			if err := fn(d); err != nil {
				return err
			}
			from = d.Seq + 1
		}
		if len(pending) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wait:
		}
	}
}

// Trim drops the messages before position before (as an age or size
// limit does).
func (m *Memory) Trim(before uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	if before <= m.first {
		return
	}
	drop := min(before-m.first, uint64(len(m.msgs)))
	m.msgs = append(m.msgs[:0:0], m.msgs[drop:]...)
	m.first += drop
}
