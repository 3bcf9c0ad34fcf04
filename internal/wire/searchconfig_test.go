package wire

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/search"
)

func TestSearchConfig(t *testing.T) {
	half, two := 0.5, 2.0
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
