// Package related finds item-to-item relations in a shop: substitutes
// ("similar items": what a shopper considers instead of this product) and
// complements ("bought together": what completes it in a basket).
//
// An Index is built from the catalogue, the event log and, optionally, item
// vectors of a factor model and of a text embedder. Each candidate is
// described by a few signals in [0, 1] — behaviour (co-interactions with
// shrinkage for rare pairs), category path, brand, attributes, title and
// description text (TF-IDF through search/analysis), vector cosines — and
// ranked by a linear blend whose weights are learned on a hold-out of the
// shop's own behaviour (see Learn), so a sparse shop gets content-led
// answers and a busy shop behaviour-led ones. Every answer names the signal
// that placed it.
//
// Building is cheap (a few hundred milliseconds for thousands of items and
// tens of thousands of events); the content part alone can be rebuilt with
// WithItems so a new item is reachable through its text and category within
// the next request.
package related

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/embed"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/search/analysis"
)

// Vectors are item vectors by item id (any dimension, one per source).
type Vectors map[string][]float32

// Config tunes an Index. The zero value is usable.
type Config struct {
	// Analyzer turns titles and descriptions into terms; nil uses the
	// English analyzer of search/analysis (the one search uses).
	Analyzer *analysis.Analyzer
	// KeepTexts keeps the items' analysed texts of a build until
	// AppendBinary has written them (then DropTexts), so that Restore
	// need not analyse the unchanged items again (decision 0075).
	KeepTexts bool
	// Weight maps an event to its weight as behaviour; nil counts views,
	// clicks, carts, purchases and ratings once and ignores the rest.
	Weight func(t events.Type, value *float64) float64
	// Shrink damps behaviour similarity of rare pairs: c / (sqrt(ni·nj) +
	// Shrink). Default 5.
	Shrink float64
	// BasketLift is the exponent α of the basket score's popularity
	// discount. A pair bought together in c baskets, of b_a and b_j
	// baskets holding each, is a complement only when it meets more often
	// than chance (lift > 1), and then scores
	//
	//	c/(c+BasketSupport) · c / (b_a^(1-α) · b_j^α)
	//
	// in [0, 1], which for an anchor a ranks partners by
	// confidence^(1-α) · lift^α: 0 (the default, chosen on validation) is
	// the share of a's baskets that hold j, 1 is pure lift (favouring rare
	// partners). Values outside [0, 1] are clamped.
	BasketLift float64
	// BasketSupport damps pairs seen in few baskets (the k above).
	// Default 5; a negative value means 0.
	BasketSupport float64
	// BasketWindow joins the purchases (and carts) of one user within this
	// span into a basket when events carry no session id. Default 24h.
	BasketWindow time.Duration
	// MaxNeighbours bounds the behaviour neighbours kept per item
	// (default 200).
	MaxNeighbours int
	// Similar and Complement are the blend weights; nil means the defaults
	// (content-led), or what Learn found when the index was built by Learn.
	Similar, Complement *Weights
	// VarietyRepeat is the leaf repeat rate (the shrunk share of the
	// baskets holding a leaf that hold two different items of it) below
	// which a leaf is a kind shoppers buy one of: no other item of it, nor
	// an item elsewhere whose title names the same kind, is a complement
	// of its items unless clearly bought with them (isSubstitute).
	// Default 0.02 (chosen on validation, docs/benchmarks.md); a negative
	// value turns the rule off.
	VarietyRepeat float64
	// SubstituteText is the title similarity above which an item of the
	// anchor's leaf category counts as a substitute and is never offered
	// as its complement. Default 0.5.
	SubstituteText float64
	// BoughtTogether is the behaviour similarity (shoppers buying both)
	// from which a same-kind item counts as a complement after all (inks
	// of two colours). Default 0.05.
	BoughtTogether float64
	// PopularityHalfLife is the age at which a shopper's touch counts half
	// in the time-decayed popularity the complement model reads (what
	// sells now). Default 365 days.
	PopularityHalfLife time.Duration
	// ComplementHoldOut says what Learn fits the complement blend to:
	// the next item of a held-out basket or shopper (HoldOutNext, the
	// default) or whole held-out shoppers (HoldOutShoppers).
	ComplementHoldOut HoldOut
	// ComplementModel says whether Learn also fits the learned complement
	// model (a conditional logit over pair features, see pairmodel.go)
	// and when it serves complements with it instead of the blend.
	ComplementModel ModelUse
}

