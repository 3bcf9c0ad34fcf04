package searcheval

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/search/analysis"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestNDCGHandComputed(t *testing.T) {
	gains := map[string]float64{"a": 1, "b": 0.1, "c": 0.01, "d": 0}
	ideal := 1 + 0.1/math.Log2(3) + 0.01/math.Log2(4)
	tests := []struct {
		name   string
		ranked []string
		want   float64
	}{
		{"ideal", []string{"a", "b", "c"}, 1},
		{"ideal with trailing junk", []string{"a", "b", "c", "d", "x"}, 1},
		{"reversed", []string{"c", "b", "a"}, (0.01 + 0.1/math.Log2(3) + 1/math.Log2(4)) / ideal},
		{"unjudged first", []string{"x", "a"}, (1 / math.Log2(3)) / ideal},
		{"nothing relevant", []string{"d", "x"}, 0},
		{"empty", nil, 0},
	}
	for _, tc := range tests {
		if got := NDCG(tc.ranked, gains, 10); !near(got, tc.want) {
			t.Errorf("%s: nDCG = %.6f, want %.6f", tc.name, got, tc.want)
		}
	}
	// only the top k count, for both the ranking and the ideal
	many := map[string]float64{}
	var ranked []string
	for i := 0; i < 12; i++ {
		id := string(rune('a' + i))
		many[id] = 1
		ranked = append(ranked, id)
	}
	if got := NDCG(ranked[2:], many, 10); !near(got, 1) {
		t.Errorf("12 equal gains, any 10 of them: nDCG = %v, want 1", got)
	}
	if got := NDCG([]string{"x"}, map[string]float64{"a": 0}, 10); got != 0 {
		t.Errorf("all-zero judgments: %v", got)
	}
}

func TestRecallAndPercentile(t *testing.T) {
	gains := map[string]float64{"a": 1, "b": 0.1, "c": 0, "d": 0.01}
	if got := Recall([]string{"a", "c", "x", "a"}, gains, 10); !near(got, 1.0/3) {
		t.Errorf("recall = %v, want 1/3", got)
	}
	if got := Recall([]string{"x", "y", "d"}, gains, 2); got != 0 {
		t.Errorf("recall@2 = %v, want 0", got)
	}
	if got := Recall(nil, map[string]float64{"c": 0}, 10); got != 0 {
		t.Errorf("recall without relevant items = %v", got)
	}
	xs := []float64{5, 1, 4, 2, 3}
	if p := Percentile(xs, 50); p != 3 {
		t.Errorf("p50 = %v", p)
	}
	if p := Percentile(xs, 99); p != 5 {
		t.Errorf("p99 = %v", p)
	}
	if xs[0] != 5 {
		t.Error("Percentile sorted its input")
	}
	if Percentile(nil, 50) != 0 {
		t.Error("empty percentile")
	}
}

