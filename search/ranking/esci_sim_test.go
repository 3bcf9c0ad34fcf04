package ranking

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/experiment"
	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/internal/testdata"
	"github.com/aisle-dev/aisle/pipeline"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/search/ltr"
	"github.com/aisle-dev/aisle/search/searcheval"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// BenchmarkESCIClickLearning measures whether learning from shopper
// behaviour improves search, on ESCI-US 150 with simulated shoppers. It is
// an experiment, not a timing: run it once.
//
//	go test -run '^$' -bench ESCIClickLearning -benchtime 1x -timeout 30m ./search/ranking/
//
// Every simulated day, sessions each search one query, see the top 10 the
// server would show (ModeLTR: keyword ranking with the live click boost
// until a learned ranker serves, then the ranker), and act on it following
// a position-based click model whose true relevance is the ESCI grade (see
// clickModel). Their events go to a boltstore; the live search.Clicks and
// the popularity signal learn from them as the server's do. At the end of
// each day the Learner trains and promotes (or not) a ranker, which shapes
// the next day's impressions. After each day the ESCI test queries are
// searched and scored with the real ESCI judgments, never the clicks.
//
// Scenarios: "recurring" shoppers search all 150 queries (a shop's queries
// recur, so test queries have clicks of their own); "unseen" shoppers only
// search the 100 training queries, so the test queries measure whether
// the learned ranker generalises to queries nobody clicked on.
//
// Every answer is logged as an impression (the real impressions.Log,
// through experiment.Manager.Shown, with a request id from
// Manager.NewRequestID) and every action carries its request id and
// position, as the storefront sends them; the manager notes the clicked
// positions and, at the end of each day, fits the examination of each
// position of the search surface (Manager.FitPositions, as its hourly run
// does). Position handling ("position" in the sub-benchmark's name):
// "plain" counts every action as 1 (what learned before issue 15);
// "boost" weighs the live click model's actions by the fitted 1/θ_k
// (search.Clicks.PositionWeight, what the server does); "corrected"
// weighs the learner's too
// (ranking.Config.PositionWeight, which the server sets with the online
// check when θ of search comes from explored answers: decision 0073), so its
// features, its training judgments and its promotion check against the
// serving version are all position-corrected; "oracle" weighs both by the
// true examination 1/k^η, clipped alike (what a perfect fit would give).
//
// Knobs (environment): AISLE_CLICKSIM_DAYS (7), AISLE_CLICKSIM_SESSIONS
// (sessions per day, 600), AISLE_CLICKSIM_SEEDS (3), AISLE_CLICKSIM_ETA
// (position bias exponent, 1), AISLE_CLICKSIM_NOPOP (set: no popularity
// signal), AISLE_CLICKSIM_MAXGAIN, AISLE_CLICKSIM_VALIDSHARE and
// AISLE_CLICKSIM_TOLERANCE (the learner's Config; 0: its default),
// AISLE_CLICKSIM_SCENARIOS ("recurring,unseen"),
// AISLE_CLICKSIM_POSITION ("plain,corrected"; or "boost", "oracle") and
// AISLE_CLICKSIM_FIRSTSEED (1: seeds 1 … AISLE_CLICKSIM_SEEDS) and
// AISLE_CLICKSIM_EXPLORE (0: share of answers shown with their first 10
// shuffled and flagged, experiments.search_explore_share, from which θ is
// fitted once 300 are logged), AISLE_CLICKSIM_INTERLEAVE (0: share of the
// other answers team-draft interleaved between the serving version and a
// challenger while there is one, experiments.search_interleave_share; with
// it the learner's online check decides promotions, Config.Online) and
// AISLE_CLICKSIM_PROGRESS (set: print each day as it ends).
func BenchmarkESCIClickLearning(b *testing.B) {
	dir := testdata.Path(b, "esci-us-150")
	ds, err := searcheval.LoadESCI(dir)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := ix.Upsert(ctx, ds.Items...); err != nil {
		b.Fatal(err)
	}
	cfg := simConfig{
		Days:     envInt(b, "AISLE_CLICKSIM_DAYS", 7),
		Sessions: envInt(b, "AISLE_CLICKSIM_SESSIONS", 600),
		Eta:      envFloat(b, "AISLE_CLICKSIM_ETA", 1),
		Explore:  envFloat(b, "AISLE_CLICKSIM_EXPLORE", 0),
		// share of the other answers interleaved with a challenger (the
		// online promotion check; 0: the offline check decides)
		Interleave: envFloat(b, "AISLE_CLICKSIM_INTERLEAVE", 0),
		// AISLE_CLICKSIM_NOPOP=1: no popularity signal
		NoPopularity: os.Getenv("AISLE_CLICKSIM_NOPOP") != "",
		// learner settings: AISLE_CLICKSIM_MAXGAIN, _VALIDSHARE, _TOLERANCE
		Learner: Config{MaxGain: envFloat(b, "AISLE_CLICKSIM_MAXGAIN", 0), ValidShare: envFloat(b, "AISLE_CLICKSIM_VALIDSHARE", 0),
			Tolerance: envFloat(b, "AISLE_CLICKSIM_TOLERANCE", 0)},
	}
	seeds := envInt(b, "AISLE_CLICKSIM_SEEDS", 3)
	firstSeed := envInt(b, "AISLE_CLICKSIM_FIRSTSEED", 1)
	scenarios := envList(b, "AISLE_CLICKSIM_SCENARIOS", "recurring,unseen", "recurring", "unseen")
	positions := envList(b, "AISLE_CLICKSIM_POSITION", "plain,corrected", positionPlain, positionBoost, positionCorrected, positionOracle)
	for _, sc := range scenarios {
		for _, pos := range positions {
			b.Run(sc+"/"+pos, func(b *testing.B) {
				var runs [][]dayResult
				for b.Loop() {
					runs = runs[:0]
					for seed := firstSeed; seed < firstSeed+seeds; seed++ {
						c := cfg
						c.Seed = uint64(seed)
						c.UnseenTest = sc == "unseen"
						c.Position = pos
						days, err := simulate(ctx, b, ix, ds, c)
						if err != nil {
							b.Fatal(err)
						}
						fmt.Printf("%s, %s, seed %d, %d sessions/day, η=%g, explore %g:\n%s", sc, pos, seed, c.Sessions, c.Eta, c.Explore, formatDays(days)) // b.Log truncates
						runs = append(runs, days)
					}
				}
				mean := meanDays(runs)
				fmt.Printf("%s, %s, mean of %d seeds:\n%s", sc, pos, len(runs), formatDays(mean))
				fmt.Printf("%s, %s, promotion against the serving version (ESCI judgments of the two): %s\n", sc, pos, promotions(runs))
				m := mean[len(mean)-1]
				b.ReportMetric(m.Keyword, "keyword-nDCG@10")
				b.ReportMetric(m.Boost, "clickboost-nDCG@10")
				b.ReportMetric(m.Trained, "learned-nDCG@10")
				b.ReportMetric(m.Served, "served-nDCG@10")
				b.ReportMetric(m.Guarded, "guarded-nDCG@10")
				b.ReportMetric(float64(m.Sessions), "sessions")
				b.ReportMetric(float64(m.Clicks), "clicks")
			})
		}
	}
}

