// Package assisteval measures the shopping assistant on a judged set of
// conversations: whether each turn understood the constraints it should
// (constraint accuracy), how well its products are ordered against the
// products judged good (nDCG@5), whether any product it showed is not
// grounded in the catalogue, and its latency per turn.
//
// The judged set is JSON Lines, one conversation a line:
//
//	{"id": "en-stapler-only", "turns": [
//	  {"message": "show me staplers", "expect": {"intent": "search", "query": "stapler"}, "good": ["B000…", …]},
//	  {"message": "only Swingline", "expect": {"query": "stapler", "brands": ["Swingline"]}, "good": [...]}]}
//
// expect names only the fields the turn must get right; good, when
// present, lists the products that would be good answers.
package assisteval

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/assistant"
)

// Expect is what one turn must understand.
type Expect struct {
	Intent        string            `json:"intent,omitempty"`
	Query         *string           `json:"query,omitempty"`
	Brands        []string          `json:"brands,omitempty"`
	ExcludeBrands []string          `json:"exclude_brands,omitempty"`
	MinPrice      *float64          `json:"min_price,omitempty"`
	MaxPrice      *float64          `json:"max_price,omitempty"`
	Sort          string            `json:"sort,omitempty"`
	Attributes    map[string]string `json:"attributes,omitempty"`
	// NoExactMatch marks an ask the catalogue cannot meet ("a coffee
	// machine", "a Casio stapler"): the reply must say plainly that
	// nothing matches and still show the closest products.
	NoExactMatch bool `json:"no_exact_match,omitempty"`
}

// Turn is one judged message.
type Turn struct {
	Message string   `json:"message"`
	Expect  Expect   `json:"expect"`
	Good    []string `json:"good,omitempty"`
}

// Case is one judged conversation.
type Case struct {
	ID    string `json:"id"`
	Turns []Turn `json:"turns"`
}

// Load reads a judged set.
func Load(r io.Reader) ([]Case, error) {
	var out []Case
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var c Case
		dec := json.NewDecoder(bytesReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("judged set line %d: %w", line, err)
		}
		if len(c.Turns) == 0 {
			return nil, fmt.Errorf("judged set line %d (%s): no turns", line, c.ID)
		}
		out = append(out, c)
	}
	return out, sc.Err()
}

// Report is what Run measured.
type Report struct {
	Mode               string  `json:"mode"`
	Conversations      int     `json:"conversations"`
	Turns              int     `json:"turns"`
	ConstraintAccuracy float64 `json:"constraint_accuracy"` // share of turns with every expected field right
	NDCG5              float64 `json:"ndcg_at_5"`           // mean over turns with good products
	JudgedTurns        int     `json:"judged_turns"`        // turns with good products
	EmptyAnswers       int     `json:"empty_answers"`       // turns answered with no product
	Ungrounded         float64 `json:"ungrounded_share"`    // share of turns showing a product not in the catalogue
	Fallbacks          int     `json:"fallbacks"`           // model turns answered built-in
	// FallbackReasons counts the fallbacks by reason (timeout,
	// rate_limited, error, malformed_tool_call); absent in built-in mode.
	FallbackReasons map[string]int `json:"fallback_reasons,omitempty"`
	// ModelTurns is how many turns the model answered (mode "llm" on the
	// answer); Removed sums what the grounding checker took out of those
	// replies before they were scored. Both 0 in built-in mode.
	ModelTurns int               `json:"model_turns"`
	Removed    assistant.Removed `json:"removed"`
	P50, P99   time.Duration     `json:"-"`
	P50MS      float64           `json:"p50_ms"`
	P99MS      float64           `json:"p99_ms"`
	Misses     []string          `json:"misses,omitempty"` // the first turns that missed a constraint
}

var cite = regexp.MustCompile(`\[([A-Za-z0-9][A-Za-z0-9_.:\-]{0,99})\]`)

