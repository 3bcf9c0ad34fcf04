package pipeline

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/store/boltstore"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ev(user, item string, typ events.Type, sec int, session string) events.Event {
	return events.Event{UserID: user, ItemID: item, Type: typ, Timestamp: t0.Add(time.Duration(sec) * time.Second), SessionID: session}
}

func items(ids ...string) []catalog.Item {
	var out []catalog.Item
	for _, id := range ids {
		out = append(out, catalog.Item{ID: id, Title: "title " + id, Brand: "B", Categories: []string{"Office/Pens"}})
	}
	return out
}

func build(t *testing.T, p Preprocess, its []catalog.Item, evs []events.Event) *Data {
	t.Helper()
	d, err := p.Build(context.Background(), its, func(fn func(events.Event) error) error {
		for _, e := range evs {
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestPreprocessDropsWhatItsRulesSay(t *testing.T) {
	rating := func(u, i string, v float64, sec int) events.Event {
		e := ev(u, i, events.Rating, sec, "")
		e.Value = &v
		return e
	}
	var botEvents []events.Event
	for i := 0; i < 130; i++ { // 130 events in 44 s: over 120 per minute
		botEvents = append(botEvents, ev("bot", fmt.Sprintf("i%d", i%3), events.View, i/3, "bs"))
	}
	var marathon []events.Event
	for i := 0; i < 300; i++ { // 300 views, one every 10 s, nothing else in the session
		marathon = append(marathon, ev("viewer", fmt.Sprintf("i%d", i%3), events.View, i*10, "vs"))
	}
	cases := []struct {
		name  string
		p     func(*Preprocess)
		evs   []events.Event
		check func(t *testing.T, d *Data)
	}{
		{"weights by type", nil, []events.Event{ev("u", "i0", events.View, 0, ""), ev("u", "i0", events.Purchase, 100, ""), ev("u", "i1", events.Click, 200, "")},
			func(t *testing.T, d *Data) {
				ds := d.Implicit
				if d.Report.Interactions != 2 || ds.Weights[0] != 9 || ds.Weights[1] != 2 {
					t.Fatalf("weights %v report %+v", ds.Weights, d.Report)
				}
			}},
		{"position weights multiply", func(p *Preprocess) {
			p.PositionWeight = func(e events.Event) float64 { return []float64{1, 1, 4, math.Inf(1), -1}[e.Position] }
		}, func() []events.Event {
			at := func(e events.Event, pos int) events.Event { e.Position = pos; return e }
			// i0: a view (1) and a click at position 2 (2×4); i1: clicks
			// whose weight function says nothing usable (∞, −1) weigh 1
			return []events.Event{ev("u", "i0", events.View, 0, ""), at(ev("u", "i0", events.Click, 100, ""), 2),
				at(ev("u", "i1", events.Click, 200, ""), 3), at(ev("u", "i1", events.Click, 300, ""), 4)}
		}(),
			func(t *testing.T, d *Data) {
				if ds := d.Implicit; len(ds.Weights) != 2 || ds.Weights[0] != 9 || ds.Weights[1] != 4 {
					t.Fatalf("weights %v, want [9 4]", ds.Weights)
				}
			}},
		{"searches and unknown items", nil, []events.Event{{UserID: "u", Type: events.Search, Query: "q", Timestamp: t0}, ev("u", "gone", events.View, 0, ""), ev("u", "i0", events.View, 0, "")},
			func(t *testing.T, d *Data) {
				if d.Report.NoItem != 1 || d.Report.UnknownItem != 1 || d.Report.Interactions != 1 {
					t.Fatalf("%+v", d.Report)
				}
			}},
		{"exact and repeat duplicates", nil, []events.Event{ev("u", "i0", events.View, 0, "s"), ev("u", "i0", events.View, 0, "s"), ev("u", "i0", events.View, 2, "s"), ev("u", "i0", events.View, 60, "s"), ev("u", "i0", events.Click, 61, "s")},
			func(t *testing.T, d *Data) {
				r := d.Report
				if r.ExactDuplicates != 1 || r.RepeatDuplicates != 1 || d.Implicit.Weights[0] != 1+1+2 {
					t.Fatalf("%+v weights %v", r, d.Implicit.Weights)
				}
			}},
		{"bots by rate", nil, append([]events.Event{ev("u", "i0", events.View, 0, "")}, botEvents...),
			func(t *testing.T, d *Data) {
				if d.Report.BotUsers != 1 || d.Report.Users != 1 || d.Implicit.UserIDs[0] != "u" {
					t.Fatalf("%+v", d.Report)
				}
			}},
		{"view-only marathon session", func(p *Preprocess) { p.DedupWindow = 0 }, append([]events.Event{ev("u", "i0", events.View, 0, "")}, marathon...),
			func(t *testing.T, d *Data) {
				if d.Report.ViewOnlyUsers != 1 || d.Report.ViewOnlyEvents != 300 || d.Report.Users != 1 {
					t.Fatalf("%+v", d.Report)
				}
			}},
		{"zero weight type", func(p *Preprocess) { p.Weights[events.View] = 0 }, []events.Event{ev("u", "i0", events.View, 0, ""), ev("u", "i1", events.Click, 0, "")},
			func(t *testing.T, d *Data) {
				if d.Report.ZeroWeight != 1 || d.Report.Interactions != 1 {
					t.Fatalf("%+v", d.Report)
				}
			}},
		{"ratings are weights and explicit data", nil, []events.Event{rating("u", "i0", 4, 0), rating("u", "i0", 5, 100), ev("u", "i1", events.View, 50, "")},
			func(t *testing.T, d *Data) {
				if d.Explicit == nil || d.Report.Ratings != 1 || d.Explicit.Ratings[0] != 5 {
					t.Fatalf("explicit %+v", d.Explicit)
				}
				// rows are in order of last interaction: i1 (50 s) then i0 (100 s)
				if d.Implicit.Items[0] != 1 || d.Implicit.Weights[1] != 9 {
					t.Fatalf("row %v weights %v", d.Implicit.Items, d.Implicit.Weights)
				}
			}},
		{"time decay halves per half-life", func(p *Preprocess) { p.HalfLife = time.Hour }, []events.Event{ev("u", "i0", events.View, 0, ""), ev("u", "i1", events.View, 3600, "")},
			func(t *testing.T, d *Data) {
				w := d.Implicit.Weights
				if math.Abs(float64(w[0])-0.5) > 1e-6 || w[1] != 1 {
					t.Fatalf("decayed weights %v", w)
				}
			}},
		{"k-core", func(p *Preprocess) { p.MinUserItems = 2; p.MinItemUsers = 2 },
			[]events.Event{ev("a", "i0", events.View, 0, ""), ev("a", "i1", events.View, 0, ""), ev("b", "i0", events.View, 0, ""), ev("b", "i1", events.View, 0, ""), ev("c", "i2", events.View, 0, ""), ev("c", "i0", events.View, 0, "")},
			func(t *testing.T, d *Data) {
				// i2 has one user → removed; then c has one item → removed.
				if d.Report.KCoreItems != 1 || d.Report.KCoreUsers != 1 || d.Report.Users != 2 || d.Report.Interactions != 4 {
					t.Fatalf("%+v", d.Report)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := DefaultPreprocess()
			if c.p != nil {
				c.p(&p)
			}
			c.check(t, build(t, p, items("i0", "i1", "i2"), c.evs))
		})
	}
}

func TestRequirements(t *testing.T) {
	d := &Data{Report: Report{Users: 10, ItemsWithData: 5, Items: 40000, Interactions: 30}}
	if ok, why := DefaultRequirements("popular").Check(d); !ok {
		t.Fatalf("popular: %s", why)
	}
	if ok, why := DefaultRequirements("ials").Check(d); ok || why == "" {
		t.Fatalf("ials trained on 30 interactions: %s", why)
	}
	d.Report = Report{Users: 1000, ItemsWithData: 1000, Items: 40000, Interactions: 100000}
	if ok, why := DefaultRequirements("itemfilter").Check(d); ok {
		t.Fatalf("itemfilter (dense n×n) accepted 40k items: %s", why)
	}
	if ok, why := DefaultRequirements("ease").Check(d); !ok {
		t.Fatalf("ease (sparse above its max_items) refused 40k items: %s", why)
	}
}

// A planted-structure log: users of group g view and buy items of group g.
func plantedEvents(nUsers, nItems, perUser int) ([]catalog.Item, []events.Event) {
	var its []catalog.Item
	for i := 0; i < nItems; i++ {
		its = append(its, catalog.Item{ID: fmt.Sprintf("i%03d", i), Title: fmt.Sprintf("item %d", i), Categories: []string{fmt.Sprintf("G/%d", i%4)}})
	}
	var evs []events.Event
	for u := 0; u < nUsers; u++ {
		g := u % 4
		for k := 0; k < perUser; k++ {
			item := (g + 4*((u*7+k*13)%(nItems/4))) % nItems
			typ := events.View
			if k%3 == 0 {
				typ = events.Purchase
			}
			evs = append(evs, ev(fmt.Sprintf("u%03d", u), its[item].ID, typ, u*1000+k*100, ""))
		}
	}
	return its, evs
}

func TestTrainStoresVersionsThatLoadBack(t *testing.T) {
	ctx := context.Background()
	its, evs := plantedEvents(200, 80, 12)
	st := filledStore(t, its, evs)
	opts := Options{Preprocess: DefaultPreprocess(), Models: []Spec{{Name: "popular"}, {Name: "itemknn"}, {Name: "ials", Params: model.Params{"iterations": 5}},
		{Name: "sasrec", Params: model.Params{"epochs": 3, "dim": 16, "ffn": 32, "layers": 1}}, {Name: "no-such-model"}}}
	data, err := opts.Load(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Train(ctx, st, data, opts)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Result{}
	for _, r := range res {
		byName[r.Model] = r
	}
	if r := byName["no-such-model"]; r.Trained || (r.Error == "" && r.Reason == "") {
		t.Fatalf("an unknown model should be refused with a reason: %+v", r)
	}
	for _, name := range []string{"popular", "itemknn", "ials", "sasrec"} {
		r := byName[name]
		if !r.Trained || r.Version != 1 || r.Error != "" {
			t.Fatalf("%s: %+v", name, r)
		}
		if _, ok := r.Metrics["HR@10"]; !ok || (name != "popular" && r.Metrics["HR@10"] <= 0) {
			t.Fatalf("%s: no validation metric: %+v", name, r)
		}
		meta, blob, err := st.LoadModel(ctx, name, 1)
		if err != nil || meta.Status != "candidate" || meta.Items != 80 {
			t.Fatalf("%s stored: %+v %v", name, meta, err)
		}
		art, err := DecodeArtifact(blob)
		if err != nil {
			t.Fatalf("%s decode: %v", name, err)
		}
		if len(art.ItemIDs) != 80 || art.ItemIDs[0] != "i000" {
			t.Fatalf("%s ids: %v", name, art.ItemIDs[:3])
		}
		a := make([]float32, 80)
		b := make([]float32, 80)
		q := model.Query{User: 3, History: []int32{3, 7}}
		art.Model.Score(q, a)
		art.Model.Score(q, b)
		for i := range a {
			if a[i] != b[i] || math.IsNaN(float64(a[i])) {
				t.Fatalf("%s: scores not stable after load", name)
			}
		}
	}
	// Personal models must beat popularity on planted structure.
	if byName["ials"].Metrics["HR@10"] <= byName["popular"].Metrics["HR@10"] {
		t.Fatalf("ials %v does not beat popular %v", byName["ials"].Metrics, byName["popular"].Metrics)
	}
	if _, err := DecodeArtifact([]byte("garbage")); err == nil {
		t.Fatal("garbage decoded")
	}
}

func TestWarmStartFromPrevious(t *testing.T) {
	ctx := context.Background()
	its, evs := plantedEvents(150, 60, 10)
	st := filledStore(t, its, evs)
	opts := Options{Preprocess: DefaultPreprocess(), Models: []Spec{{Name: "ials", Params: model.Params{"iterations": 3}}, {Name: "itemknn"}}}
	data, _ := opts.Load(ctx, st)
	first, _ := Train(ctx, st, data, opts)
	_, blob, _ := st.LoadModel(ctx, "ials", first[0].Version)
	prev, err := DecodeArtifact(blob)
	if err != nil {
		t.Fatal(err)
	}
	opts.Previous = func(name string) model.Model {
		if name == "ials" {
			return prev.Model
		}
		return nil
	}
	second, _ := Train(ctx, st, data, opts)
	if !second[0].WarmStart || !second[0].Trained || second[1].WarmStart {
		t.Fatalf("warm start: %+v", second)
	}
	if second[0].Metrics["HR@10"] < first[0].Metrics["HR@10"]*0.8 {
		t.Fatalf("warm-started fit much worse: %v vs %v", second[0].Metrics, first[0].Metrics)
	}
}

func TestEventWeight(t *testing.T) {
	p := DefaultPreprocess()
	five := 5.0
	for _, c := range []struct {
		t    events.Type
		v    *float64
		want float64
	}{
		{events.Rating, &five, 5},
		{events.Rating, nil, 0},
		{events.Purchase, nil, p.Weights[events.Purchase]},
		{events.Type("wishlist"), nil, p.DefaultWeight},
	} {
		if got := p.EventWeight(c.t, c.v); got != c.want {
			t.Errorf("EventWeight(%s) = %v, want %v", c.t, got, c.want)
		}
	}
}

// Issue 12 item 1: a rating beyond float32 must not become an infinite
// weight (it stopped retraining: "Gram matrix is not positive definite").
func TestEventWeightFinite(t *testing.T) {
	p := DefaultPreprocess()
	for _, v := range []float64{1e39, -1e39, math.Inf(1), math.NaN()} {
		if got := p.EventWeight(events.Rating, &v); got != 0 {
			t.Errorf("EventWeight(rating %v) = %v, want 0", v, got)
		}
	}
}

// filledStore is a bolt store in a temporary directory holding its and
// evs, closed when the test ends.
func filledStore(tb testing.TB, its []catalog.Item, evs []events.Event) *boltstore.Store {
	tb.Helper()
	ctx := context.Background()
	st, err := boltstore.Open(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if err := st.PutItems(ctx, its); err != nil {
		tb.Fatal(err)
	}
	if err := st.AppendEvents(ctx, evs); err != nil {
		tb.Fatal(err)
	}
	return st
}