// How the simulation weighs an action by its position (simConfig.Position).
const (
	positionPlain     = "plain"     // every action 1
	positionBoost     = "boost"     // the live click model weighs by 1/θ_k, the learner does not
	positionCorrected = "corrected" // both do
	positionOracle    = "oracle"    // both weigh by the true 1/θ_k, clipped alike
)

// envList reads a comma-separated list of names from one of allowed.
func envList(b *testing.B, name, def string, allowed ...string) []string {
	v := os.Getenv(name)
	if v == "" {
		v = def
	}
	var out []string
	for _, x := range strings.Split(v, ",") {
		x = strings.TrimSpace(x)
		if !slices.Contains(allowed, x) {
			b.Fatalf("%s=%q: %q is not one of %v", name, v, x, allowed)
		}
		out = append(out, x)
	}
	return out
}

// promotions sums, over the runs, the trainings made while an earlier
// version served: how many the promotion check promoted, how many the
// ESCI judgments say rank the test queries better than the serving
// version, and on how many the two agree.
func promotions(runs [][]dayResult) string {
	var checked, promoted, better, agree int
	var online, onPromoted, onBetter, onAgree, open, challenges int
	for _, days := range runs {
		for _, d := range days {
			if st := d.Report.Settled; st != nil && st.Verdict != Undecided {
				// the online check's decision on the day's challenger
				online++
				won := d.Challenger > d.Previous
				if st.Verdict == Promote {
					onPromoted++
				}
				if won {
					onBetter++
				}
				if won == (st.Verdict == Promote) {
					onAgree++
				}
			}
			if d.Report.Challenging {
				challenges++
			}
			if d.Day == len(days) && (d.Report.Challenging || (d.Report.Settled != nil && d.Report.Settled.Verdict == Undecided)) {
				open++
			}
			if d.Previous < 0 || d.Trained < 0 || d.Report.Challenging {
				continue
			}
			checked++
			won := d.Trained > d.Previous
			if d.Report.Serving {
				promoted++
			}
			if won {
				better++
			}
			if won == d.Report.Serving {
				agree++
			}
		}
	}
	out := fmt.Sprintf("%d trainings while a version served: %d promoted, %d better by ESCI, decision agrees with ESCI in %d", checked, promoted, better, agree)
	if challenges > 0 || online > 0 {
		out += fmt.Sprintf("; online check: %d challenges, %d decided: %d promoted, %d better by ESCI, decision agrees with ESCI in %d; %d undecided at the end",
			challenges, online, onPromoted, onBetter, onAgree, open)
	}
	return out
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func envFloat(b *testing.B, name string, def float64) float64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 {
		b.Fatalf("%s=%q: want a number >= 0", name, v)
	}
	return f
}

