package web

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// latencyMetric is the api.Server's request latency histogram; its sample
// counts are the request counts.
const latencyMetric = "aisle_http_request_duration_seconds"

// liveMetrics turns the api.Server's Prometheus histograms into requests
// per second and latency percentiles per route over the last minute, by
// keeping snapshots taken when the dashboard asks (it polls every few
// seconds while open). The first snapshot is taken at start, so the first
// view shows averages since then.
type liveMetrics struct {
	g   prometheus.Gatherer
	now func() time.Time

	mu    sync.Mutex
	snaps []metricSnap
}

type metricSnap struct {
	at     time.Time
	routes map[string]histo // "GET /items/{id}" → histogram
}

type histo struct {
	count  float64
	bounds []float64 // upper bounds, increasing, without +Inf
	cum    []float64 // cumulative counts per bound
}

const liveWindow = time.Minute

func newLiveMetrics(g prometheus.Gatherer, now func() time.Time) *liveMetrics {
	l := &liveMetrics{g: g, now: now}
	if s, err := l.gather(); err == nil {
		l.snaps = append(l.snaps, s)
	}
	return l
}

func (l *liveMetrics) gather() (metricSnap, error) {
	s := metricSnap{at: l.now(), routes: map[string]histo{}}
	fams, err := l.g.Gather()
	if err != nil {
		return s, fmt.Errorf("gather metrics: %w", err)
	}
	for _, f := range fams {
		if f.GetName() != latencyMetric {
			continue
		}
		for _, m := range f.GetMetric() {
			var route, method string
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "route":
					route = lp.GetValue()
				case "method":
					method = lp.GetValue()
				}
			}
			h := m.GetHistogram()
			if h == nil {
				continue
			}
			var hs histo
			hs.count = float64(h.GetSampleCount())
			for _, b := range h.GetBucket() {
				if math.IsInf(b.GetUpperBound(), 1) {
					continue
				}
				hs.bounds = append(hs.bounds, b.GetUpperBound())
				hs.cum = append(hs.cum, float64(b.GetCumulativeCount()))
			}
			s.routes[method+" "+route] = hs
		}
	}
	return s, nil
}

// routeLive is one row of the live table.
type routeLive struct {
	Route         string
	Requests      int
	RPS           float64
	P50, P95, P99 string
}

type liveData struct {
	Routes []routeLive
	Window string
	CTR    []listCTR
}

// read takes a snapshot (at most one a second) and compares it with the
// oldest one inside the window.
func (l *liveMetrics) read() ([]routeLive, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	s, err := l.gather()
	if err != nil {
		return nil, 0, err
	}
	// Keep at most one snapshot a second: a newer one replaces the newest
	// when that is younger (the first, the baseline, is never replaced).
	if n := len(l.snaps); n > 1 && now.Sub(l.snaps[n-1].at) < time.Second {
		l.snaps[n-1] = s
	} else {
		l.snaps = append(l.snaps, s)
	}
	// Keep one snapshot older than the window as the baseline.
	for len(l.snaps) > 2 && now.Sub(l.snaps[1].at) >= liveWindow {
		l.snaps = l.snaps[1:]
	}
	cur := l.snaps[len(l.snaps)-1]
	base := metricSnap{at: cur.at, routes: map[string]histo{}}
	if len(l.snaps) > 1 {
		base = l.snaps[0]
	}
	dt := cur.at.Sub(base.at)
	var out []routeLive
	for route, h := range cur.routes {
		b := base.routes[route]
		d := h.count - b.count
		if d <= 0 {
			continue
		}
		cum := make([]float64, len(h.cum))
		for i := range cum {
			cum[i] = h.cum[i]
			if i < len(b.cum) {
				cum[i] -= b.cum[i]
			}
		}
		r := routeLive{Route: route, Requests: int(d),
			P50: quantile(0.5, h.bounds, cum, d), P95: quantile(0.95, h.bounds, cum, d), P99: quantile(0.99, h.bounds, cum, d)}
		if dt > 0 {
			r.RPS = d / dt.Seconds()
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b routeLive) int {
		if c := cmp.Compare(b.Requests, a.Requests); c != 0 {
			return c
		}
		return cmp.Compare(a.Route, b.Route)
	})
	return out, dt, nil
}

