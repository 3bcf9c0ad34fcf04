package aisle_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/aisle-dev/aisle"
	"github.com/aisle-dev/aisle/config"
)

// Embed Aisle in a Go program: open it over a data directory, serve it on
// 127.0.0.1, wait until it has loaded, and call the API.
func Example() {
	dir, err := os.MkdirTemp("", "aisle-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := config.Default()
	cfg.Data = dir
	cfg.Server.AdminKey = "secret"

	ctx, stop := context.WithCancel(context.Background())
	a, err := aisle.Open(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	if err := a.Start(ctx); err != nil { // loads the data; then /api/ready answers 200
		log.Fatal(err)
	}
	url := "http://" + ln.Addr().String()

	req, _ := http.NewRequest("POST", url+"/api/items", strings.NewReader(`{"id":"pen-1","title":"Gel pen, blue","price":2.5}`))
	req.Header.Set("Authorization", "Bearer secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Get(url + "/api/search?q=pens&n=1")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, strings.Contains(string(body), `"id":"pen-1"`))

	stop() // Serve stops accepting and drains running requests
	if err := <-served; err != nil {
		log.Fatal(err)
	}
	if err := a.Close(); err != nil { // joins the background work, closes the store last
		log.Fatal(err)
	}
	// Output: 200 true
}
