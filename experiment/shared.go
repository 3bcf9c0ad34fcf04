package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/store"
)

// Several replicas (Options.Shared, the PostgreSQL store): definitions and
// outcomes live in the shared store, so every replica serves the same
// experiments and results count every replica's traffic.
//
//   - Definitions are written to the store when created, stopped or
//     shipped, and every replica reads them back every FlushEvery.
//   - Each replica counts what it sees as deltas (exposures of the answers
//     it served; clicks, carts and purchases on answers of an experiment,
//     which the request id names whichever replica served them
//     (attribution.go); carts and purchases of shoppers it exposed) and
//     adds them to the store: an event batch's before the batch is
//     acknowledged (or right after, with CountAfterAck), exposures every
//     pushEvery. An event reaches every replica (the change feed), so a delta counting an
//     event carries a key (the request id, item and type; or the event's
//     sequence number): the store adds a key once, whichever replica comes
//     first.
//   - Units are pseudonymised with a key the store keeps, the same on every
//     replica, so a shopper served by two replicas is one unit.
//   - Results are computed from the store's outcomes.

// sharedTimeout bounds one call to the shared store.
const sharedTimeout = 10 * time.Second

// openShared loads the shared key and definitions, and the outcomes of
// the running experiments (so this replica knows the shoppers others
// exposed).
func (m *Manager) openShared(ctx context.Context) error {
	key, err := m.shared.ExperimentKey(ctx)
	if err != nil {
		return err
	}
	m.ps = impressions.NewPseudonym(key)
	if err := m.syncDefs(ctx); err != nil {
		return err
	}
	for _, e := range m.List() {
		if e.Status != Running {
			continue
		}
		outs, err := m.shared.ExperimentOutcomes(ctx, e.ID)
		if err != nil {
			return err
		}
		m.mu.Lock()
		us := m.unitsOf(e.ID)
		for _, o := range outs {
			us[o.Unit] = &unit{Variant: o.Variant, First: o.First, Exposures: o.Exposures, Clicks: o.Clicks, Carts: o.Carts,
				Orders: o.Orders, Revenue: o.Revenue, CreditA: o.CreditA, CreditB: o.CreditB}
		}
		m.mu.Unlock()
	}
	return nil
}

// syncDefs reads the shared definitions: the store's version of each
// experiment replaces this replica's (written to its own file too).
func (m *Manager) syncDefs(ctx context.Context) error {
	defs, err := m.shared.ExperimentDefs(ctx)
	if err != nil {
		return err
	}
	var changed []*Experiment
	m.mu.Lock()
	for id, raw := range defs {
		var e Experiment
		if err := json.Unmarshal(raw, &e); err != nil {
			m.log.Warn("a shared experiment cannot be read; skipped", "experiment", id, "error", err)
			continue
		}
		if old, ok := m.exps[id]; ok {
			if b, _ := json.Marshal(old); string(b) == string(raw) {
				continue
			}
		}
		m.exps[id] = &e
		changed = append(changed, &e)
	}
	m.mu.Unlock()
	for _, e := range changed {
		b, _ := json.Marshal(e)
		if err := m.update(func(tx *bolt.Tx) error { return tx.Bucket(bExps).Put([]byte(e.ID), b) }); err != nil {
			return fmt.Errorf("save experiment %s: %w", e.ID, err)
		}
	}
	return nil
}

