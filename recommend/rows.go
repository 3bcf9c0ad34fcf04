package recommend

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/related"
	"github.com/aisle-dev/aisle/store"
)

// The rows a shop expects beside "recommended for you": buy it again,
// recently viewed, new arrivals for you, because you viewed X and complete
// your basket. Each answers a Request like the other surfaces (n, filters,
// diversity).

// BuyAgain lists items the user bought before whose repurchase is due now
// (as of the newest event the service has seen).
func (s *Service) BuyAgain(ctx context.Context, user string, req Request) (*Answer, error) {
	return s.BuyAgainAt(ctx, user, time.Time{}, req)
}

// BuyAgainAt is BuyAgain as of time at (zero = the newest event seen). Each
// item the user bought scores
// (occasions + Propensity·P(rebought)) · (Floor + due), where due is how
// close the time since their last purchase is to the item's typical
// repurchase interval (learned per item, pulled towards its leaf
// category's and the shop's when the item has few repurchases).
func (s *Service) BuyAgainAt(ctx context.Context, user string, at time.Time, req Request) (*Answer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	info := s.items.snapshot()
	f := req.Filter.compile(info, s.items.lookup)
	r := &s.rows
	r.mu.RLock()
	defer r.mu.RUnlock()
	u := r.users[user]
	if u == nil || len(u.buys) == 0 {
		return &Answer{}, nil
	}
	now := r.newest
	if !at.IsZero() {
		now = at.Unix()
	}
	p := r.params
	cands := make([]Item, 0, len(u.buys))
	for i, b := range u.buys {
		if !f.allows(i) {
			continue
		}
		mean, sd := r.userInterval(b, i, info[i].cat)
		d := due(now-b.last, mean, sd, p.OverdueSlack)
		prop := 0.5
		if bs := r.buyers[i]; bs != nil {
			prop = (float64(bs[1]) + 1) / (float64(bs[0]) + 2)
		}
		score := (float64(b.occasions) + p.Propensity*prop) * (p.Floor + d)
		cands = append(cands, Item{ID: info[i].id, Score: score, Reason: r.buyAgainReason(b, i, info[i].cat, now, mean, d)})
	}
	sortItems(cands)
	return &Answer{Items: s.diversify(cands, req, info)}, nil
}

// buyAgainReason says what the score rests on, claiming an interval only
// when repurchases of the item (or of its category) were seen; the caller
// holds r.mu.
func (r *rowState) buyAgainReason(b *buyRec, i, cat int32, now int64, mean, due float64) string {
	bought := fmt.Sprintf("buy again: you bought it %d×", b.occasions)
	if b.occasions == 1 {
		bought = "buy again: you bought it before"
	}
	every := math.Exp(mean)
	var basis string
	switch {
	case b.gaps.n > 0 || (r.itemIv[i] != nil && r.itemIv[i].n > 0):
		basis = "usually every " + daysText(every)
	case cat >= 0 && r.catIv[cat] != nil && r.catIv[cat].n > 0:
		basis = "items like it every " + daysText(every)
	default:
		return bought
	}
	if due < 0.5 && now-b.last < int64(every*86400) {
		return fmt.Sprintf("%s; due in about %s", bought, daysText(every-float64(now-b.last)/86400))
	}
	return bought + ", " + basis
}

func daysText(d float64) string {
	switch {
	case d < 1.5:
		return "1 day"
	case d < 14:
		return fmt.Sprintf("%.0f days", d)
	case d < 60:
		return fmt.Sprintf("%.0f weeks", d/7)
	default:
		return fmt.Sprintf("%.0f months", d/30.4)
	}
}

