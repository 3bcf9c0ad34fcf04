package recommend

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// rowState is what the shop rows (buy it again, new arrivals, cold start)
// learn from the event stream, kept apart from the ledger and the models:
// per user, which items they bought and when; per item, category and the
// whole shop, how long shoppers wait before buying the same item again;
// per item, when it was added. Its zero value is ready to use.
type rowState struct {
	mu     sync.RWMutex
	newest int64 // Unix seconds of the newest event seen

	users map[string]*userRows
	// Repurchase intervals (log days) per item, per leaf category id and
	// over the whole shop.
	itemIv map[int32]*ivStats
	catIv  map[int32]*ivStats
	globIv ivStats
	// buyers and rebuyers per item: how many users bought it, and how many
	// of those on two occasions or more.
	buyers map[int32]*[2]int32

	added       map[int32]int64 // item → created_at (Unix seconds)
	addedNewest int64

	params RepurchaseParams

	// words caches the title words of the last new-arrivals candidates,
	// analysed when first asked for (analysing every title at start and
	// upsert cost ~5 CPU-s and a slice per product at 1M products).
	wordsMu sync.Mutex
	words   map[int32]titleWords

	attrMu    sync.Mutex
	attrCache *attrSnapshot
}

// userRows is one user's state.
type userRows struct {
	buys map[int32]*buyRec
	// weight is the user's total event weight per item (for popularity
	// among users who share attributes).
	weight map[int32]float32
}

// buyRec is one user's purchases of one item, counted in occasions:
// purchases closer than occasionGap to the previous one are the same
// occasion (two invoices the same afternoon).
type buyRec struct {
	first, last int64
	occasions   int32
	gaps        ivStats // this user's own log-intervals for this item
}

const occasionGap = 12 * 3600

// ivStats accumulates log-intervals (log days).
type ivStats struct {
	n, sum, sum2 float64
}

func (s *ivStats) add(x float64) { s.n++; s.sum += x; s.sum2 += x * x }

// shrink estimates mean and spread of log-intervals from s, pulled towards
// a parent estimate (pm, pv) with weight k pseudo-observations.
func (s *ivStats) shrink(pm, pv, k float64) (mean, variance float64) {
	if s == nil || s.n == 0 {
		return pm, pv
	}
	mean = (s.sum + k*pm) / (s.n + k)
	// Sum of squared deviations from the shrunk mean.
	ss := s.sum2 - 2*mean*s.sum + s.n*mean*mean
	variance = (max(ss, 0) + k*pv) / (s.n + k)
	return mean, variance
}

// RepurchaseParams shape the buy-it-again score:
//
//	score = (occasions + Propensity·P(item is rebought)) · (Floor + due)
//
// where due ∈ (0, 1] is 1 when the time since the user's last purchase
// equals the item's typical interval and falls off on a log scale (slower
// once overdue, by OverdueSlack).
type RepurchaseParams struct {
	// Floor keeps items that are not due yet in the row, below due ones.
	Floor float64
	// Propensity weighs how often shoppers in general rebuy the item.
	Propensity float64
	// OverdueSlack widens the fall-off once an item is overdue (×σ).
	OverdueSlack float64
	// ItemPrior and CategoryPrior are the pseudo-counts that pull an
	// item's interval towards its category's, and a category's towards the
	// shop's.
	ItemPrior, CategoryPrior float64
	// UserPrior pulls a user's own interval for an item (from their own
	// repeat purchases of it) towards the item's; 0 ignores the user's own
	// rhythm.
	UserPrior float64
}

// DefaultRepurchaseParams were chosen on the validation split of Online
// Retail (train before 2011-06-01, validate June–August 2011); see
// docs/benchmarks.md. There, the landscape is flat: the item's rebuy
// propensity is what beats "most often bought"; timing and the user's own
// rhythm move NDCG@10 by about 0.002.
func DefaultRepurchaseParams() RepurchaseParams {
	return RepurchaseParams{Floor: 4, Propensity: 1, OverdueSlack: 4, ItemPrior: 3, CategoryPrior: 5, UserPrior: 1}
}

