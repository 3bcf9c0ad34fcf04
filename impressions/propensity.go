package impressions

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Position bias: a shopper examines the first item of a list more often
// than the tenth, so the first collects more clicks whatever its relevance.
// The position-based click model (PBM: Craswell et al. 2008; fitted by EM as
// in Wang et al., "Position bias estimation for unbiased learning to rank in
// personal search", WSDM 2018) says
//
//	P(click | item i shown at position k in context q) = θ_k · γ_{q,i}
//
// with θ_k the probability that position k is examined and γ the item's
// relevance in that context. The impression log holds every list as it was
// shown and, in its clicks bucket, the positions clicked in it; Fit
// estimates θ from them. 1/θ_k (relative to the first position) is the
// inverse propensity weight a click at position k is worth when learning
// relevance from clicks (Joachims et al. 2017).
//
// The same item is shown at different positions in different lists (the
// ranking changes with the shopper, the day's model, interleaving): that
// variation is what separates θ from γ.

// MaxWeight caps the inverse propensity weight of one click: a position
// rarely examined would otherwise give one lucky click an unbounded say
// (the usual clipping of IPS estimators, which trades a little bias for
// much less variance).
const MaxWeight = 10.0

// Propensities are the examination probabilities of positions estimated
// from the log.
type Propensities struct {
	// Theta[k-1] is the examination probability of position k relative to
	// position 1 (Theta[0] = 1).
	Theta []float64 `json:"theta"`
	// Views and Clicks are the items shown and clicked at each position in
	// the lists the fit read.
	Views  []int64 `json:"views"`
	Clicks []int64 `json:"clicks"`
	// Lists is how many logged answers the fit read; Iterations how many
	// EM steps it took.
	Lists      int       `json:"lists"`
	Iterations int       `json:"iterations"`
	Fitted     time.Time `json:"fitted"`
	// Method is how Theta was estimated: "randomised" from the explored
	// (shuffled) answers when there were at least MinExplored of them,
	// "em" by the EM fit of every answer otherwise.
	Method string `json:"method"`
	// Explored is how many of the lists were explored answers;
	// ExploredViews and ExploredClicks their views and clicks per
	// position; EMTheta the EM fit, kept for comparison when Method is
	// "randomised".
	Explored       int       `json:"explored"`
	ExploredViews  []int64   `json:"explored_views,omitempty"`
	ExploredClicks []int64   `json:"explored_clicks,omitempty"`
	EMTheta        []float64 `json:"em_theta,omitempty"`
	// ThetaSE is the standard error of each position's θ when Method is
	// "randomised" (ThetaSE): how far the estimate may be off by chance.
	ThetaSE []float64 `json:"theta_se,omitempty"`
}

// Weight is the inverse propensity weight of an action on the item at
// position pos (1-based): 1/Theta, at most MaxWeight; 1 for position 0
// (unknown) or when nothing was fitted. Positions past the fitted ones
// take the last fitted one's weight.
func (p *Propensities) Weight(pos int) float64 {
	if p == nil || pos < 1 || len(p.Theta) == 0 {
		return 1
	}
	th := p.Theta[min(pos, len(p.Theta))-1]
	if th <= 1/MaxWeight {
		return MaxWeight
	}
	return 1 / th
}

// FitOptions tune Fit.
type FitOptions struct {
	// From is the oldest answer read (zero: the whole log).
	From time.Time
	// Positions is how many leading positions are estimated (default 10).
	Positions int
	// MinViews is how many views a position needs to be estimated on its
	// own (default 200); a position with fewer takes the previous one's
	// value.
	MinViews int64
	// MaxLists bounds the answers read, newest first (default 200,000).
	MaxLists int
	// MinExplored is how many explored (shuffled) answers of a surface
	// make its θ come from them instead of EM (default MinExplored);
	// MinExploredViews how many views in them a position needs to be
	// estimated on its own (default 100).
	MinExplored      int
	MinExploredViews int64
}

// Click notes that the item at position pos (1-based) of the answer
// requestID was clicked. It never blocks on I/O: the writer stores it
// with the next batch. Positions past 65,535 and ids not made by
// reqid.New are ignored.
func (l *Log) Click(requestID string, pos int) {
	k, ok := key(requestID)
	if !ok || pos < 1 || pos > math.MaxUint16 {
		return
	}
	k = binary.BigEndian.AppendUint16(k, uint16(pos))
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.clicks) >= l.opts.Queue {
		l.dropped.Add(1)
		return
	}
	l.clicks = append(l.clicks, k)
}

