// Package ads is Aisle's sponsored products: advertisers' campaigns, the
// auction that fills the ad slots of an answer, the spend ledger that
// charges each valid click exactly once and never past a budget, budget
// pacing over the day, the click-probability (pCTR) model and per-campaign
// reports.
//
// Money is kept in micros (millionths of the shop's currency unit) as
// int64, so that sums are exact.
package ads

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/rules"
)

// Micros is an amount of money in millionths of the currency unit.
type Micros = int64

// ToMicros converts an amount in currency units (rounded to the micro).
func ToMicros(v float64) Micros { return Micros(math.Round(v * 1e6)) }

// FromMicros converts micros to currency units.
func FromMicros(m Micros) float64 { return float64(m) / 1e6 }

// Match types of targeted queries.
const (
	MatchBroad  = "broad"  // every word of the keyword is in the query, any order
	MatchPhrase = "phrase" // the keyword's words, in order, in the query
	MatchExact  = "exact"  // the query is the keyword
)

// Targeting says where a campaign's ads may show; every part given must
// hold.
type Targeting struct {
	// Queries are keywords; MatchType (default broad) says how a search
	// must match one of them.
	Queries   []string `json:"queries,omitempty"`
	MatchType string   `json:"match_type,omitempty"`
	// Categories: the answer's context (the category filtered on, or the
	// categories of the organic items shown) is under one of these.
	Categories []string `json:"categories,omitempty"`
	// Surfaces: search, recommend, similar, … (see rules.Surfaces); none:
	// all.
	Surfaces []string `json:"surfaces,omitempty"`
}

