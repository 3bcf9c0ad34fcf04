package ads

import (
	"context"
	"encoding/binary"
	"slices"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/rules"
	"github.com/aisle-dev/aisle/store"
)

// Request is an answer that may carry ads.
type Request struct {
	RequestID string
	Surface   string
	Query     string   // search only
	User      string   // "" for nobody known ("anon-<session>" for a session)
	Context   []string // category filters of the answer (a category page)
	// Organic are the organic items of the page, in order: ads never
	// repeat them (the caller drops the organic copy of an ad item) and,
	// off search, their categories say what the answer is about.
	Organic []string
	// Affinity, when set, is the shopper's affinity to an item (0..1).
	Affinity func(item string) float64
	// MaxSlots, when > 0, uses only the first MaxSlots slots.
	MaxSlots int
}

// Placement is an ad to show: item at position (1-based in the page).
type Placement struct {
	Position int
	Item     string
	Campaign string
	Price    Micros
}

// Fill runs the auction for the slots of an answer and logs the
// impressions it places. It returns nothing for a surface without slots,
// without campaigns, or when no ad is relevant enough.
func (s *Service) Fill(ctx context.Context, r Request) []Placement {
	slots := s.o.Config.Slots[r.Surface]
	if r.MaxSlots > 0 && len(slots) > r.MaxSlots {
		slots = slots[:r.MaxSlots]
	}
	cs := s.camps.Load()
	if len(slots) == 0 || r.RequestID == "" {
		return nil
	}
	if len(cs.list) == 0 {
		return nil
	}
	s.mu.Lock()
	s.answers[r.Surface]++ // the slots' revenue per thousand answers (with campaigns)
	s.mu.Unlock()
	now := s.o.Now()
	m := s.model.Load()
	var orgCats []string                    // top-level categories of the organic items
	item := func(id string) *catalog.Item { // Options.Item caches (rules.ItemCache)
		if it, err := s.o.Item(ctx, id); err == nil {
			return &it
		}
		return nil
	}
	orgRead := r.Surface == "search"
	organicCats := func() []string { // read once, when an ad needs it
		if !orgRead {
			orgRead = true
			orgCats = make([]string, 0, 20)
			for _, id := range r.Organic[:min(len(r.Organic), 20)] {
				if it := item(id); it != nil {
					orgCats = append(orgCats, topCat(it))
				}
			}
		}
		return orgCats
	}
	floor := s.o.Config.RelevanceFloor
	if f, ok := s.o.Config.SurfaceFloors[r.Surface]; ok {
		floor = f
	}
	qn := rules.Normalize(r.Query)
	var qw []string // the query's words, for text match (read once)
	if r.Surface == "search" && qn != "" {
		qw = queryWords(qn)
	}
	var shown map[string]int // the shopper's impressions today, read once when a campaign is capped
	shownRead := false
	underCap := func(c *Campaign) bool {
		if c.FrequencyCap == 0 || r.User == "" {
			return true
		}
		if !shownRead {
			shown, shownRead = s.shown(ctx, r.User, now), true
		}
		n, ok := shown[c.ID]
		return shown != nil && (!ok || n < c.FrequencyCap)
	}
	var bidders []Bidder
	var feats []Features // parallel to bidders
	for _, ci := range cs.bySurface[r.Surface] {
		c := &cs.list[ci]
		if !c.Active(now) || !queryTargeted(c, cs.kws[ci], &r, qn) || !underCap(c) || !s.Affordable(ctx, c, now) {
			continue
		}
		for _, id := range c.Items[:min(len(c.Items), 100)] {
			it := item(id)
			if it == nil || !it.Available {
				continue
			}
			if len(c.Targeting.Categories) > 0 && !slices.ContainsFunc(c.Targeting.Categories, func(cat string) bool {
				return slices.ContainsFunc(r.Context, func(x string) bool { return underCat(x, cat) }) || it.HasCategoryPrefix(strings.Trim(cat, "/"))
			}) {
				continue
			}
			var rel float64
			if qw != nil {
				rel = textMatch(qw, s.text(it))
			} else {
				rel = relevance(&r, it, organicCats())
			}
			if rel < floor || rel <= 0 {
				continue
			}
			f := Features{Position: 1, TextMatch: rel, History: s.history(id)}
			if s.o.Popularity != nil {
				f.Popularity = s.o.Popularity(id)
			}
			if r.Affinity != nil {
				f.Affinity = r.Affinity(id)
			}
			feats = append(feats, f)
			bidders = append(bidders, Bidder{Campaign: c.ID, Item: id, Bid: ToMicros(c.Bid), PCTR: m.Predict(f), Relevance: rel})
		}
	}
	wins := Auction(bidders, len(slots), s.o.Config.Reserve)
	if len(wins) == 0 {
		return nil
	}
	out := make([]Placement, 0, len(wins))
	imps := make([]Impression, 0, len(wins))
	for _, w := range wins {
		pos := slots[w.Slot]
		var f Features
		for k := range bidders {
			if bidders[k].Campaign == w.Campaign && bidders[k].Item == w.Item {
				f = feats[k]
				break
			}
		}
		f.Position = pos
		out = append(out, Placement{Position: pos, Item: w.Item, Campaign: w.Campaign, Price: w.Price})
		imps = append(imps, Impression{RequestID: r.RequestID, Item: w.Item, Campaign: w.Campaign, User: r.User,
			Surface: r.Surface, Position: pos, Price: w.Price, At: now.UTC(), F: f})
	}
	s.logImpressions(imps, now)
	return out
}

