// Package pipeline turns the event log into trained, versioned models: it
// cleans the events (deduplication, bot and outlier filtering, type weights,
// time decay, k-core), checks per model whether there is enough data to
// train, fits the models that qualify, measures them on a held-out split and
// stores each as a new model version. `aisle train` and the server's
// background retraining run the same code.
//
// pipeline trains the recommendation models only. The search ranker has
// its own training loop in package search/ranking, because its data (the
// search log) and its gate (keyword ranking on held-out queries) differ.
package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/model"
)

// Preprocess configures the cleaning of events into training data.
type Preprocess struct {
	// Weights maps event types to interaction weights. Types missing here
	// weigh DefaultWeight; a weight of 0 drops the type from training.
	// Rating events weigh their value when RatingAsWeight is true.
	Weights        map[events.Type]float64
	DefaultWeight  float64
	RatingAsWeight bool
	// DedupWindow drops an event when the same user did the same thing to
	// the same item less than this long before (double clicks, reloads).
	// Exact duplicates (same user, item, type, time and session) are always dropped.
	DedupWindow time.Duration
	// MaxEventsPerMinute drops users who ever do more than this many events
	// within one minute (bots, scrapers); 0 disables the rule.
	MaxEventsPerMinute int
	// MaxSessionViews drops users with a session of at least this many views
	// and no other action; 0 disables the rule.
	MaxSessionViews int
	// HalfLife applies exponential time decay to weights, measured back from
	// the newest event; 0 disables decay.
	HalfLife time.Duration
	// MinUserItems and MinItemUsers apply k-core filtering (repeated until
	// stable); 0 disables it.
	MinUserItems, MinItemUsers int
	// PositionWeight, when set, multiplies the weight of each event: the
	// inverse propensity of the position it was shown at (training's
	// position correction, experiment.Manager.EventPositionWeight behind
	// training.position_weights); nil weighs every event 1.
	PositionWeight func(events.Event) float64
}

// DefaultPreprocess returns the defaults: view 1, click 2, add_to_cart 4,
// purchase 8, rating = its value, search 0 (not an item interaction).
func DefaultPreprocess() Preprocess {
	return Preprocess{
		Weights:            map[events.Type]float64{events.View: 1, events.Click: 2, events.AddToCart: 4, events.Purchase: 8, events.Search: 0},
		DefaultWeight:      1,
		RatingAsWeight:     true,
		DedupWindow:        5 * time.Second,
		MaxEventsPerMinute: 120,
		MaxSessionViews:    300,
	}
}

// Report says what each preprocessing step did.
type Report struct {
	Events           int `json:"events"`             // events read
	NoItem           int `json:"no_item"`            // search events and others without an item
	UnknownItem      int `json:"unknown_item"`       // events for items not (any more) in the catalogue
	ZeroWeight       int `json:"zero_weight"`        // event types weighted 0
	ExactDuplicates  int `json:"exact_duplicates"`   // identical events
	RepeatDuplicates int `json:"repeat_duplicates"`  // repeats within DedupWindow
	BotUsers         int `json:"bot_users"`          // users dropped by the rate rule
	BotEvents        int `json:"bot_events"`         //
	ViewOnlyUsers    int `json:"view_only_users"`    // users dropped by the session rule
	ViewOnlyEvents   int `json:"view_only_events"`   //
	KCoreUsers       int `json:"kcore_users"`        // users removed by k-core
	KCoreItems       int `json:"kcore_items"`        // items removed by k-core
	Interactions     int `json:"interactions"`       // distinct (user, item) pairs kept
	Users            int `json:"users"`              // users kept
	Items            int `json:"items"`              // catalogue items (columns)
	ItemsWithData    int `json:"items_with_data"`    // items with at least one interaction
	Ratings          int `json:"ratings"`            // (user, item) pairs with an explicit rating
	ReferenceTimeUTC int `json:"reference_time_utc"` // newest event, unix seconds (decay origin)
}

