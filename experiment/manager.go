package experiment

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/store"
)

// Errors of the Manager; the API maps them to 404 and 409.
var (
	ErrNotFound = errors.New("no such experiment")
	ErrConflict = errors.New("conflict")
)

// Options configure a Manager.
type Options struct {
	// Path is the bbolt file of definitions and per-shopper outcomes.
	Path string
	// Impressions is the impression log every answer goes to.
	Impressions *impressions.Log
	// Price returns an item's price now (revenue = quantity × price at the
	// time of the purchase); false when it has none.
	Price func(ctx context.Context, itemID string) (float64, bool)
	// Shared, when set, is the store the experiments of several replicas
	// share (PostgreSQL): definitions and outcomes go there too, and
	// results are computed from it (see shared.go).
	Shared store.Experiments
	// FlushEvery is how often outcomes are written (default 2s).
	FlushEvery time.Duration
	// ExploreShare is the share (0 … 1) of recommendation answers whose
	// leading items are shuffled, so that the examination of each
	// position can be estimated free of the ranking's confounding
	// (impressions.Explores; 0: none).
	ExploreShare float64
	// SearchExploreShare is the same share for search answers
	// (ExploreSearch; experiments.search_explore_share).
	SearchExploreShare float64
	// CountAfterAck, with Shared, adds what an event batch counts to the
	// shared store in the background right after EventsAppended returns,
	// instead of before (config experiments.count_after_ack).
	CountAfterAck bool
	// CompactAfter is the longest the bytes of a forgotten shopper's
	// deleted outcomes stay in the file (bbolt keeps deleted records in
	// its free pages): Run rewrites it this long after the first such
	// deletion (default 1 minute; negative: never), as
	// privacy.compact_after does for the data file.
	CompactAfter time.Duration
	// FitAfter is how long after Run starts the first position fit comes
	// (FitPositions; default 1 minute, then hourly).
	FitAfter time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
}

// unit is what one shopper did inside one experiment.
type unit struct {
	Variant   int       `json:"v"`
	First     time.Time `json:"t"` // first exposure
	Exposures float64   `json:"e,omitempty"`
	Clicks    float64   `json:"c,omitempty"`
	Carts     float64   `json:"a,omitempty"`
	Orders    float64   `json:"o,omitempty"`
	Revenue   float64   `json:"r,omitempty"`
	// interleaving: clicks and purchases on items each team placed
	CreditA float64 `json:"ca,omitempty"`
	CreditB float64 `json:"cb,omitempty"`
}

var (
	bExps   = []byte("experiments")
	bUnits  = []byte("units")
	bSeen   = []byte("seen")
	bSeries = []byte("series")
	bPMin   = []byte("pmin")
	bPos    = []byte("positions")
)

// Manager holds the experiments, assigns shoppers, attributes what they
// do and computes results. It is an engine listener (EventsAppended).
// Its methods are safe for concurrent use.
type Manager struct {
	// fellBack counts, per experiment and variant (id + "\x00" + name),
	// the answers another model served in place of the variant's
	fellBack map[string]int64
	path     string
	dbMu     sync.RWMutex // write-locked only while Compact swaps the file
	db       *bolt.DB
	ps       impressions.Pseudonym // units are stored by pseudonym, never by id
	// compactAfter: Options.CompactAfter; forgotten: a forgotten shopper's
	// units were deleted since the last rewrite; compactions: rewrites done
	compactAfter time.Duration
	forgotten    bool
	compactions  atomic.Uint64
	// tagKey checks the attribution request ids carry (attribution.go)
	tagKey []byte
	// tagMACs holds reset HMACs keyed by tagKey (check)
	tagMACs sync.Pool
	// replica names this data directory's counts in the shared store
	replica string
	imp     *impressions.Log
	price   func(ctx context.Context, itemID string) (float64, bool)
	now     func() time.Time
	log     *slog.Logger
	every   time.Duration
	// explore: the share of recommendation answers shuffled (Explore)
	explore float64
	// exploreSearch: the share of search answers shuffled (ExploreSearch)
	exploreSearch float64
	// fitAfter: Options.FitAfter
	fitAfter time.Duration

	mu    sync.RWMutex
	exps  map[string]*Experiment
	units map[string]map[string]*unit // experiment → unit id → outcomes
	dirty map[string]map[string]bool
	seen  map[string]bool // attributed (experiment, request, item, type)
	fresh []string        // seen keys not yet written
	pmin  map[string]float64
	// duels: this replica's counts of the challenges it last shared
	// (duel.go)
	duels map[string]impressions.DuelTally

	// shared: the store of several replicas (nil: this file only); deltas
	// queued for it (exposed: index of a unit's exposure delta), and the
	// units of deleted shoppers to forget there
	shared store.Experiments
	pushMu sync.Mutex // one push to the shared store at a time
	// afterAck: push counted events from Run (kick) rather than in
	// EventsAppended
	afterAck bool
	kick     chan struct{}
	deltas   []store.ExperimentDelta
	exposed  map[string]int
	forgot   []string

	// pos holds the examination propensities fitted from the impression
	// log, per surface ("" for all): map[string]impressions.Propensities
	pos atomic.Pointer[map[string]impressions.Propensities]
}

