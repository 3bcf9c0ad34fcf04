package main

import (
	"slices"
	"strings"
	"testing"
)

// TestSimilarAndBoughtTogetherRoutes (issue 19): the demo's scientific
// calculator gets calculators as similar items, each with a reason naming
// its signal, and no substitute of it among the items bought together —
// no other calculator (3 among the first 6 until session 10).
func TestSimilarAndBoughtTogetherRoutes(t *testing.T) {
	s := startDemo(t)
	const calc = "B00000JBNX" // Texas Instruments TI-30X IIS 2-Line Scientific Calculator
	sim, body := s.list("/api/items/" + calc + "/similar?n=10")
	if len(sim) != 10 {
		t.Fatalf("similar: %v", body)
	}
	known := []string{"similar text", "same category", "related category", "same brand", "similar attributes",
		"chosen by the same shoppers", "similar in the model", "similar description", "popular"}
	calcs := 0
	for _, it := range sim {
		if strings.HasPrefix(s.category(it.ID), "Office Products/Calculators") {
			calcs++
		}
		first, _, _ := strings.Cut(it.Reason, ", ")
		if !slices.Contains(known, first) && !strings.HasPrefix(first, "popular in ") {
			t.Errorf("similar %s: reason %q names no signal", it.ID, it.Reason)
		}
	}
	if calcs < 8 {
		t.Errorf("only %d of 10 similar items of a calculator are calculators: %v", calcs, sim)
	}
	bt, body := s.list("/api/items/" + calc + "/bought-together?n=10")
	if len(bt) == 0 {
		t.Fatalf("bought together: %v", body)
	}
	// another calculator, on any shelf (a financial one is filed under
	// "Office Electronics"), is no complement of a calculator
	noCalculator := func(row string, it recItem) {
		t.Helper()
		_, item := s.do("GET", "/api/items/"+it.ID, "")
		title, _ := item["title"].(string)
		if strings.HasPrefix(s.category(it.ID), "Office Products/Calculators") || strings.Contains(strings.ToLower(title), "calculator,") ||
			strings.HasSuffix(strings.ToLower(strings.Split(title, " (")[0]), "calculator") {
			t.Errorf("%s of a calculator offers %s %q (%s), another calculator", row, it.ID, title, it.Reason)
		}
	}
	for _, it := range bt {
		if slices.Contains(ids(sim[:3]), it.ID) && !strings.Contains(it.Reason, "bought together") && !strings.Contains(it.Reason, "same shoppers") {
			t.Errorf("bought together offers %s, a close substitute nobody bought with it (%q)", it.ID, it.Reason)
		}
		noCalculator("bought together", it)
	}
	// Complete basket ranks the calculator's partners in the shop's
	// baskets first (two baskets or more): the same rule keeps other
	// calculators out of them.
	code, body := s.do("POST", "/api/recommend/basket", `{"items":["`+calc+`"],"n":10}`)
	basket := toItems(t, body)
	if code != 200 || len(basket) != 10 {
		t.Fatalf("complete basket: %d %v", code, body)
	}
	for _, it := range basket {
		if it.ID == calc {
			t.Errorf("complete basket offers the basket's own item")
		}
		noCalculator("complete basket", it)
	}
	// Filters still apply.
	only, _ := s.list("/api/items/" + calc + "/similar?n=5&brand=Casio")
	for _, it := range only {
		_, item := s.do("GET", "/api/items/"+it.ID, "")
		if !strings.EqualFold(item["brand"].(string), "Casio") {
			t.Errorf("brand filter let %s (%v) through", it.ID, item["brand"])
		}
	}
}
