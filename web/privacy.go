package web

import (
	"fmt"
	"strings"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
)

// statsForgetter subtracts a forgotten user's events from the dashboard's
// counts (engine.Forgetter); the other changes need nothing of it.
type statsForgetter struct{ s *logStats }

func (statsForgetter) ItemsUpserted([]catalog.Item)  {}
func (statsForgetter) ItemsDeleted([]string)         {}
func (statsForgetter) EventsAppended([]events.Event) {}
func (statsForgetter) UserDeleted(string)            {}
func (f statsForgetter) UserForgotten(id string, removed []events.Event) map[string]int {
	return map[string]int{"dashboard_events": f.s.forget(id, removed)}
}

// forget subtracts the removed events this aggregate had already read
// (those up to its last refresh; later ones it will never read).
func (s *logStats) forget(user string, removed []events.Event) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	dec := func(m map[string]int, k string) {
		if m[k]--; m[k] <= 0 {
			delete(m, k)
		}
	}
	n := 0
	for _, e := range removed {
		if e.Seq == 0 || e.Seq > s.after {
			continue
		}
		n++
		day := e.Timestamp.Unix() / 86400
		if e.Timestamp.Unix() < 0 && e.Timestamp.Unix()%86400 != 0 {
			day--
		}
		if m := s.days[day]; m != nil {
			if m[e.Type]--; m[e.Type] <= 0 {
				delete(m, e.Type)
			}
			if len(m) == 0 {
				delete(s.days, day)
			}
		}
		if s.types[e.Type]--; s.types[e.Type] <= 0 {
			delete(s.types, e.Type)
		}
		if e.ItemID != "" {
			dec(s.items, e.ItemID)
		}
		if e.Type == events.Search && e.Query != "" {
			q := strings.ToLower(strings.TrimSpace(e.Query))
			dec(s.queries, q)
			if e.Value != nil && *e.Value == 0 {
				dec(s.zero, q)
			}
		}
	}
	delete(s.users, user)
	return n
}

// retentionView is the dashboard's line on the retention job.
type retentionView struct {
	engine.RetentionStatus
	Percent string
}

func retentionViewOf(r engine.RetentionStatus) retentionView {
	return retentionView{RetentionStatus: r, Percent: fmt.Sprintf("%.0f%%", 100*r.Progress())}
}
