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

// TextMatch is the query–item relevance: the share of the query's words
// found in the item's title, brand or categories (0..1).
func TextMatch(query string, it *catalog.Item) float64 {
	qw := strings.Fields(rules.Normalize(query))
	if len(qw) == 0 {
		return 0
	}
	text := " " + strings.Join(strings.FieldsFunc(strings.ToLower(it.Title+" "+it.Brand+" "+strings.Join(it.Categories, " ")), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127)
	}), " ") + " "
	hit := 0
	for _, w := range qw {
		w = strings.Trim(w, ".,;:!?\"'()")
		if w != "" && (strings.Contains(text, " "+w+" ") || strings.Contains(text, " "+strings.TrimSuffix(w, "s")+" ") || strings.Contains(text, " "+w+"s ")) {
			hit++
		}
	}
	return float64(hit) / float64(len(qw))
}
