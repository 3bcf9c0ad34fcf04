package experiment

import (
	"context"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/reqid"
)

// The attribution window. An event counts once because its key (the
// experiment, request id, item and type; on a shared store also the
// event's sequence number) is kept: in memory and in experiments.db
// (bucket seen), and in the shared store's experiment_counted. Those keys
// would grow with the traffic forever; instead an event older than the
// impression log's retention (experiments.impression_retention, 30 days
// by default) is not attributed at all — its answer is no longer in the
// log either — so the keys of older events can go. TrimCounted deletes
// them hourly.

// attributionCut is the oldest time an event (or the answer its request
// id names) may have to be attributed.
func (m *Manager) attributionCut() time.Time {
	return m.now().Add(-m.imp.Retention())
}

// tooOld reports whether e happened before cut, or names an answer served
// before it.
func tooOld(e events.Event, cut time.Time) bool {
	if !e.Timestamp.IsZero() && e.Timestamp.Before(cut) {
		return true
	}
	if e.RequestID != "" {
		if t, ok := reqid.Time(e.RequestID); ok && t.Before(cut.Truncate(time.Second)) {
			return true
		}
	}
	return false
}

// seenTime is the time of the answer a seen key
// (experiment NUL request NUL item NUL type) names; false when it names
// none.
func seenTime(k string) (time.Time, bool) {
	_, rest, ok := strings.Cut(k, "\x00")
	if !ok {
		return time.Time{}, false
	}
	rid, _, _ := strings.Cut(rest, "\x00")
	return reqid.Time(rid)
}

// TrimCounted forgets the keys of counted events older than the
// attribution window: in memory, in experiments.db and in the shared
// store. Run calls it hourly.
func (m *Manager) TrimCounted(ctx context.Context) error {
	cut := m.attributionCut()
	old := func(k string) bool {
		t, ok := seenTime(k)
		return !ok || t.Before(cut.Truncate(time.Second))
	}
	m.mu.Lock()
	n := 0
	for k := range m.seen {
		if old(k) {
			delete(m.seen, k)
			n++
		}
	}
	m.mu.Unlock()
	err := m.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bSeen)
		var drop [][]byte
		if err := b.ForEach(func(k, _ []byte) error {
			if old(string(k)) {
				drop = append(drop, append([]byte(nil), k...))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range drop {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("trim the counted events: %w", err)
	}
	if m.shared != nil {
		ctx, cancel := context.WithTimeout(ctx, sharedTimeout)
		defer cancel()
		if _, err := m.shared.TrimExperimentCounted(ctx, cut); err != nil {
			return err
		}
	}
	if n > 0 {
		m.log.Info("forgot the keys of counted events older than the attribution window", "keys", n, "before", cut)
	}
	return nil
}
