package assisteval

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/aisle-dev/aisle/assistant"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/demo"
	"github.com/aisle-dev/aisle/search"
)

// The built-in understanding on the judged set: at least 150 requests,
// English and Chinese, no ungrounded product, and the constraints and
// products of the last measured run (docs/benchmarks.md) within a margin.
func TestJudgedSetBuiltin(t *testing.T) {
	cases, err := Load(bytes.NewReader(assistant.JudgedSet))
	if err != nil {
		t.Fatal(err)
	}
	turns, zh, multi := 0, 0, 0
	for _, c := range cases {
		turns += len(c.Turns)
		if len(c.Turns) > 1 {
			multi++
		}
		if c.ID[:3] == "zh-" {
			zh++
		}
	}
	if len(cases) < 150 || zh < 50 || multi < 50 {
		t.Fatalf("judged set: %d conversations (%d Chinese, %d multi-turn)", len(cases), zh, multi)
	}
	f, err := demo.Open(demo.ItemsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var items []catalog.Item
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var it catalog.Item
		if err := json.Unmarshal(sc.Bytes(), &it); err != nil {
			t.Fatal(err)
		}
		it.Available = true
		items = append(items, it)
	}
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if err := ix.Upsert(context.Background(), items...); err != nil {
		t.Fatal(err)
	}
	cat := assistant.NewCatalogue()
	cat.Add(items...)
	a, err := assistant.New(assistant.Options{Catalogue: cat, Search: ix, Conversations: assistant.NewConversations(0, nil, nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rep, err := Run(context.Background(), a, cases, "builtin")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ungrounded != 0 || rep.EmptyAnswers != 0 {
		t.Errorf("ungrounded share %v, empty answers %d: both must be 0", rep.Ungrounded, rep.EmptyAnswers)
	}
	if rep.ConstraintAccuracy < 0.97 || rep.NDCG5 < 0.9 {
		t.Errorf("constraint accuracy %.3f (want ≥ 0.97), nDCG@5 %.3f (want ≥ 0.9); misses: %v", rep.ConstraintAccuracy, rep.NDCG5, rep.Misses)
	}
}

func TestNDCG(t *testing.T) {
	cards := func(ids ...string) []assistant.Card {
		var out []assistant.Card
		for _, id := range ids {
			out = append(out, assistant.Card{ID: id})
		}
		return out
	}
	for _, c := range []struct {
		got  []string
		good []string
		want float64
	}{
		{[]string{"a", "b"}, []string{"a", "b"}, 1},
		{[]string{"x", "y"}, []string{"a"}, 0},
		{[]string{"x", "a"}, []string{"a"}, 0.6309},
	} {
		if g := ndcgAt5(cards(c.got...), c.good); g < c.want-0.001 || g > c.want+0.001 {
			t.Errorf("%v vs %v: %.4f, want %.4f", c.got, c.good, g, c.want)
		}
	}
}