// Open opens (creating it) the experiment store at opts.Path and loads
// every experiment and its outcomes.
func Open(opts Options) (*Manager, error) {
	if opts.Impressions == nil {
		return nil, errors.New("experiment: no impression log")
	}
	m := &Manager{imp: opts.Impressions, price: opts.Price, now: opts.Now, log: opts.Logger, every: opts.FlushEvery,
		exps: map[string]*Experiment{}, units: map[string]map[string]*unit{}, dirty: map[string]map[string]bool{},
		seen: map[string]bool{}, pmin: map[string]float64{}, shared: opts.Shared, exposed: map[string]int{},
		explore: opts.ExploreShare, exploreSearch: opts.SearchExploreShare, afterAck: opts.CountAfterAck, kick: make(chan struct{}, 1), fellBack: map[string]int64{},
		fitAfter: opts.FitAfter}
	if opts.ExploreShare < 0 || opts.ExploreShare > 1 || math.IsNaN(opts.ExploreShare) {
		return nil, fmt.Errorf("experiment: explore share %v: want 0 … 1", opts.ExploreShare)
	}
	if x := opts.SearchExploreShare; x < 0 || x > 1 || math.IsNaN(x) {
		return nil, fmt.Errorf("experiment: search explore share %v: want 0 … 1", x)
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.every <= 0 {
		m.every = 2 * time.Second
	}
	if m.price == nil {
		m.price = func(context.Context, string) (float64, bool) { return 0, false }
	}
	m.path, m.compactAfter = opts.Path, opts.CompactAfter
	if m.compactAfter == 0 {
		m.compactAfter = time.Minute
	}
	db, err := bolt.Open(opts.Path, 0o600, dbOptions())
	if err != nil {
		return nil, fmt.Errorf("open the experiment store %s: %w (is another aisle using this data directory?)", opts.Path, err)
	}
	m.db = db
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bExps, bUnits, bSeen, bSeries, bPMin, bPos} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		var err error
		if m.ps, err = impressions.LoadPseudonym(tx); err != nil {
			return err
		}
		if err := tx.Bucket(bExps).ForEach(func(k, v []byte) error {
			var e Experiment
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("experiment %s: %w", k, err)
			}
			m.exps[e.ID] = &e
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bUnits).ForEach(func(k, v []byte) error {
			exp, id, ok := splitKey(k)
			if !ok {
				return nil
			}
			var u unit
			if err := json.Unmarshal(v, &u); err != nil {
				return fmt.Errorf("outcomes of %q in %s: %w", id, exp, err)
			}
			m.unitsOf(exp)[id] = &u
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bSeen).ForEach(func(k, _ []byte) error { m.seen[string(k)] = true; return nil }); err != nil {
			return err
		}
		if v := tx.Bucket(bPos).Get([]byte("replica")); len(v) > 0 {
			m.replica = string(v)
		} else {
			var r [8]byte
			rand.Read(r[:])
			m.replica = hex.EncodeToString(r[:])
			if err := tx.Bucket(bPos).Put([]byte("replica"), []byte(m.replica)); err != nil {
				return err
			}
		}
		if v := tx.Bucket(bPos).Get([]byte("pbm")); v != nil {
			var fits map[string]impressions.Propensities
			if json.Unmarshal(v, &fits) == nil {
				m.pos.Store(&fits)
			}
		}
		return tx.Bucket(bPMin).ForEach(func(k, v []byte) error {
			var p float64
			if json.Unmarshal(v, &p) == nil {
				m.pmin[string(k)] = p
			}
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("load experiments from %s: %w", opts.Path, err)
	}
	if m.shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
		defer cancel()
		m.units = map[string]map[string]*unit{} // keyed by the shared pseudonym from now on
		if err := m.openShared(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("load the experiments shared by the replicas: %w", err)
		}
	}
	m.tagKey = m.ps.Derive(tagKeyLabel) // the shared key's on a shared store
	return m, nil
}

func key(exp, id string) []byte { return []byte(exp + "\x00" + id) }

func splitKey(k []byte) (string, string, bool) {
	for i, c := range k {
		if c == 0 {
			return string(k[:i]), string(k[i+1:]), true
		}
	}
	return "", "", false
}

func (m *Manager) unitsOf(exp string) map[string]*unit {
	us := m.units[exp]
	if us == nil {
		us = map[string]*unit{}
		m.units[exp] = us
	}
	return us
}

func (m *Manager) markDirty(exp, id string) {
	d := m.dirty[exp]
	if d == nil {
		d = map[string]bool{}
		m.dirty[exp] = d
	}
	d[id] = true
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return "exp_" + hex.EncodeToString(b[:])
}

// Create validates e, refuses it when an experiment already runs on its
// surface (a shopper is in at most one experiment per surface), and starts
// it now.
func (m *Manager) Create(e Experiment) (Experiment, error) {
	if err := e.Validate(); err != nil {
		return Experiment{}, err
	}
	if m.shared != nil {
		// another replica may have started one on the surface
		ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
		err := m.syncDefs(ctx)
		cancel()
		if err != nil {
			return Experiment{}, fmt.Errorf("read the experiments shared by the replicas: %w", err)
		}
	}
	now := m.now().UTC()
	if e.Ends != nil && !e.Ends.After(now) {
		return Experiment{}, fmt.Errorf("ends %s: give a time after now (%s), or leave it out and stop the experiment with POST /api/experiments/{id}/stop", e.Ends.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.exps {
		if o.Status == Running && o.Surface == e.Surface && !o.Over(now) {
			return Experiment{}, fmt.Errorf("%w: experiment %s (%q) already runs on surface %s: stop it first (POST /api/experiments/%s/stop)", ErrConflict, o.ID, o.Name, o.Surface, o.ID)
		}
	}
	e.ID = newID()
	e.Salt = e.ID
	e.Status = Running
	e.Winner = ""
	e.Created, e.Started, e.Ended = now, now, nil
	if err := m.put(&e); err != nil {
		return Experiment{}, err
	}
	m.exps[e.ID] = &e
	return e, nil
}

func (m *Manager) put(e *Experiment) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := m.putShared(e); err != nil {
		return fmt.Errorf("save experiment %s in the shared store: %w", e.ID, err)
	}
	if err := m.update(func(tx *bolt.Tx) error { return tx.Bucket(bExps).Put([]byte(e.ID), b) }); err != nil {
		return fmt.Errorf("save experiment %s: %w (is the disk full?)", e.ID, err)
	}
	return nil
}

// List returns every experiment, newest first.
func (m *Manager) List() []Experiment {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Experiment, 0, len(m.exps))
	for _, e := range m.exps {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

// Get returns one experiment.
func (m *Manager) Get(id string) (Experiment, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.exps[id]
	if !ok {
		return Experiment{}, fmt.Errorf("%w %q: see GET /api/experiments", ErrNotFound, id)
	}
	return *e, nil
}

// Stop ends a running experiment: its shoppers get the default again and
// its results stay as they are.
func (m *Manager) Stop(id string) (Experiment, error) { return m.end(id, "") }

// EndDue stops every running experiment whose planned end (Ends) has
// passed, with Ended = Ends. Run calls it on every flush; serving and
// counting already treat such an experiment as ended.
func (m *Manager) EndDue() {
	now := m.now()
	var due []string
	m.mu.RLock()
	for _, e := range m.exps {
		if e.Status == Running && e.Over(now) {
			due = append(due, e.ID)
		}
	}
	m.mu.RUnlock()
	for _, id := range due {
		if _, err := m.end(id, ""); err != nil && !errors.Is(err, ErrConflict) {
			m.log.Warn("stopping an experiment at its planned end failed; will retry", "experiment", id, "error", err)
		}
	}
}

// Ship ends a running (or stopped) experiment and serves the variant
// winner to every shopper of its surface, until another experiment on the
// surface starts or another is shipped.
func (m *Manager) Ship(id, winner string) (Experiment, error) {
	if winner == "" {
		return Experiment{}, fmt.Errorf("ship: name the variant to ship, e.g. {\"variant\":\"b\"}")
	}
	return m.end(id, winner)
}

func (m *Manager) end(id, winner string) (Experiment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.exps[id]
	if !ok {
		return Experiment{}, fmt.Errorf("%w %q: see GET /api/experiments", ErrNotFound, id)
	}
	c := *e
	if winner == "" {
		if c.Status != Running {
			return Experiment{}, fmt.Errorf("%w: experiment %s is already %s", ErrConflict, id, c.Status)
		}
		c.Status = Stopped
	} else {
		if c.Status == Shipped {
			return Experiment{}, fmt.Errorf("%w: experiment %s already shipped %s", ErrConflict, id, c.Winner)
		}
		if _, ok := c.Variant(winner); !ok {
			return Experiment{}, fmt.Errorf("ship: experiment %s has no variant %q", id, winner)
		}
		for _, o := range m.exps {
			if o.ID != id && o.Status == Shipped && o.Surface == c.Surface {
				o.Status = Stopped // the newer ship replaces it
				if err := m.put(o); err != nil {
					return Experiment{}, err
				}
			}
		}
		c.Status, c.Winner = Shipped, winner
	}
	if c.Ended == nil {
		t := m.now().UTC()
		if c.Over(t) {
			t = *c.Ends
		}
		c.Ended = &t
	}
	if err := m.put(&c); err != nil {
		return Experiment{}, err
	}
	*e = c
	return c, nil
}

// Assignment is how one answer is served.
type Assignment struct {
	Experiment string // "" when no experiment runs: Overrides may still hold a shipped winner
	Variant    string // the label answers carry: a variant's name, or "interleaved"
	Index      int
	Overrides  Overrides
	// Interleave holds the two rankers' overrides of an interleaving
	// experiment (Overrides is then unused).
	Interleave *[2]Overrides
}

// Serve returns the assignment of unit (a user id, or a session id) on
// surface: the running experiment's variant, or the shipped winner, or
// nothing. ok is false when nothing changes the default.
func (m *Manager) Serve(surface, unitID string) (Assignment, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(m.exps) == 0 {
		return Assignment{}, false // every answer asks: not even the clock
	}
	var shipped *Experiment
	now := m.now()
	for _, e := range m.exps {
		switch {
		case e.Surface != surface:
		case e.Status == Running && e.Over(now):
		case e.Status == Running && unitID != "":
			if e.Method == MethodInterleave {
				return Assignment{Experiment: e.ID, Variant: "interleaved", Index: -1,
					Interleave: &[2]Overrides{e.Variants[0].Overrides, e.Variants[1].Overrides}}, true
			}
			i := e.Assign(unitID)
			return Assignment{Experiment: e.ID, Variant: e.Variants[i].Name, Index: i, Overrides: e.Variants[i].Overrides}, true
		case e.Status == Shipped:
			shipped = e
		}
	}
	if shipped != nil {
		i, _ := shipped.Variant(shipped.Winner)
		return Assignment{Index: -1, Overrides: shipped.Variants[i].Overrides}, true
	}
	return Assignment{}, false
}

// ModelFellBack records that an answer of experiment id's variant was
// served by model instead of the variant's own (which did not serve); the
// first time per variant it says so in the log. Results report the count.
func (m *Manager) ModelFellBack(id, variant, want, model string) {
	m.mu.Lock()
	k := id + "\x00" + variant
	m.fellBack[k]++
	first := m.fellBack[k] == 1
	m.mu.Unlock()
	if first {
		m.log.Warn("an experiment's variant names a model that does not serve: the primary answers instead, and the variant's results count those answers (see model_fallbacks)",
			"experiment", id, "variant", variant, "model", want, "served", model)
	}
}

// Shown logs an answer as an impression (in the background) and, inside
// an experiment, counts the exposure of unitID. It never blocks on I/O.
func (m *Manager) Shown(imp impressions.Impression, unitID string) {
	if imp.Time.IsZero() {
		imp.Time = m.now()
	}
	m.imp.Add(imp)
	if imp.Experiment == "" || unitID == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.exps[imp.Experiment]
	if !ok || e.Status != Running || e.Over(imp.Time) {
		return
	}
	unitID = m.ps.Of(unitID)
	us := m.unitsOf(e.ID)
	u := us[unitID]
	if u == nil {
		idx := -1
		if e.Method == MethodAB {
			idx, _ = e.Variant(imp.Variant)
		}
		u = &unit{Variant: idx, First: imp.Time}
		us[unitID] = u
	}
	u.Exposures++
	m.markDirty(e.ID, unitID)
	m.addDelta(store.ExperimentDelta{ExperimentOutcome: store.ExperimentOutcome{Experiment: e.ID, Unit: unitID, Variant: u.Variant, First: u.First, Exposures: 1}})
}

// Impressions returns the impression log.
func (m *Manager) Impressions() *impressions.Log { return m.imp }

// EventsAppended attributes clicks, carts and purchases of shoppers in
// running experiments: a click counts when it carries the request id of
// an answer of the experiment (once per request and item); carts and
// purchases count from the shopper's first exposure on (once per request
// and item when they carry a request id). A purchase's revenue is its
// quantity (value, default 1) times the item's price when it arrives.
func (m *Manager) EventsAppended(evs []events.Event) {
	if !m.countEvents(evs) || m.shared == nil {
		return
	}
	if m.afterAck {
		select { // Run pushes them at once
		case m.kick <- struct{}{}:
		default:
		}
		return
	}
	// on a shared store, what they count is added before the events are
	// acknowledged (this runs inside their append), so results on every
	// replica count them as soon as the shop has its answer
	ctx, cancel := context.WithTimeout(context.Background(), pushTimeout)
	defer cancel()
	if err := m.pushShared(ctx); err != nil {
		m.log.Warn("adding experiment outcomes to the shared store failed; will retry", "error", err)
	}
}

// countEvents attributes evs (EventsAppended) and reports whether it
// counted any.
func (m *Manager) countEvents(evs []events.Event) (counted bool) {
	type found struct {
		imp impressions.Impression
		ok  bool
	}
	var imps map[string]found
	for _, e := range evs {
		if e.RequestID == "" || (e.Type != events.Click && e.Type != events.AddToCart && e.Type != events.Purchase) {
			continue
		}
		if imps == nil {
			imps = map[string]found{}
		}
		if _, done := imps[e.RequestID]; !done {
			imp, ok, err := m.imp.Get(e.RequestID)
			if err != nil {
				m.log.Warn("attribution: cannot read the impression", "request_id", e.RequestID, "error", err)
			}
			if !ok {
				// served by another replica (or dropped from the log):
				// the id itself says where and in which variant
				m.mu.RLock()
				imp, ok = m.taggedImpression(e.RequestID)
				m.mu.RUnlock()
			}
			imps[e.RequestID] = found{imp, ok}
		}
		if f := imps[e.RequestID]; f.ok && e.Type == events.Click {
			// the position clicked, for the examination propensities
			if p := slices.Index(f.imp.Items, e.ItemID); p >= 0 {
				m.imp.Click(e.RequestID, p+1)
			}
		}
	}
	prices := map[string]float64{}
	for _, e := range evs {
		if e.Type == events.Purchase {
			if _, ok := prices[e.ItemID]; !ok {
				p, _ := m.price(context.Background(), e.ItemID)
				prices[e.ItemID] = p
			}
		}
	}
	cut := m.attributionCut()
	if m.shared != nil && !m.afterAck {
		m.learnUnits(evs)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range evs {
		if e.Type != events.Click && e.Type != events.AddToCart && e.Type != events.Purchase {
			continue
		}
		if tooOld(e, cut) {
			continue // its counted key may be trimmed: never count it
		}
		for _, x := range m.exps {
			if x.Status != Running || x.Over(e.Timestamp) {
				continue
			}
			us := m.units[x.ID]
			id := m.ps.Of(e.UserID)
			u := us[id]
			if u == nil && e.SessionID != "" {
				id = m.ps.Of(e.SessionID)
				u = us[id]
			}
			f := imps[e.RequestID]
			inExp := f.ok && f.imp.Experiment == x.ID
			if u == nil && inExp {
				// an answer of the experiment served to a shopper this
				// replica has not exposed (another replica served it):
				// the shopper is in the answer's variant from its time
				u, id = m.unitFromAnswer(x, f.imp, e)
			}
			if u == nil || e.Timestamp.Before(u.First.Add(-time.Minute)) {
				continue
			}
			if e.RequestID != "" {
				k := x.ID + "\x00" + e.RequestID + "\x00" + e.ItemID + "\x00" + string(e.Type)
				if m.seen[k] {
					continue // counted once
				}
				m.seen[k] = true
				m.fresh = append(m.fresh, k)
			}
			d := store.ExperimentDelta{ExperimentOutcome: store.ExperimentOutcome{Experiment: x.ID, Unit: id, Variant: u.Variant, First: u.First}, Key: eventKey(e)}
			switch e.Type {
			case events.Click:
				if !inExp {
					continue // a click on another surface's answer
				}
				d.Clicks = 1
			case events.AddToCart:
				d.Carts = 1
			case events.Purchase:
				q := 1.0
				if e.Value != nil {
					q = *e.Value
				}
				d.Orders, d.Revenue = 1, q*prices[e.ItemID]
			}
			if inExp && len(f.imp.Teams) > 0 && e.Type != events.AddToCart {
				if p := slices.Index(f.imp.Items, e.ItemID); p >= 0 && p < len(f.imp.Teams) {
					if f.imp.Teams[p] == 0 {
						d.CreditA = 1
					} else {
						d.CreditB = 1
					}
				}
			}
			u.Clicks += d.Clicks
			u.Carts += d.Carts
			u.Orders += d.Orders
			u.Revenue += d.Revenue
			u.CreditA += d.CreditA
			u.CreditB += d.CreditB
			m.markDirty(x.ID, id)
			m.addDelta(d)
			counted = true
		}
	}
	return counted
}

// unitFromAnswer adds the unit of event e (its user, else its session) to
// experiment x in the variant of imp, an answer of x served elsewhere,
// first exposed at the answer's time; nil when the variant is not x's A/B
// variant (interleaving credits only the replica holding the teams).
// m.mu is held.
func (m *Manager) unitFromAnswer(x *Experiment, imp impressions.Impression, e events.Event) (*unit, string) {
	i, ok := x.Variant(imp.Variant)
	if !ok || x.Method == MethodInterleave {
		return nil, ""
	}
	id := m.ps.Of(e.UserID)
	if id == "" {
		id = m.ps.Of(e.SessionID)
	}
	if id == "" {
		return nil, ""
	}
	u := &unit{Variant: i, First: imp.Time}
	m.unitsOf(x.ID)[id] = u
	return u, id
}

// ItemsUpserted, ItemsDeleted and UserDeleted complete engine.Listener.
func (m *Manager) ItemsUpserted([]catalog.Item) {}

// ItemsDeleted is part of engine.Listener.
func (m *Manager) ItemsDeleted([]string) {}

// UserDeleted forgets a deleted user (privacy): their outcomes (results
// no longer count them) and their impressions.
func (m *Manager) UserDeleted(id string) {
	m.imp.Forget(id)
	pid := m.ps.Of(id)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.shared != nil {
		m.forgot = append(m.forgot, pid)
	}
	for exp, us := range m.units {
		if _, ok := us[pid]; ok {
			delete(us, pid)
			m.markDirty(exp, pid)
			m.forgotten = true
		}
	}
}

// Run writes outcomes every FlushEvery and records the daily results
// series every hour, until ctx ends; it then writes what is left and
// rewrites the file when a forgotten shopper's units were deleted since
// the last rewrite (CompactAfter permitting). Run it
// once in the owner's goroutine group, and the impression log's Run too.
func (m *Manager) Run(ctx context.Context) error {
	flush := time.NewTicker(m.every)
	defer flush.Stop()
	snap := time.NewTicker(time.Hour)
	defer snap.Stop()
	fit := time.NewTimer(cmp.Or(m.fitAfter, time.Minute)) // then hourly
	defer fit.Stop()
	var compactAt time.Time   // zero: no forgotten units wait for a rewrite
	var push <-chan time.Time // on a shared store: exposures within pushEvery
	if m.shared != nil {
		t := time.NewTicker(pushEvery)
		defer t.Stop()
		push = t.C
	}
	for {
		select {
		case <-m.kick:
			if err := m.pushQueued(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("adding experiment outcomes to the shared store failed; will retry", "error", err)
			}
		case <-push:
			if err := m.pushQueued(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("adding experiment outcomes to the shared store failed; will retry", "error", err)
			}
		case <-ctx.Done():
			m.snapshot()
			if err := m.Flush(); err != nil {
				return err
			}
			// a rewrite due is in memory only: a next start would leave the
			// forgotten shoppers' units in bbolt's free pages
			m.mu.Lock()
			forgotten := m.forgotten
			m.forgotten = false
			m.mu.Unlock()
			if (forgotten || !compactAt.IsZero()) && m.compactAfter > 0 {
				return m.Compact()
			}
			return nil
		case <-flush.C:
			if err := m.Flush(); err != nil {
				m.log.Error("writing experiment outcomes failed; will retry", "error", err)
			}
			m.EndDue()
			m.mu.Lock()
			forgotten := m.forgotten
			m.forgotten = false
			m.mu.Unlock()
			now := m.now()
			if forgotten && compactAt.IsZero() && m.compactAfter > 0 {
				compactAt = now.Add(m.compactAfter)
			}
			if !compactAt.IsZero() && !now.Before(compactAt) {
				compactAt = time.Time{}
				if err := m.Compact(); err != nil {
					m.log.Warn("rewriting the experiment store after a forget failed; will retry", "error", err)
					compactAt = now.Add(m.compactAfter)
				}
			}
		case <-snap.C:
			m.snapshot()
			if err := m.TrimCounted(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("trimming the counted events failed; will retry in an hour", "error", err)
			}
		case <-fit.C:
			if err := m.FitPositions(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("fitting the position bias failed; the previous fit stays", "error", err)
			}
			fit.Reset(time.Hour)
		}
	}
}

// FitPositions estimates the examination propensities of positions from
// the impression log and its clicks (impressions.Log.Fit), keeps them for
// PositionWeight and writes them to the store. Run does it a minute after
// the start and then hourly.
func (m *Manager) FitPositions(ctx context.Context) error {
	fits, err := m.imp.Fit(ctx, impressions.FitOptions{MinExploredViews: minExploredViews})
	if err != nil {
		return err
	}
	if m.shared != nil {
		// the explored answers of every replica, so that all weigh alike
		merged, err := m.fitsAcrossReplicas(ctx, fits)
		if err != nil {
			m.log.Warn("sharing the position fit with the other replicas failed; this replica's own fit is used", "error", err)
		} else {
			fits = merged
		}
		// and the interleaved answers of the search ranker's challenges
		if err := m.shareAllDuels(ctx); err != nil {
			m.log.Warn("sharing the challenge counts with the other replicas failed; will retry in an hour", "error", err)
		}
	}
	b, err := json.Marshal(fits)
	if err != nil {
		return err
	}
	if err := m.update(func(tx *bolt.Tx) error { return tx.Bucket(bPos).Put([]byte("pbm"), b) }); err != nil {
		return fmt.Errorf("save the position bias fit: %w", err)
	}
	m.pos.Store(&fits)
	if f, ok := fits[""]; ok {
		m.log.Info("position bias fitted from the impression log", "lists", f.Lists, "theta", f.Theta)
	}
	return nil
}

// PositionFits returns the last fit of the examination propensities per
// surface ("" for all surfaces); nil before the first fit.
func (m *Manager) PositionFits() map[string]impressions.Propensities {
	fits := m.pos.Load()
	if fits == nil {
		return nil
	}
	return *fits
}

// minExploredViews is how many views in explored answers a position
// needs for its own θ (impressions.FitOptions.MinExploredViews).
const minExploredViews = 100

// minListsForSurface is how many answers of a surface its fit needs
// before PositionWeight uses it.
const minListsForSurface = 1000

// Propensities returns the last fit of the examination propensities of
// surface when it read at least 1,000 of its answers; nil otherwise. The
// fit over every surface ("", on the dashboard) is never used in its
// place: personalised surfaces make it too steep (docs/experiments.md).
// For the same reason a surface other than search (where the query is the
// context of relevance) is trusted only with a fit from its explored
// answers (Method "randomised", experiments.explore_share), never by EM.
func (m *Manager) Propensities(surface string) *impressions.Propensities {
	fits := m.pos.Load()
	if fits == nil {
		return nil
	}
	if f, ok := (*fits)[surface]; ok && f.Lists >= minListsForSurface && (surface == "search" || f.Method == "randomised") {
		return &f
	}
	return nil
}

// Explore reports whether the answer requestID is one of the explored
// share whose leading items are shuffled (impressions.Explores with
// Options.ExploreShare).
func (m *Manager) Explore(requestID string) bool {
	return impressions.Explores(requestID, m.explore)
}

// ExploreSearch reports whether the search answer requestID is one of the
// explored share (Options.SearchExploreShare) whose first page, when it
// may be (api: relevance order, nothing pinned, sponsored or moved by a
// rule in its first 10), is shuffled.
func (m *Manager) ExploreSearch(requestID string) bool {
	return impressions.Explores(requestID, m.exploreSearch)
}

// PositionWeight is the inverse propensity weight of an action on the
// item at position pos (1-based; 0 unknown) of an answer of surface: how
// much more a click there says about relevance than a click at the top
// (1 before the first fit, at most impressions.MaxWeight).
func (m *Manager) PositionWeight(surface string, pos int) float64 {
	return m.Propensities(surface).Weight(pos)
}

// EventPositionWeight is the inverse propensity weight of an event for a
// learner that sums what shoppers do (popular and trending lists): 1/θ_k
// of the surface of the answer the event's request id names, at the
// event's position k (PositionWeight). It is 1 for an event without a
// request id or a position, an answer no longer in the impression log, or
// a surface without a trusted fit (Propensities: on recommendation
// surfaces only one from explored answers).
func (m *Manager) EventPositionWeight(e events.Event) float64 {
	if e.Position < 1 || e.RequestID == "" || m.pos.Load() == nil {
		return 1
	}
	// the surface the id carries, the same on every replica; else the
	// one the impression log holds (ids made before they carried it)
	if t, ok := m.Attribution(e.RequestID); ok && t.Surface != "" {
		return m.PositionWeight(t.Surface, e.Position)
	}
	imp, ok, err := m.imp.Get(e.RequestID)
	if err != nil || !ok {
		return 1
	}
	return m.PositionWeight(imp.Surface, e.Position)
}

// Flush writes the outcomes changed since the last flush (and adds them
// to the shared store, when there is one).
func (m *Manager) Flush() error {
	if m.shared != nil {
		if err := m.flushShared(context.Background()); err != nil {
			m.log.Warn("adding experiment outcomes to the shared store failed; will retry", "error", err)
		}
	}
	m.mu.Lock()
	type rec struct {
		k, v []byte
	}
	var recs []rec
	for exp, ids := range m.dirty {
		for id := range ids {
			var v []byte
			if u := m.units[exp][id]; u != nil {
				v, _ = json.Marshal(u)
			}
			recs = append(recs, rec{key(exp, id), v})
		}
	}
	fresh := m.fresh
	m.dirty, m.fresh = map[string]map[string]bool{}, nil
	m.mu.Unlock()
	if len(recs) == 0 && len(fresh) == 0 {
		return nil
	}
	return m.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bUnits)
		for _, r := range recs {
			var err error
			if r.v == nil {
				err = b.Delete(r.k)
			} else {
				err = b.Put(r.k, r.v)
			}
			if err != nil {
				return fmt.Errorf("write experiment outcomes: %w", err)
			}
		}
		s := tx.Bucket(bSeen)
		for _, k := range fresh {
			if err := s.Put([]byte(k), nil); err != nil {
				return fmt.Errorf("write attributed events: %w", err)
			}
		}
		return nil
	})
}

// snapshot stores today's results of every running experiment in its
// series (one point a day, the last of the day wins).
func (m *Manager) snapshot() {
	for _, e := range m.List() {
		if e.Status != Running {
			continue
		}
		r, err := m.Results(e.ID)
		if err != nil {
			continue
		}
		day := m.now().UTC().Format("2006-01-02")
		p := Point{Day: day}
		for _, v := range r.Variants {
			p.Variants = append(p.Variants, PointVariant{Name: v.Name, Users: v.Users, Conversion: v.Conversion, RevenuePerUser: v.RevenuePerUser, CTR: v.CTR})
		}
		b, _ := json.Marshal(p)
		if err := m.update(func(tx *bolt.Tx) error { return tx.Bucket(bSeries).Put(key(e.ID, day), b) }); err != nil {
			m.log.Warn("recording the experiment series failed", "experiment", e.ID, "error", err)
		}
		if m.shared != nil {
			// every replica snapshots the same shared results: the last
			// of the day wins, the same for all
			ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
			err := m.shared.PutExperimentPoint(ctx, e.ID, day, b)
			cancel()
			if err != nil {
				m.log.Warn("recording the experiment series in the shared store failed", "experiment", e.ID, "error", err)
			}
		}
	}
}

// Close writes what is left and closes the store. Run must have returned.
func (m *Manager) Close() error {
	err := m.Flush()
	m.dbMu.Lock()
	defer m.dbMu.Unlock()
	return errors.Join(err, m.db.Close())
}

func dbOptions() *bolt.Options { return &bolt.Options{Timeout: 5 * time.Second} }

func (m *Manager) view(fn func(*bolt.Tx) error) error {
	m.dbMu.RLock()
	defer m.dbMu.RUnlock()
	return m.db.View(fn)
}

func (m *Manager) update(fn func(*bolt.Tx) error) error {
	m.dbMu.RLock()
	defer m.dbMu.RUnlock()
	return m.db.Update(fn)
}

// Compact writes the pending outcomes, then rewrites the store's file with
// only its live records, so that a forgotten shopper's deleted outcomes
// are in no file of the data directory (impressions.CompactFile). The
// store's reads and writes wait meanwhile.
func (m *Manager) Compact() error {
	if err := m.Flush(); err != nil {
		return err
	}
	m.dbMu.Lock()
	defer m.dbMu.Unlock()
	db, err := impressions.CompactFile(m.db, m.path, dbOptions())
	if db != nil {
		m.db = db
	}
	if err != nil {
		return fmt.Errorf("compact the experiment store: %w", err)
	}
	m.compactions.Add(1)
	return nil
}

// Compactions is how many times Compact rewrote the file.
func (m *Manager) Compactions() uint64 { return m.compactions.Load() }

// WriteSnapshot writes the outcomes changed since the last flush and then
// a consistent copy of the experiment store's file to w, for backups.
func (m *Manager) WriteSnapshot(ctx context.Context, w io.Writer) (int64, error) {
	if err := m.Flush(); err != nil {
		return 0, err
	}
	var n int64
	err := m.view(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	return n, err
}

// ctxWriter stops a long copy when its context ends.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