// putShared writes a definition to the shared store (when there is one).
func (m *Manager) putShared(e *Experiment) error {
	if m.shared == nil {
		return nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	return m.shared.PutExperiment(ctx, e.ID, b)
}

// addDelta queues a delta for the shared store; m.mu is held. Exposures
// (no key) of one unit are summed into one delta per flush.
func (m *Manager) addDelta(d store.ExperimentDelta) {
	if m.shared == nil {
		return
	}
	if d.Key == "" {
		k := d.Experiment + "\x00" + d.Unit
		if i, ok := m.exposed[k]; ok {
			m.deltas[i].Exposures += d.Exposures
			return
		}
		m.exposed[k] = len(m.deltas)
	}
	m.deltas = append(m.deltas, d)
}

// eventKey names an attributed event for the shared store: the request,
// item and type when it carries a request id (a retry counts once), else
// the event's sequence number (the same on every replica). Parts are
// separated by U+001F (PostgreSQL text holds no NUL).
func eventKey(e events.Event) string {
	if e.RequestID != "" {
		return "r:" + e.RequestID + "\x1f" + e.ItemID + "\x1f" + string(e.Type)
	}
	if e.Seq > 0 {
		return fmt.Sprint("s:", e.Seq)
	}
	return fmt.Sprint("t:", e.UserID, "\x1f", e.SessionID, "\x1f", e.ItemID, "\x1f", e.Type, "\x1f", e.Timestamp.UnixNano())
}

// pushEvery is how often a replica on a shared store adds its queued
// exposures (and anything else queued) to the store; events add what they
// count at once (EventsAppended).
const pushEvery = 200 * time.Millisecond

// pushTimeout bounds adding the outcomes of an event batch to the shared
// store while the batch waits for its acknowledgement.
const pushTimeout = 2 * time.Second

// flushShared adds the queued deltas and forgets the queued units in the
// shared store (pushShared), then reads its definitions.
func (m *Manager) flushShared(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	defer cancel()
	if err := m.pushShared(ctx); err != nil {
		return err
	}
	return m.syncDefs(ctx)
}

// pushQueued is pushShared when anything is queued.
func (m *Manager) pushQueued(ctx context.Context) error {
	m.mu.RLock()
	n := len(m.deltas) + len(m.forgot)
	m.mu.RUnlock()
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	defer cancel()
	return m.pushShared(ctx)
}

// pushShared adds the queued deltas and forgets the queued units in the
// shared store. Deltas that could not be added are queued again. Pushes
// run one at a time, so one that returns has seen every delta queued
// before it reach the store (a results request's push waits for the one
// in flight).
func (m *Manager) pushShared(ctx context.Context) error {
	m.pushMu.Lock()
	defer m.pushMu.Unlock()
	m.mu.Lock()
	deltas, forgot := m.deltas, m.forgot
	m.deltas, m.forgot, m.exposed = nil, nil, map[string]int{}
	m.mu.Unlock()
	err := m.shared.AddExperimentOutcomes(ctx, deltas)
	if err == nil {
		err = m.shared.ForgetExperimentUnits(ctx, forgot)
		deltas = nil
	}
	if err != nil {
		m.mu.Lock()
		for _, d := range deltas {
			m.addDelta(d)
		}
		m.forgot = append(m.forgot, forgot...)
		m.mu.Unlock()
		return err
	}
	return nil
}

// sharedUnits returns the outcomes of every unit of an experiment from
// the shared store, after adding this replica's queued deltas.
func (m *Manager) sharedUnits(id string) ([]*unit, error) {
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	if err := m.flushShared(ctx); err != nil {
		return nil, fmt.Errorf("results of %s: %w", id, err)
	}
	outs, err := m.shared.ExperimentOutcomes(ctx, id)
	if err != nil {
		return nil, err
	}
	us := make([]*unit, len(outs))
	for i, o := range outs {
		us[i] = &unit{Variant: o.Variant, First: o.First, Exposures: o.Exposures, Clicks: o.Clicks, Carts: o.Carts,
			Orders: o.Orders, Revenue: o.Revenue, CreditA: o.CreditA, CreditB: o.CreditB}
	}
	return us, nil
}

// sharedPMin merges this look's running minima of the p-values (keys
// variant NUL metric) with the shared store's: when lower is set (the
// experiment runs) the store's minima are lowered to this look's first.
// It returns the minimum of both per key, the same on every replica.
func (m *Manager) sharedPMin(id string, look map[string]float64, lower bool) (map[string]float64, error) {
	in := map[string]float64{}
	if lower {
		for k, p := range look {
			in[strings.ReplaceAll(k, "\x00", "\x1f")] = p // PostgreSQL text holds no NUL
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	stored, err := m.shared.LowerPValues(ctx, id, in)
	if err != nil {
		return nil, fmt.Errorf("results of %s: %w", id, err)
	}
	out := maps.Clone(look)
	for k, p := range stored {
		k = strings.ReplaceAll(k, "\x1f", "\x00")
		out[k] = Sequential(out[k], p)
	}
	return out, nil
}

// sharedSeries returns an experiment's daily points from the shared
// store (every replica's snapshots write the same shared results there).
func (m *Manager) sharedSeries(id string) ([]Point, error) {
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	raw, err := m.shared.ExperimentSeries(ctx, id)
	if err != nil {
		return nil, err
	}
	out := []Point{}
	for _, b := range raw {
		var p Point
		if err := json.Unmarshal(b, &p); err != nil {
			m.log.Warn("a shared point of an experiment's series cannot be read; skipped", "experiment", id, "error", err)
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// positionCounts is what a replica shares of its fit of the positions:
// per surface, the answers it read and the views and clicks per position
// of its explored ones (additive across replicas, unlike an EM fit).
type positionCounts map[string]surfaceCounts

type surfaceCounts struct {
	Lists    int     `json:"lists"`
	Explored int     `json:"explored"`
	Views    []int64 `json:"views"`
	Clicks   []int64 `json:"clicks"`
}

// sharedFitWindow is how old another replica's counts may be and still
// count (fits are hourly: a replica gone for longer no longer does).
const sharedFitWindow = 3 * time.Hour

// fitsAcrossReplicas writes this replica's counts of its explored answers
// to the shared store and returns fits whose θ, for every surface with at
// least impressions.MinExplored explored answers over all the replicas
// fitted within sharedFitWindow, comes from their summed views and clicks
// (Method "randomised"): the same on every replica, so each weighs a click
// alike. EM fits (search without exploration) stay this replica's own.
func (m *Manager) fitsAcrossReplicas(ctx context.Context, fits map[string]impressions.Propensities) (map[string]impressions.Propensities, error) {
	own := positionCounts{}
	for s, f := range fits {
		if s != "" && f.Explored > 0 {
			own[s] = surfaceCounts{Lists: f.Lists, Explored: f.Explored, Views: f.ExploredViews, Clicks: f.ExploredClicks}
		}
	}
	b, err := json.Marshal(own)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	defer cancel()
	now := m.now()
	if err := m.shared.PutPositionCounts(ctx, m.replica, b, now); err != nil {
		return nil, err
	}
	raw, err := m.shared.PositionCounts(ctx, now.Add(-sharedFitWindow))
	if err != nil {
		return nil, err
	}
	sum := positionCounts{}
	for _, r := range raw {
		var pc positionCounts
		if err := json.Unmarshal(r, &pc); err != nil {
			m.log.Warn("a replica's position counts cannot be read; skipped", "error", err)
			continue
		}
		for s, c := range pc {
			t := sum[s]
			t.Lists += c.Lists
			t.Explored += c.Explored
			for k := range max(len(c.Views), len(c.Clicks)) {
				if k >= len(t.Views) {
					t.Views, t.Clicks = append(t.Views, 0), append(t.Clicks, 0)
				}
				if k < len(c.Views) {
					t.Views[k] += c.Views[k]
				}
				if k < len(c.Clicks) {
					t.Clicks[k] += c.Clicks[k]
				}
			}
			sum[s] = t
		}
	}
	out := maps.Clone(fits)
	if out == nil {
		out = map[string]impressions.Propensities{}
	}
	for s, c := range sum {
		if c.Explored < impressions.MinExplored {
			continue
		}
		th := impressions.ThetaFromExplored(c.Views, c.Clicks, minExploredViews)
		if th == nil {
			continue
		}
		f := out[s]
		if f.Method == "em" {
			f.EMTheta = f.Theta // this replica's own EM fit, for comparison
		}
		f.Theta, f.ThetaSE, f.Method = th, impressions.ThetaSE(c.Views, c.Clicks), "randomised"
		f.Lists, f.Explored, f.ExploredViews, f.ExploredClicks, f.Fitted = c.Lists, c.Explored, c.Views, c.Clicks, now
		out[s] = f
	}
	return out, nil
}

// learnUnits reads from the shared store the shoppers of evs' carts and
// purchases that this replica has not exposed in a running A/B experiment
// but another replica has, so that it counts them before the events are
// acknowledged (an event without a request id is attributed by its
// shopper's first exposure, which may have been on another replica). One
// read per running experiment with such shoppers; a failed read leaves
// them to the replica that exposed them (it hears the events too).
func (m *Manager) learnUnits(evs []events.Event) {
	want := map[string][]string{} // experiment → unknown units
	m.mu.RLock()
	for _, x := range m.exps {
		if x.Status != Running || x.Method == MethodInterleave {
			continue
		}
		us := m.units[x.ID]
		seen := map[string]bool{}
		for _, e := range evs {
			// carts and purchases, and clicks on an answer (which may
			// be another replica's: its shopper, user or session, must be
			// found before a unit is made from the answer's variant)
			if e.Type != events.AddToCart && e.Type != events.Purchase && (e.Type != events.Click || e.RequestID == "") {
				continue
			}
			for _, id := range []string{e.UserID, e.SessionID} {
				if id == "" {
					continue
				}
				if p := m.ps.Of(id); us[p] == nil && !seen[p] {
					seen[p] = true
					want[x.ID] = append(want[x.ID], p)
				}
			}
		}
	}
	m.mu.RUnlock()
	for exp, units := range want {
		ctx, cancel := context.WithTimeout(context.Background(), pushTimeout)
		outs, err := m.shared.ExperimentUnits(ctx, exp, units)
		cancel()
		if err != nil {
			m.log.Warn("reading shoppers exposed by other replicas failed; they count there", "experiment", exp, "error", err)
			continue
		}
		m.mu.Lock()
		us := m.unitsOf(exp)
		for _, o := range outs {
			if us[o.Unit] == nil {
				us[o.Unit] = &unit{Variant: o.Variant, First: o.First}
			}
		}
		m.mu.Unlock()
	}
}
