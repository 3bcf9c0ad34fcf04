package web

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aisle-dev/aisle/events"
)

// logStats aggregates the event log for the dashboard: counts per day and
// type, per item, per user and per search query. It reads only the events
// appended since its last refresh, so a dashboard view costs little.
// Events of users deleted later stay counted (the plot shows what happened).
type logStats struct {
	mu      sync.Mutex
	after   uint64
	days    map[int64]map[events.Type]int // day number (Unix days) → type → count
	types   map[events.Type]int
	items   map[string]int
	users   map[string]int
	queries map[string]int
	zero    map[string]int // searches whose logged result count was 0
}

func newLogStats() *logStats {
	return &logStats{days: map[int64]map[events.Type]int{}, types: map[events.Type]int{},
		items: map[string]int{}, users: map[string]int{}, queries: map[string]int{}, zero: map[string]int{}}
}

type eventScanner interface {
	ScanEvents(ctx context.Context, after uint64, fn func(events.Event) error) error
}

func (s *logStats) refresh(ctx context.Context, st eventScanner) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := st.ScanEvents(ctx, s.after, func(e events.Event) error {
		s.after = e.Seq
		day := e.Timestamp.Unix() / 86400
		if e.Timestamp.Unix() < 0 && e.Timestamp.Unix()%86400 != 0 {
			day--
		}
		m := s.days[day]
		if m == nil {
			m = map[events.Type]int{}
			s.days[day] = m
		}
		m[e.Type]++
		s.types[e.Type]++
		if e.ItemID != "" {
			s.items[e.ItemID]++
		}
		s.users[e.UserID]++
		if e.Type == events.Search && e.Query != "" {
			q := strings.ToLower(strings.TrimSpace(e.Query))
			s.queries[q]++
			if e.Value != nil && *e.Value == 0 {
				s.zero[q]++
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("scan the event log: %w", err)
	}
	return nil
}

type counted struct {
	Key   string
	Count int
}

func top(m map[string]int, n int) []counted {
	out := make([]counted, 0, len(m))
	for k, c := range m {
		out = append(out, counted{k, c})
	}
	slices.SortFunc(out, func(a, b counted) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// topUsers lists the users with the most events, anonymous sessions of
// this UI left out.
func (s *logStats) topUsers(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range top(s.users, n+50) {
		if !strings.HasPrefix(c.Key, "anon-") {
			out = append(out, c.Key)
		}
		if len(out) == n {
			break
		}
	}
	return out
}

// snapshot copies what the dashboard shows.
type logSnapshot struct {
	Types   []counted // events per type
	Items   []counted // top items
	Queries []counted // top search queries
	Zero    []counted // top queries that found nothing
	Plot    plot
}

func (s *logStats) snapshot(nTop int) logSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	var snap logSnapshot
	types := map[string]int{}
	for t, c := range s.types {
		types[string(t)] = c
	}
	snap.Types = top(types, len(types))
	snap.Items = top(s.items, nTop)
	snap.Queries = top(s.queries, nTop)
	snap.Zero = top(s.zero, nTop)
	snap.Plot = s.plot(48)
	return snap
}

// plot is an SVG line chart of events per type over time, laid out here
// so the template only prints numbers and escaped names.
type plot struct {
	Width, Height      int
	Left, Right, Top   int
	Bottom             int
	Series             []series
	XTicks, YTicks     []tick
	From, To           string
	BucketDays         int
	Empty              bool
	Max                int
	Title, Description string
}

type series struct {
	Name    string
	Class   string // colour class
	Points  string // "x,y x,y …"
	Total   int
	LegendY int
}

type tick struct {
	Pos   float64
	Label string
}

// plot buckets the per-day counts into about n equal spans across the
// data's own time range (the demo's events are 2000–2014; a live shop's are
// this week), one line per event type.
func (s *logStats) plot(n int) plot {
	p := plot{Width: 760, Height: 280, Left: 56, Right: 150, Top: 16, Bottom: 40,
		Title: "Events by type over time"}
	if len(s.days) == 0 {
		p.Empty = true
		p.Description = "No events yet."
		return p
	}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for d := range s.days {
		lo, hi = min(lo, d), max(hi, d)
	}
	span := hi - lo + 1
	width := max(1, (span+int64(n)-1)/int64(n))
	nb := int((span + width - 1) / width)
	p.BucketDays = int(width)
	typeNames := make([]string, 0, len(s.types))
	for t := range s.types {
		typeNames = append(typeNames, string(t))
	}
	slices.Sort(typeNames)
	counts := map[string][]int{}
	for _, t := range typeNames {
		counts[t] = make([]int, nb)
	}
	for d, m := range s.days {
		b := int((d - lo) / width)
		for t, c := range m {
			counts[string(t)][b] += c
		}
	}
	for _, cs := range counts {
		for _, c := range cs {
			p.Max = max(p.Max, c)
		}
	}
	step := niceStep(p.Max)
	yMax := step * max(1, (p.Max+step-1)/step)
	plotW := float64(p.Width - p.Left - p.Right)
	plotH := float64(p.Height - p.Top - p.Bottom)
	x := func(b int) float64 {
		if nb == 1 {
			return float64(p.Left) + plotW/2
		}
		return float64(p.Left) + plotW*float64(b)/float64(nb-1)
	}
	y := func(c int) float64 { return float64(p.Top) + plotH*(1-float64(c)/float64(yMax)) }
	for k, t := range typeNames {
		var pts strings.Builder
		total := 0
		for b, c := range counts[t] {
			fmt.Fprintf(&pts, "%.1f,%.1f ", x(b), y(c))
			total += c
		}
		p.Series = append(p.Series, series{Name: t, Class: fmt.Sprintf("s%d", k%6), Points: strings.TrimSpace(pts.String()), Total: total, LegendY: p.Top + 8 + 20*k})
	}
	for v := 0; v <= yMax; v += step {
		p.YTicks = append(p.YTicks, tick{Pos: y(v), Label: fmt.Sprint(v)})
	}
	day := func(d int64) time.Time { return time.Unix(d*86400, 0).UTC() }
	layout := "2006-01-02"
	if span > 3*365 {
		layout = "2006"
	} else if span > 90 {
		layout = "Jan 2006"
	}
	nt := min(6, nb)
	for k := 0; k < nt; k++ {
		b := 0
		if nt > 1 {
			b = k * (nb - 1) / (nt - 1)
		}
		p.XTicks = append(p.XTicks, tick{Pos: x(b), Label: day(lo + int64(b)*width).Format(layout)})
	}
	p.From, p.To = day(lo).Format("2006-01-02"), day(hi).Format("2006-01-02")
	p.Description = fmt.Sprintf("Events per %d-day span from %s to %s, one line per event type; the busiest span has %d events of one type.", width, p.From, p.To, p.Max)
	return p
}

// niceStep picks the y tick step: 1, 2 or 5 times a power of ten, so that
// about four steps cover v.
func niceStep(v int) int {
	target := max(1, (v+3)/4)
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= target {
				return m * p
			}
		}
	}
}
