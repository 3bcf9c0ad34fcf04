package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/store"
)

func TestNiceStep(t *testing.T) {
	for _, tc := range []struct{ in, want int }{{0, 1}, {3, 1}, {5, 2}, {9, 5}, {11, 5}, {53, 20}, {100, 50}, {101, 50}, {4100, 2000}} {
		if got := niceStep(tc.in); got != tc.want {
			t.Errorf("niceStep(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestQuantile(t *testing.T) {
	bounds := []float64{0.001, 0.01, 0.1}
	for _, tc := range []struct {
		q     float64
		cum   []float64
		total float64
		want  string
	}{
		{0.5, []float64{10, 10, 10}, 10, "500 µs"},   // all in the first bucket: halfway into it
		{0.5, []float64{0, 10, 10}, 10, "5.5 ms"},    // halfway between 1 and 10 ms
		{0.99, []float64{0, 0, 5}, 10, "> 100.0 ms"}, // beyond the last bound
		{0.5, []float64{0, 0, 0}, 0, "–"},
	} {
		if got := quantile(tc.q, bounds, tc.cum, tc.total); got != tc.want {
			t.Errorf("quantile(%v, %v) = %q, want %q", tc.q, tc.cum, got, tc.want)
		}
	}
}

func TestCTR(t *testing.T) {
	c := newCTRTracker()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.shown("s1", "trending", []string{"a", "b"}, t0)
	c.shown("s1", "similar", []string{"b", "c"}, t0)
	c.shown("s2", "trending", []string{"a"}, t0)
	for _, tc := range []struct {
		session, list, item string
		at                  time.Duration
		want                bool
	}{
		{"s1", "trending", "c", time.Minute, false},      // not in that row
		{"s1", "trending", "a", time.Minute, true},       // shown, clicked
		{"s1", "trending", "b", time.Minute, false},      // that impression already has its click
		{"s1", "", "b", time.Minute, true},               // any row: the similar one
		{"s3", "trending", "a", time.Minute, false},      // another session saw nothing
		{"s2", "trending", "a", 31 * time.Minute, false}, // too late
	} {
		if got := c.click(tc.session, tc.list, tc.item, t0.Add(tc.at)); got != tc.want {
			t.Errorf("click(%s, %s, %s) = %v, want %v", tc.session, tc.list, tc.item, got, tc.want)
		}
	}
	rates := c.rates()
	if len(rates) != 2 || rates[0].List != "similar" || rates[0].Clicks != 1 || rates[0].Impressions != 1 ||
		rates[1].List != "trending" || rates[1].Clicks != 1 || rates[1].Impressions != 2 || rates[1].Rate != 0.5 {
		t.Fatalf("rates: %+v", rates)
	}
}

type sliceLog []events.Event

func (l sliceLog) ScanEvents(_ context.Context, after uint64, fn func(events.Event) error) error {
	for _, e := range l {
		if e.Seq > after {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

func TestPlotSpansTheDataTimeRange(t *testing.T) {
	day := func(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 12, 0, 0, 0, time.UTC) }
	log := sliceLog{
		{Seq: 1, UserID: "u1", ItemID: "a", Type: events.Purchase, Timestamp: day(2000, 1, 1)},
		{Seq: 2, UserID: "u1", ItemID: "a", Type: events.View, Timestamp: day(2007, 6, 1)},
		{Seq: 3, UserID: "u2", ItemID: "b", Type: events.Purchase, Timestamp: day(2014, 7, 1)},
		{Seq: 4, UserID: "u2", Type: events.Search, Query: "Pens ", Timestamp: day(2014, 7, 1)},
	}
	s := newLogStats()
	if err := s.refresh(context.Background(), log[:2]); err != nil {
		t.Fatal(err)
	}
	if err := s.refresh(context.Background(), log); err != nil { // only the new ones are added
		t.Fatal(err)
	}
	snap := s.snapshot(5)
	p := snap.Plot
	if p.Empty || len(p.Series) != 3 || p.From != "2000-01-01" || p.To != "2014-07-01" || p.Max != 1 {
		t.Fatalf("plot: %+v", p)
	}
	if p.XTicks[0].Label != "2000" || p.XTicks[len(p.XTicks)-1].Label > "2014" {
		t.Fatalf("x ticks: %+v", p.XTicks)
	}
	for _, sr := range p.Series {
		if n := len(strings.Fields(sr.Points)); n != len(strings.Fields(p.Series[0].Points)) || n < 40 {
			t.Fatalf("series %s has %d points", sr.Name, n)
		}
	}
	if snap.Types[0].Key != "purchase" || snap.Types[0].Count != 2 || snap.Items[0].Key != "a" || snap.Queries[0].Key != "pens" {
		t.Fatalf("snapshot: %+v", snap)
	}
	if got := s.topUsers(5); len(got) != 2 || got[0] != "u1" {
		t.Fatalf("top users: %v", got)
	}
	if e := newLogStats().plot(48); !e.Empty {
		t.Fatal("an empty log must give an empty plot")
	}
}

func TestSparkline(t *testing.T) {
	if sparkline(nil) != "" || sparkline([]float64{1}) != "" {
		t.Fatal("a curve of fewer than two points drawn")
	}
	svg := string(sparkline([]float64{3, 2, 1.5}))
	if !strings.Contains(svg, "<polyline") || !strings.Contains(svg, "2.0,2.0") || !strings.Contains(svg, "118.0,26.0") || !strings.Contains(svg, "3 epochs") {
		t.Fatalf("sparkline: %s", svg)
	}
}

func TestEvalTable(t *testing.T) {
	models := []recommend.ModelInfo{
		{ModelMeta: store.ModelMeta{Name: "ials", Version: 2, Metrics: map[string]float64{"HR@10": 0.05, "NDCG@10": 0.03}}, Serving: true},
		{ModelMeta: store.ModelMeta{Name: "ials", Version: 1, Metrics: map[string]float64{"HR@10": 0.9}}},
		{ModelMeta: store.ModelMeta{Name: "ease", Version: 1, Metrics: map[string]float64{"HR@10": 0.08, "MRR": 0.04}}, Serving: true, Primary: true},
		{ModelMeta: store.ModelMeta{Name: "popular", Version: 1}, Serving: true},
	}
	tab := evalTableOf(models)
	if strings.Join(tab.Metrics, ",") != "HR@10,MRR,NDCG@10" || len(tab.Rows) != 2 {
		t.Fatalf("table %+v", tab)
	}
	ials, ease := tab.Rows[0], tab.Rows[1]
	if ials.Values[1] != "–" || ials.Best[0] || !ease.Best[0] || !ials.Best[2] || ease.Values[0] != "0.0800" {
		t.Fatalf("rows %+v %+v", ials, ease)
	}
}