type simConfig struct {
	Days, Sessions int
	Eta            float64
	Seed           uint64
	// UnseenTest keeps shoppers off the test queries.
	UnseenTest bool
	// NoPopularity leaves the popularity signal out.
	NoPopularity bool
	// Position is how actions are weighed by their position:
	// positionPlain (""), positionBoost or positionCorrected.
	Position string
	// Explore is the share of answers whose first 10 are shuffled and
	// flagged (experiments.search_explore_share), from which the fit
	// estimates θ once it has impressions.MinExplored of them.
	Explore float64
	// Interleave is the share of answers not explored that are team-draft
	// interleaved between the serving version and a challenger
	// (experiments.search_interleave_share): with it the learner's online
	// check decides promotions (Config.Online), from the impression log.
	Interleave float64
	// Learner overrides the learner's settings (Popularity is set).
	Learner Config
	// Inspect, when set, is called after each day's evaluation.
	Inspect func(day int, ix *search.Index, clicks *search.Clicks, test []searcheval.Query)
}

// dayResult is the state after one simulated day. nDCG@10 on the ESCI test
// queries: Keyword plain keyword ranking, Boost keyword with the live click
// boost, Trained the model trained that day (served or not; -1 when none
// was trained), Served what the server shows now.
type dayResult struct {
	Day                                int
	Sessions, Clicks, Carts, Purchases int // cumulative
	Keyword, Boost, Trained, Served    float64
	// Guarded is Served with the ranker used only for queries that have
	// click history (keyword with the click boost otherwise).
	Guarded float64
	// Previous is the test nDCG@10 of the version that served before the
	// day's training (-1: none served), scored as Trained is.
	Previous float64
	// Theta is the examination of positions 1 … 10 of the search surface
	// fitted from the impression log at the end of the day (nil while the
	// fit is not trusted: fewer than 1,000 answers).
	Theta []float64
	// Method is how Theta was fitted ("em", or "randomised" from Explored
	// shuffled answers: simConfig.Explore).
	Method   string
	Explored int
	Report   Report
	TrainErr string
	// Challenger is the test nDCG@10 of the version on trial before the
	// day's training (-1: none), scored as Previous; Interleaved counts the
	// day's interleaved answers.
	Challenger  float64
	Interleaved int
}