// HoldOut names what Learn's complement blend is fitted to.
type HoldOut int

const (
	// HoldOutNext holds out the newest item of half of the baskets (with
	// order or session ids) or of the shoppers: does the blend rank what
	// completed the basket, or what the shopper took next?
	HoldOutNext HoldOut = iota
	// HoldOutShoppers holds out whole shoppers, a quarter at a time (four
	// folds): for each item a held-out shopper bought, does the blend
	// rank the other items that shopper bought, at any time, each
	// counting 1/n for an item n shoppers bought ("shoppers who bought
	// this bought that more than other shoppers do")?
	HoldOutShoppers
)

var holdOutNames = []string{"next", "shoppers"}

// String is the name ParseHoldOut reads.
func (h HoldOut) String() string { return nameOf(h, holdOutNames, "HoldOut") }

// ParseHoldOut reads "next" (or "") or "shoppers".
func ParseHoldOut(s string) (HoldOut, error) { return parseName[HoldOut](s, holdOutNames) }

// ModelUse says when Learn fits and serves the learned complement model.
type ModelUse int

const (
	// ModelOff (the default) never fits it.
	ModelOff ModelUse = iota
	// ModelAuto fits it and serves with it when it ranks the held-out
	// purchases better than the learned blend by minLearnGain.
	ModelAuto
	// ModelAlways fits it and serves with it (for measuring it).
	ModelAlways
)

var modelUseNames = []string{"off", "auto", "always"}

// String is the name ParseModelUse reads.
func (u ModelUse) String() string { return nameOf(u, modelUseNames, "ModelUse") }

// ParseModelUse reads "off" (or ""), "auto" or "always".
func ParseModelUse(s string) (ModelUse, error) { return parseName[ModelUse](s, modelUseNames) }

// nameOf names v of an enumeration read from flags.
func nameOf[T ~int](v T, names []string, kind string) string {
	if v < 0 || int(v) >= len(names) {
		return fmt.Sprintf("%s(%d)", kind, int(v))
	}
	return names[v]
}

// parseName reads a name of names (case and surrounding space aside; ""
// is the first).
func parseName[T ~int](s string, names []string) (T, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return 0, nil
	}
	if k := slices.Index(names, s); k >= 0 {
		return T(k), nil
	}
	return 0, fmt.Errorf("%q: want one of %s", s, strings.Join(names, ", "))
}

func (c *Config) defaults() {
	if c.Analyzer == nil {
		a, err := analysis.NewRegistry(analysis.Options{}).Analyzer(analysis.AnalyzerEnglish)
		if err != nil {
			panic(err) // a built-in analyzer: a failure is a programming error
		}
		c.Analyzer = a
	}
	c.defaultWeight()
	if c.Shrink <= 0 {
		c.Shrink = 5
	}
	c.BasketLift = min(max(c.BasketLift, 0), 1)
	if c.BasketSupport == 0 {
		c.BasketSupport = 5 // a negative value stays: it reads as 0 (defaults runs again in Learn's builds)
	}
	if c.BasketWindow <= 0 {
		c.BasketWindow = 24 * time.Hour
	}
	if c.PopularityHalfLife <= 0 {
		c.PopularityHalfLife = 365 * 24 * time.Hour
	}
	if c.MaxNeighbours <= 0 {
		c.MaxNeighbours = 200
	}
	if c.BoughtTogether <= 0 {
		c.BoughtTogether = 0.05
	}
	if c.VarietyRepeat == 0 {
		c.VarietyRepeat = 0.02 // a negative value stays: no leaf is below it
	}
	if c.SubstituteText <= 0 {
		c.SubstituteText = 0.5
	}
}

