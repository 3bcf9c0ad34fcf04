package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"

	"github.com/aisle-dev/aisle"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/client"
	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/events"
)

// serve runs an Aisle server on 127.0.0.1 over a fresh data directory for
// the examples; stop ends it.
func serve(adminKey string) (url string, stop func()) {
	dir, err := os.MkdirTemp("", "aisle-client-")
	if err != nil {
		log.Fatal(err)
	}
	cfg := config.Default()
	cfg.Data, cfg.Server.AdminKey = dir, adminKey
	ctx, cancel := context.WithCancel(context.Background())
	a, err := aisle.Open(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	if err := a.Start(ctx); err != nil {
		log.Fatal(err)
	}
	return "http://" + ln.Addr().String(), func() {
		cancel()
		<-done
		a.Close()
		os.RemoveAll(dir)
	}
}

func price(p float64) *float64 { return &p }

// Send the catalogue and what shoppers do, then ask for recommendations.
func Example() {
	url, stop := serve("secret")
	defer stop()
	ctx := context.Background()
	c, err := client.New(url, client.WithKey("secret"))
	if err != nil {
		log.Fatal(err)
	}
	n, err := c.AddItems(ctx,
		catalog.Item{ID: "pen-1", Title: "Gel pen, blue", Price: price(2.5), Available: true},
		catalog.Item{ID: "pen-2", Title: "Gel pen, red", Price: price(2.5), Available: true},
		catalog.Item{ID: "pad-1", Title: "Notepad A5", Price: price(4), Available: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("items stored:", n)
	if _, err := c.AddEvents(ctx,
		events.Event{UserID: "ann", ItemID: "pen-1", Type: events.Purchase},
		events.Event{UserID: "bob", ItemID: "pen-1", Type: events.Purchase},
		events.Event{UserID: "bob", ItemID: "pad-1", Type: events.Purchase}); err != nil {
		log.Fatal(err)
	}
	// no model is trained yet: the answer comes from the fallback chain,
	// without what ann already bought
	recs, err := c.Recommend(ctx, "ann", client.Query{N: 5})
	if err != nil {
		log.Fatal(err)
	}
	for _, it := range recs.Items {
		fmt.Println(it.ID)
	}
	// Output:
	// items stored: 3
	// pad-1
	// pen-2
}

// Search the catalogue, with facets.
func ExampleClient_Search() {
	url, stop := serve("")
	defer stop()
	ctx := context.Background()
	c, _ := client.New(url)
	c.AddItems(ctx,
		catalog.Item{ID: "pen-1", Title: "Gel pen, blue", Brand: "Pilot", Available: true},
		catalog.Item{ID: "pad-1", Title: "Notepad A5", Brand: "Oxford", Available: true})
	res, err := c.Search(ctx, client.SearchQuery{Q: "gel pens", Facets: []string{"brand"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Total, res.Items[0].ID, res.Facets.Brand[0].Value)
	// Output: 1 pen-1 Pilot
}

// Errors of the server are *client.Error values, with what was wrong.
func ExampleError() {
	url, stop := serve("secret")
	defer stop()
	ctx := context.Background()
	c, _ := client.New(url, client.WithKey("secret"))
	_, err := c.AddItems(ctx, catalog.Item{ID: "ok", Available: true}, catalog.Item{ID: "", Available: true})
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Details[0].Index, e.Details[0].Field)
	}
	_, err = c.Item(ctx, "nope")
	fmt.Println(client.IsNotFound(err))
	// Output:
	// 400 1 id
	// true
}