// meanDays averages runs of the same length day by day (the learned
// column over the runs that trained a model that day; counts rounded).
func meanDays(runs [][]dayResult) []dayResult {
	out := make([]dayResult, len(runs[0]))
	for i := range out {
		var m dayResult
		trained := 0
		for _, days := range runs {
			d := days[i]
			m.Day = d.Day
			m.Sessions += d.Sessions
			m.Clicks += d.Clicks
			m.Carts += d.Carts
			m.Purchases += d.Purchases
			m.Keyword += d.Keyword
			m.Boost += d.Boost
			m.Served += d.Served
			m.Guarded += d.Guarded
			if d.Trained >= 0 {
				m.Trained += d.Trained
				trained++
			}
			if d.Report.Serving {
				m.Report.Version++ // counts the runs whose new version serves
			}
			if len(d.Theta) > 0 {
				m.Method = d.Method // the last run's
				m.Explored += d.Explored / len(runs)
				if m.Theta == nil {
					m.Theta = make([]float64, len(d.Theta))
				}
				for k, th := range d.Theta {
					m.Theta[k] += th / float64(len(runs))
				}
			}
		}
		n := float64(len(runs))
		m.Sessions = int(math.Round(float64(m.Sessions) / n))
		m.Clicks = int(math.Round(float64(m.Clicks) / n))
		m.Carts = int(math.Round(float64(m.Carts) / n))
		m.Purchases = int(math.Round(float64(m.Purchases) / n))
		m.Keyword /= n
		m.Boost /= n
		m.Served /= n
		m.Guarded /= n
		if trained > 0 {
			m.Trained /= float64(trained)
		} else {
			m.Trained = -1
		}
		m.TrainErr = fmt.Sprintf("new version serves in %d of %d runs", m.Report.Version, len(runs))
		out[i] = m
	}
	return out
}

func formatDays(days []dayResult) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "  day sessions clicks carts purch | keyword +clickboost learned served guarded | ranker: train/valid queries, valid nDCG model vs keyword (clicks as labels)\n")

	for _, d := range days {
		tr := "   –  "
		if d.Trained >= 0 {
			tr = fmt.Sprintf("%.4f", d.Trained)
		}
		note := d.TrainErr
		if note == "" {
			note = fmt.Sprintf("v%d %d/%d %.4f vs %.4f serving=%v", d.Report.Version, d.Report.Queries, d.Report.Valid, d.Report.NDCG, d.Report.Keyword, d.Report.Serving)
			if d.Report.Challenging {
				note += " challenging"
			}
		}
		if st := d.Report.Settled; st != nil {
			note += fmt.Sprintf(" | online v%d vs v%d (ESCI %.4f vs %.4f), %d interleaved today: %d/%d/%d → %s", st.Version, st.Against, d.Challenger, d.Previous,
				d.Interleaved, st.Tally.Wins, st.Tally.Losses, st.Tally.Ties, st.Verdict)
		}
		fmt.Fprintf(&sb, "  %3d %8d %6d %5d %5d | %.4f  %.4f     %s  %.4f  %.4f | %s\n",
			d.Day, d.Sessions, d.Clicks, d.Carts, d.Purchases, d.Keyword, d.Boost, tr, d.Served, d.Guarded, note)
	}
	for _, d := range days {
		if len(d.Theta) > 0 {
			fmt.Fprintf(&sb, "  day %d fitted θ (search, %s, %d explored):", d.Day, d.Method, d.Explored)
			for _, th := range d.Theta {
				fmt.Fprintf(&sb, " %.3f", th)
			}
			sb.WriteString("\n")
		}
	}
	return sb.String()
}

