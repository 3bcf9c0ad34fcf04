package shopsim

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/aisle-dev/aisle/experiment"
	"github.com/aisle-dev/aisle/impressions"
)

// Config sets up a simulation.
type Config struct {
	Days           int     // simulated days of the A/B test (default 7)
	ShoppersPerDay int     // visits a day (default 1000)
	InterleaveDays int     // days of the interleaving comparison (default 1)
	Pages          int     // most recommendation pages a visit browses (default 3)
	N              int     // items per page (default 10)
	PositionBias   float64 // examination probability of position k is 1/k^bias (default 1)
	Control        string  // model of the control variant (default popular)
	Treatment      string  // model of the treatment (default ease)
	AARuns         int     // A/A and power runs (default 200)
	Lift           float64 // the real lift of the power analysis (default 0.05)
	Workers        int     // concurrent shoppers (default 4)
	Seed           uint64
	Key            string // admin key of the server, if any
	// ExploreShare is the server's experiments.explore_share: the
	// simulator recomputes from each answer's request id whether it was
	// shuffled (impressions.Explores) and estimates θ from those pages too.
	ExploreShare float64
	// Progress, when set, receives a line per simulated day.
	Progress io.Writer
}

func (c *Config) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Days, 7)
	def(&c.ShoppersPerDay, 1000)
	def(&c.InterleaveDays, 1)
	def(&c.Pages, 3)
	def(&c.N, 10)
	def(&c.AARuns, 200)
	def(&c.Workers, 4)
	if c.PositionBias <= 0 {
		c.PositionBias = 1
	}
	if c.Control == "" {
		c.Control = "popular"
	}
	if c.Treatment == "" {
		c.Treatment = "ease"
	}
	if c.Lift <= 0 {
		c.Lift = 0.05
	}
}

// shopper is what the simulator saw of one user in the A/B test.
type shopper struct {
	variant  string
	firstDay int
	// per day: cumulative orders and revenue up to the end of that day
	orders, revenue []float64
}

// Sim drives one server.
type Sim struct {
	base string
	hc   *http.Client
	w    *World
	cfg  Config

	mu       sync.Mutex
	shoppers map[string]*shopper
	// pages shown by the control variant and by interleaving, with what
	// was clicked, for the inverse-propensity estimates
	pages map[string][]page
	// explored: the pages the server shuffled, of any variant
	explored []page
	// bought: the items each shopper bought in the simulation
	bought map[string]map[string]bool
}

// page is one logged answer and the items clicked on it.
type page struct {
	user    string
	items   []string
	clicked map[string]bool
	// cand is the candidate's page for the same shopper asked just
	// before this one was served (item → position from 1), and truth the
	// clicks the shopper would have made on it in expectation; nil and 0
	// outside the shadowed day (visitMode.shadow).
	cand  map[string]int
	truth float64
	// truthShown is the part of truth on items this page showed too
	truthShown float64
}

// visitMode says how a day's visits ask for their pages: model names the
// model to serve (?model=, "" for what the shop serves), shadow a
// candidate whose page is asked for first, for the offline estimate.
type visitMode struct {
	track         bool
	model, shadow string
}

// New returns a simulator of world against the server at base.
func New(base string, w *World, cfg Config) *Sim {
	cfg.defaults()
	return &Sim{base: base, w: w, cfg: cfg, hc: &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 32}},
		shoppers: map[string]*shopper{}, pages: map[string][]page{}, bought: map[string]map[string]bool{}}
}