// SetRepurchaseParams replaces the buy-it-again parameters (evaluation
// uses it to compare settings on a validation split).
func (s *Service) SetRepurchaseParams(p RepurchaseParams) {
	s.rows.mu.Lock()
	defer s.rows.mu.Unlock()
	s.rows.params = p
	s.rows.paramsSet()
}

func (r *rowState) paramsSet() {
	if r.params == (RepurchaseParams{}) {
		r.params = DefaultRepurchaseParams()
	}
}

// trimWeights keeps the keep items of the largest weight (the user's
// strongest interests, which peer-group popularity sums), so the map is
// bounded by Config.MaxHistory like the profile; an eighth goes at once,
// so the sort is paid once per max/8 new items.
func (u *userRows) trimWeights(keep int) {
	type iw struct {
		item int32
		w    float32
	}
	all := make([]iw, 0, len(u.weight))
	for i, w := range u.weight {
		all = append(all, iw{i, w})
	}
	slices.SortFunc(all, func(a, b iw) int {
		if c := cmp.Compare(b.w, a.w); c != 0 {
			return c
		}
		return cmp.Compare(a.item, b.item)
	})
	for _, x := range all[min(keep, len(all)):] {
		delete(u.weight, x.item)
	}
}

func (r *rowState) init() {
	if r.users == nil {
		r.users = map[string]*userRows{}
		r.itemIv = map[int32]*ivStats{}
		r.catIv = map[int32]*ivStats{}
		r.buyers = map[int32]*[2]int32{}
		r.added = map[int32]int64{}
	}
	r.paramsSet()
}

// titleWords is an item's title and the words analysed from it.
type titleWords struct {
	title string
	words []string
}

// candidateWords sets each candidate's title words from info's titles,
// analysing only those not analysed for the previous call with the same
// title; the cache keeps this call's candidates only.
func (s *Service) candidateWords(r *rowState, items []int32, info []itemInfo, out [][]string) {
	r.wordsMu.Lock()
	defer r.wordsMu.Unlock()
	next := make(map[int32]titleWords, len(items))
	for k, i := range items {
		t := info[i].title
		tw, ok := r.words[i]
		if !ok || tw.title != t {
			tw = titleWords{t, s.words(t)}
		}
		next[i] = tw
		out[k] = tw.words
	}
	r.words = next
}

// rowsItemsAdded records when items were added (created_at), for new
// arrivals. Called for every upsert; an item keeps its first date.
func (s *Service) rowsItemsAdded(its []catalog.Item) {
	r := &s.rows
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	for _, it := range its {
		i, ok := s.items.lookup(it.ID)
		if !ok {
			continue
		}
		if _, seen := r.added[i]; seen {
			continue
		}
		ts := it.CreatedAt.Unix()
		if it.CreatedAt.IsZero() {
			ts = time.Now().Unix()
		}
		r.added[i] = ts
		r.addedNewest = max(r.addedNewest, ts)
	}
}

// rowsObserve records one event on item i (called for every event, replayed
// or new).
func (s *Service) rowsObserve(e events.Event, i int32) { s.rowsObserveTo(&s.rows, e, i) }