func (c *Config) defaultWeight() {
	if c.Weight == nil {
		c.Weight = func(t events.Type, _ *float64) float64 {
			switch t {
			case events.View, events.Click, events.AddToCart, events.Purchase, events.Rating:
				return 1
			}
			return 0
		}
	}
}

// Result is one related item.
type Result struct {
	ID     string
	Score  float64
	Reason string
}

// Index answers Similar and Complements. It is immutable and safe for
// concurrent use.
type Index struct {
	cfg     Config
	content *content
	beh     *behaviour
	factor  *vecTable
	embed   *vecTable
	simW    Weights
	compW   Weights
	// compModel, when set, ranks complements instead of compW.
	compModel *pairModel
	built     time.Duration
	// texts holds the analysed texts for the next AppendBinary (nil, or
	// empty, when not kept)
	texts *textHold
}

// Build makes an index from the catalogue, the events (any order) and the
// optional item vectors of a factor model and of a text embedder. It reads
// the events into a Log first; a caller reading a store should fill a Log
// itself and call BuildLog, so the events are never all held.
func Build(ctx context.Context, items []catalog.Item, evs []events.Event, factor, embedded Vectors, cfg Config) (*Index, error) {
	return BuildLog(ctx, items, newLogOf(evs, cfg), factor, embedded, cfg)
}

// BuildLog is Build from a Log (whose Weight decides which events count).
func BuildLog(ctx context.Context, items []catalog.Item, log *Log, factor, embedded Vectors, cfg Config) (*Index, error) {
	return buildLog(ctx, items, log, nil, factor, embedded, cfg)
}

// buildLog builds from the log's records but those skip marks.
func buildLog(ctx context.Context, items []catalog.Item, log *Log, skip []bool, factor, embedded Vectors, cfg Config) (*Index, error) {
	start := time.Now()
	cfg.defaults()
	c := buildContent(items, cfg.Analyzer, nil, cfg.KeepTexts)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := buildBehaviour(ctx, c, log, skip, cfg)
	if err != nil {
		return nil, err
	}
	ix := &Index{cfg: cfg, content: c, beh: b, factor: newVecTable(c, factor), embed: newVecTable(c, embedded), texts: holdTexts(c)}
	ix.simW, ix.compW = DefaultSimilar(), DefaultComplement()
	if cfg.Similar != nil {
		ix.simW = *cfg.Similar
	}
	if cfg.Complement != nil {
		ix.compW = *cfg.Complement
	}
	ix.built = time.Since(start)
	return ix, nil
}

// WithItems returns an index over a changed catalogue that keeps this
// one's behaviour and vectors: new items are answered (and reached) through
// content at once, without a pass over the events.
func (ix *Index) WithItems(items []catalog.Item) *Index {
	keep := ix.texts != nil && ix.texts.p.Load() != nil // the snapshot of this one is not written yet
	c := buildContent(items, ix.cfg.Analyzer, nil, keep)
	nx := *ix
	nx.content = c
	nx.texts = holdTexts(c)
	nx.beh = ix.beh.remap(ix.content, c)
	nx.factor = ix.factor.remap(ix.content, c)
	nx.embed = ix.embed.remap(ix.content, c)
	return &nx
}

// Weights returns the blend weights in use for similar items and for
// complements.
func (ix *Index) Weights() (similar, complement Weights) { return ix.simW, ix.compW }

// BuildTime is how long Build took.
func (ix *Index) BuildTime() time.Duration { return ix.built }

// Len is the number of items indexed.
func (ix *Index) Len() int { return len(ix.content.ids) }

