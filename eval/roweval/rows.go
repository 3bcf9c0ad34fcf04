// Package roweval measures the rows a shop expects (buy it again, complete
// the basket, attribute cold start, new arrivals) on a shop's purchase
// history with a temporal split, through a real recommend.Service.
package roweval

import (
	"cmp"
	"context"
	"fmt"
	"github.com/aisle-dev/aisle/eval"
	"math"
	"os"
	"slices"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// RowsOptions configure EvalRows.
type RowsOptions struct {
	// SplitAt: events before it train, events from it to End test.
	SplitAt, End time.Time
	// K is the cut-off of HR, NDCG and Recall (default 10).
	K int
	// Params are the buy-it-again parameters (zero = the defaults).
	Params recommend.RepurchaseParams
	// Progress receives the fraction done of each stage; may be nil.
	Progress func(stage string, done, total int)
	// MaxBaskets bounds the next-basket cases (evenly spaced; 0 = all).
	MaxBaskets int
	// BuyAgainOnly skips the next-basket and cold-start protocols (for
	// tuning the buy-again parameters).
	BuyAgainOnly bool
}

// RowsMetrics are one method's results.
type RowsMetrics struct {
	HR     float64 `json:"hr"`
	NDCG   float64 `json:"ndcg"`
	Recall float64 `json:"recall"`
}

// RowsReport is the outcome of EvalRows: for each protocol, its number of
// cases and each method's metrics at K.
type RowsReport struct {
	SplitAt, End time.Time
	K            int
	TrainEvents  int
	Params       recommend.RepurchaseParams

	// BuyAgain: each user's first test basket, target = its items the user
	// bought in training.
	BuyAgainUsers int
	BuyAgain      map[string]RowsMetrics
	// NextBasket: each test basket of 2+ items, given its first item,
	// target = the others.
	NextBaskets int
	NextBasket  map[string]RowsMetrics
	// ColdStart: users whose first purchase is in the test period, target
	// = their first basket.
	ColdUsers int
	ColdStart map[string]RowsMetrics
	// NewArrivals: each returning user's first test basket holding items
	// added (first sold) in the 30 days before it; target = those items.
	NewArrivalUsers int
	NewArrivals     map[string]RowsMetrics
}

type testBasket struct {
	user  string
	at    time.Time
	items []string // in file order
}

// EvalRows measures the shop rows on a temporal split of shop: a
// recommend.Service is fed the catalogue and the training purchases
// through its listener calls, exactly as a live shop's, then asked, for
// each test case, what a shopper would see.
func EvalRows(ctx context.Context, shop *eval.Shop, opt RowsOptions) (*RowsReport, error) {
	if opt.K <= 0 {
		opt.K = 10
	}
	if opt.Params == (recommend.RepurchaseParams{}) {
		opt.Params = recommend.DefaultRepurchaseParams()
	}
	if opt.End.IsZero() {
		opt.End = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if !opt.SplitAt.Before(opt.End) {
		return nil, fmt.Errorf("rows: split %s is not before the end %s", opt.SplitAt.Format(time.DateOnly), opt.End.Format(time.DateOnly))
	}
	progress := func(stage string, done, total int) {
		if opt.Progress != nil {
			opt.Progress(stage, done, total)
		}
	}
	dir, err := os.MkdirTemp("", "aisle-eval-rows-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st, err := boltstore.Open(dir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	// Users go to the store (cold start reads their attributes) and so do
	// the training events (new arrivals read the user's history); the
	// service learns the catalogue and the events from listener calls.
	if err := st.PutUsers(ctx, shop.Users); err != nil {
		return nil, fmt.Errorf("rows: store users: %w", err)
	}
	svc := recommend.New(st, recommend.Config{}, nil)
	svc.SetRepurchaseParams(opt.Params)
	svc.ItemsUpserted(shop.Items)

	var train []events.Event
	baskets := map[string]*testBasket{}
	var order []string
	seenTrain := map[string]bool{}
	for _, e := range shop.Events {
		switch {
		case e.Timestamp.Before(opt.SplitAt):
			train = append(train, e)
			seenTrain[e.UserID] = true
		case e.Timestamp.Before(opt.End):
			b := baskets[e.SessionID]
			if b == nil {
				b = &testBasket{user: e.UserID, at: e.Timestamp}
				baskets[e.SessionID] = b
				order = append(order, e.SessionID)
			}
			b.items = append(b.items, e.ItemID)
		}
	}
	const batch = 10_000
	for k := 0; k < len(train); k += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		part := slices.Clone(train[k:min(k+batch, len(train))])
		if !opt.BuyAgainOnly {
			if err := st.AppendEvents(ctx, part); err != nil {
				return nil, fmt.Errorf("rows: store events: %w", err)
			}
		}
		svc.EventsAppended(part)
		progress("train", k, len(train))
	}
	rep := &RowsReport{SplitAt: opt.SplitAt, End: opt.End, K: opt.K, TrainEvents: len(train), Params: opt.Params,
		BuyAgain: map[string]RowsMetrics{}, NextBasket: map[string]RowsMetrics{}, ColdStart: map[string]RowsMetrics{}, NewArrivals: map[string]RowsMetrics{}}
	if err := rowsBuyAgain(ctx, svc, train, baskets, order, seenTrain, opt, rep, progress); err != nil {
		return nil, err
	}
	if opt.BuyAgainOnly {
		return rep, nil
	}
	// The relations a live shop serves once it has learned them (a
	// request learns in the background and swaps them in later, which
	// would change the answers half way through).
	progress("learn item relations", 0, 1)
	if _, err := svc.LearnRelated(ctx); err != nil {
		return nil, fmt.Errorf("rows: %w", err)
	}
	if err := rowsNextBasket(ctx, svc, newCoCounts(train), baskets, order, opt, rep, progress); err != nil {
		return nil, err
	}
	if err := rowsColdStart(ctx, svc, shop, baskets, order, seenTrain, opt, rep, progress); err != nil {
		return nil, err
	}
	if err := rowsNewArrivals(ctx, svc, shop, baskets, order, seenTrain, opt, rep, progress); err != nil {
		return nil, err
	}
	return rep, nil
}

// rowsAccum sums metrics over cases.
type rowsAccum map[string]*[4]float64 // hr, ndcg, recall, n

func (a rowsAccum) add(method string, ranked []string, target map[string]bool, k int) {
	m := a[method]
	if m == nil {
		m = &[4]float64{}
		a[method] = m
	}
	var hits, dcg float64
	for r, id := range ranked[:min(k, len(ranked))] {
		if target[id] {
			hits++
			dcg += 1 / math.Log2(float64(r)+2)
		}
	}
	var idcg float64
	for r := 0; r < min(k, len(target)); r++ {
		idcg += 1 / math.Log2(float64(r)+2)
	}
	if hits > 0 {
		m[0]++
	}
	if idcg > 0 {
		m[1] += dcg / idcg
	}
	if len(target) > 0 {
		m[2] += hits / float64(len(target))
	}
	m[3]++
}

func (a rowsAccum) into(out map[string]RowsMetrics) {
	for name, m := range a {
		if m[3] > 0 {
			out[name] = RowsMetrics{HR: m[0] / m[3], NDCG: m[1] / m[3], Recall: m[2] / m[3]}
		}
	}
}

func answerIDs(a *recommend.Answer) []string {
	out := make([]string, len(a.Items))
	for k, it := range a.Items {
		out[k] = it.ID
	}
	return out
}

func rowsBuyAgain(ctx context.Context, svc *recommend.Service, train []events.Event, baskets map[string]*testBasket, order []string, seenTrain map[string]bool, opt RowsOptions, rep *RowsReport, progress func(string, int, int)) error {
	// What each user bought in training: occasions (distinct days) and the
	// last time, for the baselines.
	type hist struct {
		days map[int64]bool
		last time.Time
	}
	bought := map[string]map[string]*hist{}
	for _, e := range train {
		m := bought[e.UserID]
		if m == nil {
			m = map[string]*hist{}
			bought[e.UserID] = m
		}
		h := m[e.ItemID]
		if h == nil {
			h = &hist{days: map[int64]bool{}}
			m[e.ItemID] = h
		}
		h.days[e.Timestamp.Unix()/86400] = true
		h.last = e.Timestamp
	}
	pop := answerIDs(svc.Popular(0, recommend.Request{N: opt.K}))
	popScore := map[string]int{}
	for _, e := range train {
		popScore[e.ItemID]++
	}
	done := map[string]bool{}
	acc := rowsAccum{}
	for k, id := range order {
		b := baskets[id]
		if done[b.user] || !seenTrain[b.user] {
			continue
		}
		done[b.user] = true
		mine := bought[b.user]
		target := map[string]bool{}
		for _, it := range b.items {
			if mine[it] != nil {
				target[it] = true
			}
		}
		if len(target) == 0 {
			continue
		}
		if k%200 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			progress("buy again", k, len(order))
		}
		ans, err := svc.BuyAgainAt(ctx, b.user, b.at, recommend.Request{N: opt.K})
		if err != nil {
			return err
		}
		acc.add("buy-again", answerIDs(ans), target, opt.K)
		items := make([]string, 0, len(mine))
		for it := range mine {
			items = append(items, it)
		}
		byFreq := slices.Clone(items)
		slices.SortFunc(byFreq, func(a, c string) int {
			if d := cmp.Compare(len(mine[c].days), len(mine[a].days)); d != 0 {
				return d
			}
			if d := mine[c].last.Compare(mine[a].last); d != 0 {
				return d
			}
			return cmp.Compare(a, c)
		})
		acc.add("user-most-often", byFreq, target, opt.K)
		byRecent := slices.Clone(items)
		slices.SortFunc(byRecent, func(a, c string) int {
			if d := mine[c].last.Compare(mine[a].last); d != 0 {
				return d
			}
			return cmp.Compare(a, c)
		})
		acc.add("user-most-recent", byRecent, target, opt.K)
		byPop := slices.Clone(items)
		slices.SortFunc(byPop, func(a, c string) int {
			if d := cmp.Compare(popScore[c], popScore[a]); d != 0 {
				return d
			}
			return cmp.Compare(a, c)
		})
		acc.add("user-items-by-popularity", byPop, target, opt.K)
		acc.add("popularity", pop, target, opt.K)
	}
	acc.into(rep.BuyAgain)
	if m := acc["buy-again"]; m != nil {
		rep.BuyAgainUsers = int(m[3])
	}
	return nil
}

// coCounts are the training baskets' raw pair counts: the bought together
// of session 7 (before package related), kept as the baseline complete
// basket must beat.
type coCounts struct {
	co     map[string]map[string]int
	bought map[string]int // baskets holding the item
}

func newCoCounts(train []events.Event) *coCounts {
	bySession := map[string][]string{}
	var order []string
	for _, e := range train {
		if e.SessionID == "" {
			continue
		}
		if _, ok := bySession[e.SessionID]; !ok {
			order = append(order, e.SessionID)
		}
		bySession[e.SessionID] = append(bySession[e.SessionID], e.ItemID)
	}
	c := &coCounts{co: map[string]map[string]int{}, bought: map[string]int{}}
	for _, id := range order {
		items := slices.Compact(slices.Sorted(slices.Values(bySession[id])))
		for _, a := range items {
			c.bought[a]++
			m := c.co[a]
			if m == nil {
				m = map[string]int{}
				c.co[a] = m
			}
			for _, b := range items {
				if b != a {
					m[b]++
				}
			}
		}
	}
	return c
}

// partners ranks the items bought in a basket with item by the number of
// such baskets, with the small preference session 7's ledger gave to
// partners that are not bought with everything (c + c/(1+baskets of j)).
func (c *coCounts) partners(item string) []string {
	type p struct {
		id string
		s  float64
	}
	var ps []p
	for j, n := range c.co[item] {
		ps = append(ps, p{j, float64(n) + float64(n)/float64(1+c.bought[j])})
	}
	slices.SortFunc(ps, func(x, y p) int {
		if d := cmp.Compare(y.s, x.s); d != 0 {
			return d
		}
		return cmp.Compare(x.id, y.id)
	})
	out := make([]string, len(ps))
	for k, x := range ps {
		out[k] = x.id
	}
	return out
}

func rowsNextBasket(ctx context.Context, svc *recommend.Service, co *coCounts, baskets map[string]*testBasket, order []string, opt RowsOptions, rep *RowsReport, progress func(string, int, int)) error {
	var cases []string
	for _, id := range order {
		if len(baskets[id].items) >= 2 {
			cases = append(cases, id)
		}
	}
	if opt.MaxBaskets > 0 && len(cases) > opt.MaxBaskets {
		step := float64(len(cases)) / float64(opt.MaxBaskets)
		sub := make([]string, 0, opt.MaxBaskets)
		for k := 0; k < opt.MaxBaskets; k++ {
			sub = append(sub, cases[int(float64(k)*step)])
		}
		cases = sub
	}
	pop := answerIDs(svc.Popular(0, recommend.Request{N: opt.K + 1}))
	acc := rowsAccum{}
	for k, id := range cases {
		if k%100 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			progress("next basket", k, len(cases))
		}
		b := baskets[id]
		given := b.items[0]
		target := map[string]bool{}
		for _, it := range b.items[1:] {
			if it != given {
				target[it] = true
			}
		}
		req := recommend.Request{N: opt.K}
		cb, err := svc.CompleteBasket(ctx, []string{given}, req)
		if err != nil {
			return err
		}
		acc.add("complete-basket", answerIDs(cb), target, opt.K)
		bt, err := svc.BoughtTogether(ctx, given, req)
		if err != nil {
			return err
		}
		acc.add("bought-together", answerIDs(bt), target, opt.K)
		// Session 7's complete basket: raw co-counts, filled up with the
		// session answer for the item (as CompleteBasket fills up).
		raw := co.partners(given)
		acc.add("basket co-counts", raw, target, opt.K)
		if len(raw) < opt.K {
			sess, err := svc.Session(ctx, []string{given}, recommend.Request{N: opt.K})
			if err != nil {
				return err
			}
			for _, id := range answerIDs(sess) {
				if len(raw) >= opt.K {
					break
				}
				if id != given && !slices.Contains(raw, id) {
					raw = append(raw, id)
				}
			}
		}
		acc.add("basket co-counts, session fill-up", raw, target, opt.K)
		p := slices.DeleteFunc(slices.Clone(pop), func(s string) bool { return s == given })
		acc.add("popularity", p, target, opt.K)
	}
	acc.into(rep.NextBasket)
	rep.NextBaskets = len(cases)
	return nil
}

