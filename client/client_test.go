package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/api"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/client"
	"github.com/aisle-dev/aisle/events"
)

// Every method reaches its route and decodes its answer.
func TestEveryMethod(t *testing.T) {
	url, stop := serve("admin")
	defer stop()
	ctx := context.Background()
	c, err := client.New(url, client.WithKey("admin"))
	if err != nil {
		t.Fatal(err)
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	ready, err := c.Ready(ctx)
	must("Ready", err)
	if !ready {
		t.Fatal("not ready")
	}
	_, err = c.AddItems(ctx, catalog.Item{ID: "a", Title: "blue pen", Brand: "Pilot", Categories: []string{"Office/Pens"}, Available: true},
		catalog.Item{ID: "b", Title: "red pen", Brand: "Bic", Categories: []string{"Office/Pens"}, Available: true})
	must("AddItems", err)
	_, err = c.AddUsers(ctx, catalog.User{ID: "u1"})
	must("AddUsers", err)
	_, err = c.AddEvents(ctx, events.Event{UserID: "u1", ItemID: "a", Type: events.Purchase, SessionID: "s1"},
		events.Event{UserID: "u2", ItemID: "a", Type: events.Purchase}, events.Event{UserID: "u2", ItemID: "b", Type: events.Purchase})
	must("AddEvents", err)
	st, err := c.Stats(ctx)
	must("Stats", err)
	if st.Items != 2 || st.Events != 3 {
		t.Errorf("Stats %+v", st)
	}
	it, err := c.PatchItem(ctx, "a", map[string]any{"price": 3.5})
	must("PatchItem", err)
	if it.Price == nil || *it.Price != 3.5 {
		t.Errorf("PatchItem: %+v", it)
	}
	it, err = c.Item(ctx, "a")
	must("Item", err)
	if it.Title != "blue pen" {
		t.Errorf("Item: %+v", it)
	}
	ip, err := c.Items(ctx, "", 1)
	must("Items", err)
	if len(ip.Items) != 1 || ip.NextCursor == "" {
		t.Errorf("Items: %+v", ip)
	}
	up, err := c.Users(ctx, "", 10)
	must("Users", err)
	if len(up.Users) != 2 {
		t.Errorf("Users: %+v", up)
	}
	u, err := c.User(ctx, "u1")
	must("User", err)
	if u.ID != "u1" {
		t.Errorf("User: %+v", u)
	}
	ue, err := c.UserEvents(ctx, "u2", 1)
	must("UserEvents", err)
	if ue.UserID != "u2" || len(ue.Events) != 1 {
		t.Errorf("UserEvents: %+v", ue)
	}
	recs, err := c.Recommend(ctx, "u1", client.Query{N: 3, Categories: []string{"Office"}})
	must("Recommend", err)
	if recs.UserID != "u1" || len(recs.Items) != 1 || recs.Items[0].ID != "b" {
		t.Errorf("Recommend: %+v", recs)
	}
	ses, err := c.Session(ctx, []string{"a"}, client.Query{N: 3})
	must("Session", err)
	_ = ses
	sim, err := c.Similar(ctx, "a", client.Query{N: 3})
	must("Similar", err)
	if sim.ItemID != "a" {
		t.Errorf("Similar: %+v", sim)
	}
	_, err = c.BoughtTogether(ctx, "a", client.Query{})
	must("BoughtTogether", err)
	pop, err := c.Popular(ctx, "30d", client.Query{N: 1})
	must("Popular", err)
	if pop.Window != "30d" || len(pop.Items) != 1 || pop.Items[0].ID != "a" {
		t.Errorf("Popular: %+v", pop)
	}
	_, err = c.Trending(ctx, client.Query{})
	must("Trending", err)
	res, err := c.Search(ctx, client.SearchQuery{Q: "pen", UserID: "u1", Brands: []string{"Bic"}})
	must("Search", err)
	if res.Total != 1 || res.Items[0].ID != "b" {
		t.Errorf("Search: %+v", res)
	}
	_, err = c.Suggest(ctx, "pe", 3)
	must("Suggest", err)
	var raw api.PopularRecs
	must("Get", c.Get(ctx, "/api/popular?window=30d&n=1", &raw))
	if len(raw.Items) != 1 || raw.Items[0].ID != pop.Items[0].ID {
		t.Errorf("Get /api/popular: %+v, want the answer of Popular %+v", raw, pop)
	}
	if err := c.Get(ctx, "/api/popular?window=nonsense", nil); err == nil {
		t.Error("Get with a bad parameter: no error")
	}
	ms, err := c.Models(ctx)
	must("Models", err)
	if ms.Training == nil {
		t.Errorf("Models: %+v", ms)
	}
	_, err = c.Rollback(ctx, "popular")
	if !client.IsNotFound(err) {
		t.Errorf("Rollback of a model never trained: %v", err)
	}
	must("Retrain", c.Retrain(ctx))
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		ms, err := c.Models(ctx)
		must("Models", err)
		if !ms.Training.Running && ms.Training.LastRun != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("retraining did not end")
		}
	}
	must("DeleteItem", c.DeleteItem(ctx, "b"))
	must("DeleteUser", c.DeleteUser(ctx, "u2"))
	if _, err := c.Item(ctx, "b"); !client.IsNotFound(err) {
		t.Errorf("deleted item: %v", err)
	}
}

func TestErrors(t *testing.T) {
	url, stop := serve("admin")
	defer stop()
	ctx := context.Background()
	anon, _ := client.New(url)
	_, err := anon.AddItems(ctx, catalog.Item{ID: "a", Available: true})
	var e *client.Error
	if !errors.As(err, &e) || e.Status != 401 {
		t.Fatalf("write without a key: %v", err)
	}
	c, _ := client.New(url, client.WithKey("admin"))
	_, err = c.Popular(ctx, "forever", client.Query{})
	if !errors.As(err, &e) || e.Status != 400 || e.Message == "" {
		t.Fatalf("bad window: %v", err)
	}
	if _, err := client.New("localhost:8080"); err == nil {
		t.Fatal("a base URL without a scheme was accepted")
	}
}