// sortItems orders items by score, best first, ties by id.
func sortItems(its []Item) {
	slices.SortFunc(its, func(a, b Item) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// viewTypes are the events that count as having looked at an item.
var viewTypes = []events.Type{events.View, events.Click, events.AddToCart}

// recentItems returns the distinct items of the user's recent events of
// the given types, newest first (at most limit).
func (s *Service) recentItems(ctx context.Context, user string, types []events.Type, limit int) ([]events.Event, error) {
	evs, err := s.st.UserEvents(ctx, user, max(4*limit, 200))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("read events of %q: %w", user, err)
	}
	seen := map[string]bool{}
	var out []events.Event
	for _, e := range evs {
		if e.ItemID == "" || seen[e.ItemID] || !slices.Contains(types, e.Type) {
			continue
		}
		seen[e.ItemID] = true
		out = append(out, e)
		if len(out) >= limit {
			break
		}
	}
	return out, nil
}

// RecentlyViewed lists the items the user viewed, clicked or put in the
// cart, newest first, each once. The score is 1 for the newest and falls
// with each older one.
func (s *Service) RecentlyViewed(ctx context.Context, user string, req Request) (*Answer, error) {
	info := s.items.snapshot()
	f := req.Filter.compile(info, s.items.lookup)
	evs, err := s.recentItems(ctx, user, viewTypes, max(req.want()*3, 50)) // the events behind n+room items
	if err != nil {
		return nil, err
	}
	var out []Item
	for _, e := range evs {
		i, ok := s.items.lookup(e.ItemID)
		if !ok || !f.allows(i) {
			continue
		}
		out = append(out, Item{ID: e.ItemID, Score: 1 / float64(len(out)+1), Reason: "viewed " + e.Timestamp.UTC().Format("2006-01-02 15:04")})
	}
	return &Answer{Items: s.diversify(out, req, info)}, nil
}

// RecentItems lists up to n items the user viewed, clicked or put in the
// cart, newest first, each once: the anchors of the search ranker's image
// feature. Nobody, or a user who has not consented to personalisation,
// has none.
func (s *Service) RecentItems(ctx context.Context, user string, n int) ([]string, error) {
	if user == "" || n <= 0 || !s.Personalized(user) {
		return nil, nil
	}
	evs, err := s.recentItems(ctx, user, viewTypes, n)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ItemID
	}
	return out, nil
}

// NewArrivalsWindow is how far back from the newest addition an item still
// counts as new.
const NewArrivalsWindow = 30 * 24 * time.Hour

// maxNewCandidates bounds how many of the newest items NewArrivals scores.
const maxNewCandidates = 5000

// NewArrivals lists items added in the last NewArrivalsWindow (by
// created_at, before the newest addition), ranked by their content
// affinity to the user's history (leaf category, brand, title words) plus
// a little freshness. Items reach it through content alone, seconds after
// they are added, with no events at all; a user without history gets the
// newest first. Items the user bought are left out.
func (s *Service) NewArrivals(ctx context.Context, user string, req Request) (*Answer, error) {
	return s.NewArrivalsAt(ctx, user, time.Time{}, req)
}

// NewArrivalsAt is NewArrivals as of time at: items added in the window
// before at (zero = before the newest addition).
func (s *Service) NewArrivalsAt(ctx context.Context, user string, at time.Time, req Request) (*Answer, error) {
	info := s.items.snapshot()
	f := req.Filter.compile(info, s.items.lookup)
	prof, err := s.profile(ctx, user, info)
	if err != nil {
		return nil, err
	}
	r := &s.rows
	r.mu.RLock()
	newest := r.addedNewest
	if !at.IsZero() {
		newest = at.Unix()
	}
	from := newest - int64(NewArrivalsWindow/time.Second)
	type fresh struct {
		item  int32
		ts    int64
		words []string
	}
	var cands []fresh
	for i, ts := range r.added {
		if ts >= from && ts <= newest && f.allows(i) && !prof.bought[i] {
			cands = append(cands, fresh{item: i, ts: ts})
		}
	}
	r.mu.RUnlock()
	slices.SortFunc(cands, func(a, b fresh) int {
		if c := cmp.Compare(b.ts, a.ts); c != 0 {
			return c
		}
		return cmp.Compare(a.item, b.item)
	})
	if len(cands) > maxNewCandidates {
		cands = cands[:maxNewCandidates]
	}
	ids, words := make([]int32, len(cands)), make([][]string, len(cands))
	for k, c := range cands {
		ids[k] = c.item
	}
	s.candidateWords(r, ids, info, words)
	for k := range cands {
		cands[k].words = words[k]
	}
	span := float64(NewArrivalsWindow / time.Second)
	out := make([]Item, 0, len(cands))
	for _, c := range cands {
		freshness := 1 - float64(newest-c.ts)/span
		aff, why := prof.affinity(&info[c.item], c.words)
		reason := "new"
		if why != "" {
			reason = "new, " + why
		}
		out = append(out, Item{ID: info[c.item].id, Score: aff + 0.2*freshness, Reason: reason})
	}
	sortItems(out)
	return &Answer{Items: s.diversify(out, req, info)}, nil
}