// quantile estimates the q-quantile from cumulative bucket counts, linearly
// inside the bucket as Prometheus' histogram_quantile does.
func quantile(q float64, bounds, cum []float64, total float64) string {
	if total <= 0 || len(bounds) == 0 {
		return "–"
	}
	rank := q * total
	prevB, prevC := 0.0, 0.0
	for i, b := range bounds {
		if cum[i] >= rank {
			v := prevB
			if c := cum[i] - prevC; c > 0 {
				v += (b - prevB) * (rank - prevC) / c
			}
			return fmtSeconds(v)
		}
		prevB, prevC = b, cum[i]
	}
	return "> " + fmtSeconds(bounds[len(bounds)-1])
}

func fmtSeconds(s float64) string {
	switch {
	case s < 0.001:
		return fmt.Sprintf("%.0f µs", s*1e6)
	case s < 1:
		return fmt.Sprintf("%.1f ms", s*1e3)
	}
	return fmt.Sprintf("%.2f s", s)
}

// ctrTracker counts the click-through rate of the rows the UI shows: an
// impression is one row rendered for a session; a click counts when the
// session clicks an item that one of its impressions of that row held,
// within clickWindow, at most once per impression.
type ctrTracker struct {
	mu       sync.Mutex
	sessions map[string]*shownLists
	lists    map[string]*listCTR
}

type shownLists struct {
	last  time.Time
	lists []shownList // newest last, at most maxShown
}

type shownList struct {
	list    string
	items   map[string]bool
	at      time.Time
	clicked bool
}

type listCTR struct {
	List        string
	Impressions int
	Clicks      int
	Rate        float64
}

const (
	maxSessions = 10000
	maxShown    = 30
	clickWindow = 30 * time.Minute
)

func newCTRTracker() *ctrTracker {
	return &ctrTracker{sessions: map[string]*shownLists{}, lists: map[string]*listCTR{}}
}

func (c *ctrTracker) shown(session, list string, ids []string, now time.Time) {
	if len(ids) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[session]
	if s == nil {
		if len(c.sessions) >= maxSessions {
			c.evict()
		}
		s = &shownLists{}
		c.sessions[session] = s
	}
	items := make(map[string]bool, len(ids))
	for _, id := range ids {
		items[id] = true
	}
	s.last = now
	s.lists = append(s.lists, shownList{list: list, items: items, at: now})
	if len(s.lists) > maxShown {
		s.lists = s.lists[len(s.lists)-maxShown:]
	}
	l := c.lists[list]
	if l == nil {
		l = &listCTR{List: list}
		c.lists[list] = l
	}
	l.Impressions++
}

// evict drops the least recently active tenth of the sessions.
func (c *ctrTracker) evict() {
	type aged struct {
		id   string
		last time.Time
	}
	all := make([]aged, 0, len(c.sessions))
	for id, s := range c.sessions {
		all = append(all, aged{id, s.last})
	}
	slices.SortFunc(all, func(a, b aged) int { return a.last.Compare(b.last) })
	for _, a := range all[:max(1, len(all)/10)] {
		delete(c.sessions, a.id)
	}
}

// click reports whether the click followed an impression of list (any list
// when list is "") holding item in the same session.
func (c *ctrTracker) click(session, list, item string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[session]
	if s == nil {
		return false
	}
	for i := len(s.lists) - 1; i >= 0; i-- {
		sl := &s.lists[i]
		if now.Sub(sl.at) > clickWindow {
			break
		}
		if sl.clicked || !sl.items[item] || (list != "" && sl.list != list) {
			continue
		}
		sl.clicked = true
		c.lists[sl.list].Clicks++
		return true
	}
	return false
}

func (c *ctrTracker) rates() []listCTR {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]listCTR, 0, len(c.lists))
	for _, l := range c.lists {
		r := *l
		if r.Impressions > 0 {
			r.Rate = float64(r.Clicks) / float64(r.Impressions)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b listCTR) int { return cmp.Compare(a.List, b.List) })
	return out
}