// Has reports whether the index knows item id.
func (ix *Index) Has(id string) bool { _, ok := ix.content.pos[id]; return ok }

// Similar returns up to n substitutes of item id, best first, among the
// items allow accepts (nil accepts all). An unknown id gives nil.
func (ix *Index) Similar(id string, n int, allow func(id string) bool) []Result {
	return ix.SimilarWith(id, n, allow, nil)
}

// SimilarWith is Similar with a serving model's own similar-item scores
// for id (by item id, in [0, 1]; nil for none): they add candidates and
// stand as the factor signal where larger than the item vectors' cosine.
func (ix *Index) SimilarWith(id string, n int, allow func(id string) bool, model map[string]float64) []Result {
	a, ok := ix.content.pos[id]
	if !ok || n <= 0 {
		return nil
	}
	cands := ix.similarCandidates(a)
	var hint map[int32]float64
	if len(model) > 0 {
		hint = make(map[int32]float64, len(model))
		seen := make(map[int32]bool, len(cands))
		for _, j := range cands {
			seen[j] = true
		}
		for mid, v := range model {
			if j, ok := ix.content.pos[mid]; ok {
				hint[j] = min(max(v, 0), 1)
				if !seen[j] {
					cands = append(cands, j)
				}
			}
		}
		slices.Sort(cands[len(seen):]) // map order must not decide ties
	}
	return ix.rank(a, cands, ix.simW, n, allow, false, hint)
}

// Complements returns up to n items that complete item id in a basket,
// best first, among the items allow accepts (nil accepts all). Items of the
// anchor's leaf category with a similar title — substitutes — are never
// returned.
func (ix *Index) Complements(id string, n int, allow func(id string) bool) []Result {
	a, ok := ix.content.pos[id]
	if !ok || n <= 0 {
		return nil
	}
	cands := ix.complementCandidates(a, ix.compModel != nil)
	return ix.rank(a, cands, ix.compW, n, allow, true, nil)
}

// Substitute reports whether item id would replace item anchor in a
// basket rather than complete it: the rule that keeps substitutes out of
// Complements (isSubstitute), for a caller that ranks an anchor's
// partners by other evidence (the complete-basket row's shared baskets).
// An unknown id of either is no substitute.
func (ix *Index) Substitute(anchor, id string) bool {
	a, ok := ix.content.pos[anchor]
	j, ok2 := ix.content.pos[id]
	if !ok || !ok2 || a == j {
		return false
	}
	return ix.isSubstitute(a, j, ix.complementFeatures(a, j))
}

// complementOf is j's complement signals for anchor a, and false when j
// would replace a (isSubstitute). The text signal, once the substitute
// rule has read it, counts in full only for an item of a kind that goes
// with a's (kindText).
func (ix *Index) complementOf(a, j int32) (features, bool) {
	f := ix.complementFeatures(a, j)
	if ix.isSubstitute(a, j, f) {
		return f, false
	}
	f[SigText] *= ix.kindText(a, j)
	return f, true
}

// kindText is the share of its text signal a complement candidate j of
// anchor a keeps (decision 0084). Accessories and supplies name what they
// go with, but a title also shares words with items of unrelated kinds by
// chance: the "2-Line" of a calculator's display and of a telephone. So
// the text counts in full for an item of a's leaf, of a sibling leaf (the
// same parent), or of a leaf the shop's baskets hold with a's more often
// than chance (behaviour.goesWith), and kindTextOther of it elsewhere.
// Items without a leaf, and an index whose baskets were never counted by
// kind (restored from an older snapshot), keep it all.
func (ix *Index) kindText(a, j int32) float64 {
	c := ix.content
	la, lj := c.leaf[a], c.leaf[j]
	if la < 0 || lj < 0 || la == lj || ix.beh.goesWith == nil {
		return 1
	}
	if c.sameParent(a, j) {
		return 1
	}
	if ix.beh.goesWith[[2]int32{min(la, lj), max(la, lj)}] {
		return 1
	}
	return kindTextOther
}