// popularity mirrors recommend.Service.Popularity: log(1 + weighted
// interactions) / log(1 + the most popular item's), with the event
// weights of pipeline.DefaultPreprocess. It is rebuilt from the counts
// every 50 sessions (the server rebuilds its snapshot once a minute).
type popularity struct {
	mu     sync.RWMutex
	counts map[string]float64
	snap   map[string]float64
	w      map[events.Type]float64
}

func newPopularity() *popularity {
	return &popularity{counts: map[string]float64{}, snap: map[string]float64{}, w: pipeline.DefaultPreprocess().Weights}
}

func (p *popularity) record(e events.Event) {
	if e.ItemID == "" {
		return
	}
	p.mu.Lock()
	p.counts[e.ItemID] += p.w[e.Type]
	p.mu.Unlock()
}

func (p *popularity) rebuild() {
	p.mu.Lock()
	defer p.mu.Unlock()
	top := 0.0
	for _, c := range p.counts {
		top = max(top, c)
	}
	snap := make(map[string]float64, len(p.counts))
	if top > 0 {
		for id, c := range p.counts {
			snap[id] = math.Log1p(c) / math.Log1p(top)
		}
	}
	p.snap = snap
}

func (p *popularity) get(id string) float64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.snap[id]
}

// clickModel is a position-based model: a shopper examines the result at
// rank r (1-based) with probability 1/r^Eta and, if examined, clicks it
// with its attractiveness: by ESCI grade Exact 0.9, Substitute 0.3,
// Complement 0.1, Irrelevant or unjudged 0.02, times a lognormal factor
// (σ 0.5) fixed per query and item (shoppers like some pictures and prices
// more than the judges did), capped at 1. A clicked Exact item goes to the
// cart with probability 0.3, a Substitute with 0.05; a carted item is
// bought with probability 0.5, and a purchase ends the session.
type clickModel struct {
	eta  float64
	seed uint64
}

func grade(g float64) float64 {
	switch {
	case g >= 1:
		return 0.9
	case g >= 0.1:
		return 0.3
	case g >= 0.01:
		return 0.1
	}
	return 0.02
}

func (m clickModel) attractiveness(query, item string, gain float64) float64 {
	h := fnv.New64a()
	io.WriteString(h, query)
	h.Write([]byte{0})
	io.WriteString(h, item)
	r := rand.New(rand.NewPCG(m.seed, h.Sum64()))
	return min(1, grade(gain)*math.Exp(0.5*r.NormFloat64()-0.125))
}

// session returns the actions of one shopper shown ranked for q.
func (m clickModel) session(rng *rand.Rand, q searcheval.Query, ranked []string) (clicks, carts, buys []string) {
	for r, id := range ranked {
		if rng.Float64() >= 1/math.Pow(float64(r+1), m.eta) {
			continue
		}
		g := q.Gains[id]
		if rng.Float64() >= m.attractiveness(q.Text, id, g) {
			continue
		}
		clicks = append(clicks, id)
		pc := 0.0
		switch {
		case g >= 1:
			pc = 0.3
		case g >= 0.1:
			pc = 0.05
		}
		if rng.Float64() < pc {
			carts = append(carts, id)
			if rng.Float64() < 0.5 {
				buys = append(buys, id)
				return
			}
		}
	}
	return
}

