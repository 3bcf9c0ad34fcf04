package wire

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/search"
)

func TestSearchConfig(t *testing.T) {
	half, two := 0.5, 2.0
	one, minusOne := 1, -1
	for _, c := range []struct {
		name  string
		in    config.Search
		check func(search.Config) bool
		err   string
	}{
		{"defaults", config.Search{}, func(c search.Config) bool { return c.BoostWeight == search.DefaultConfig().BoostWeight }, ""},
		{"synonyms", config.Search{Synonyms: [][]string{{"sneaker", "trainer"}}}, func(c search.Config) bool { return len(c.Synonyms) == 1 }, ""},
		{"field weight", config.Search{FieldWeights: map[string]float64{"brand": 3}},
			func(c search.Config) bool { return c.FieldWeights[search.FieldBrand] == 3 }, ""},
		{"unknown field", config.Search{FieldWeights: map[string]float64{"colour": 1}}, nil, "unknown field"},
		{"negative weight", config.Search{FieldWeights: map[string]float64{"title": -1}}, nil, "negative"},
		{"fusion", config.Search{Fusion: config.SearchFusion{Method: "rrf", Alpha: &half, RRFK: 10, Depth: 50}},
			func(c search.Config) bool {
				f := c.Fusion
				return f.Method == "rrf" && f.Alpha == 0.5 && f.RRFK == 10 && f.Depth == 50
			}, ""},
		{"negative rrf_k", config.Search{Fusion: config.SearchFusion{RRFK: -1}}, nil, "rrf_k"},
		{"negative depth", config.Search{Fusion: config.SearchFusion{Depth: -5}}, nil, "depth"},
		{"bad fusion", config.Search{Fusion: config.SearchFusion{Method: "max"}}, nil, "fusion method"},
		{"alpha out of range", config.Search{Fusion: config.SearchFusion{Alpha: &two}}, nil, "alpha"},
		{"boost", config.Search{BoostWeight: &half}, func(c search.Config) bool { return c.BoostWeight == 0.5 }, ""},
		{"boost out of range", config.Search{BoostWeight: &two}, nil, "boost"},
		{"price ranges", config.Search{PriceRanges: [][2]float64{{0, 10}, {10, 0}}},
			func(c search.Config) bool { return len(c.PriceRanges) == 2 && c.PriceRanges[1].Label() == "10+" }, ""},
		{"empty price range", config.Search{PriceRanges: [][2]float64{{10, 5}}}, nil, "price range"},
		{"suggest defaults", config.Search{}, func(c search.Config) bool {
			d := search.DefaultConfig()
			return c.SuggestMinShoppers == d.SuggestMinShoppers && c.SuggestMaxQueries == d.SuggestMaxQueries && len(c.SuggestBlock) == 0
		}, ""},
		{"suggest settings", config.Search{SuggestMinShoppers: &one, SuggestMaxQueries: 100, SuggestBlock: []string{"casino"}},
			func(c search.Config) bool {
				return c.SuggestMinShoppers == 1 && c.SuggestMaxQueries == 100 && len(c.SuggestBlock) == 1
			}, ""},
		{"negative suggest_min_shoppers", config.Search{SuggestMinShoppers: &minusOne}, nil, "suggest_min_shoppers"},
	} {
		got, err := SearchConfig(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want one about %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || !c.check(got) {
			t.Errorf("%s: %v %+v", c.name, err, got)
		}
	}
}

// search.mode ltr without learning would never rank with a learned model:
// it is refused rather than silently served as keyword search.
func TestSearchModeLTRNeedsLearning(t *testing.T) {
	off, on := false, true
	for _, c := range []struct {
		learn   *bool
		mode    string
		wantErr bool
	}{
		{nil, "ltr", false}, {&on, "ltr", false}, {&off, "ltr", true}, {&off, "keyword", false},
	} {
		cfg := config.Default()
		cfg.Search.Mode, cfg.Search.LearnRanking = c.mode, c.learn
		ix, _, err := NewSearchIndex(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
		if ix != nil {
			ix.Close()
		}
		if (err != nil) != c.wantErr || (err != nil && !strings.Contains(err.Error(), "learn_ranking")) {
			t.Errorf("mode %s, learn_ranking %v: error %v", c.mode, c.learn, err)
		}
	}
}

// config.Default() states the engine's defaults (the example file shows
// them to operators): they must not drift apart.
func TestConfigDefaultsAreTheEngines(t *testing.T) {
	d, sd := config.Default(), search.DefaultConfig()
	if *d.Search.SuggestMinShoppers != sd.SuggestMinShoppers || d.Search.SuggestMaxQueries != sd.SuggestMaxQueries {
		t.Errorf("config suggest defaults %d/%d, search's %d/%d", *d.Search.SuggestMinShoppers, d.Search.SuggestMaxQueries, sd.SuggestMinShoppers, sd.SuggestMaxQueries)
	}
	if rs := d.Events.RatingScale; len(rs) != 2 || rs[0] != events.DefaultRatingMin || rs[1] != events.DefaultRatingMax {
		t.Errorf("config events.rating_scale %v, events' default [%v, %v]", rs, events.DefaultRatingMin, events.DefaultRatingMax)
	}
}

// events.rating_scale reaches the engine's event types; a bad one is
// refused when the engine is opened.
func TestOpenEngineRatingScale(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.Events.RatingScale = []float64{1, 5}
	eng, st, err := OpenEngine(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := eng.Types().RatingScale()
	st.Close()
	if lo != 1 || hi != 5 {
		t.Errorf("rating scale [%v, %v], want [1, 5]", lo, hi)
	}
	cfg.Data = t.TempDir()
	cfg.Events.RatingScale = []float64{1, 1e9}
	if _, st, err := OpenEngine(cfg, log); err == nil || !strings.Contains(err.Error(), "rating_scale") {
		if st != nil {
			st.Close()
		}
		t.Errorf("rating scale [1, 1e9]: error %v, want one naming events.rating_scale", err)
	}
}