func rowsColdStart(ctx context.Context, svc *recommend.Service, shop *eval.Shop, baskets map[string]*testBasket, order []string, seenTrain map[string]bool, opt RowsOptions, rep *RowsReport, progress func(string, int, int)) error {
	attrs := map[string]map[string]any{}
	for _, u := range shop.Users {
		attrs[u.ID] = u.Attributes
	}
	pop := answerIDs(svc.Popular(0, recommend.Request{N: opt.K}))
	done := map[string]bool{}
	acc := rowsAccum{}
	for k, id := range order {
		b := baskets[id]
		if seenTrain[b.user] || done[b.user] {
			continue
		}
		done[b.user] = true
		if k%100 == 0 {
			progress("cold start", k, len(order))
		}
		target := map[string]bool{}
		for _, it := range b.items {
			target[it] = true
		}
		ans, ok, err := svc.PopularAmong(ctx, b.user, attrs[b.user], recommend.Request{N: opt.K})
		if err != nil {
			return err
		}
		ranked := pop
		if ok {
			ranked = answerIDs(ans)
		}
		acc.add("attributes (country)", ranked, target, opt.K)
		acc.add("popularity", pop, target, opt.K)
	}
	acc.into(rep.ColdStart)
	if m := acc["popularity"]; m != nil {
		rep.ColdUsers = int(m[3])
	}
	return nil
}