// Campaign is one advertiser's sponsored-products campaign.
type Campaign struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Advertiser string   `json:"advertiser"`
	Items      []string `json:"items"`
	// Bid is the most paid for one click, in currency units.
	Bid float64 `json:"bid"`
	// DailyBudget and TotalBudget (0: none) bound the spend.
	DailyBudget float64    `json:"daily_budget"`
	TotalBudget float64    `json:"total_budget,omitempty"`
	Start       *time.Time `json:"start,omitempty"`
	End         *time.Time `json:"end,omitempty"`
	Targeting   Targeting  `json:"targeting"`
	// FrequencyCap is the most impressions per shopper per day (0: none).
	FrequencyCap int `json:"frequency_cap,omitempty"`
	// Pacing is "even" (default: spend follows the clock through the day)
	// or "asap".
	Pacing    string    `json:"pacing,omitempty"`
	Paused    bool      `json:"paused,omitempty"`
	Version   int       `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Limits of a campaign.
const (
	MaxCampaignItems = 1000
	MaxKeywords      = 1000
	MaxMoney         = 1e9
)

// Validate checks a campaign as a client sent it and normalises it.
func (c *Campaign) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	c.Name, c.Advertiser = strings.TrimSpace(c.Name), strings.TrimSpace(c.Advertiser)
	if c.Name == "" || len(c.Name) > rules.MaxNameLen {
		bad("name", "give a name of 1 to %d bytes", rules.MaxNameLen)
	}
	if c.Advertiser == "" || len(c.Advertiser) > rules.MaxNameLen {
		bad("advertiser", "give the advertiser (a brand or seller), 1 to %d bytes", rules.MaxNameLen)
	}
	if len(c.Items) == 0 || len(c.Items) > MaxCampaignItems {
		bad("items", "give 1 to %d item ids to advertise", MaxCampaignItems)
	}
	seen := map[string]bool{}
	for i, id := range c.Items {
		if p := catalog.CheckID(id); p != "" {
			bad(fmt.Sprintf("items[%d]", i), "%s", p)
		}
		if seen[id] {
			bad(fmt.Sprintf("items[%d]", i), "%q is listed twice", id)
		}
		seen[id] = true
	}
	money := func(field string, v float64, required bool) {
		if math.IsNaN(v) || v < 0 || v > MaxMoney || (required && v == 0) {
			bad(field, "must be a number > 0 and ≤ %g (currency units)", float64(MaxMoney))
		}
	}
	money("bid", c.Bid, true)
	money("daily_budget", c.DailyBudget, true)
	money("total_budget", c.TotalBudget, false)
	if ToMicros(c.Bid) < 1 && c.Bid > 0 {
		bad("bid", "is below one millionth of the currency unit")
	}
	if c.TotalBudget > 0 && c.TotalBudget < c.DailyBudget {
		bad("total_budget", "is below daily_budget: raise it, or leave it out for no total limit")
	}
	if c.Start != nil && c.End != nil && !c.End.After(*c.Start) {
		bad("end", "must be after start")
	}
	t := &c.Targeting
	switch t.MatchType {
	case "":
		t.MatchType = MatchBroad
	case MatchBroad, MatchPhrase, MatchExact:
	default:
		bad("targeting.match_type", "%q: use broad, phrase or exact", t.MatchType)
	}
	if len(t.Queries) > MaxKeywords || len(t.Categories) > MaxKeywords {
		bad("targeting", "at most %d queries and %d categories", MaxKeywords, MaxKeywords)
	}
	for i, q := range t.Queries {
		if rules.Normalize(q) == "" || len(q) > rules.MaxQueryBytes {
			bad(fmt.Sprintf("targeting.queries[%d]", i), "give a keyword of 1 to %d bytes", rules.MaxQueryBytes)
		}
	}
	for _, s := range t.Surfaces {
		if !slices.Contains(rules.Surfaces, s) {
			bad("targeting.surfaces", "unknown surface %q (known: %s)", s, strings.Join(rules.Surfaces, ", "))
		}
	}
	if c.FrequencyCap < 0 || c.FrequencyCap > 10000 {
		bad("frequency_cap", "must be from 0 (none) to 10000 impressions per shopper per day")
	}
	switch c.Pacing {
	case "":
		c.Pacing = "even"
	case "even", "asap":
	default:
		bad("pacing", "%q: use even or asap", c.Pacing)
	}
	return errors.Join(errs...)
}

// Active reports whether the campaign may serve at now (budgets aside).
func (c *Campaign) Active(now time.Time) bool {
	return !c.Paused && (c.Start == nil || !now.Before(*c.Start)) && (c.End == nil || now.Before(*c.End))
}

// KeywordMatch reports whether a query matches keyword kw by match type.
func KeywordMatch(query, kw, matchType string) bool {
	return keywordMatch(rules.Normalize(query), rules.Normalize(kw), matchType)
}

// keywordMatch is KeywordMatch of a query and a keyword already
// normalised; it allocates only for broad matches of several words.
func keywordMatch(q, k, matchType string) bool {
	if q == "" || k == "" {
		return false
	}
	switch matchType {
	case MatchExact:
		return q == k
	case MatchPhrase:
		return hasWordRun(q, k)
	default:
		for w := range strings.SplitSeq(k, " ") {
			if !hasWordRun(q, w) {
				return false
			}
		}
		return true
	}
}

// hasWordRun reports whether the words of k appear, in order and next to
// each other, in q (both normalised: words between single spaces).
func hasWordRun(q, k string) bool {
	for from := 0; from <= len(q)-len(k); {
		i := strings.Index(q[from:], k)
		if i < 0 {
			return false
		}
		i += from
		if (i == 0 || q[i-1] == ' ') && (i+len(k) == len(q) || q[i+len(k)] == ' ') {
			return true
		}
		from = i + 1
	}
	return false
}

// TextMatch is the query–item relevance: the share of the query's words
// found in the item's title, brand or categories (0..1).
func TextMatch(query string, it *catalog.Item) float64 {
	return textMatch(queryWords(query), itemText(it))
}

// queryWords are a query's words as TextMatch compares them.
func queryWords(query string) []string {
	qw := strings.Fields(rules.Normalize(query))
	for i, w := range qw {
		qw[i] = strings.Trim(w, ".,;:!?\"'()")
	}
	return qw
}

// itemText is an item's title, brand and categories as TextMatch searches
// them: lower-case words between single spaces, a space at each end.
func itemText(it *catalog.Item) string {
	return " " + strings.Join(strings.FieldsFunc(strings.ToLower(it.Title+" "+it.Brand+" "+strings.Join(it.Categories, " ")), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127)
	}), " ") + " "
}

// textMatch is TextMatch over prepared words and text; it allocates nothing.
func textMatch(qw []string, text string) float64 {
	if len(qw) == 0 {
		return 0
	}
	hit := 0
	for _, w := range qw {
		if w != "" && (hasWord(text, w, "") || hasWord(text, strings.TrimSuffix(w, "s"), "") || hasWord(text, w, "s")) {
			hit++
		}
	}
	return float64(hit) / float64(len(qw))
}

// hasWord reports whether text (words between single spaces) contains the
// word w+suffix.
func hasWord(text, w, suffix string) bool {
	if w == "" {
		return false
	}
	for from := 0; from < len(text); {
		i := strings.Index(text[from:], w)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(w)
		if i > 0 && text[i-1] == ' ' && strings.HasPrefix(text[end:], suffix) && end+len(suffix) < len(text) && text[end+len(suffix)] == ' ' {
			return true
		}
		from = i + 1
	}
	return false
}
