// Package rules is Aisle's merchandising rules: what a shop's staff says
// about an answer ("for the query calculator pin X first and hide Y",
// "bury out-of-stock items on the Office/Paper page", "send 'returns' to
// /help/returns"). A Rule is a condition (query, category page, surface,
// user segment, date window) and consequences (pin, boost, bury, hide,
// filter, redirect, replace the query). Rules are versioned (every change
// is a new version; the history is kept), scheduled, and kept in any
// store.Merch.
//
// A request is matched once, before retrieval, giving a Plan: the query to
// run, the filters and hidden items to push into retrieval, and the rule
// ids that applied. After the model ranked the candidates and before they
// are paginated, Plan.Arrange drops hidden and filtered items, re-scores
// boosted and buried ones (relevance order only: a shopper's explicit sort
// wins) and puts pinned items at their positions (under any sort).
package rules

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/catalog"
)

// Surfaces are the answers rules (and ads) apply to.
var Surfaces = []string{"search", "recommend", "similar", "bought_together", "popular", "trending", "session", "rows", "because_you_viewed", "basket"}

// MoveWindow is how many of the model's candidates, at least, an answer
// with boosts or buries arranges (in relevance order): exactly that many
// for a page that ends within them, so their scale is the same for every
// such page's size and offset (a page reaching past them gets a page of
// room beyond its end).
const MoveWindow = 100

// Limits of a rule.
const (
	MaxPosition   = 1000 // a pin's position
	MaxItemsPer   = 200  // pins, hides, boosts, bury entries, synonyms
	MaxNameLen    = 200
	MaxRedirect   = 2048
	MaxQueryBytes = 512
)

// Pin puts an item at a 1-based position of the whole answer (before
// pagination: position 11 is the first item of the second page of 10).
type Pin struct {
	ItemID   string `json:"item_id"`
	Position int    `json:"position"`
}

// Filter selects items by their catalogue fields; every field given must
// hold (a Brands or Categories list: any of them).
type Filter struct {
	Brands     []string `json:"brands,omitempty"`     // case-insensitive
	Categories []string `json:"categories,omitempty"` // category path prefixes
	MinPrice   *float64 `json:"min_price,omitempty"`
	MaxPrice   *float64 `json:"max_price,omitempty"`
	// Attributes must equal these values (numbers compared as text).
	Attributes map[string]string `json:"attributes,omitempty"`
	// NewWithinDays keeps items created at most this many days ago.
	NewWithinDays int `json:"new_within_days,omitempty"`
	// InStock keeps available items only.
	InStock bool `json:"in_stock,omitempty"`
}

// Weighted is a boost or bury: the items the filter selects move up (or
// down) by Strength, in (0, 1], on a relevance scale where the best
// candidate is 1 and the worst 0: strength 1 moves a matching item past
// every other. The candidates are the first MoveWindow of the model's
// answer (more when a page reaches past them), whatever the page's size
// and offset, so that pages of any size that end within them follow each
// other.
type Weighted struct {
	Filter
	Strength float64 `json:"strength"`
}

// Condition is when a rule applies; every field given must hold.
type Condition struct {
	// Query is the query the rule is for; QueryMatch "exact" (default:
	// the whole query, case and spacing ignored) or "contains" (the words,
	// in order, anywhere in the query).
	Query      string `json:"query,omitempty"`
	QueryMatch string `json:"query_match,omitempty"`
	// Synonyms are further queries that match as Query does (a synonym
	// group: "calculator", "calc", "adding machine").
	Synonyms []string `json:"synonyms,omitempty"`
	// Category is a category page: the answer is filtered to this
	// category (or one under it).
	Category string `json:"category,omitempty"`
	// Surfaces limits the rule to some answers (see Surfaces); none: all.
	Surfaces []string `json:"surfaces,omitempty"`
	// Segment is a user segment: the user's attributes equal these.
	Segment map[string]string `json:"segment,omitempty"`
	// From and Until are a date window (Until excluded).
	From  *time.Time `json:"from,omitempty"`
	Until *time.Time `json:"until,omitempty"`
}