// kindTextOther is the share of its text signal an item keeps whose leaf
// the shop's baskets do not show with the anchor's. 0, 0.15, 0.3, 0.4, 0.5
// and 1 (no gate) scored 0.3070, 0.3068, 0.3102, 0.3104, 0.3127 and 0.3117
// NDCG@10 on the validation half of Office's "also bought" with the
// learned blend, 0.2957 … 0.3030 and 0.3016 with the default one
// (docs/benchmarks.md, "Kinds bought together (session 12, bt12)").
const kindTextOther = 0.5

// rank scores candidates with w and keeps the n best allowed ones.
func (ix *Index) rank(a int32, cands []int32, w Weights, n int, allow func(string) bool, complement bool, hint map[int32]float64) []Result {
	type sc struct {
		i int32
		s float64
		f features
	}
	var out []sc
	for _, j := range cands {
		if j == a || ix.content.deleted[j] {
			continue
		}
		var f features
		if complement {
			var ok bool
			if f, ok = ix.complementOf(a, j); !ok {
				continue
			}
		} else {
			f = ix.similarFeatures(a, j)
			f[SigFactor] = max(f[SigFactor], hint[j])
		}
		var s float64
		if complement && ix.compModel != nil {
			x := ix.pairFeatures(a, j, &f)
			s = ix.compModel.score(&x)
		} else {
			s = w.score(&f)
		}
		if s <= 0 {
			continue
		}
		out = append(out, sc{j, s, f})
	}
	slices.SortFunc(out, func(x, y sc) int {
		if c := cmp.Compare(y.s, x.s); c != 0 {
			return c
		}
		return cmp.Compare(x.i, y.i)
	})
	res := make([]Result, 0, min(n, len(out)))
	for _, c := range out {
		if len(res) >= n {
			break
		}
		id := ix.content.ids[c.i]
		if allow != nil && !allow(id) {
			continue
		}
		reason := ""
		if complement && ix.compModel != nil {
			x := ix.pairFeatures(a, c.i, &c.f)
			reason = ix.compModel.reason(&x)
		} else {
			reason = w.reason(&c.f, complement)
		}
		res = append(res, Result{ID: id, Score: c.s, Reason: reason})
	}
	return res
}

// sameBrandSubstitute scales SubstituteText down for items of the
// anchor's brand.
const sameBrandSubstitute = 0.8

// isSubstitute reports whether j would replace a rather than complete it,
// unless shoppers buy the two together (inks of two colours are; two
// calculators are not):
//   - a similar title (less similar when of the same brand) in the same
//     leaf category, or in the same branch of the category tree
//     (catalogues split one kind over sibling leaves);
//   - when a is of a kind shoppers buy one of (onceBoughtKind): any other
//     item of a's leaf; an item of a sibling leaf whose title shares a
//     little with a's (onceBoughtSiblingText), names a kind a's title
//     names ("Casio FX-300ES Plus Scientific" for a "Scientific
//     Calculator"), or names no kind at all, so that its leaf says what
//     it is ("Sharp EL243SB 8-Digit Twin Powered" under "Calculators",
//     decision 0084); and an item anywhere in the catalogue whose title
//     names the same kind as its head noun (the financial calculator
//     filed under "Office Electronics" for a scientific one). A second calculator is never what completes a
//     calculator, whatever its name or shelf; only kindTogether times the
//     usual evidence of being bought with a says otherwise, since a
//     shopper who replaced a calculator, or bought one for each child,
//     has bought two.
func (ix *Index) isSubstitute(a, j int32, f features) bool {
	c := ix.content
	bt := ix.cfg.BoughtTogether
	if ix.onceBoughtKind(a) {
		if f[SigBasket] >= kindTogether*bt || f[SigBehaviour] >= kindTogether*bt {
			return false
		}
		same := c.sameLeaf(a, j)
		// sibling leaves under the catalogue's root alone are not one kind
		sibling := !same && c.sameParent(a, j)
		if same || (sibling && (f[SigText] >= onceBoughtSiblingText || c.kindsMeet(a, j) || !c.namesKind(j))) || c.sameHead(a, j) {
			return true
		}
	}
	if f[SigBasket] > 0 || f[SigBehaviour] >= bt {
		return false
	}
	if !c.sameLeaf(a, j) && c.pathShare(a, j) < 1 {
		return false
	}
	limit := ix.cfg.SubstituteText
	if f[SigBrand] > 0 {
		// the same maker's item of the same kind with a title this
		// alike is another model of the product line (TI-30X, TI-34)
		limit *= sameBrandSubstitute
	}
	return f[SigText] >= limit
}

