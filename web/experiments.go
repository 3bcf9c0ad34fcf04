package web

import (
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"

	"github.com/aisle-dev/aisle/experiment"
	"github.com/aisle-dev/aisle/impressions"
)

// expPage is the data of the experiments dashboard.
type expPage struct {
	Enabled bool
	Rows    []expRow
	// Positions: the examination of each position fitted from the
	// impression log, per surface ("all surfaces" first)
	Positions []posRow
}

// posRow is one surface's fitted examination curve: how it was estimated
// (Method "randomised" from the shuffled answers of
// experiments.explore_share, or "em" from every answer), θ per position
// with its standard error when randomised, and the EM fit beside it for
// comparison (docs/experiments.md "Exploration").
type posRow struct {
	Surface  string
	Lists    int
	Method   string
	Explored int
	Theta    []posCell
	EMTheta  []float64
	Fitted   string
}

// posCell is one position's θ and, for a randomised fit, its standard
// error as text: "" when there is none (position 1, or an EM fit), "(no
// click)" where the position or the first had no click (ThetaSE −1).
type posCell struct {
	Theta float64
	SE    string
}

// positionRow lays out one surface's fit for the page.
func positionRow(surface string, f impressions.Propensities) posRow {
	if surface == "" {
		surface = "all surfaces"
	}
	row := posRow{Surface: surface, Lists: f.Lists, Method: f.Method, Explored: f.Explored,
		Fitted: f.Fitted.Format("2006-01-02 15:04 UTC")}
	if row.Method == "" {
		row.Method = "em" // fits saved before exploration existed
	}
	for k, th := range f.Theta {
		c := posCell{Theta: th}
		if row.Method == "randomised" && k > 0 && k < len(f.ThetaSE) {
			if se := f.ThetaSE[k]; se < 0 {
				c.SE = "(no click)"
			} else {
				c.SE = fmt.Sprintf("± %.2f", se)
			}
		}
		row.Theta = append(row.Theta, c)
	}
	if row.Method == "randomised" {
		row.EMTheta = f.EMTheta
	}
	return row
}

type expRow struct {
	Exp     experiment.Experiment
	Results experiment.Results
	Plots   []expPlot
	Error   string
}

// expPlot is one metric over the days of an experiment: a line per variant
// with its 95% interval as a band.
type expPlot struct {
	Metric        string
	Width, Height int
	Lines         []expLine
	Days          []string
}

type expLine struct {
	Name, Class  string
	Points, Band string
}

func (u *UI) experimentsPage(w http.ResponseWriter, r *http.Request) {
	d := expPage{Enabled: u.exp != nil}
	if u.exp != nil {
		for _, e := range u.exp.List() {
			row := expRow{Exp: e}
			res, err := u.exp.Results(e.ID)
			if err != nil {
				row.Error = err.Error()
			} else {
				row.Results = res
				for _, m := range []string{"conversion", "revenue_per_user", "ctr"} {
					if p, ok := plotSeries(res.Series, m); ok {
						row.Plots = append(row.Plots, p)
					}
				}
			}
			d.Rows = append(d.Rows, row)
		}
		fits := u.exp.PositionFits()
		names := make([]string, 0, len(fits))
		for name := range fits {
			names = append(names, name)
		}
		sort.Strings(names) // "" (all surfaces) first
		for _, name := range names {
			d.Positions = append(d.Positions, positionRow(name, fits[name]))
		}
	}
	u.render(w, r, http.StatusOK, "experiments.html", pageData{Title: "Experiments", Body: d})
}

// plotSeries lays out one metric of the daily series as SVG coordinates.
func plotSeries(series []experiment.Point, metric string) (expPlot, bool) {
	p := expPlot{Metric: metric, Width: 480, Height: 160}
	if len(series) < 2 {
		return p, false
	}
	pick := func(v experiment.PointVariant) experiment.Interval {
		switch metric {
		case "revenue_per_user":
			return v.RevenuePerUser
		case "ctr":
			return v.CTR
		}
		return v.Conversion
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, pt := range series {
		p.Days = append(p.Days, pt.Day)
		for _, v := range pt.Variants {
			iv := pick(v)
			lo, hi = min(lo, iv.Low), max(hi, iv.High)
		}
	}
	if hi <= lo {
		hi = lo + 1
	}
	x := func(i int) float64 { return 40 + float64(i)*float64(p.Width-60)/float64(len(series)-1) }
	y := func(v float64) float64 { return 10 + (hi-v)/(hi-lo)*float64(p.Height-30) }
	names := []string{}
	for _, v := range series[len(series)-1].Variants {
		names = append(names, v.Name)
	}
	for k, name := range names {
		var line, upper, lower []string
		for i, pt := range series {
			for _, v := range pt.Variants {
				if v.Name != name {
					continue
				}
				iv := pick(v)
				line = append(line, fmt.Sprintf("%.1f,%.1f", x(i), y(iv.Value)))
				upper = append(upper, fmt.Sprintf("%.1f,%.1f", x(i), y(iv.High)))
				lower = append([]string{fmt.Sprintf("%.1f,%.1f", x(i), y(iv.Low))}, lower...)
			}
		}
		p.Lines = append(p.Lines, expLine{Name: name, Class: fmt.Sprintf("s%d", k%6),
			Points: strings.Join(line, " "), Band: strings.Join(append(upper, lower...), " ")})
	}
	return p, true
}