// Consequence is what a rule does.
type Consequence struct {
	Pin          []Pin      `json:"pin,omitempty"`
	Boost        []Weighted `json:"boost,omitempty"`
	Bury         []Weighted `json:"bury,omitempty"`
	Hide         []string   `json:"hide,omitempty"`
	Filter       *Filter    `json:"filter,omitempty"`
	Redirect     string     `json:"redirect,omitempty"`      // an http(s) URL or a path from /
	ReplaceQuery string     `json:"replace_query,omitempty"` // search this instead
}

// Rule is one merchandising rule, as stored and as the API shows it.
type Rule struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	Name    string `json:"name"`
	// Disabled rules are kept but never apply.
	Disabled bool `json:"disabled,omitempty"`
	// Priority orders rules (higher first; then by id): the first rule to
	// pin a position or an item wins it, and only the first redirect or
	// replaced query counts.
	Priority int         `json:"priority,omitempty"`
	If       Condition   `json:"if"`
	Then     Consequence `json:"then"`
	// Start and End schedule the rule (End excluded).
	Start     *time.Time `json:"start,omitempty"`
	End       *time.Time `json:"end,omitempty"`
	UpdatedAt time.Time  `json:"updated_at"`
	// Deleted marks the version that removed the rule (in its history).
	Deleted bool `json:"deleted,omitempty"`
}

// Normalize returns a query as rules compare it: lower case, words
// separated by one space.
func Normalize(q string) string {
	if normalised(q) {
		return q // what the answers' queries mostly are: nothing to allocate
	}
	return strings.Join(strings.Fields(strings.ToLower(q)), " ")
}

// normalised reports whether Normalize(q) is q: ASCII without upper case
// letters or whitespace other than single spaces between words.
func normalised(q string) bool {
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c >= 0x80, 'A' <= c && c <= 'Z', c == '\t', c == '\n', c == '\v', c == '\f', c == '\r':
			return false
		case c == ' ' && (i == 0 || i == len(q)-1 || q[i-1] == ' '):
			return false
		}
	}
	return true
}

