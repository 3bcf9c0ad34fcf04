package web

import (
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/experiment"
)

func TestPlotSeries(t *testing.T) {
	iv := func(v float64) experiment.Interval {
		return experiment.Interval{Value: v, Low: v - 0.01, High: v + 0.01}
	}
	series := []experiment.Point{
		{Day: "2026-12-01", Variants: []experiment.PointVariant{{Name: "a", Conversion: iv(0.1)}, {Name: "b", Conversion: iv(0.2)}}},
		{Day: "2026-12-02", Variants: []experiment.PointVariant{{Name: "a", Conversion: iv(0.12)}, {Name: "b", Conversion: iv(0.18)}}},
	}
	p, ok := plotSeries(series, "conversion")
	if !ok || len(p.Lines) != 2 {
		t.Fatalf("plot %+v, %v: want two lines", p, ok)
	}
	for _, l := range p.Lines {
		if n := len(strings.Fields(l.Points)); n != 2 {
			t.Errorf("line %s has %d points, want 2", l.Name, n)
		}
		if n := len(strings.Fields(l.Band)); n != 4 {
			t.Errorf("band %s has %d corners, want 4", l.Name, n)
		}
	}
	if _, ok := plotSeries(series[:1], "conversion"); ok {
		t.Error("one day is not a plot")
	}
}