// onceBoughtKind reports whether a is of a kind shoppers buy one of: the
// shop's baskets hold a's leaf often enough and almost never two
// different items of it (Config.VarietyRepeat, minKindBaskets), and do
// not show the kind a's title names bought in variety (headVariety). A
// leaf with few baskets can look bought once by chance (five baskets of
// one ink cartridge each); the same shop's baskets of every "cartridge"
// say otherwise.
func (ix *Index) onceBoughtKind(a int32) bool {
	c := ix.content
	if !ix.beh.onceBought(c.leaf[a], ix.cfg.VarietyRepeat) {
		return false
	}
	return ix.beh.headRepeat(c.head[a]) < headVariety
}

// headVariety is the repeat rate of a kind titles name (behaviour.headRep)
// from which it is bought in variety, overruling its leaf's "bought once".
// 0.05 and 0.1 scored 0.3130 and 0.3114 on the validation half of Office's
// "also bought"; at 0.02 calculators themselves (one basket in 40 holding
// two) would count as varied (docs/benchmarks.md, "Bought together
// substitutes (session 10, bt8)").
const headVariety = 0.05

// kindTogether is how many times Config.BoughtTogether the basket or
// behaviour score of two items of a kind bought once must reach for the
// second to count as a complement after all: one shared basket, or a
// shopper or two buying both over the years, is not a habit. It cost
// 0.0007 on the validation half of Office against the usual evidence.
const kindTogether = 2

// onceBoughtSiblingText is the title similarity from which an item of a
// sibling leaf is of the same kind as an anchor of a kind bought once
// (isSubstitute): two calculators of different makers share about that
// much ("scientific calculator"). 0.2–0.4 scored within 0.007 on the
// validation half of Office's "also bought" (docs/benchmarks.md, "Bought
// together (session 9)").
const onceBoughtSiblingText = 0.2

// candidates collects item indexes once each, in the order first added.
type candidates struct {
	seen map[int32]bool
	out  []int32
}

func (c *candidates) add(js ...int32) {
	if c.seen == nil {
		c.seen = map[int32]bool{}
	}
	for _, j := range js {
		if !c.seen[j] {
			c.seen[j] = true
			c.out = append(c.out, j)
		}
	}
}

func (c *candidates) addNeighbours(nbs []neighbour) {
	for _, nb := range nbs {
		c.add(nb.j)
	}
}

// similarCandidates gathers the items any signal puts near a.
func (ix *Index) similarCandidates(a int32) []int32 {
	var c candidates
	c.addNeighbours(ix.beh.sim[a])
	c.add(ix.content.textNeighbours(a, 200)...)
	c.add(ix.content.leafMembers(a, 300)...)
	c.add(ix.factor.nearest(a, 100)...)
	c.add(ix.embed.nearest(a, 100)...)
	return c.out
}

// complementTextCands is how many of an anchor's nearest items by title
// and description text join its complement candidates: accessories and
// supplies name what they go with (a TI-84 case, HP 61 ink, Swingline
// staples). 50 to 400 scored alike on the validation half of Office's
// "also bought" (docs/benchmarks.md, "Bought together (session 9)").
const complementTextCands = 100