// Run plays every conversation through a and scores it. mode "builtin"
// forces the built-in understanding; "" lets a use its model.
func Run(ctx context.Context, a *assistant.Assistant, cases []Case, mode string) (*Report, error) {
	rep := &Report{Mode: mode, Conversations: len(cases)}
	if rep.Mode == "" {
		rep.Mode = "llm"
	}
	var lat []time.Duration
	right, ungrounded := 0, 0
	var ndcg float64
	for _, c := range cases {
		id := ""
		for i, t := range c.Turns {
			start := time.Now()
			ans, err := a.Turn(ctx, assistant.Request{ConversationID: id, Message: t.Message, Mode: mode}, nil)
			lat = append(lat, time.Since(start))
			if err != nil {
				return nil, fmt.Errorf("%s turn %d %q: %w", c.ID, i+1, t.Message, err)
			}
			id = ans.ConversationID
			rep.Turns++
			if ans.Fallback != "" {
				rep.Fallbacks++
				if rep.FallbackReasons == nil {
					rep.FallbackReasons = map[string]int{}
				}
				rep.FallbackReasons[ans.Fallback]++
			}
			if ans.Mode == "llm" {
				rep.ModelTurns++
			}
			if r := ans.Removed; r != nil {
				rep.Removed.Products += r.Products
				rep.Removed.Prices += r.Prices
				rep.Removed.Attributes += r.Attributes
			}
			if miss := check(t.Expect, ans); miss == "" {
				right++
			} else if len(rep.Misses) < 100 {
				rep.Misses = append(rep.Misses, fmt.Sprintf("%s#%d %q: %s", c.ID, i+1, t.Message, miss))
			}
			if len(ans.Products) == 0 {
				rep.EmptyAnswers++
			}
			bad := false
			for _, p := range ans.Products {
				if !a.Known(p.ID) {
					bad = true
				}
			}
			for _, m := range cite.FindAllStringSubmatch(ans.Reply, -1) {
				if !a.Known(m[1]) {
					bad = true
				}
			}
			if bad {
				ungrounded++
			}
			if len(t.Good) > 0 {
				rep.JudgedTurns++
				ndcg += ndcgAt5(ans.Products, t.Good)
			}
		}
	}
	if rep.Turns > 0 {
		rep.ConstraintAccuracy = float64(right) / float64(rep.Turns)
		rep.Ungrounded = float64(ungrounded) / float64(rep.Turns)
	}
	if rep.JudgedTurns > 0 {
		rep.NDCG5 = ndcg / float64(rep.JudgedTurns)
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		rep.P50, rep.P99 = lat[len(lat)/2], lat[min(len(lat)-1, int(math.Ceil(float64(len(lat))*0.99))-1)]
		rep.P50MS, rep.P99MS = float64(rep.P50.Microseconds())/1000, float64(rep.P99.Microseconds())/1000
	}
	return rep, nil
}

// check returns what the answer got wrong of e ("" when nothing).
func check(e Expect, ans *assistant.Answer) string {
	c := ans.Constraints
	switch {
	case e.Intent != "" && string(ans.Intent) != e.Intent:
		return fmt.Sprintf("intent %s, want %s", ans.Intent, e.Intent)
	case e.Query != nil && c.Query != *e.Query:
		return fmt.Sprintf("query %q, want %q", c.Query, *e.Query)
	case !sameSet(c.Brands, e.Brands):
		return fmt.Sprintf("brands %v, want %v", c.Brands, e.Brands)
	case !sameSet(c.ExcludeBrands, e.ExcludeBrands):
		return fmt.Sprintf("exclusions %v, want %v", c.ExcludeBrands, e.ExcludeBrands)
	case !samePrice(c.MinPrice, e.MinPrice) || !samePrice(c.MaxPrice, e.MaxPrice):
		return fmt.Sprintf("price %v–%v, want %v–%v", deref(c.MinPrice), deref(c.MaxPrice), deref(e.MinPrice), deref(e.MaxPrice))
	case c.Sort != e.Sort:
		return fmt.Sprintf("sort %q, want %q", c.Sort, e.Sort)
	}
	for k, v := range e.Attributes {
		if c.Attributes[k] != v {
			return fmt.Sprintf("attribute %s=%q, want %q", k, c.Attributes[k], v)
		}
	}
	if e.NoExactMatch && (len(ans.Products) == 0 || !saysNoMatch(ans.Reply)) {
		return fmt.Sprintf("want a plain \"nothing matches\" with the closest products, got %d products: %.80q", len(ans.Products), ans.Reply)
	}
	return ""
}

// saysNoMatch reports whether a reply tells the shopper that nothing
// matched, as the built-in answers and the model's prompt word it.
func saysNoMatch(reply string) bool {
	r := strings.ToLower(reply)
	for _, w := range []string{"nothing", "no exact", "don't have", "do not have", "couldn't find", "could not find", "没有", "找不到"} {
		if strings.Contains(r, w) {
			return true
		}
	}
	return false
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

func samePrice(a, b *float64) bool {
	return (a == nil) == (b == nil) && (a == nil || math.Abs(*a-*b) < 0.005)
}

func deref(f *float64) any {
	if f == nil {
		return "·"
	}
	return *f
}

// ndcgAt5 is the nDCG of the first five products against the good set
// (binary gains; the ideal ranks min(5, |good|) good products first).
func ndcgAt5(ps []assistant.Card, good []string) float64 {
	g := map[string]bool{}
	for _, id := range good {
		g[id] = true
	}
	var dcg, idcg float64
	for i := 0; i < 5; i++ {
		if i < len(ps) && g[ps[i].ID] {
			dcg += 1 / math.Log2(float64(i+2))
		}
		if i < len(good) {
			idcg += 1 / math.Log2(float64(i+2))
		}
	}
	if idcg == 0 {
		return 0
	}
	return dcg / idcg
}