// String renders the report as lines a person reads.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "read %d events\n", r.Events)
	line := func(n int, what string) {
		if n > 0 {
			fmt.Fprintf(&b, "  dropped %d %s\n", n, what)
		}
	}
	line(r.NoItem, "events without an item (searches)")
	line(r.UnknownItem, "events for items no longer in the catalogue")
	line(r.ZeroWeight, "events of types weighted 0")
	line(r.ExactDuplicates, "exact duplicate events")
	line(r.RepeatDuplicates, "repeats within the dedup window")
	if r.BotUsers > 0 {
		fmt.Fprintf(&b, "  dropped %d bot-like users (too many events per minute) with %d events\n", r.BotUsers, r.BotEvents)
	}
	if r.ViewOnlyUsers > 0 {
		fmt.Fprintf(&b, "  dropped %d users with view-only marathon sessions, with %d events\n", r.ViewOnlyUsers, r.ViewOnlyEvents)
	}
	if r.KCoreUsers+r.KCoreItems > 0 {
		fmt.Fprintf(&b, "  k-core removed %d users and %d items\n", r.KCoreUsers, r.KCoreItems)
	}
	fmt.Fprintf(&b, "kept %d interactions of %d users with %d of %d items (%d explicit ratings)", r.Interactions, r.Users, r.ItemsWithData, r.Items, r.Ratings)
	return b.String()
}

// rawEvent is one event in compact form.
type rawEvent struct {
	item    int32
	session int32
	typ     uint8
	value   float32
	ts      int64
	pw      float32 // Preprocess.PositionWeight (1 without)
}

// Data is the outcome of preprocessing.
type Data struct {
	// Implicit holds one row per user of weighted interactions, in time order
	// of their last interaction; its columns are every catalogue item.
	Implicit *model.Dataset
	// Explicit holds the interactions that carry an explicit rating (Ratings
	// set), over the same users and items; nil when there are none.
	Explicit *model.Dataset
	Report   Report
	// ReadAt is when reading the events began (set by Options.Load).
	ReadAt time.Time

	seqCache // Sequence, measured on first use
}

