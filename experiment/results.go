package experiment

import (
	"encoding/json"
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"
)

// Results are an experiment's numbers, per variant.
type Results struct {
	Experiment Experiment      `json:"experiment"`
	Variants   []VariantResult `json:"variants"`
	// SRM is the sample-ratio-mismatch check of users per variant.
	SRM SRMCheck `json:"srm"`
	// Interleaving is the verdict of an interleaving experiment.
	Interleaving *InterleaveResult `json:"interleaving,omitempty"`
	// Series holds one point a day for the dashboard's plots.
	Series []Point `json:"series"`
}

// VariantResult is one variant's metrics with 95% confidence intervals.
type VariantResult struct {
	Name      string  `json:"name"`
	Users     int     `json:"users"`
	Exposures float64 `json:"exposures"`
	Clicks    float64 `json:"clicks"`
	Carts     float64 `json:"carts"`
	Orders    float64 `json:"orders"`
	Revenue   float64 `json:"revenue"`
	// CTR is clicks per exposure; AddToCartRate and Conversion the share
	// of users who added to cart and who bought; RevenuePerUser the mean
	// revenue of a user; AOV the revenue per order.
	CTR            Interval `json:"ctr"`
	AddToCartRate  Interval `json:"add_to_cart_rate"`
	Conversion     Interval `json:"conversion"`
	RevenuePerUser Interval `json:"revenue_per_user"`
	AOV            Interval `json:"aov"`
	// ModelFallbacks counts this replica's answers of the variant that
	// another model served because the variant's model did not serve
	// (not trained or not loaded yet): those answers measured that model.
	ModelFallbacks int64 `json:"model_fallbacks"`
	// VsControl compares the variant with the first one, per metric
	// (absent for the control itself).
	VsControl map[string]Comparison `json:"vs_control,omitempty"`
	// UsersNeeded is how many more users each variant needs before the
	// primary metric can detect the experiment's MDE with 80% power at
	// 5% (0: enough).
	UsersNeeded float64 `json:"users_needed"`
}

// SRMCheck is Pearson's χ² test of users per variant against the weights.
type SRMCheck struct {
	Chi2     float64 `json:"chi2"`
	PValue   float64 `json:"p_value"`
	Mismatch bool    `json:"mismatch"` // p < 0.001: do not trust the results
}

// InterleaveResult is the verdict of team-draft interleaving: users whose
// clicks and purchases favoured each ranker, and the sign test between
// them.
type InterleaveResult struct {
	WinsA      int     `json:"wins_a"`
	WinsB      int     `json:"wins_b"`
	Ties       int     `json:"ties"`
	Preference float64 `json:"preference"` // (wins_b − wins_a)/(wins + ties): > 0 favours b
	PValue     float64 `json:"p_value"`
	Winner     string  `json:"winner,omitempty"` // the variant preferred at p < 0.05
}

// Point is one day of an experiment's metrics.
type Point struct {
	Day      string         `json:"day"`
	Variants []PointVariant `json:"variants"`
}

// PointVariant is one variant's metrics on a day.
type PointVariant struct {
	Name           string   `json:"name"`
	Users          int      `json:"users"`
	Conversion     Interval `json:"conversion"`
	RevenuePerUser Interval `json:"revenue_per_user"`
	CTR            Interval `json:"ctr"`
}

// Summary holds the per-variant sums of every metric.
type Summary struct {
	Users                                 int
	Exposures, Clicks, Carts, Orders, Rev float64
	CTR, Cart, Conv, RPU, AOV             Ratio
}

// Add adds one user's outcomes.
func (s *Summary) Add(exposures, clicks, carts, orders, revenue float64) {
	s.Users++
	s.Exposures += exposures
	s.Clicks += clicks
	s.Carts += carts
	s.Orders += orders
	s.Rev += revenue
	s.CTR.Add(exposures, clicks)
	s.Cart.Add(1, b2f01(carts > 0))
	s.Conv.Add(1, b2f01(orders > 0))
	s.RPU.Add(1, revenue)
	s.AOV.Add(orders, revenue)
}

func b2f01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Metric returns the named metric's accumulator.
func (s *Summary) Metric(name string) Ratio {
	switch name {
	case "ctr":
		return s.CTR
	case "add_to_cart_rate":
		return s.Cart
	case "conversion":
		return s.Conv
	case "revenue_per_user":
		return s.RPU
	}
	return s.AOV
}