// rowsObserveTo records one event on item i in r (the service's own, or a
// fresh one being relearnt after retention).
func (s *Service) rowsObserveTo(r *rowState, e events.Event, i int32) {
	w := float32(s.cfg.Weight(e.Type, e.Value))
	ts := e.Timestamp.Unix()
	info := s.items.snapshot()
	cat := int32(-1)
	if int(i) < len(info) {
		cat = info[i].cat
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	r.newest = max(r.newest, ts)
	if e.UserID == "" {
		return
	}
	u := r.users[e.UserID]
	if u == nil {
		u = &userRows{buys: map[int32]*buyRec{}, weight: map[int32]float32{}}
		r.users[e.UserID] = u
	}
	if w > 0 {
		u.weight[i] += w
		if m := s.cfg.MaxHistory; m > 0 && len(u.weight) > m {
			u.trimWeights(m - m/8)
		}
	}
	if e.Type != events.Purchase {
		return
	}
	b := u.buys[i]
	if b == nil {
		u.buys[i] = &buyRec{first: ts, last: ts, occasions: 1}
		r.buyerStats(i)[0]++
		return
	}
	var gap int64
	switch {
	case ts >= b.last+occasionGap:
		gap = ts - b.last
		b.last = ts
	case ts <= b.first-occasionGap: // an older purchase arriving late
		gap = b.first - ts
		b.first = ts
	default:
		return // the same occasion
	}
	b.occasions++
	if b.occasions == 2 {
		r.buyerStats(i)[1]++
	}
	x := math.Log(float64(gap) / 86400)
	b.gaps.add(x)
	r.ivOf(r.itemIv, i).add(x)
	if cat >= 0 {
		r.ivOf(r.catIv, cat).add(x)
	}
	r.globIv.add(x)
}

func (r *rowState) buyerStats(i int32) *[2]int32 {
	b := r.buyers[i]
	if b == nil {
		b = &[2]int32{}
		r.buyers[i] = b
	}
	return b
}

func (r *rowState) ivOf(m map[int32]*ivStats, k int32) *ivStats {
	s := m[k]
	if s == nil {
		s = &ivStats{}
		m[k] = s
	}
	return s
}

// freshEvents returns an empty row state for relearning from the event
// log, with r's settings and item dates (which come from the catalogue,
// not from events).
func (r *rowState) freshEvents() *rowState {
	r.mu.RLock()
	defer r.mu.RUnlock()
	f := &rowState{params: r.params}
	f.init()
	for k, v := range r.added {
		f.added[k] = v
	}
	f.addedNewest = r.addedNewest
	return f
}

// swapEvents takes fresh's event-derived state (purchases, intervals,
// buyers, weights); the item dates and settings stay. Attribute
// popularity, cached from the old weights, is dropped.
func (r *rowState) swapEvents(fresh *rowState) {
	r.mu.Lock()
	r.newest, r.users, r.itemIv, r.catIv, r.globIv, r.buyers = fresh.newest, fresh.users, fresh.itemIv, fresh.catIv, fresh.globIv, fresh.buyers
	r.mu.Unlock()
	r.attrMu.Lock()
	r.attrCache = nil
	r.attrMu.Unlock()
}

// rowsForget drops a deleted user's state (aggregated intervals stay,
// anonymous).
func (s *Service) rowsForget(user string) {
	s.rows.mu.Lock()
	defer s.rows.mu.Unlock()
	delete(s.rows.users, user)
}

// Shop-wide prior when nothing was ever rebought: a month, give or take a
// factor of e.
var (
	priorLogDays = math.Log(30)
	priorLogVar  = 1.0
)

// interval returns the typical repurchase interval of item i (of leaf
// category cat) as mean and standard deviation of log days; the caller
// holds r.mu.
func (r *rowState) interval(i, cat int32) (mean, sd float64) {
	gm, gv := r.globIv.shrink(priorLogDays, priorLogVar, 2)
	cm, cv := gm, gv
	if cat >= 0 {
		cm, cv = r.catIv[cat].shrink(gm, gv, r.params.CategoryPrior)
	}
	m, v := r.itemIv[i].shrink(cm, cv, r.params.ItemPrior)
	return m, min(max(math.Sqrt(v), 0.3), 1.5)
}

// userInterval is interval(i, cat) pulled towards the user's own rhythm
// for the item (b.gaps) when UserPrior > 0; the caller holds r.mu.
func (r *rowState) userInterval(b *buyRec, i, cat int32) (mean, sd float64) {
	m, sd := r.interval(i, cat)
	if r.params.UserPrior <= 0 || b.gaps.n == 0 {
		return m, sd
	}
	um, uv := b.gaps.shrink(m, sd*sd, r.params.UserPrior)
	return um, min(max(math.Sqrt(uv), 0.3), 1.5)
}

// due is how due a repurchase is after elapsed seconds, given the item's
// log-interval mean and spread: 1 at the typical interval, falling off on
// a log scale, more slowly once overdue.
func due(elapsed int64, mean, sd, overdueSlack float64) float64 {
	days := max(float64(elapsed)/86400, 0.25)
	z := (math.Log(days) - mean) / sd
	if z > 0 {
		z /= max(overdueSlack, 1)
	}
	return math.Exp(-z * z / 2)
}