// contentProfile is a user's taste in content terms: weighted shares of
// leaf categories and brands, and title words, over their recent events.
type contentProfile struct {
	cats, brands map[string]float64
	words        map[string]float64
	wordNorm     float64
	bought       map[int32]bool
}

func (s *Service) profile(ctx context.Context, user string, info []itemInfo) (*contentProfile, error) {
	p := &contentProfile{cats: map[string]float64{}, brands: map[string]float64{}, words: map[string]float64{}, bought: map[int32]bool{}}
	if user == "" {
		return p, nil
	}
	evs, err := s.st.UserEvents(ctx, user, 200)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("read events of %q: %w", user, err)
	}
	var total float64
	for _, e := range evs {
		i, ok := s.items.lookup(e.ItemID)
		if !ok || int(i) >= len(info) {
			continue
		}
		if e.Type == events.Purchase {
			p.bought[i] = true
		}
		w := s.cfg.Weight(e.Type, e.Value)
		if w <= 0 {
			continue
		}
		total += w
		if c := info[i].leafCategory(); c != "" {
			p.cats[c] += w
		}
		if b := strings.ToLower(info[i].brand); b != "" {
			p.brands[b] += w
		}
		for _, t := range s.words(info[i].title) {
			p.words[t] += w
		}
	}
	if total > 0 {
		for k := range p.cats {
			p.cats[k] /= total
		}
		for k := range p.brands {
			p.brands[k] /= total
		}
	}
	for _, v := range p.words {
		p.wordNorm += v * v
	}
	p.wordNorm = math.Sqrt(p.wordNorm)
	return p, nil
}

// affinity scores an item with title words words against the profile in
// [0, ~2]: category share + half the brand share + the cosine of title
// words; why names the strongest signal.
func (p *contentProfile) affinity(it *itemInfo, words []string) (float64, string) {
	cat := p.cats[it.leafCategory()]
	brand := 0.5 * p.brands[strings.ToLower(it.brand)]
	var text float64
	if p.wordNorm > 0 {
		var dot, n float64
		for _, t := range words {
			dot += p.words[t]
			n++
		}
		if n > 0 {
			text = dot / (p.wordNorm * math.Sqrt(n))
		}
	}
	why := ""
	switch best := max(cat, brand, text); {
	case best <= 0:
	case best == cat:
		why = "in " + it.leafCategory() + " you look at"
	case best == brand:
		why = "from " + it.brand + " you like"
	default:
		why = "like items you looked at"
	}
	return cat + brand + text, why
}

// AnchoredAnswer is a row of items explained by one anchor item ("because
// you viewed X").
type AnchoredAnswer struct {
	AnchorID    string `json:"anchor_id"`
	AnchorTitle string `json:"anchor_title"`
	Items       []Item `json:"items"`
}