// Clicked returns the positions clicked in the written answer requestID.
func (l *Log) Clicked(requestID string) ([]int, error) {
	k, ok := key(requestID)
	if !ok {
		return nil, nil
	}
	var out []int
	err := l.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(clickBucket).Cursor()
		for ck, _ := c.Seek(k); ck != nil && bytes.HasPrefix(ck, k); ck, _ = c.Next() {
			if len(ck) == len(k)+2 {
				out = append(out, int(binary.BigEndian.Uint16(ck[len(k):])))
			}
		}
		return nil
	})
	return out, err
}

// Fit estimates the examination probability of the leading positions from
// the written answers and their clicks with the position-based model, by
// expectation-maximisation: once per surface, and once over every surface
// (key ""). A surface with at least MinExplored explored (shuffled)
// answers takes θ from those instead (ThetaFromExplored, Method
// "randomised"; explore.go), the EM fit kept beside it. The context of an item's relevance is the answer's surface and,
// for a search, its query (an item may be relevant on "similar" and not on
// "popular", for one query and not another). It reads
// the newest answers first, at most MaxLists of them (memory is one cell
// per surface, item and position seen), in one read transaction; writes
// go on meanwhile.
func (l *Log) Fit(ctx context.Context, opts FitOptions) (map[string]Propensities, error) {
	if opts.Positions <= 0 {
		opts.Positions = 10
	}
	if opts.MinViews <= 0 {
		opts.MinViews = 200
	}
	if opts.MaxLists <= 0 {
		opts.MaxLists = 200_000
	}
	if opts.MinExplored <= 0 {
		opts.MinExplored = MinExplored
	}
	if opts.MinExploredViews <= 0 {
		opts.MinExploredViews = 100
	}
	from := make([]byte, 4)
	binary.BigEndian.PutUint32(from, uint32(max(0, opts.From.Unix())))
	type rel struct {
		id      int32
		surface string
	}
	rels := map[string]rel{}
	cells := map[[2]int32]*Observation{}
	props := map[string]*Propensities{}
	prop := func(surface string) *Propensities {
		p := props[surface]
		if p == nil {
			p = &Propensities{Views: make([]int64, opts.Positions), Clicks: make([]int64, opts.Positions),
				ExploredViews: make([]int64, opts.Positions), ExploredClicks: make([]int64, opts.Positions)}
			props[surface] = p
		}
		return p
	}
	err := l.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		cc := tx.Bucket(clickBucket).Cursor()
		n := 0
		for k, v := c.Last(); k != nil && bytes.Compare(k[:min(4, len(k))], from) >= 0 && n < opts.MaxLists; k, v = c.Prev() {
			if n++; n%1024 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			var imp Impression
			if err := decode(v, &imp); err != nil {
				return fmt.Errorf("impression %x: %w", k, err)
			}
			var clicked uint64 // bit k-1: position k clicked (k ≤ 64)
			for ck, _ := cc.Seek(k); ck != nil && bytes.HasPrefix(ck, k); ck, _ = cc.Next() {
				if len(ck) == len(k)+2 {
					if pos := int(binary.BigEndian.Uint16(ck[len(k):])); pos >= 1 && pos <= 64 {
						clicked |= 1 << (pos - 1)
					}
				}
			}
			ps, all := prop(imp.Surface), prop("")
			ps.Lists++
			all.Lists++
			if imp.Explored {
				ps.Explored++
				all.Explored++
				for i := range min(len(imp.Items), opts.Positions, ExploreTop) {
					ps.ExploredViews[i]++
					all.ExploredViews[i]++
					if clicked&(1<<i) != 0 {
						ps.ExploredClicks[i]++
						all.ExploredClicks[i]++
					}
				}
			}
			for i, item := range imp.Items[:min(len(imp.Items), opts.Positions)] {
				rk := imp.Surface + "\x00" + imp.Query + "\x00" + item
				r, ok := rels[rk]
				if !ok {
					r = rel{int32(len(rels)), imp.Surface}
					rels[rk] = r
				}
				o := cells[[2]int32{r.id, int32(i)}]
				if o == nil {
					o = &Observation{Cell: int(r.id), Position: i + 1}
					cells[[2]int32{r.id, int32(i)}] = o
				}
				o.Views++
				ps.Views[i]++
				all.Views[i]++
				if clicked&(1<<i) != 0 {
					o.Clicks++
					ps.Clicks[i]++
					all.Clicks[i]++
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fit position bias: read the impression log: %w", err)
	}
	surfaceOf := make([]string, len(rels))
	for _, r := range rels {
		surfaceOf[r.id] = r.surface
	}
	bySurface := map[string][]Observation{}
	var every []Observation
	for _, o := range cells {
		s := surfaceOf[o.Cell]
		bySurface[s] = append(bySurface[s], *o)
		every = append(every, *o)
	}
	clear(cells)
	// a fixed order: the same log gives the same fit to the last bit
	byCell := func(a, b Observation) int {
		return cmp.Or(cmp.Compare(a.Cell, b.Cell), cmp.Compare(a.Position, b.Position))
	}
	slices.SortFunc(every, byCell)
	for _, obs := range bySurface {
		slices.SortFunc(obs, byCell)
	}
	out := make(map[string]Propensities, len(props))
	now := l.opts.Now().UTC()
	for name, p := range props {
		obs := every
		if name != "" {
			obs = bySurface[name]
		}
		p.Theta, p.Iterations = FitPBM(obs, len(rels), opts.Positions, opts.MinViews)
		p.Method = "em"
		if p.Explored >= opts.MinExplored {
			if th := ThetaFromExplored(p.ExploredViews, p.ExploredClicks, opts.MinExploredViews); th != nil {
				p.EMTheta, p.Theta, p.Method = p.Theta, th, "randomised"
				p.ThetaSE = ThetaSE(p.ExploredViews, p.ExploredClicks)
			}
		}
		p.Fitted = now
		out[name] = *p
	}
	return out, nil
}

// Observation is what was seen of one relevance cell (a context and an
// item) at one position: views and clicks.
type Observation struct {
	Cell     int // 0 … cells-1
	Position int // 1-based
	Views    float64
	Clicks   float64
}

// FitPBM fits the position-based model to aggregated observations by EM
// and returns θ relative to position 1 (θ[0] = 1) for positions 1 …
// positions, and the iterations taken. A position with fewer than
// minViews views, or with no clicks at all, takes the previous position's
// value; θ is made non-increasing (a later position is never examined
// more than an earlier one on average in a list read from the top).
func FitPBM(obs []Observation, cells, positions int, minViews int64) ([]float64, int) {
	theta := make([]float64, positions)
	gamma := make([]float64, cells)
	views := make([]float64, positions)
	clicks := make([]float64, positions)
	for _, o := range obs {
		if o.Position >= 1 && o.Position <= positions {
			views[o.Position-1] += o.Views
			clicks[o.Position-1] += o.Clicks
		}
	}
	// start from the click-through rate of each position (what a naive
	// reading of the clicks says) and a middling relevance
	for k := range theta {
		theta[k] = 0.5
		if views[0] > 0 && clicks[0] > 0 && views[k] > 0 {
			theta[k] = math.Min(0.99, math.Max(0.01, (clicks[k]/views[k])/(clicks[0]/views[0])*0.9))
		}
	}
	for i := range gamma {
		gamma[i] = 0.5
	}
	tNum, tDen := make([]float64, positions), make([]float64, positions)
	gNum, gDen := make([]float64, cells), make([]float64, cells)
	iters := 0
	for iters < 500 {
		iters++
		clear(tNum)
		clear(tDen)
		clear(gNum)
		clear(gDen)
		for _, o := range obs {
			if o.Position < 1 || o.Position > positions {
				continue
			}
			k := o.Position - 1
			th, g := theta[k], gamma[o.Cell]
			den := 1 - th*g
			pE, pR := 0.0, 0.0
			if den > 1e-12 {
				pE = th * (1 - g) / den // examined, not relevant, given no click
				pR = (1 - th) * g / den // relevant, not examined, given no click
			}
			un := o.Views - o.Clicks
			tNum[k] += o.Clicks + un*pE
			tDen[k] += o.Views
			gNum[o.Cell] += o.Clicks + un*pR
			gDen[o.Cell] += o.Views
		}
		change := 0.0
		for k := range theta {
			if tDen[k] > 0 {
				nt := clamp01(tNum[k] / tDen[k])
				change = math.Max(change, math.Abs(nt-theta[k]))
				theta[k] = nt
			}
		}
		for i := range gamma {
			if gDen[i] > 0 {
				gamma[i] = clamp01(gNum[i] / gDen[i])
			}
		}
		if change < 1e-6 {
			break
		}
	}
	out := make([]float64, positions)
	for k := range out {
		switch {
		case k == 0:
			out[k] = 1
		case views[k] < float64(minViews) || clicks[k] == 0 || theta[0] <= 0:
			out[k] = out[k-1]
		default:
			out[k] = math.Min(out[k-1], theta[k]/theta[0])
		}
	}
	return out, iters
}

func clamp01(x float64) float64 { return math.Min(1-1e-9, math.Max(1e-9, x)) }