// surfaceTargeted reports whether a campaign's surface targeting admits
// a surface. A campaign targeting queries shows on search (and on other
// surfaces only when it lists them).
func surfaceTargeted(c *Campaign, surface string) bool {
	t := &c.Targeting
	if len(t.Surfaces) > 0 {
		return slices.Contains(t.Surfaces, surface)
	}
	return len(t.Queries) == 0 || surface == "search"
}

// queryTargeted reports whether a campaign's query targeting (kws, its
// keywords normalised) admits the request, whose query normalised is q.
func queryTargeted(c *Campaign, kws []string, r *Request, q string) bool {
	if r.Surface != "search" || len(c.Targeting.Queries) == 0 {
		return true
	}
	return slices.ContainsFunc(kws, func(kw string) bool { return keywordMatch(q, kw, c.Targeting.MatchType) })
}

// relevance is how well an ad item fits the answer (0..1): on search, its
// text match to the query (a browse without a query: its fit to the
// category page); elsewhere, the share of the organic items that share a
// top-level category with it.
func relevance(r *Request, it *catalog.Item, orgCats []string) float64 {
	if r.Surface == "search" {
		if rules.Normalize(r.Query) != "" {
			return TextMatch(r.Query, it)
		}
		if len(r.Context) > 0 && slices.ContainsFunc(r.Context, func(c string) bool { return it.HasCategoryPrefix(strings.Trim(c, "/")) }) {
			return 1
		}
		return 0
	}
	if len(orgCats) == 0 {
		return 0
	}
	mine := topCat(it)
	hit := 0
	for _, c := range orgCats {
		if c == mine {
			hit++
		}
	}
	return float64(hit) / float64(len(orgCats))
}

// topCat is the top level of an item's first category ("" without one).
func topCat(it *catalog.Item) string {
	for _, c := range it.Categories {
		if top, _, _ := strings.Cut(strings.Trim(c, "/"), "/"); top != "" {
			return top
		}
	}
	return ""
}

// text returns itemText(it), kept per item while its title, brand and
// categories stay the same (campaign items are few; cleared when the
// campaigns change).
func (s *Service) text(it *catalog.Item) string {
	if v, ok := s.texts.Load(it.ID); ok {
		t := v.(*cachedText)
		if t.title == it.Title && t.brand == it.Brand && slices.Equal(t.cats, it.Categories) {
			return t.text
		}
	}
	t := &cachedText{title: it.Title, brand: it.Brand, cats: it.Categories, text: itemText(it)}
	s.texts.Store(it.ID, t)
	return t.text
}

type cachedText struct {
	title, brand string
	cats         []string
	text         string
}

func underCat(c, prefix string) bool {
	c, prefix = strings.Trim(c, "/"), strings.Trim(prefix, "/")
	return c == prefix || strings.HasPrefix(c, prefix+"/")
}

// freqKey names a shopper's impressions of a campaign on a day.
func freqKey(d, user, campaign string) string { return d + "\x00" + user + "\x00" + campaign }

// shown returns a shopper's impressions today per campaign: those in the
// store (written by any replica sharing it) and those this replica has
// not written yet.
func (s *Service) shown(ctx context.Context, user string, now time.Time) map[string]int {
	prefix := day(now) + "\x00" + user + "\x00"
	out := map[string]int{}
	err := s.o.Store.MerchView(ctx, func(tx store.MerchTx) error {
		return tx.Scan(bFreq, prefix, func(k string, v []byte) error {
			if len(v) == 8 {
				out[strings.TrimPrefix(k, prefix)] += int(binary.BigEndian.Uint64(v))
			}
			return nil
		})
	})
	if err != nil {
		s.log.Error("ads: reading frequency counts", "user", user, "error", err)
		return nil // unknown: capped campaigns sit out
	}
	s.mu.Lock()
	for _, m := range []map[string]int{s.freq, s.freqFlushing} {
		for k, n := range m {
			if c, ok := strings.CutPrefix(k, prefix); ok {
				out[c] += n
			}
		}
	}
	s.mu.Unlock()
	return out
}

func (s *Service) history(item string) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.itemHist[item]
	if h == nil {
		return 0.02
	}
	return (float64(h[1]) + 0.2) / (float64(h[0]) + 10)
}

// logImpressions queues impressions for the background writer and counts
// them against frequency caps.
func (s *Service) logImpressions(imps []Impression, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, im := range imps {
		if len(s.pending) >= maxPending {
			s.dropped.Add(1)
			continue
		}
		s.pending[im.RequestID+"\x00"+im.Item] = im
		if im.User != "" {
			s.freq[freqKey(day(im.At), im.User, im.Campaign)]++
		}
		h := s.itemHist[im.Item]
		if h == nil {
			h = &[2]int{}
			s.itemHist[im.Item] = h
		}
		h[0]++
	}
}

// maxPending bounds the impressions waiting to be written: past it, ads
// are still shown but their impressions are dropped (and counted), and
// their clicks are not charged.
const maxPending = 100_000