// Validate checks a rule as sent by a client and normalises it; the error
// names the field and says what to send.
func (r *Rule) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	r.Name = strings.TrimSpace(r.Name)
	if r.Name == "" || len(r.Name) > MaxNameLen {
		bad("name", "give a name of 1 to %d bytes", MaxNameLen)
	}
	c, t := &r.If, &r.Then
	for _, q := range append([]string{c.Query}, c.Synonyms...) {
		if len(q) > MaxQueryBytes {
			bad("if.query", "a query is at most %d bytes", MaxQueryBytes)
		}
	}
	if len(c.Synonyms) > MaxItemsPer {
		bad("if.synonyms", "at most %d synonyms", MaxItemsPer)
	}
	if len(c.Synonyms) > 0 && Normalize(c.Query) == "" {
		bad("if.synonyms", "give the group's main query in if.query too")
	}
	switch c.QueryMatch {
	case "":
		c.QueryMatch = "exact"
	case "exact", "contains":
	default:
		bad("if.query_match", "%q: use exact or contains", c.QueryMatch)
	}
	for _, s := range c.Surfaces {
		if !slices.Contains(Surfaces, s) {
			bad("if.surfaces", "unknown surface %q (known: %s)", s, strings.Join(Surfaces, ", "))
		}
	}
	if Normalize(c.Query) != "" && len(c.Surfaces) > 0 && !slices.Contains(c.Surfaces, "search") {
		bad("if.surfaces", "a query condition applies to searches only: add search to if.surfaces or leave if.query out")
	}
	c.Category = strings.Trim(c.Category, "/")
	if c.From != nil && c.Until != nil && !c.Until.After(*c.From) {
		bad("if.until", "must be after if.from")
	}
	if r.Start != nil && r.End != nil && !r.End.After(*r.Start) {
		bad("end", "must be after start")
	}
	if len(t.Pin)+len(t.Boost)+len(t.Bury)+len(t.Hide) == 0 && t.Filter == nil && t.Redirect == "" && t.ReplaceQuery == "" {
		bad("then", "give at least one consequence: pin, boost, bury, hide, filter, redirect or replace_query")
	}
	if len(t.Pin) > MaxItemsPer || len(t.Hide) > MaxItemsPer || len(t.Boost) > MaxItemsPer || len(t.Bury) > MaxItemsPer {
		bad("then", "at most %d entries in each of pin, hide, boost and bury", MaxItemsPer)
	}
	seenPos, seenItem := map[int]bool{}, map[string]bool{}
	for i, p := range t.Pin {
		if e := catalog.CheckID(p.ItemID); e != "" {
			bad(fmt.Sprintf("then.pin[%d].item_id", i), "%s", e)
		}
		if p.Position < 1 || p.Position > MaxPosition {
			bad(fmt.Sprintf("then.pin[%d].position", i), "must be from 1 to %d", MaxPosition)
		}
		if seenPos[p.Position] || seenItem[p.ItemID] {
			bad(fmt.Sprintf("then.pin[%d]", i), "pins one position or one item twice")
		}
		seenPos[p.Position], seenItem[p.ItemID] = true, true
	}
	for i, id := range t.Hide {
		if e := catalog.CheckID(id); e != "" {
			bad(fmt.Sprintf("then.hide[%d]", i), "%s", e)
		}
	}
	for name, ws := range map[string][]Weighted{"boost": t.Boost, "bury": t.Bury} {
		for i, w := range ws {
			if !(w.Strength > 0 && w.Strength <= 1) {
				bad(fmt.Sprintf("then.%s[%d].strength", name, i), "must be in (0, 1] (1 moves a matching item past all others)")
			}
			if w.Filter.empty() {
				bad(fmt.Sprintf("then.%s[%d]", name, i), "give the filter of the items to move (brands, categories, min_price, max_price, attributes, new_within_days, in_stock)")
			}
		}
	}
	if t.Filter != nil && t.Filter.empty() {
		bad("then.filter", "is empty: give brands, categories, min_price, max_price, attributes, new_within_days or in_stock")
	}
	if t.Redirect != "" {
		u, err := url.Parse(t.Redirect)
		if len(t.Redirect) > MaxRedirect || err != nil || !(u.Scheme == "https" || u.Scheme == "http" || (u.Scheme == "" && u.Host == "" && strings.HasPrefix(t.Redirect, "/") && !strings.HasPrefix(t.Redirect, "//"))) {
			bad("then.redirect", "give an http(s) URL or a path starting with / (at most %d bytes)", MaxRedirect)
		}
	}
	if len(t.ReplaceQuery) > MaxQueryBytes {
		bad("then.replace_query", "at most %d bytes", MaxQueryBytes)
	}
	if (t.Redirect != "" || t.ReplaceQuery != "") && Normalize(c.Query) == "" {
		bad("then", "redirect and replace_query need a query condition (if.query)")
	}
	return errors.Join(errs...)
}

func (f *Filter) empty() bool {
	return len(f.Brands) == 0 && len(f.Categories) == 0 && f.MinPrice == nil && f.MaxPrice == nil &&
		len(f.Attributes) == 0 && f.NewWithinDays == 0 && !f.InStock
}

// Matches reports whether an item passes the filter at time now.
func (f *Filter) Matches(it *catalog.Item, now time.Time) bool {
	if len(f.Brands) > 0 && !slices.ContainsFunc(f.Brands, func(b string) bool { return strings.EqualFold(strings.TrimSpace(b), it.Brand) }) {
		return false
	}
	if len(f.Categories) > 0 && !slices.ContainsFunc(f.Categories, func(c string) bool { return it.HasCategoryPrefix(strings.Trim(c, "/")) }) {
		return false
	}
	if f.MinPrice != nil && (it.Price == nil || *it.Price < *f.MinPrice) {
		return false
	}
	if f.MaxPrice != nil && (it.Price == nil || *it.Price > *f.MaxPrice) {
		return false
	}
	for k, want := range f.Attributes {
		if v, ok := it.Attributes[k]; !ok || fmt.Sprint(v) != want {
			return false
		}
	}
	if f.NewWithinDays > 0 && now.Sub(it.CreatedAt) > time.Duration(f.NewWithinDays)*24*time.Hour {
		return false
	}
	if f.InStock && !it.Available {
		return false
	}
	return true
}