// Build reads every event (scan) and the catalogue and produces training
// data. Items are the columns in id order, with their text and attributes
// as side information.
func (p Preprocess) Build(ctx context.Context, items []catalog.Item, scan func(func(events.Event) error) error) (*Data, error) {
	var rep Report
	slices.SortFunc(items, func(a, b catalog.Item) int { return cmp.Compare(a.ID, b.ID) })
	itemIdx := make(map[string]int32, len(items))
	for i, it := range items {
		itemIdx[it.ID] = int32(i)
	}
	types := map[events.Type]uint8{}
	var typeNames []events.Type
	typeOf := func(t events.Type) uint8 {
		if v, ok := types[t]; ok {
			return v
		}
		types[t] = uint8(len(typeNames))
		typeNames = append(typeNames, t)
		return types[t]
	}
	userIdx := map[string]int32{}
	var userIDs []string
	var perUser [][]rawEvent
	sessions := map[string]int32{}
	var newest int64
	err := scan(func(e events.Event) error {
		rep.Events++
		if rep.Events%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if e.ItemID == "" {
			rep.NoItem++
			return nil
		}
		it, ok := itemIdx[e.ItemID]
		if !ok {
			rep.UnknownItem++
			return nil
		}
		if p.weightOf(e.Type, 1) == 0 {
			rep.ZeroWeight++
			return nil
		}
		u, ok := userIdx[e.UserID]
		if !ok {
			u = int32(len(userIDs))
			userIdx[e.UserID] = u
			userIDs = append(userIDs, e.UserID)
			perUser = append(perUser, nil)
		}
		s := int32(-1)
		if e.SessionID != "" {
			var ok bool
			if s, ok = sessions[e.SessionID]; !ok {
				s = int32(len(sessions))
				sessions[e.SessionID] = s
			}
		}
		v := float32(math.NaN())
		if e.Value != nil && math.Abs(*e.Value) <= math.MaxFloat32 {
			v = float32(*e.Value) // a value beyond float32 counts as none
		}
		ts := e.Timestamp.Unix()
		newest = max(newest, ts)
		pw := float32(1)
		if p.PositionWeight != nil {
			if w := p.PositionWeight(e); w > 0 && !math.IsInf(w, 0) {
				pw = float32(w)
			}
		}
		perUser[u] = append(perUser[u], rawEvent{item: it, session: s, typ: typeOf(e.Type), value: v, ts: ts, pw: pw})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	rep.ReferenceTimeUTC = int(newest)
	viewType, hasView := types[events.View]

	// Per user: order by time, deduplicate, apply the bot rules.
	keep := make([]bool, len(userIDs))
	for u, evs := range perUser {
		slices.SortStableFunc(evs, func(a, b rawEvent) int { return cmp.Compare(a.ts, b.ts) })
		keep[u] = true
		// The rate rule sees the raw events: bots repeat themselves.
		if p.MaxEventsPerMinute > 0 && burst(evs) > p.MaxEventsPerMinute {
			rep.BotUsers++
			rep.BotEvents += len(evs)
			keep[u] = false
			continue
		}
		evs = p.dedup(evs, &rep)
		perUser[u] = evs
		if p.MaxSessionViews > 0 && hasView && viewOnlySession(evs, viewType, p.MaxSessionViews) {
			rep.ViewOnlyUsers++
			rep.ViewOnlyEvents += len(evs)
			keep[u] = false
		}
	}

	// Aggregate per (user, item).
	type pair struct {
		item   int32
		weight float64
		last   int64
		rating float32
	}
	ratingType, hasRating := types[events.Rating]
	rows := make([][]pair, len(userIDs))
	for u, evs := range perUser {
		if !keep[u] {
			continue
		}
		at := map[int32]int{}
		var row []pair
		for _, e := range evs {
			w := p.weightOf(typeNames[e.typ], e.value)
			if w <= 0 {
				continue
			}
			w *= float64(e.pw)
			if p.HalfLife > 0 {
				age := float64(newest-e.ts) / p.HalfLife.Seconds()
				w *= math.Exp2(-age)
			}
			i, ok := at[e.item]
			if !ok {
				i = len(row)
				at[e.item] = i
				row = append(row, pair{item: e.item, rating: float32(math.NaN())})
			}
			row[i].weight += w
			row[i].last = max(row[i].last, e.ts)
			if hasRating && e.typ == ratingType && !math.IsNaN(float64(e.value)) {
				row[i].rating = e.value
			}
		}
		slices.SortStableFunc(row, func(a, b pair) int { return cmp.Compare(a.last, b.last) })
		rows[u] = row
	}

	// k-core.
	if p.MinUserItems > 0 || p.MinItemUsers > 0 {
		itemDeg := make([]int, len(items))
		for _, row := range rows {
			for _, x := range row {
				itemDeg[x.item]++
			}
		}
		removedItem := make([]bool, len(items))
		for changed := true; changed; {
			changed = false
			for u, row := range rows {
				if row == nil {
					continue
				}
				kept := row[:0]
				for _, x := range row {
					if !removedItem[x.item] {
						kept = append(kept, x)
					}
				}
				rows[u] = kept
				if len(kept) > 0 && len(kept) < p.MinUserItems {
					for _, x := range kept {
						itemDeg[x.item]--
					}
					rows[u] = nil
					rep.KCoreUsers++
					changed = true
				}
			}
			for i := range itemDeg {
				if !removedItem[i] && itemDeg[i] > 0 && itemDeg[i] < p.MinItemUsers {
					removedItem[i] = true
					itemDeg[i] = 0
					rep.KCoreItems++
					changed = true
				}
			}
		}
	}

	// Assemble the datasets; users without interactions are left out.
	imp := &model.Dataset{UserPtr: []int{0}, Times: []int64{}, Weights: []float32{}}
	exp := &model.Dataset{UserPtr: []int{0}, Times: []int64{}, Ratings: []float32{}}
	imp.ItemIDs = make([]string, len(items))
	imp.ItemText = make([]string, len(items))
	imp.ItemAttrs = make([][]int32, len(items))
	attrIdx := map[string]int32{}
	for i, it := range items {
		imp.ItemIDs[i] = it.ID
		imp.ItemText[i] = ItemText(it)
		for _, a := range itemAttributes(it) {
			id, ok := attrIdx[a]
			if !ok {
				id = int32(len(attrIdx))
				attrIdx[a] = id
			}
			imp.ItemAttrs[i] = append(imp.ItemAttrs[i], id)
		}
	}
	imp.NumAttrs = len(attrIdx)
	seen := make([]bool, len(items))
	for u, row := range rows {
		if len(row) == 0 {
			continue
		}
		imp.UserIDs = append(imp.UserIDs, userIDs[u])
		exp.UserIDs = append(exp.UserIDs, userIDs[u])
		for _, x := range row {
			imp.Items = append(imp.Items, x.item)
			imp.Weights = append(imp.Weights, float32(x.weight))
			imp.Times = append(imp.Times, x.last)
			seen[x.item] = true
			if !math.IsNaN(float64(x.rating)) {
				exp.Items = append(exp.Items, x.item)
				exp.Ratings = append(exp.Ratings, x.rating)
				exp.Times = append(exp.Times, x.last)
			}
		}
		imp.UserPtr = append(imp.UserPtr, len(imp.Items))
		exp.UserPtr = append(exp.UserPtr, len(exp.Items))
	}
	exp.ItemIDs, exp.ItemText, exp.ItemAttrs, exp.NumAttrs = imp.ItemIDs, imp.ItemText, imp.ItemAttrs, imp.NumAttrs
	rep.Interactions = len(imp.Items)
	rep.Users = len(imp.UserIDs)
	rep.Items = len(items)
	rep.Ratings = len(exp.Items)
	for _, s := range seen {
		if s {
			rep.ItemsWithData++
		}
	}
	d := &Data{Implicit: imp, Report: rep}
	if rep.Ratings > 0 {
		d.Explicit = exp
	}
	return d, nil
}

func (p Preprocess) weightOf(t events.Type, value float32) float64 {
	if t == events.Rating && p.RatingAsWeight {
		if math.IsNaN(float64(value)) {
			return 0
		}
		return float64(value)
	}
	if w, ok := p.Weights[t]; ok {
		return w
	}
	return p.DefaultWeight
}

// dedup drops exact duplicates and repeats within the window; evs is in time order.
func (p Preprocess) dedup(evs []rawEvent, rep *Report) []rawEvent {
	type key struct {
		item int32
		typ  uint8
	}
	last := map[key]rawEvent{}
	out := evs[:0]
	window := int64(p.DedupWindow / time.Second)
	for _, e := range evs {
		k := key{e.item, e.typ}
		if prev, ok := last[k]; ok {
			if prev.ts == e.ts && prev.session == e.session && (prev.value == e.value || (math.IsNaN(float64(prev.value)) && math.IsNaN(float64(e.value)))) {
				rep.ExactDuplicates++
				continue
			}
			if window > 0 && e.ts-prev.ts < window && prev.session == e.session {
				rep.RepeatDuplicates++
				continue
			}
		}
		last[k] = e
		out = append(out, e)
	}
	return out
}

// burst is the largest number of events within any 60-second window.
func burst(evs []rawEvent) int {
	best, lo := 0, 0
	for hi := range evs {
		for evs[hi].ts-evs[lo].ts >= 60 {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// viewOnlySession reports a session with at least n views and no other action.
func viewOnlySession(evs []rawEvent, view uint8, n int) bool {
	views := map[int32]int{}
	other := map[int32]bool{}
	for _, e := range evs {
		if e.session < 0 {
			continue
		}
		if e.typ == view {
			views[e.session]++
		} else {
			other[e.session] = true
		}
	}
	for s, v := range views {
		if v >= n && !other[s] {
			return true
		}
	}
	return false
}

// ItemText is the text of an item used by content similarity and as side
// information: title, brand and categories.
func ItemText(it catalog.Item) string {
	parts := []string{it.Title}
	if it.Brand != "" {
		parts = append(parts, it.Brand)
	}
	for _, c := range it.Categories {
		parts = append(parts, strings.ReplaceAll(c, "/", " "))
	}
	return strings.Join(parts, " ")
}

// itemAttributes lists an item's attribute tokens: brand and every
// category path prefix.
func itemAttributes(it catalog.Item) []string {
	var out []string
	if it.Brand != "" {
		out = append(out, "brand:"+strings.ToLower(it.Brand))
	}
	seen := map[string]bool{}
	for _, c := range it.Categories {
		segs := strings.Split(c, "/")
		for i := range segs {
			prefix := "cat:" + strings.Join(segs[:i+1], "/")
			if !seen[prefix] {
				seen[prefix] = true
				out = append(out, prefix)
			}
		}
	}
	sort.Strings(out)
	return out
}

// EventWeight is how serving weighs one event of the log (a user's recent
// history, popularity): a rating by its value (0 without one), other types
// by Weights or DefaultWeight.
func (p Preprocess) EventWeight(t events.Type, value *float64) float64 {
	if t == events.Rating {
		if value == nil || !(math.Abs(*value) <= math.MaxFloat32) {
			return 0 // no rating, or one no float32 score can hold
		}
		return *value
	}
	if w, ok := p.Weights[t]; ok {
		return w
	}
	return p.DefaultWeight
}