// complementCandidates gathers basket and co-purchase partners of a, its
// nearest items by text (those that are substitutes are dropped when
// ranked) and the popular items of the categories its partners come from
// (and, with recent, those bought most lately, which the complement model
// weighs).
func (ix *Index) complementCandidates(a int32, recent bool) []int32 {
	var c candidates
	c.addNeighbours(ix.beh.basket[a])
	c.addNeighbours(ix.beh.sim[a])
	c.add(ix.content.textNeighbours(a, complementTextCands)...)
	if l := ix.content.leaf[a]; l >= 0 {
		for _, cl := range ix.beh.catTop(l, 8) {
			c.add(ix.beh.popularIn(cl, 30)...)
			if recent {
				c.add(ix.beh.recentIn(cl, 30)...)
			}
		}
	}
	return c.out
}

// Signal names, in the order of Weights.W.
const (
	SigBehaviour = iota // co-interactions by the same shoppers (shrunk cosine)
	SigBasket           // bought in the same basket (shrunk confidence, lift > 1)
	SigLeaf             // same leaf category
	SigPath             // share of the category path in common
	SigBrand            // same brand
	SigAttrs            // attributes in common
	SigText             // title/description TF-IDF cosine
	SigFactor           // factor model item vectors cosine
	SigEmbed            // text embedder cosine
	SigCatPair          // how often shoppers of a's category buy in j's (lift), times j's popularity there
	SigPopular          // j's overall popularity
	NumSignals
)

// SignalNames name the signals in reports and learned-weight listings.
var SignalNames = [NumSignals]string{"behaviour", "basket", "leaf", "path", "brand", "attrs", "text", "factor", "embed", "catpair", "popular"}

var reasonText = [NumSignals]string{"chosen by the same shoppers", "bought together", "same category", "related category", "same brand", "similar attributes", "similar text", "similar in the model", "similar description", "often bought with this category", "popular"}

// features are a candidate's signals, each in [0, 1].
type features [NumSignals]float64

// Weights is a linear blend of the signals.
type Weights struct {
	W [NumSignals]float64
}

// DefaultSimilar is the blend before learning, led by title text with a
// nudge to the same category. Chosen on the validation half of the
// Amazon Office "also viewed" relations (docs/benchmarks.md); Learn
// re-weighs behaviour and item vectors per shop.
func DefaultSimilar() Weights {
	var w Weights
	w.W[SigBehaviour] = 0.1
	w.W[SigLeaf] = 0.1
	w.W[SigPath] = 0.1
	w.W[SigAttrs] = 0.05
	w.W[SigText] = 1
	w.W[SigFactor] = 0.1
	w.W[SigEmbed] = 0.2
	return w
}

// DefaultComplement is the blend for complements before learning: shoppers
// and baskets in common, the categories the anchor's buyers also buy, a
// nudge to the anchor's category and brand, and text in common — the
// strongest content signal of what goes with an item, since accessories
// and supplies name their product (the substitute rule keeps other ones
// of the same out, however alike their text). The content part was chosen
// on the validation half of Amazon Office's "also bought" relations and is
// kept by Learn, which re-weighs only the behaviour signals, so a shop
// with little behaviour gets content-led complements (docs/benchmarks.md).
func DefaultComplement() Weights {
	var w Weights
	w.W[SigBehaviour] = 0.5
	w.W[SigBasket] = 1
	w.W[SigLeaf] = 0.2
	w.W[SigPath] = 0.2
	w.W[SigBrand] = 0.2
	w.W[SigText] = 5
	w.W[SigCatPair] = 2
	w.W[SigPopular] = 0.05
	return w
}

func (w Weights) score(f *features) float64 {
	var s float64
	for k, v := range f {
		s += w.W[k] * v
	}
	return s
}

