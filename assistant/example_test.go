package assistant_test

import (
	"context"
	"fmt"

	"github.com/aisle-dev/aisle/assistant"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/search"
)

// A conversation with the built-in understanding over a tiny catalogue:
// the second message refines the first.
func Example() {
	price := func(f float64) *float64 { return &f }
	items := []catalog.Item{
		{ID: "s1", Title: "Swingline desk stapler", Brand: "Swingline", Categories: []string{"Office/Staplers"}, Price: price(12), Available: true},
		{ID: "s2", Title: "Bostitch desk stapler", Brand: "Bostitch", Categories: []string{"Office/Staplers"}, Price: price(25), Available: true},
		{ID: "s3", Title: "Swingline heavy duty stapler", Brand: "Swingline", Categories: []string{"Office/Staplers"}, Price: price(45), Available: true},
	}
	ix, _ := search.NewIndex(search.DefaultConfig(), search.Options{})
	defer ix.Close()
	ix.Upsert(context.Background(), items...)
	cat := assistant.NewCatalogue()
	cat.Add(items...)
	convs := assistant.NewConversations(0, nil, nil) // memory only
	a, _ := assistant.New(assistant.Options{Catalogue: cat, Search: ix, Conversations: convs})
	defer a.Close()

	first, _ := a.Turn(context.Background(), assistant.Request{Message: "staplers under $30"}, nil)
	fmt.Println(len(first.Products), "products up to", *first.Constraints.MaxPrice)
	next, _ := a.Turn(context.Background(), assistant.Request{ConversationID: first.ConversationID, Message: "only Swingline"}, nil)
	for _, p := range next.Products {
		fmt.Println(p.ID, p.Title, *p.Price)
	}
	// Output:
	// 2 products up to 30
	// s1 Swingline desk stapler 12
}