func simulate(ctx context.Context, tb testing.TB, ix *search.Index, ds *searcheval.Dataset, cfg simConfig) ([]dayResult, error) {
	st, err := boltstore.Open(tb.TempDir())
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if err := st.PutItems(ctx, ds.Items); err != nil {
		return nil, err
	}
	// the impression log and the experiment manager, as the server has
	// them: answers logged, clicked positions noted, examination fitted
	logDir := tb.TempDir()
	imp, err := impressions.Open(filepath.Join(logDir, "impressions.db"), impressions.Options{Queue: 1 << 20})
	if err != nil {
		return nil, err
	}
	defer imp.Close()
	m, err := experiment.Open(experiment.Options{Path: filepath.Join(logDir, "experiments.db"), Impressions: imp})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	// the log's writer; stopped at the end of each day so the fit reads
	// every answer and click of the day, then started again
	var stopLog func() error
	startLog := func() {
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- imp.Run(runCtx) }()
		stopLog = func() error { cancel(); return <-done }
	}
	startLog()
	defer func() { stopLog() }()
	weight := func(pos int) float64 { return m.PositionWeight("search", pos) } // as aisle.go sets it
	if cfg.Position == positionOracle {
		truth := &impressions.Propensities{Theta: make([]float64, 10)}
		for k := range truth.Theta {
			truth.Theta[k] = math.Pow(float64(k+1), -cfg.Eta)
		}
		weight = truth.Weight
	}

	clicks := search.NewClicks()
	if cfg.Position != positionPlain && cfg.Position != "" {
		clicks.PositionWeight = weight
	}
	pop := newPopularity()
	ix.SetRanker(nil)
	popFn := pop.get
	if cfg.NoPopularity {
		popFn = nil
	}
	ix.SetSignals(search.Signals{Popularity: popFn, Clicks: clicks})
	defer ix.SetSignals(search.Signals{})
	defer ix.SetRanker(nil)
	lc := cfg.Learner
	lc.Popularity = popFn
	if cfg.Position == positionCorrected || cfg.Position == positionOracle {
		lc.PositionWeight = weight // the live click model's weight (internal/wire: decision 0073)
	}
	// the simulated clock: versions are stamped with it, and a challenge
	// counts the answers shown from its version's stamp on
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	simNow := t0
	lc.Now = func() time.Time { return simNow }
	if cfg.Interleave > 0 {
		// the online check reads the impression log (written at the end of
		// each day, before the learner runs), as internal/wire sets it
		lc.Online = &OnlineCheck{Tally: func(ctx context.Context, duel string, since time.Time) (Tally, error) {
			t, err := imp.Duel(ctx, duel, since)
			return Tally{Wins: t.Wins, Losses: t.Losses, Ties: t.Ties}, err
		}}
	}
	l := New(ix, st, lc, nil)

	var shopped, test []searcheval.Query
	for _, q := range ds.Queries {
		if q.Split == "test" {
			test = append(test, q)
		}
		if q.Split == "train" || !cfg.UnseenTest {
			shopped = append(shopped, q)
		}
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	cm := clickModel{eta: cfg.Eta, seed: cfg.Seed}
	var out []dayResult
	var tot dayResult
	for day := 1; day <= cfg.Days; day++ {
		var evs []events.Event
		interleaved := 0
		for s := 0; s < cfg.Sessions; s++ {
			if s%50 == 0 {
				pop.rebuild()
			}
			q := shopped[rng.IntN(len(shopped))]
			ranked, err := serve(ctx, ix, clicks, q.Text)
			if err != nil {
				return nil, err
			}
			sess := fmt.Sprintf("s%d-%d-%d", cfg.Seed, day, s)
			user := "u" + sess
			at := t0.Add(time.Duration(day-1)*24*time.Hour + time.Duration(s)*24*time.Hour/time.Duration(cfg.Sessions))
			// the answer's impression, as api/experiments.go logs it
			rid := m.NewRequestID("search", experiment.Assignment{})
			// an explored answer shows its first 10 shuffled, as
			// api.served.exploreSearch does (experiments.search_explore_share)
			explored := impressions.Explores(rid, cfg.Explore) && len(ranked) > 1
			if explored {
				lead := slices.Clone(ranked[:min(len(ranked), impressions.ExploreTop)])
				for i, j := range impressions.ExploreOrder(rid, len(lead)) {
					ranked[i] = lead[j]
				}
			}
			// an answer not explored may be interleaved with the challenger,
			// as api.searchHandlers.runReq does (experiments.search_interleave_share)
			var duel string
			var teams []uint8
			if ch := l.Challenger(); ch != nil && !explored && impressions.Interleaves(rid, cfg.Interleave) {
				req := serveRequest(ix, clicks, q.Text)
				req.Ranker = ch.Ranker
				res, err := ix.Search(ctx, req)
				if err != nil {
					return nil, err
				}
				theirs := make([]string, len(res.Items))
				for i, h := range res.Items {
					theirs[i] = h.ID
				}
				if !slices.Equal(ranked, theirs) { // the same list says nothing of either
					ranked, teams = experiment.TeamDraft(ranked, theirs, len(ranked), rid)
					duel = ch.Duel
					interleaved++
				}
			}
			m.Shown(impressions.Impression{RequestID: rid, Time: at, Surface: "search", UserID: user, SessionID: sess, Query: q.Text, Items: ranked, Explored: explored,
				Experiment: duel, Teams: teams}, "")
			// every action carries the answer's request id and the item's
			// 1-based position, as the storefront sends them
			pos := func(id string) int { return slices.Index(ranked, id) + 1 }
			sessEvs := []events.Event{{UserID: user, SessionID: sess, Type: events.Search, Query: q.Text, Timestamp: at}}
			cl, ca, bu := cm.session(rng, q, ranked)
			for k, id := range cl {
				sessEvs = append(sessEvs, events.Event{UserID: user, SessionID: sess, ItemID: id, Type: events.Click, RequestID: rid, Position: pos(id),
					Timestamp: at.Add(time.Duration(k+1) * 30 * time.Second)})
			}
			for k, id := range ca {
				sessEvs = append(sessEvs, events.Event{UserID: user, SessionID: sess, ItemID: id, Type: events.AddToCart, RequestID: rid, Position: pos(id),
					Timestamp: at.Add(5*time.Minute + time.Duration(k)*time.Second)})
			}
			for k, id := range bu {
				sessEvs = append(sessEvs, events.Event{UserID: user, SessionID: sess, ItemID: id, Type: events.Purchase, RequestID: rid, Position: pos(id),
					Timestamp: at.Add(10*time.Minute + time.Duration(k)*time.Second)})
			}
			// the server's listeners see events as they are appended
			m.EventsAppended(sessEvs)
			for _, e := range sessEvs {
				clicks.Record(e)
				pop.record(e)
			}
			evs = append(evs, sessEvs...)
			tot.Sessions++
			tot.Clicks += len(cl)
			tot.Carts += len(ca)
			tot.Purchases += len(bu)
		}
		if err := st.AppendEvents(ctx, evs); err != nil {
			return nil, err
		}
		pop.rebuild()
		d := tot
		d.Day = day
		d.Trained, d.Previous, d.Challenger, d.Interleaved = -1, -1, -1, interleaved
		simNow = t0.Add(time.Duration(day) * 24 * time.Hour)
		// the manager's hourly fit, over every answer logged so far
		if err := stopLog(); err != nil {
			return nil, err
		}
		if err := m.FitPositions(ctx); err != nil {
			return nil, err
		}
		startLog()
		if p := m.Propensities("search"); p != nil {
			d.Theta, d.Method, d.Explored = p.Theta, p.Method, p.Explored
		}
		if v := l.ServingVersion(); v > 0 {
			if d.Previous, err = evalVersion(ctx, ix, st, v, test); err != nil {
				return nil, err
			}
		}
		if ch := l.Challenger(); ch != nil {
			if d.Challenger, err = evalVersion(ctx, ix, st, ch.Version, test); err != nil {
				return nil, err
			}
		}
		rep, err := l.Train(ctx)
		switch {
		case errors.Is(err, ErrNotEnoughData):
			d.TrainErr = err.Error()
		case err != nil:
			return nil, err
		default:
			d.Report = rep
		}
		if d.Keyword, err = evalTest(ctx, ix, test, func(q string) search.Request {
			return search.Request{Query: q, Mode: search.ModeKeyword}
		}); err != nil {
			return nil, err
		}
		if d.Boost, err = evalTest(ctx, ix, test, func(q string) search.Request {
			return search.Request{Query: q, Mode: search.ModeKeyword, Boost: clicks.Boost(q)}
		}); err != nil {
			return nil, err
		}
		if d.Served, err = evalTest(ctx, ix, test, func(q string) search.Request { return serveRequest(ix, clicks, q) }); err != nil {
			return nil, err
		}
		if d.Guarded, err = evalTest(ctx, ix, test, func(q string) search.Request {
			if clicks.Boost(q) == nil {
				return search.Request{Query: q, Mode: search.ModeKeyword}
			}
			return serveRequest(ix, clicks, q)
		}); err != nil {
			return nil, err
		}
		if rep.Version > 0 {
			if d.Trained, err = evalVersion(ctx, ix, st, rep.Version, test); err != nil {
				return nil, err
			}
		}
		out = append(out, d)
		if os.Getenv("AISLE_CLICKSIM_PROGRESS") != "" { // each day as it ends (long runs)
			fmt.Printf("seed %d %s", cfg.Seed, formatDays([]dayResult{d}))
		}
		if cfg.Inspect != nil {
			cfg.Inspect(day, ix, clicks, test)
		}
	}
	return out, nil
}