func (s *Sim) do(ctx context.Context, method, path string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if s.cfg.Key != "" {
		req.Header.Set("Authorization", "Bearer "+s.cfg.Key)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusConflict {
		if len(b) > 400 {
			b = append(b[:400], "…"...)
		}
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

type event struct {
	UserID    string    `json:"user_id"`
	ItemID    string    `json:"item_id"`
	Type      string    `json:"type"`
	Value     *float64  `json:"value,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Position  int       `json:"position,omitempty"`
	Timestamp time.Time `json:"timestamp,omitzero"`
}

// Setup loads the catalogue and the shop's starting history (the older
// interactions of every user, as purchases) and trains the models.
func (s *Sim) Setup(ctx context.Context) error {
	type item struct {
		ID         string   `json:"id"`
		Title      string   `json:"title"`
		Brand      string   `json:"brand"`
		Categories []string `json:"categories"`
		Price      float64  `json:"price"`
		Available  bool     `json:"available"`
	}
	var batch []item
	for _, it := range s.w.Items {
		batch = append(batch, item{it.ID, it.Title, it.Brand, []string{it.Category}, it.Price, true})
		if len(batch) == 500 {
			if _, err := s.do(ctx, "POST", "/api/items", batch, nil); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		if _, err := s.do(ctx, "POST", "/api/items", batch, nil); err != nil {
			return err
		}
	}
	var evs []event
	flush := func() error {
		if len(evs) == 0 {
			return nil
		}
		_, err := s.do(ctx, "POST", "/api/events", evs, nil)
		evs = evs[:0]
		return err
	}
	for _, u := range s.w.Users {
		for k, it := range s.w.Seen[u] {
			evs = append(evs, event{UserID: u, ItemID: it, Type: "purchase", Timestamp: time.Unix(s.w.SeenAt[u][k], 0).UTC()})
			if len(evs) == 2000 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return s.Retrain(ctx)
}

// Retrain asks the shop to retrain and waits for the run to end.
func (s *Sim) Retrain(ctx context.Context) error {
	for {
		code, err := s.do(ctx, "POST", "/api/models/retrain", nil, nil)
		if err != nil {
			return err
		}
		if code != http.StatusConflict {
			break
		}
		time.Sleep(200 * time.Millisecond) // a run is under way: wait for it, then start ours
	}
	for {
		var m struct {
			Training *struct {
				Running bool `json:"running"`
			} `json:"training"`
		}
		if _, err := s.do(ctx, "GET", "/api/models", nil, &m); err != nil {
			return err
		}
		if m.Training == nil || !m.Training.Running {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// cartAndBuy is what a shopper does after clicking an item of taste r on
// an answer: adds it to the cart with probability 0.1 + 0.4r, then buys one
// or two of it with probability ½. It appends the events (with the
// answer's request id and the item's position) and returns the quantity
// bought, 0 when nothing was. Both simulations use it, so their shoppers
// stay the same.
func cartAndBuy(rng *rand.Rand, evs []event, user, item, requestID string, pos int, r float64) ([]event, float64) {
	if rng.Float64() >= 0.1+0.4*r {
		return evs, 0
	}
	evs = append(evs, event{UserID: user, ItemID: item, Type: "add_to_cart", RequestID: requestID, Position: pos})
	if rng.Float64() >= 0.5 {
		return evs, 0
	}
	q := float64(1 + rng.IntN(2))
	return append(evs, event{UserID: user, ItemID: item, Type: "purchase", Value: &q, RequestID: requestID, Position: pos}), q
}

func seeded(seed uint64, parts ...any) *rand.Rand {
	h := fnv.New64a()
	fmt.Fprint(h, parts...)
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// visit is one shopper's visit on day: a few recommendation pages, each
// item examined with probability 1/position^bias, clicked by taste, some
// clicks added to the cart and bought. Every event carries the answer's
// request id and the item's position.
func (s *Sim) visit(ctx context.Context, day int, user string, rng *rand.Rand, vm visitMode) (variant string, orders, revenue float64, err error) {
	taste := s.w.Taste(user)
	pages := 1 + rng.IntN(s.cfg.Pages)
	examined := func(k int) float64 { return math.Pow(float64(k), -s.cfg.PositionBias) }
	clickable := func(id string) float64 { return 0.01 + 0.3*taste[id] }
	for range pages {
		pg := page{user: user, clicked: map[string]bool{}}
		if vm.shadow != "" {
			ids, err := s.recommend(ctx, user, vm.shadow)
			if err != nil {
				return "", 0, 0, err
			}
			pg.cand = map[string]int{}
			for k, id := range ids {
				pg.cand[id] = k + 1
				pg.truth += examined(k+1) * clickable(id)
			}
		}
		var ans struct {
			RequestID string `json:"request_id"`
			Variant   string `json:"variant"`
			Items     []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		path := "/api/recommend/" + url.PathEscape(user) + "?n=" + fmt.Sprint(s.cfg.N)
		if vm.model != "" {
			path += "&model=" + url.QueryEscape(vm.model)
		}
		if _, err := s.do(ctx, "GET", path, nil, &ans); err != nil {
			return "", 0, 0, err
		}
		variant = ans.Variant
		var evs []event
		bought := false
		for _, it := range ans.Items {
			pg.items = append(pg.items, it.ID)
			if kc, ok := pg.cand[it.ID]; ok {
				pg.truthShown += examined(kc) * clickable(it.ID)
			}
		}
		for k, it := range ans.Items {
			pos := k + 1
			if rng.Float64() >= examined(pos) {
				continue // not looked at
			}
			r := taste[it.ID]
			if rng.Float64() >= clickable(it.ID) {
				continue
			}
			evs = append(evs, event{UserID: user, ItemID: it.ID, Type: "click", RequestID: ans.RequestID, Position: pos})
			pg.clicked[it.ID] = true
			var q float64
			if evs, q = cartAndBuy(rng, evs, user, it.ID, ans.RequestID, pos, r); q == 0 {
				continue
			}
			p, _ := s.w.Item(it.ID)
			orders++
			revenue += q * p.Price
			bought = true
			s.mu.Lock()
			if s.bought[user] == nil {
				s.bought[user] = map[string]bool{}
			}
			s.bought[user][it.ID] = true
			s.mu.Unlock()
		}
		if ans.Variant == s.cfg.Control || ans.Variant == "interleaved" || pg.cand != nil {
			key := ans.Variant
			if pg.cand != nil {
				key = "shadowed"
			}
			s.mu.Lock()
			s.pages[key] = append(s.pages[key], pg)
			s.mu.Unlock()
		}
		if impressions.Explores(ans.RequestID, s.cfg.ExploreShare) {
			s.mu.Lock()
			s.explored = append(s.explored, pg)
			s.mu.Unlock()
		}
		if len(evs) > 0 {
			if _, err := s.do(ctx, "POST", "/api/events", evs, nil); err != nil {
				return "", 0, 0, err
			}
		}
		if bought && rng.Float64() < 0.5 {
			break
		}
	}
	if vm.track {
		s.mu.Lock()
		sh := s.shoppers[user]
		if sh == nil {
			sh = &shopper{variant: variant, firstDay: day, orders: make([]float64, s.cfg.Days), revenue: make([]float64, s.cfg.Days)}
			s.shoppers[user] = sh
		}
		for d := day; d < s.cfg.Days; d++ {
			sh.orders[d] += orders
			sh.revenue[d] += revenue
		}
		s.mu.Unlock()
	}
	return variant, orders, revenue, nil
}

// day runs one simulated day's visits with the configured workers.
func (s *Sim) day(ctx context.Context, phase string, day int, vm visitMode, after func(done int)) error {
	rng := seeded(s.cfg.Seed, phase, day)
	users := make([]string, s.cfg.ShoppersPerDay)
	for i := range users {
		users[i] = s.w.Users[rng.IntN(len(s.w.Users))]
	}
	var mu sync.Mutex
	done := 0
	return s.eachVisit(len(users), func(i int) error {
		if _, _, _, err := s.visit(ctx, day, users[i], seeded(s.cfg.Seed, phase, day, i), vm); err != nil {
			return err
		}
		if after != nil {
			mu.Lock()
			done++
			after(done)
			mu.Unlock()
		}
		return nil
	})
}

// eachVisit runs visit(i) for every i in [0, n) on the configured
// workers; the first error stops handing out visits and is returned once
// the running ones have ended.
func (s *Sim) eachVisit(n int, visit func(i int) error) error {
	jobs := make(chan int)
	errc := make(chan error, s.cfg.Workers)
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := visit(i); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case jobs <- i:
		case err = <-errc:
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	return err
}

// Report is the simulation's outcome.
type Report struct {
	Days, ShoppersPerDay int
	Control, Treatment   string
	PositionBias         float64
	ExploreShare         float64
	// AB is the server's own results of the A/B test.
	AB experiment.Results
	// AA: share of A/A tests declared significant at the end (fixed-horizon
	// z-test), when peeking daily with the z-test, and when peeking daily
	// with the always-valid mSPRT p-value.
	AARuns                        int
	AAFixed, AAPeekZ, AAPeekMSPRT float64
	PowerUsers                    int // users per arm in the power runs
	PowerFixed, PowerMSPRT        float64
	UsersNeeded                   float64 // per arm, conversion, for Lift at 80% power
	Interleave                    experiment.InterleaveResult
	InterleaveUsers               int     // users until the verdict held (p < 0.05), 0 if never
	InterleaveShown               int     // users in the interleaving phase
	ABUsersForObserved            float64 // users per arm an A/B test needs for the observed conversion lift (80% power)
	// IPSControl and IPSInterleaved estimate the treatment's clicks per
	// page from the control's logged pages and from the interleaved ones
	// (true θ), with their overlap, bounds and verdict
	IPSControl, IPSInterleaved OffPolicy
	// Theta is the examination of each position estimated by EM from all
	// the logged pages (as the shop estimates it from its impression log),
	// and IPSControlEst, IPSInterleavedEst the estimates weighted by it
	Theta                            []float64
	IPSControlEst, IPSInterleavedEst OffPolicy
	// ThetaExplored is θ estimated from the pages the server shuffled
	// (Config.ExploreShare; impressions.ThetaFromExplored), nil without
	// any or with no click at position 1; ExploredPages how many.
	ThetaExplored []float64
	ExploredPages int
	// IPSControlExp and IPSInterleavedExp are the estimates weighted by
	// ThetaExplored, when the server shuffled at least
	// impressions.MinExplored pages (the shop's own rule for trusting a
	// fit of a personalised surface); zero otherwise.
	IPSControlExp, IPSInterleavedExp OffPolicy
	// BoughtClicks is the share of the logged pages' clicks on items the
	// shopper bought later: the candidate's answer, asked after the run,
	// leaves them out, so the estimates cannot credit them.
	BoughtClicks float64
	// IPSShadowed is the estimate from a day the control served while the
	// candidate's page was asked for each shopper just before (true θ; and
	// by θ from the shuffled pages), ShadowTruth the candidate's expected
	// clicks per page on those same pages, known in the simulation.
	IPSShadowed, IPSShadowedExp OffPolicy
	ShadowTruth                 experiment.Interval
	// ShadowTruthShown is the part of ShadowTruth on items the control's
	// page showed too: what IPSShadowed.Covered estimates.
	ShadowTruthShown                  experiment.Interval
	Agree                             bool
	ABWinner, ILWinner                string
	Took                              time.Duration
	ControlConversion, ControlRevenue float64
}

// Run sets the shop up, runs the A/B test for Days days (retraining after
// each), then an interleaving comparison of the same two models, and
// analyses A/A tests and power on the simulated outcomes.
func (s *Sim) Run(ctx context.Context) (*Report, error) {
	start := time.Now()
	cfg := s.cfg
	if err := s.Setup(ctx); err != nil {
		return nil, err
	}
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, "shop loaded and trained (%s)\n", time.Since(start).Round(time.Second))
	}
	var exp experiment.Experiment
	body := map[string]any{"name": "personalised vs popularity", "surface": "recommend", "primary_metric": "conversion", "mde": 0.2, // the "+20%" claim under test
		"variants": []map[string]any{{"name": cfg.Control, "weight": 50, "overrides": map[string]any{"model": cfg.Control}},
			{"name": cfg.Treatment, "weight": 50, "overrides": map[string]any{"model": cfg.Treatment}}}}
	if _, err := s.do(ctx, "POST", "/api/experiments", body, &exp); err != nil {
		return nil, err
	}
	for d := range cfg.Days {
		t0 := time.Now()
		if err := s.day(ctx, "ab", d, visitMode{track: true}, nil); err != nil {
			return nil, err
		}
		// the shop retrains overnight while the next day's shoppers
		// already browse (a run still going is left to finish)
		if _, err := s.do(ctx, "POST", "/api/models/retrain", nil, nil); err != nil {
			return nil, err
		}
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "day %d/%d: %d shoppers so far; visits took %s\n", d+1, cfg.Days, len(s.shoppers), time.Since(t0).Round(time.Millisecond))
		}
	}
	rep := &Report{Days: cfg.Days, ShoppersPerDay: cfg.ShoppersPerDay, Control: cfg.Control, Treatment: cfg.Treatment, AARuns: cfg.AARuns, PositionBias: cfg.PositionBias,
		ExploreShare: cfg.ExploreShare}
	if _, err := s.do(ctx, "GET", "/api/experiments/"+exp.ID+"/results", nil, &rep.AB); err != nil {
		return nil, err
	}
	if _, err := s.do(ctx, "POST", "/api/experiments/"+exp.ID+"/stop", nil, nil); err != nil {
		return nil, err
	}
	s.offline(rep)

	// interleaving of the same two models
	var il experiment.Experiment
	body = map[string]any{"name": "interleaved", "surface": "recommend", "method": "interleave",
		"variants": []map[string]any{{"name": cfg.Control, "overrides": map[string]any{"model": cfg.Control}},
			{"name": cfg.Treatment, "overrides": map[string]any{"model": cfg.Treatment}}}}
	if _, err := s.do(ctx, "POST", "/api/experiments", body, &il); err != nil {
		return nil, err
	}
	var last experiment.Results
	held := 0
	for d := range cfg.InterleaveDays {
		var cerr error
		err := s.day(ctx, "il", d, visitMode{}, func(done int) {
			if done%25 != 0 || cerr != nil {
				return
			}
			var r experiment.Results
			if _, cerr = s.do(ctx, "GET", "/api/experiments/"+il.ID+"/results", nil, &r); cerr != nil {
				return
			}
			users := d*cfg.ShoppersPerDay + done
			if r.Interleaving != nil && r.Interleaving.PValue < 0.05 {
				if held == 0 {
					held = users
				}
			} else {
				held = 0
			}
		})
		if err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
	}
	if _, err := s.do(ctx, "GET", "/api/experiments/"+il.ID+"/results", nil, &last); err != nil {
		return nil, err
	}
	if last.Interleaving != nil {
		rep.Interleave = *last.Interleaving
		if last.Interleaving.PValue >= 0.05 {
			held = 0
		}
	}
	rep.InterleaveUsers = held
	if len(last.Variants) > 0 {
		rep.InterleaveShown = last.Variants[0].Users
	}
	if _, err := s.do(ctx, "POST", "/api/experiments/"+il.ID+"/stop", nil, nil); err != nil {
		return nil, err
	}
	// offline estimates of the treatment's clicks per page from the logs
	// (no experiment runs now, so ?model= serves the candidate)
	var err error
	known := func(k int) float64 { return math.Pow(float64(k), -s.cfg.PositionBias) }
	if rep.IPSControl, err = s.ips(ctx, s.pages[cfg.Control], cfg.Treatment, known); err != nil {
		return nil, err
	}
	if rep.IPSInterleaved, err = s.ips(ctx, s.pages["interleaved"], cfg.Treatment, known); err != nil {
		return nil, err
	}
	rep.Theta = estimateTheta(append(append(append([]page(nil), s.pages[cfg.Control]...), s.pages[cfg.Treatment]...), s.pages["interleaved"]...), cfg.N)
	rep.ThetaExplored, rep.ExploredPages = thetaFromExploredPages(s.explored, cfg.N), len(s.explored)
	est := func(k int) float64 { return rep.Theta[min(k, len(rep.Theta))-1] }
	if rep.IPSControlEst, err = s.ips(ctx, s.pages[cfg.Control], cfg.Treatment, est); err != nil {
		return nil, err
	}
	if rep.IPSInterleavedEst, err = s.ips(ctx, s.pages["interleaved"], cfg.Treatment, est); err != nil {
		return nil, err
	}
	rep.BoughtClicks = s.boughtClicks(append(append([]page(nil), s.pages[cfg.Control]...), s.pages["interleaved"]...))
	if rep.ThetaExplored != nil && rep.ExploredPages >= impressions.MinExplored {
		exp := func(k int) float64 { return rep.ThetaExplored[min(k, len(rep.ThetaExplored))-1] }
		if rep.IPSControlExp, err = s.ips(ctx, s.pages[cfg.Control], cfg.Treatment, exp); err != nil {
			return nil, err
		}
		if rep.IPSInterleavedExp, err = s.ips(ctx, s.pages["interleaved"], cfg.Treatment, exp); err != nil {
			return nil, err
		}
	}
	// a day served by the control with the candidate's page asked for
	// each shopper just before: the estimate against the truth of the
	// same pages (the candidate's page as of the logged one)
	if err := s.day(ctx, "shadow", 0, visitMode{model: cfg.Control, shadow: cfg.Treatment}, nil); err != nil {
		return nil, err
	}
	shadowed := s.samplePages(s.pages["shadowed"], cfg.Treatment)
	rep.IPSShadowed = offPolicy(shadowed, nil, known, cfg.N)
	if rep.ThetaExplored != nil && rep.ExploredPages >= impressions.MinExplored {
		exp := func(k int) float64 { return rep.ThetaExplored[min(k, len(rep.ThetaExplored))-1] }
		rep.IPSShadowedExp = offPolicy(shadowed, nil, exp, cfg.N)
	}
	rep.ShadowTruth = meanCI(shadowed, func(p page) float64 { return p.truth })
	rep.ShadowTruthShown = meanCI(shadowed, func(p page) float64 { return p.truthShown })
	if len(rep.AB.Variants) == 2 {
		c, t := rep.AB.Variants[0].Conversion.Value, rep.AB.Variants[1].Conversion.Value
		rep.ABUsersForObserved = experiment.SampleSize(c*(1-c), t-c, 0.05, 0.8)
	}
	rep.ABWinner = rep.Control
	for _, v := range rep.AB.Variants {
		if c, ok := v.VsControl["conversion"]; ok && c.Lift.Value > 0 {
			rep.ABWinner = rep.Treatment
		}
	}
	rep.ILWinner = rep.Control
	if rep.Interleave.WinsB > rep.Interleave.WinsA {
		rep.ILWinner = rep.Treatment
	}
	rep.Agree = rep.ABWinner == rep.ILWinner
	rep.Took = time.Since(start)
	return rep, nil
}

// ips estimates the clicks per page candidate would get from logged pages
// of another ranker (offPolicy), θ(k) the examination probability (k^−bias,
// known in the simulation, or estimated from the logged pages). The
// candidate's page for each shopper is asked once, after the run.
func (s *Sim) ips(ctx context.Context, pages []page, candidate string, theta func(k int) float64) (OffPolicy, error) {
	pages = s.samplePages(pages, candidate)
	lists := map[string]map[string]int{}
	for _, p := range pages {
		if _, ok := lists[p.user]; ok {
			continue
		}
		ids, err := s.recommend(ctx, p.user, candidate)
		if err != nil {
			return OffPolicy{}, err
		}
		cand := map[string]int{}
		for k, id := range ids {
			cand[id] = k + 1
		}
		lists[p.user] = cand
	}
	return offPolicy(pages, lists, theta, s.cfg.N), nil
}

// meanCI is the mean of f over pages with its 95% interval.
func meanCI(pages []page, f func(page) float64) experiment.Interval {
	n := float64(len(pages))
	if n < 2 {
		return experiment.Interval{}
	}
	var sx, sxx float64
	for _, p := range pages {
		x := f(p)
		sx, sxx = sx+x, sxx+x*x
	}
	m := sx / n
	h := z95 * math.Sqrt(max(sxx-n*m*m, 0)/(n-1)/n)
	return experiment.Interval{Value: m, Low: m - h, High: m + h}
}

// recommend asks the shop for model's page (N items) for user, as served
// now (outside an experiment of the surface ?model= picks the model).
func (s *Sim) recommend(ctx context.Context, user, model string) ([]string, error) {
	var ans struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if _, err := s.do(ctx, "GET", "/api/recommend/"+url.PathEscape(user)+"?n="+fmt.Sprint(s.cfg.N)+"&model="+url.QueryEscape(model), nil, &ans); err != nil {
		return nil, err
	}
	ids := make([]string, len(ans.Items))
	for i, it := range ans.Items {
		ids[i] = it.ID
	}
	return ids, nil
}

// samplePages draws at most 1,500 of pages (with replacement, seeded).
func (s *Sim) samplePages(pages []page, candidate string) []page {
	if len(pages) <= 1500 {
		return pages
	}
	rng := seeded(s.cfg.Seed, "ips", candidate)
	sample := make([]page, 1500)
	for i := range sample {
		sample[i] = pages[rng.IntN(len(pages))]
	}
	return sample
}

// boughtClicks is the share of clicks on pages whose item the shopper
// bought (on any visit).
func (s *Sim) boughtClicks(pages []page) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	clicks, bought := 0, 0
	for _, p := range pages {
		for id := range p.clicked {
			clicks++
			if s.bought[p.user][id] {
				bought++
			}
		}
	}
	if clicks == 0 {
		return 0
	}
	return float64(bought) / float64(clicks)
}

// thetaFromExploredPages estimates the examination of positions 1…n from
// pages the server shuffled, as the shop's fit does from its explored
// answers (impressions.ThetaFromExplored): CTR_k / CTR_1.
func thetaFromExploredPages(pages []page, n int) []float64 {
	views, clicks := make([]int64, n), make([]int64, n)
	for _, p := range pages {
		for k, id := range p.items[:min(len(p.items), n, impressions.ExploreTop)] {
			views[k]++
			if p.clicked[id] {
				clicks[k]++
			}
		}
	}
	return impressions.ThetaFromExplored(views, clicks, 100)
}

// estimateTheta estimates the examination of positions 1…n from logged
// pages with the position-based click model (impressions.FitPBM), the
// relevance cell being the item: what the shop does with its impression
// log (impressions.Log.Fit).
func estimateTheta(pages []page, n int) []float64 {
	cells := map[string]int{}
	type ck struct{ cell, pos int }
	agg := map[ck]*impressions.Observation{}
	for _, p := range pages {
		for k, id := range p.items[:min(len(p.items), n)] {
			c, ok := cells[id]
			if !ok {
				c = len(cells)
				cells[id] = c
			}
			o := agg[ck{c, k}]
			if o == nil {
				o = &impressions.Observation{Cell: c, Position: k + 1}
				agg[ck{c, k}] = o
			}
			o.Views++
			if p.clicked[id] {
				o.Clicks++
			}
		}
	}
	obs := make([]impressions.Observation, 0, len(agg))
	for _, o := range agg {
		obs = append(obs, *o)
	}
	slices.SortFunc(obs, func(a, b impressions.Observation) int {
		return cmp.Or(cmp.Compare(a.Cell, b.Cell), cmp.Compare(a.Position, b.Position))
	})
	theta, _ := impressions.FitPBM(obs, len(cells), n, 200)
	return theta
}
