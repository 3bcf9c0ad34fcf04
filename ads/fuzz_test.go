package ads

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/rules"
)

// A campaign sent by a client either fails validation or keeps its
// money bounded and survives a store round trip.
func FuzzCampaign(f *testing.F) {
	f.Add(`{"name":"staplers","advertiser":"Acme","items":["X"],"bid":0.5,"daily_budget":10,"targeting":{"queries":["stapler"]}}`)
	f.Add(`{"name":"a","advertiser":"b","items":["x","y"],"bid":1e9,"daily_budget":1e9,"total_budget":1e9,"frequency_cap":3,"pacing":"asap","targeting":{"match_type":"exact","surfaces":["search"]}}`)
	f.Add(`{"name":"a","advertiser":"b","items":["x"],"bid":-1,"daily_budget":0}`)
	f.Fuzz(func(t *testing.T, body string) {
		var c Campaign
		if catalog.StrictDecode([]byte(body), &c) != nil || c.Validate() != nil {
			return
		}
		if ToMicros(c.Bid) <= 0 || ToMicros(c.Bid) > ToMicros(MaxMoney) || ToMicros(c.DailyBudget) <= 0 {
			t.Fatalf("valid campaign with money out of bounds: %+v", c)
		}
		data, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var again Campaign
		if err := json.Unmarshal(data, &again); err != nil || again.Validate() != nil {
			t.Fatalf("a valid campaign %s does not survive a round trip: %v", data, err)
		}
	})
}

// textMatchByConcat is TextMatch as first written (a word is found by
// searching " w " in the text): the allocation-free textMatch must agree.
func textMatchByConcat(query string, it *catalog.Item) float64 {
	qw := strings.Fields(rules.Normalize(query))
	if len(qw) == 0 {
		return 0
	}
	text := itemText(it)
	hit := 0
	for _, w := range qw {
		w = strings.Trim(w, ".,;:!?\"'()")
		// a word that is only "s" has an empty stem, which matches no word
		// (as first written it matched the empty text of an item without
		// title, brand or category; found by this fuzzer)
		stem := strings.TrimSuffix(w, "s")
		if w != "" && (strings.Contains(text, " "+w+" ") || stem != "" && strings.Contains(text, " "+stem+" ") || strings.Contains(text, " "+w+"s ")) {
			hit++
		}
	}
	return float64(hit) / float64(len(qw))
}

func FuzzTextMatch(f *testing.F) {
	f.Add("blue pens", "Blue pen, 12 pack", "Pilot", "Office/Pens")
	f.Add("staplers (heavy)", "Heavy-duty stapler", "Acme", "Office/Staplers")
	f.Add("s ss sss", "ss s", "", "")
	f.Add("红色 跑鞋", "红色跑鞋 男款", "李宁", "Sports")
	f.Fuzz(func(t *testing.T, q, title, brand, cat string) {
		it := &catalog.Item{Title: title, Brand: brand, Categories: []string{cat}}
		if got, want := TextMatch(q, it), textMatchByConcat(q, it); got != want {
			t.Fatalf("TextMatch(%q, %q %q %q) = %v, by concatenation %v", q, title, brand, cat, got, want)
		}
	})
}

// keywordMatchByFields is KeywordMatch as first written (phrase by " k "
// in " q ", broad by word lists): the allocation-free one must agree.
func keywordMatchByFields(query, kw, matchType string) bool {
	q, k := rules.Normalize(query), rules.Normalize(kw)
	if q == "" || k == "" {
		return false
	}
	switch matchType {
	case MatchExact:
		return q == k
	case MatchPhrase:
		return strings.Contains(" "+q+" ", " "+k+" ")
	default:
		words := strings.Fields(q)
		for _, w := range strings.Fields(k) {
			if !slices.Contains(words, w) {
				return false
			}
		}
		return true
	}
}

func FuzzKeywordMatch(f *testing.F) {
	f.Add("red stapler heavy", "heavy stapler", "broad")
	f.Add("red stapler heavy", "stapler heavy", "phrase")
	f.Add("staplers", "stapler", "phrase")
	f.Add("a a", "a", "exact")
	f.Fuzz(func(t *testing.T, q, kw, mt string) {
		for _, m := range []string{MatchExact, MatchPhrase, MatchBroad, mt} {
			if got, want := KeywordMatch(q, kw, m), keywordMatchByFields(q, kw, m); got != want {
				t.Fatalf("KeywordMatch(%q, %q, %q) = %v, by word lists %v", q, kw, m, got, want)
			}
		}
	})
}