// Analyse compares every variant with the first (the control) on every
// metric: lift with its interval, the always-valid p-value (running
// minimum with pmin, which it updates; nil for a single look), Holm's
// correction across variants × metrics, and the users still needed for
// mde on primary.
func Analyse(sums []Summary, names []string, primary string, mde float64, pmin map[string]float64) []VariantResult {
	out := make([]VariantResult, len(sums))
	type ref struct{ v, m int }
	var ps []float64
	var refs []ref
	for i, s := range sums {
		out[i] = VariantResult{Name: names[i], Users: s.Users, Exposures: s.Exposures, Clicks: s.Clicks, Carts: s.Carts, Orders: s.Orders, Revenue: s.Rev,
			CTR: s.CTR.NonNegCI(), AddToCartRate: s.Cart.WilsonCI(), Conversion: s.Conv.WilsonCI(), RevenuePerUser: s.RPU.NonNegCI(), AOV: s.AOV.NonNegCI()}
		if i == 0 {
			continue
		}
		out[i].VsControl = map[string]Comparison{}
		for mi, metric := range Metrics {
			c := sums[0].Metric(metric)
			cmp := Compare(sums[i].Metric(metric), c, mde*math.Abs(c.Value()))
			if pmin != nil {
				k := names[i] + "\x00" + metric
				cmp.PValue = Sequential(pmin[k], cmp.PValue)
				pmin[k] = cmp.PValue
			}
			out[i].VsControl[metric] = cmp
			ps = append(ps, cmp.PValue)
			refs = append(refs, ref{i, mi})
		}
	}
	adj := Holm(ps)
	for k, r := range refs {
		metric := Metrics[r.m]
		c := out[r.v].VsControl[metric]
		c.PAdjusted = adj[k]
		c.Significant = adj[k] < 0.05
		out[r.v].VsControl[metric] = c
	}
	c := sums[0].Metric(primary)
	need := SampleSize(c.UnitVar(), mde*math.Abs(c.Value()), 0.05, 0.8)
	for i := range out {
		if math.IsInf(need, 1) {
			out[i].UsersNeeded = -1 // unknown until the control has data
			continue
		}
		out[i].UsersNeeded = math.Max(0, need-float64(sums[i].Users))
	}
	return out
}

// Results computes an experiment's results from the outcomes so far.
func (m *Manager) Results(id string) (Results, error) {
	e, err := m.Get(id)
	if err != nil {
		return Results{}, err
	}
	names := make([]string, len(e.Variants))
	weights := make([]float64, len(e.Variants))
	for i, v := range e.Variants {
		names[i], weights[i] = v.Name, v.Weight
	}
	sums := make([]Summary, len(e.Variants))
	var il InterleaveResult
	var units []*unit
	if m.shared != nil {
		// every replica's outcomes
		if units, err = m.sharedUnits(id); err != nil {
			return Results{}, err
		}
	}
	m.mu.Lock()
	if m.shared == nil {
		for _, u := range m.units[id] {
			units = append(units, u)
		}
	}
	for _, u := range units {
		if e.Method == MethodInterleave {
			// every user saw both rankers: each metric is reported once
			// per team by credit, and the verdict by wins
			switch {
			case u.CreditA > u.CreditB:
				il.WinsA++
			case u.CreditB > u.CreditA:
				il.WinsB++
			case u.CreditA > 0:
				il.Ties++
			}
			sums[0].Add(u.Exposures, u.CreditA, 0, 0, 0)
			sums[1].Add(u.Exposures, u.CreditB, 0, 0, 0)
			continue
		}
		if u.Variant < 0 || u.Variant >= len(sums) {
			continue
		}
		sums[u.Variant].Add(u.Exposures, u.Clicks, u.Carts, u.Orders, u.Revenue)
	}
	pmin := map[string]float64{}
	for k, v := range m.pmin {
		if exp, rest, ok := splitKey([]byte(k)); ok && exp == id {
			pmin[rest] = v
		}
	}
	m.mu.Unlock()
	r := Results{Experiment: e, Series: []Point{}}
	r.Variants = Analyse(sums, names, e.PrimaryMetric, e.MDE, pmin)
	if m.shared != nil {
		// the running minimum over every replica's looks: lower the
		// shared one with this look, and report what it is now
		if pmin, err = m.sharedPMin(id, pmin, e.Status == Running); err != nil {
			return Results{}, err
		}
		r.Variants = Analyse(sums, names, e.PrimaryMetric, e.MDE, pmin)
	}
	m.mu.Lock()
	for i := range r.Variants {
		r.Variants[i].ModelFallbacks = m.fellBack[id+"\x00"+r.Variants[i].Name]
	}
	m.mu.Unlock()
	if e.Method == MethodInterleave {
		il.PValue = SignTest(float64(il.WinsA), float64(il.WinsB))
		if n := il.WinsA + il.WinsB + il.Ties; n > 0 {
			il.Preference = float64(il.WinsB-il.WinsA) / float64(n)
		}
		if il.PValue < 0.05 {
			il.Winner = names[0]
			if il.WinsB > il.WinsA {
				il.Winner = names[1]
			}
		}
		r.Interleaving = &il
	} else {
		obs := make([]float64, len(sums))
		for i := range sums {
			obs[i] = float64(sums[i].Users)
		}
		chi, p := SRM(obs, weights)
		r.SRM = SRMCheck{Chi2: chi, PValue: p, Mismatch: p < 0.001}
	}
	if e.Status == Running {
		m.mu.Lock()
		for k, v := range pmin {
			m.pmin[id+"\x00"+k] = v
		}
		m.mu.Unlock()
		if err := m.update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bPMin)
			for k, v := range pmin {
				raw, _ := json.Marshal(v)
				if err := b.Put(key(id, k), raw); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return r, fmt.Errorf("save the running p-values of %s: %w", id, err)
		}
	}
	if m.shared != nil {
		r.Series, err = m.sharedSeries(id)
		return r, err
	}
	err = m.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bSeries).Cursor()
		pre := key(id, "")
		for k, v := c.Seek(pre); k != nil && len(k) >= len(pre) && string(k[:len(pre)]) == string(pre); k, v = c.Next() {
			var p Point
			if json.Unmarshal(v, &p) == nil {
				r.Series = append(r.Series, p)
			}
		}
		return nil
	})
	return r, err
}