// BecauseYouViewed answers, for each of the user's most recently viewed
// items (up to anchors), the items similar to it, each row without the
// anchors, items of earlier rows and items the user bought.
func (s *Service) BecauseYouViewed(ctx context.Context, user string, anchors int, req Request) ([]AnchoredAnswer, error) {
	anchors = min(max(anchors, 1), 10)
	evs, err := s.recentItems(ctx, user, viewTypes, anchors*3)
	if err != nil {
		return nil, err
	}
	info := s.items.snapshot()
	var ids []string
	for _, e := range evs {
		if i, ok := s.items.lookup(e.ItemID); ok && !info[i].deleted {
			ids = append(ids, e.ItemID)
		}
	}
	if len(ids) > anchors {
		ids = ids[:anchors]
	}
	exclude := slices.Clone(req.Filter.Exclude)
	exclude = append(exclude, ids...)
	s.rows.mu.RLock()
	if u := s.rows.users[user]; u != nil {
		for i := range u.buys {
			if int(i) < len(info) {
				exclude = append(exclude, info[i].id)
			}
		}
	}
	s.rows.mu.RUnlock()
	var rows []AnchoredAnswer
	for _, id := range ids {
		sub := req
		sub.Filter.Exclude = exclude
		ans, err := s.Similar(ctx, id, sub)
		if errors.Is(err, ErrUnknownItem) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		i, _ := s.items.lookup(id)
		title := info[i].title
		if title == "" {
			title = id
		}
		its := make([]Item, len(ans.Items))
		for k, it := range ans.Items {
			it.Reason = "because you viewed " + title
			its[k] = it
			exclude = append(exclude, it.ID)
		}
		rows = append(rows, AnchoredAnswer{AnchorID: id, AnchorTitle: title, Items: its})
	}
	return rows, nil
}

// ErrEmptyBasket is returned by CompleteBasket for a basket with no item of
// the catalogue.
var ErrEmptyBasket = errors.New("the basket holds no item of the catalogue")

