package assisteval

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/assistant"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/demo"
	"github.com/aisle-dev/aisle/search"
)

// The built-in understanding on the scripted judged set: at least 150
// requests, English and Chinese, no ungrounded product, and the
// constraints and products of the last measured run (docs/benchmarks.md)
// within a margin.
func TestJudgedSetBuiltin(t *testing.T) {
	testJudgedSet(t, assistant.JudgedSet, "zh-", setShape{conversations: 150, zh: 50, multi: 50})
}

// The hand-written set: typed as shoppers type, English and Chinese,
// single- and multi-turn, with asks the shop cannot meet; the same bars.
func TestHandJudgedSetBuiltin(t *testing.T) {
	testJudgedSet(t, assistant.JudgedSetHand, "hzh-", setShape{turns: 150, zh: 30, multi: 20, impossible: 5})
}

// setShape is the least a judged set must hold.
type setShape struct{ conversations, turns, zh, multi, impossible int }

func testJudgedSet(t *testing.T, data []byte, zhPrefix string, want setShape) {
	cases, err := Load(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	got := setShape{conversations: len(cases)}
	for _, c := range cases {
		got.turns += len(c.Turns)
		if len(c.Turns) > 1 {
			got.multi++
		}
		if strings.HasPrefix(c.ID, zhPrefix) {
			got.zh++
		}
		for _, tu := range c.Turns {
			if tu.Expect.NoExactMatch {
				got.impossible++
			}
		}
	}
	if got.conversations < want.conversations || got.turns < want.turns || got.zh < want.zh || got.multi < want.multi || got.impossible < want.impossible {
		t.Fatalf("judged set %+v, want at least %+v", got, want)
	}
	rep, err := Run(context.Background(), demoAssistant(t), cases, "builtin")
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

// demoAssistant is the built-in assistant over the demo catalogue (search
// only, no recommender).
func demoAssistant(t *testing.T) *assistant.Assistant {
	t.Helper()
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
	t.Cleanup(func() { ix.Close() })
	if err := ix.Upsert(context.Background(), items...); err != nil {
		t.Fatal(err)
	}
	cat := assistant.NewCatalogue()
	cat.Add(items...)
	a, err := assistant.New(assistant.Options{Catalogue: cat, Search: ix, Conversations: assistant.NewConversations(0, nil, nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// A turn judged impossible must say plainly that nothing matches.
func TestCheckNoExactMatch(t *testing.T) {
	e := Expect{Intent: "search", NoExactMatch: true}
	for _, c := range []struct {
		reply string
		n     int
		miss  bool
	}{
		{"Nothing in the shop is \"coffee\". The closest I have:", 3, false},
		{"店里没有“coffee”。最接近的：", 2, false},
		{"I found 34 matches for \"coffee machine\".", 5, true},
		{"Nothing matches.", 0, true}, // closest products must be shown
	} {
		ans := &assistant.Answer{Intent: "search", Reply: c.reply, Products: make([]assistant.Card, c.n)}
		if miss := check(e, ans); (miss != "") != c.miss {
			t.Errorf("%q with %d products: miss %q, want miss %v", c.reply, c.n, miss, c.miss)
		}
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