func TestParseQrels(t *testing.T) {
	in := "# comment\nred shoes\ti1\t3\nred shoes\ti2\t0\n\nink\ti3\t1.5\r\n"
	qs, err := ParseQrels(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 2 || qs[0].Text != "red shoes" || qs[0].Gains["i1"] != 3 || qs[1].Gains["i3"] != 1.5 {
		t.Errorf("qrels = %+v", qs)
	}
	for _, bad := range []string{"q\ti\n", "q\ti\t-1\n", "q\ti\tNaN\n", "\ti\t1\n", "q\ti\tx\n", "q\ti\t1\t2\n"} {
		if _, err := ParseQrels(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestParseESCI(t *testing.T) {
	bulk := `{"index":{"_index":"ecommerce","_id":"B1"}}
{"asin":"B1","title":"Red Shoe","description":"Nice.","bullet_points":"Light\nWarm","brand":"Acme","color":"Red","price":12.5,"category":["Shoes","Running/Trail"],"query_id":["7"],"rating":4.5}
{"index":{"_id":"B2"}}
{"title":"Ink","price":null,"category":[]}
`
	items, err := ParseESCIBulk(strings.NewReader(bulk))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 {
		t.Fatalf("%d items", len(items))
	}
	it := items[0]
	if it.ID != "B1" || it.Title != "Red Shoe" || it.Brand != "Acme" || it.Description != "Light\nWarm\nNice." ||
		it.Attributes["color"] != "Red" || *it.Price != 12.5 || it.Categories[0] != "Shoes/Running-Trail" || !it.Available {
		t.Errorf("item = %+v", it)
	}
	if items[1].ID != "B2" || items[1].Price != nil || items[1].Categories != nil {
		t.Errorf("item 2 = %+v", items[1])
	}
	for _, bad := range []string{`{"index":{"_id":"x"}}`, `{"delete":{}}` + "\n{}", "{\n", `{"index":{}}` + "\n{}"} {
		if _, err := ParseESCIBulk(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	j, err := ParseESCIJudgments(strings.NewReader(`{"judgmentRatings":[{"query":"q","ratings":[{"docId":"B1","rating":"100.000"},{"docId":"B2","rating":"1.000"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if j["q"]["B1"] != 1 || j["q"]["B2"] != 0.01 {
		t.Errorf("judgments = %v", j)
	}
	qs, err := ParseESCIQuerySet(strings.NewReader(`{"querySetQueries":[{"queryText":"a"},{"queryText":"b"}]}`))
	if err != nil || len(qs) != 2 || qs[1] != "b" {
		t.Errorf("query set = %v, %v", qs, err)
	}
}

func TestEvaluateQrels(t *testing.T) {
	dir := t.TempDir()
	cat := `{"id":"1","title":"red running shoes","available":true,"created_at":"2026-01-01T00:00:00Z"}
{"id":"2","title":"blue running shoes"}
{"id":"3","title":"printer ink"}
`
	qrels := "red shoes\t1\t1\nred shoes\t2\t0.1\nprinter ink\t3\t1\n"
	if err := os.WriteFile(filepath.Join(dir, "items.jsonl"), []byte(cat), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "qrels.tsv"), []byte(qrels), 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err := LoadQrels(filepath.Join(dir, "items.jsonl"), filepath.Join(dir, "qrels.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	if !ds.Items[1].Available {
		t.Error("an item without \"available\" should count as available")
	}
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{Registry: analysis.NewRegistry(analysis.Options{CJK: analysis.NewBigramSegmenter()})})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert(context.Background(), ds.Items...); err != nil {
		t.Fatal(err)
	}
	var calls int
	rep, err := Evaluate(context.Background(), ix, ds, search.ModeKeyword, func(done, total int) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 || rep.Queries["all"] != 2 || len(rep.Metrics) != 1 {
		t.Errorf("report %+v, %d progress calls", rep, calls)
	}
	if m := rep.Metrics["all"]; !near(m.NDCG, 1) || !near(m.Recall, 1) {
		t.Errorf("metrics %+v, want perfect", m)
	}
	if _, err := ParseItemsJSONL(strings.NewReader(`{"id":"1","colour":"red"}`)); err == nil {
		t.Error("unknown field accepted")
	}
}

func FuzzParseQrels(f *testing.F) {
	f.Add("red shoes\ti1\t3\nink\ti3\t1.5\n")
	f.Add("#x\n\n q \t i \t 0 \r\n")
	f.Fuzz(func(t *testing.T, s string) {
		qs, err := ParseQrels(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, q := range qs {
			for id, g := range q.Gains {
				if id == "" || g < 0 || math.IsNaN(g) || math.IsInf(g, 0) {
					t.Fatalf("bad judgment %q %q %v", q.Text, id, g)
				}
			}
		}
	})
}

func FuzzParseESCIBulk(f *testing.F) {
	f.Add("{\"index\":{\"_id\":\"B1\"}}\n{\"asin\":\"B1\",\"title\":\"x\",\"price\":1,\"category\":[\"a/b\",\"c\"]}\n")
	f.Add("{\"create\":{\"_id\":\"B2\"}}\n{\"title\":\"y\",\"price\":null}\n")
	f.Fuzz(func(t *testing.T, s string) {
		items, err := ParseESCIBulk(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, it := range items {
			if it.ID == "" {
				t.Fatal("item without id")
			}
			for _, c := range it.Categories {
				if c == "" || strings.Contains(c, "//") {
					t.Fatalf("bad category path %q", c)
				}
			}
		}
	})
}

func FuzzParseESCIJudgments(f *testing.F) {
	f.Add(`{"judgmentRatings":[{"query":"q","ratings":[{"docId":"B1","rating":"100.000"}]}]}`)
	f.Add(`{"judgmentRatings":[{"query":"q","ratings":[{"docId":"B1","rating":10}]}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		j, err := ParseESCIJudgments(strings.NewReader(s))
		if err != nil {
			return
		}
		for q, g := range j {
			for id, v := range g {
				if q == "" || id == "" || v < 0 || math.IsNaN(v) {
					t.Fatalf("bad judgment %q %q %v", q, id, v)
				}
			}
		}
	})
}

func FuzzParseItemsJSONL(f *testing.F) {
	f.Add(`{"id":"1","title":"x","price":3,"categories":["a/b"],"attributes":{"c":"r"}}` + "\n" + `{"id":"2"}`)
	f.Fuzz(func(t *testing.T, s string) {
		items, err := ParseItemsJSONL(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, it := range items {
			if it.ID == "" {
				t.Fatal("item without id")
			}
		}
	})
}