// rowsNewArrivals: for each returning user, their first test basket that
// holds items added (first sold) within recommend.NewArrivalsWindow before
// it; target = those items; NewArrivalsAt (content affinity to the user's
// history) against the newest first (what a user without history gets).
func rowsNewArrivals(ctx context.Context, svc *recommend.Service, shop *eval.Shop, baskets map[string]*testBasket, order []string, seenTrain map[string]bool, opt RowsOptions, rep *RowsReport, progress func(string, int, int)) error {
	created := map[string]time.Time{}
	for _, it := range shop.Items {
		created[it.ID] = it.CreatedAt
	}
	done := map[string]bool{}
	acc := rowsAccum{}
	for k, id := range order {
		b := baskets[id]
		if !seenTrain[b.user] || done[b.user] {
			continue
		}
		target := map[string]bool{}
		for _, it := range b.items {
			if c := created[it]; !c.After(b.at) && b.at.Sub(c) <= recommend.NewArrivalsWindow {
				target[it] = true
			}
		}
		if len(target) == 0 {
			continue
		}
		done[b.user] = true
		if k%100 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			progress("new arrivals", k, len(order))
		}
		req := recommend.Request{N: opt.K}
		mine, err := svc.NewArrivalsAt(ctx, b.user, b.at, req)
		if err != nil {
			return err
		}
		acc.add("new-arrivals (content affinity)", answerIDs(mine), target, opt.K)
		newest, err := svc.NewArrivalsAt(ctx, "", b.at, req)
		if err != nil {
			return err
		}
		acc.add("newest first", answerIDs(newest), target, opt.K)
	}
	acc.into(rep.NewArrivals)
	if m := acc["newest first"]; m != nil {
		rep.NewArrivalUsers = int(m[3])
	}
	return nil
}