// serveRequest is the request the server makes for a shopper's search
// (api/search.go): the default mode is ModeLTR, and the click boost applies
// unless a learned ranker serves (it has click-through as a feature).
func serveRequest(ix *search.Index, clicks *search.Clicks, q string) search.Request {
	req := search.Request{Query: q, Mode: search.ModeLTR, NoHighlights: true}
	if ix.Ranker() == nil {
		req.Boost = clicks.Boost(q)
	}
	return req
}

func serve(ctx context.Context, ix *search.Index, clicks *search.Clicks, q string) ([]string, error) {
	res, err := ix.Search(ctx, serveRequest(ix, clicks, q))
	if err != nil {
		return nil, fmt.Errorf("search %q: %w", q, err)
	}
	ids := make([]string, len(res.Items))
	for i, h := range res.Items {
		ids[i] = h.ID
	}
	return ids, nil
}

// evalTest is the mean nDCG@10 of qs by their ESCI judgments.
func evalTest(ctx context.Context, ix *search.Index, qs []searcheval.Query, req func(q string) search.Request) (float64, error) {
	var sum float64
	for _, q := range qs {
		r := req(q.Text)
		r.N, r.NoHighlights = searcheval.K, true
		res, err := ix.Search(ctx, r)
		if err != nil {
			return 0, fmt.Errorf("search %q: %w", q.Text, err)
		}
		ids := make([]string, len(res.Items))
		for i, h := range res.Items {
			ids[i] = h.ID
		}
		sum += searcheval.NDCG(ids, q.Gains, searcheval.K)
	}
	return sum / float64(len(qs)), nil
}

// evalVersion scores a stored version (serving or rejected) in ModeLTR
// and restores the serving ranker.
func evalVersion(ctx context.Context, ix *search.Index, st store.Models, version int, qs []searcheval.Query) (float64, error) {
	var m *ltr.Model
	err := st.ReadModel(ctx, DefaultName, version, func(_ store.ModelMeta, r io.Reader) error {
		var err error
		m, err = ltr.Load(r)
		return err
	})
	if err != nil {
		return 0, err
	}
	prev := ix.Ranker()
	defer ix.SetRanker(prev)
	if err := ix.SetRanker(m); err != nil {
		return 0, err
	}
	return evalTest(ctx, ix, qs, func(q string) search.Request { return search.Request{Query: q, Mode: search.ModeLTR} })
}
