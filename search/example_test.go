package search_test

import (
	"context"
	"fmt"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/search"
)

func Example() {
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	p := 4.5
	err = ix.Upsert(ctx,
		catalog.Item{ID: "m1", Title: "Sharpie Permanent Marker, Black", Brand: "Sharpie", Categories: []string{"Office/Writing"}, Price: &p, Available: true},
		catalog.Item{ID: "n1", Title: "Spiral Notebook", Brand: "Mead", Categories: []string{"Office/Paper"}, Available: true},
	)
	if err != nil {
		panic(err)
	}
	res, err := ix.Search(ctx, search.Request{Query: "sharpie markr", Facets: []string{search.FacetCategory}})
	if err != nil {
		panic(err)
	}
	for _, h := range res.Items {
		fmt.Println(h.ID, h.Highlights["title"])
	}
	fmt.Println("total", res.Total, "facets", res.Facets.Category)
	for _, s := range ix.Suggest("spi", 3) {
		fmt.Println("suggest", s.Kind, s.Text)
	}
	// Output:
	// m1 <em>Sharpie</em> Permanent <em>Marker</em>, Black
	// total 1 facets [{Office 1} {Office/Writing 1}]
	// suggest title spiral notebook
	// suggest word spiral
}