// reason names the signals that placed an item: the strongest, and the
// second when it contributes at least half as much.
func (w Weights) reason(f *features, complement bool) string {
	best, second := -1, -1
	var bv, sv float64
	for k, v := range f {
		c := w.W[k] * v
		if c <= 0 || k == SigPopular {
			continue
		}
		if c > bv {
			second, sv = best, bv
			best, bv = k, c
		} else if c > sv {
			second, sv = k, c
		}
	}
	if best < 0 {
		if complement {
			return "bought together"
		}
		return "popular"
	}
	r := reasonText[best]
	if second >= 0 && sv >= bv/2 {
		r += ", " + reasonText[second]
	}
	return r
}

// String lists the non-zero weights by signal name.
func (w Weights) String() string {
	var parts []string
	for k, v := range w.W {
		if v != 0 {
			parts = append(parts, fmt.Sprintf("%s=%.3g", SignalNames[k], v))
		}
	}
	return strings.Join(parts, " ")
}

// ParseWeights reads "signal=weight,…" (signals as in SignalNames;
// unnamed signals weigh 0).
func ParseWeights(s string) (Weights, error) {
	var w Weights
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		k := slices.Index(SignalNames[:], strings.TrimSpace(name))
		if !ok || k < 0 {
			return w, fmt.Errorf("%q: want signal=weight with a signal among %s", part, strings.Join(SignalNames[:], ", "))
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return w, fmt.Errorf("%q: the weight is not a number", part)
		}
		w.W[k] = v
	}
	return w, nil
}

func (ix *Index) similarFeatures(a, j int32) features {
	var f features
	c := ix.content
	f[SigBehaviour] = ix.beh.simOf(a, j)
	if c.sameLeaf(a, j) {
		f[SigLeaf] = 1
	}
	f[SigPath] = c.pathShare(a, j)
	if c.brand[a] >= 0 && c.brand[a] == c.brand[j] {
		f[SigBrand] = 1
	}
	f[SigAttrs] = c.attrShare(a, j)
	f[SigText] = c.textCos(a, j)
	f[SigFactor] = ix.factor.cos(a, j)
	f[SigEmbed] = ix.embed.cos(a, j)
	f[SigPopular] = ix.beh.pop(j)
	return f
}

func (ix *Index) complementFeatures(a, j int32) features {
	var f features
	c := ix.content
	f[SigBehaviour] = ix.beh.simOf(a, j)
	f[SigBasket] = ix.beh.basketOf(a, j)
	if c.sameLeaf(a, j) {
		f[SigLeaf] = 1
	}
	f[SigPath] = c.pathShare(a, j)
	if c.brand[a] >= 0 && c.brand[a] == c.brand[j] {
		f[SigBrand] = 1
	}
	f[SigText] = c.textCos(a, j)
	f[SigCatPair] = ix.beh.catPair(c.leaf[a], c.leaf[j]) * ix.beh.popInLeaf(j)
	f[SigPopular] = ix.beh.pop(j)
	return f
}

func sqrt(x float64) float64 { return math.Sqrt(x) }

// EmbedItems embeds each item's title and brand with e, in batches, and
// returns the vectors by item id for Build or Learn. progress (may be
// nil) hears how many items are done.
func EmbedItems(ctx context.Context, e embed.Embedder, items []catalog.Item, progress func(done, total int)) (Vectors, error) {
	const batch = 64
	out := make(Vectors, len(items))
	for k := 0; k < len(items); k += batch {
		part := items[k:min(k+batch, len(items))]
		texts := make([]string, len(part))
		for q, it := range part {
			texts[q] = strings.TrimSpace(it.Title + " " + it.Brand)
		}
		vs, err := e.Embed(ctx, texts)
		if err != nil {
			return nil, fmt.Errorf("embed items with %s: %w", e.Name(), err)
		}
		for q, it := range part {
			if q < len(vs) && texts[q] != "" {
				out[it.ID] = vs[q]
			}
		}
		if progress != nil {
			progress(min(k+batch, len(items)), len(items))
		}
	}
	return out, nil
}