// CompleteBasket lists complements of the basket's items, never the
// basket's items nor a substitute of them (an item of the same leaf
// category, unless that category is too broad to tell: a fifth of the
// catalogue or more; or one the item relations call a substitute). First
// the items the shop's own baskets hold with a basket item at least
// partnerBaskets times, most often first; then the items bought together
// with each basket item (BoughtTogether); in both, each item's list is
// normalised to its best and summed, so an item that goes with several
// basket items ranks first. When both say too little it fills up with the
// session recommendations for the basket. Unknown ids are ignored.
//
// Why the shared baskets go first: bought together's learned blend ranks
// an item's complements for any shop, with text for the items baskets say
// little about; where the shop's baskets do speak, the partners they hold
// most often complete a basket better (Online Retail's validation split,
// next-basket HR@10: 0.6602 against 0.6368 for the items of 20 training
// baskets or more, four cases in five; 0.6161 against 0.5998 overall;
// docs/benchmarks.md, "Bought together and complete basket (session 11,
// bt11)").
func (s *Service) CompleteBasket(ctx context.Context, itemIDs []string, req Request) (*Answer, error) {
	info := s.items.snapshot()
	var basket []int32
	inBasket := map[int32]bool{}
	for _, id := range itemIDs {
		if i, ok := s.items.lookup(id); ok && !inBasket[i] {
			basket = append(basket, i)
			inBasket[i] = true
		}
	}
	if len(basket) == 0 {
		return nil, ErrEmptyBasket
	}
	f := req.Filter.compile(info, s.items.lookup)
	subCats := substituteCategories(info, basket)
	allow := func(i int32) bool {
		return int(i) < len(info) && !inBasket[i] && !subCats[info[i].cat] && f.allows(i)
	}
	pool := req.pool(5, 50)
	// the shop's baskets: a pair is ranked by them once it met in
	// partnerBaskets baskets; a substitute by the item relations' rule
	// (another calculator, on any shelf) stays out whatever they say
	var ix *related.Index
	shared := map[int32]float64{}
	sharedVia := map[int32]int32{}
	for _, b := range basket {
		ps := s.ledger.partners(b, partnerBaskets)
		if len(ps) == 0 || ps[0].score <= 0 {
			continue
		}
		if ix == nil {
			var err error
			if ix, err = s.relatedIndex(ctx, info[b].id); err != nil {
				return nil, err
			}
		}
		top, kept := float64(ps[0].score), 0
		for _, p := range ps {
			if kept >= pool {
				break
			}
			if !allow(p.item) || ix.Substitute(info[b].id, info[p.item].id) {
				continue
			}
			kept++
			v := float64(p.score) / top
			if _, seen := sharedVia[p.item]; !seen || v > shared[p.item] {
				sharedVia[p.item] = b
			}
			shared[p.item] += v
		}
	}
	score := map[int32]float64{}
	via := map[int32]int32{}
	for _, b := range basket {
		ans, err := s.BoughtTogether(ctx, info[b].id, Request{N: pool})
		if err != nil {
			return nil, err
		}
		if len(ans.Items) == 0 {
			continue
		}
		top := ans.Items[0].Score
		if top <= 0 {
			continue
		}
		for _, it := range ans.Items {
			i, ok := s.items.lookup(it.ID)
			if !ok || !allow(i) {
				continue
			}
			v := it.Score / top
			if _, seen := via[i]; !seen || v > score[i] {
				via[i] = b
			}
			score[i] += v
		}
	}
	titleOf := func(i int32) string {
		if t := info[i].title; t != "" {
			return t
		}
		return info[i].id
	}
	cands := make([]Item, 0, len(shared)+len(score))
	for i, v := range shared {
		// above every item of bought together's lists (their sums are
		// at most one a basket item)
		cands = append(cands, Item{ID: info[i].id, Score: float64(len(basket)) + v, Reason: "often bought with " + titleOf(sharedVia[i])})
	}
	for i, v := range score {
		if _, ok := shared[i]; ok {
			continue
		}
		cands = append(cands, Item{ID: info[i].id, Score: v, Reason: "goes with " + titleOf(via[i])})
	}
	sortItems(cands)
	want := req.want() // the session fill-up is the costly part: only as far as needed
	if req.Diversity > 0 {
		want = pool
	}
	if len(cands) < want {
		taken := map[string]bool{}
		for _, c := range cands {
			taken[c.ID] = true
		}
		ids := make([]string, len(basket))
		for k, b := range basket {
			ids[k] = info[b].id
		}
		sess, err := s.Session(ctx, ids, Request{N: pool, Filter: Filter{AvailableOnly: req.Filter.AvailableOnly}})
		if err != nil {
			return nil, err
		}
		floor := 0.0
		if len(cands) > 0 {
			floor = cands[len(cands)-1].Score
		}
		for k, it := range sess.Items {
			i, ok := s.items.lookup(it.ID)
			if !ok || taken[it.ID] || !allow(i) {
				continue
			}
			taken[it.ID] = true
			// Below every complement, in the session's order.
			cands = append(cands, Item{ID: it.ID, Score: floor * (1 - float64(k+1)/float64(len(sess.Items)+1)), Reason: it.Reason})
		}
	}
	return &Answer{Items: s.diversify(cands, req, info)}, nil
}

// partnerBaskets is how many baskets must hold a pair before
// CompleteBasket ranks it by the shop's baskets: one shared basket is
// chance (a gift, a one-off order). 1 to 10 scored within 0.003 of each
// other on Online Retail's validation split (docs/benchmarks.md, "Bought
// together and complete basket (session 11, bt11)").
const partnerBaskets = 2

// substituteCategories returns the leaf categories of the basket's items
// that are narrow enough to mean "a substitute" (under a fifth of the
// catalogue).
func substituteCategories(info []itemInfo, basket []int32) map[int32]bool {
	out := map[int32]bool{}
	want := map[int32]int{}
	for _, b := range basket {
		if c := info[b].cat; c >= 0 {
			want[c] = 0
		}
	}
	if len(want) == 0 {
		return out
	}
	live := 0
	for k := range info {
		if info[k].deleted {
			continue
		}
		live++
		if _, ok := want[info[k].cat]; ok {
			want[info[k].cat]++
		}
	}
	for c, n := range want {
		if n*5 < live {
			out[c] = true
		}
	}
	return out
}
