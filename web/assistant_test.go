package web

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/aisle-dev/aisle/assistant"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/search"
)

// shopWithAssistant is the test shop with the chat panel on.
func shopWithAssistant(t *testing.T) *shop {
	t.Helper()
	s := newShop(t, Options{})
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	if err := ix.Upsert(context.Background(), s.its...); err != nil {
		t.Fatal(err)
	}
	cat := assistant.NewCatalogue()
	cat.Add(s.its...)
	a, err := assistant.New(assistant.Options{Catalogue: cat, Search: ix, Recommend: s.ui.svc, Events: s.eng, Conversations: assistant.NewConversations(0, nil, nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	s.ui.AddAssistant(a)
	return s
}

// The storefront's assistant route streams the answer as server-sent
// events to a visitor with cookies, and refuses what is not a message.
func TestAssistantRouteStreams(t *testing.T) {
	s := shopWithAssistant(t)
	c := s.client()
	if code, body := s.get(c, "/"); code != 200 || !strings.Contains(body, "/static/assistant.js") {
		t.Fatalf("home: %d, panel script included: %v", code, strings.Contains(body, "/static/assistant.js"))
	}
	resp, err := c.Post(s.hs.URL+"/ui/assistant", "application/json", strings.NewReader(`{"message":"staplers from Brother"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var kinds []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if k, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			if len(kinds) == 0 || kinds[len(kinds)-1] != k {
				kinds = append(kinds, k)
			}
		}
	}
	if strings.Join(kinds, ",") != "text,products,done" {
		t.Fatalf("events %v, want text, products, done", kinds)
	}
	for _, body := range []string{`{}`, `{"message":"  "}`, `{"message":"x","extra":1}`, `not json`} {
		if code, _ := s.postJSON(c, "/ui/assistant", body); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", body, code)
		}
	}
}

// TestBrowserAssistant opens the chat panel in headless Chromium, asks,
// sees the streamed reply with product cards linking to product pages,
// puts one in the cart, and refines the request in a second turn.
func TestBrowserAssistant(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	ctx := browser(t, 60*time.Second)
	s := shopWithAssistant(t)
	do(t, ctx, "open the panel and ask",
		chromedp.Navigate(s.hs.URL+"/"),
		chromedp.WaitVisible(`.chat-toggle`),
		chromedp.Click(`.chat-toggle`),
		chromedp.WaitVisible(`#chat-input`),
		chromedp.SendKeys(`#chat-input`, "staplers"),
		chromedp.Click(`.chat-form button`),
	)
	waitFor(t, ctx, `document.body.getAttribute('data-assistant-turns') === '1'`)
	links := get(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.chat-card a')].map(a => a.getAttribute('href'))`))
	reply := get(t, ctx, chromedp.Text(`.chat-msg.bot .chat-text`))
	if len(links) == 0 || !strings.HasPrefix(links[0], "/items/") || !strings.Contains(reply, "stapler") {
		t.Fatalf("reply %q, product links %v", reply, links)
	}
	do(t, ctx, "add to cart", chromedp.Click(`.chat-card .chat-cart`), chromedp.WaitReady(`body[data-last-event="add_to_cart"]`))
	// the panel's cart carries the answer's request id and the card's position
	rq := get(t, ctx, chromedp.Evaluate[string](`document.querySelector('.chat-cards').getAttribute('data-request-id')`))
	first := get(t, ctx, chromedp.Evaluate[string](`document.querySelector('.chat-card').getAttribute('data-item')`))
	if len(rq) != 32 {
		t.Fatalf("the chat's cards carry request id %q", rq)
	}
	wantEvent(t, s, events.Event{Type: events.AddToCart, ItemID: first, RequestID: rq, Position: 1})
	do(t, ctx, "refine", chromedp.SendKeys(`#chat-input`, "only Pilot"), chromedp.Click(`.chat-form button`))
	waitFor(t, ctx, `document.body.getAttribute('data-assistant-turns') === '2'`)
	metas := get(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.chat-msg.bot:last-child .chat-card .meta')].map(m => m.textContent)`))
	if len(metas) == 0 {
		t.Fatal("the second turn shows no products")
	}
	for _, m := range metas {
		if !strings.HasPrefix(m, "Pilot") {
			t.Errorf("only Pilot shows %q", m)
		}
	}
	// a click on the second answer's second card opens the product page;
	// the click and the cart there carry that answer's request id and the
	// card's position
	rq2 := get(t, ctx, chromedp.Evaluate[string](`document.querySelector('.chat-msg.bot:last-child .chat-cards').getAttribute('data-request-id')`))
	second := get(t, ctx, chromedp.Evaluate[string](`document.querySelectorAll('.chat-msg.bot:last-child .chat-card')[1].getAttribute('data-item')`))
	if len(rq2) != 32 || rq2 == rq {
		t.Fatalf("the second answer's request id %q (the first's %q)", rq2, rq)
	}
	do(t, ctx, "open the second card", chromedp.Click(`.chat-msg.bot:last-child .chat-card:nth-child(2) a`), chromedp.WaitVisible(`button[data-event="add_to_cart"]`))
	do(t, ctx, "cart on the product page", chromedp.Click(`button[data-event="add_to_cart"]`), chromedp.WaitReady(`body[data-last-event="add_to_cart"]`))
	wantEvent(t, s, events.Event{Type: events.Click, ItemID: second, RequestID: rq2, Position: 2})
	wantEvent(t, s, events.Event{Type: events.AddToCart, ItemID: second, RequestID: rq2, Position: 2})
}

// wantEvent waits until the shop has stored an event of want's type, item,
// request id and position.
func wantEvent(t *testing.T, s *shop, want events.Event) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		found := false
		err := s.eng.Store().ScanEvents(context.Background(), 0, func(e events.Event) error {
			found = found || e.Type == want.Type && e.ItemID == want.ItemID && e.RequestID == want.RequestID && e.Position == want.Position
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event of %s with request id %s at position %d was stored", want.Type, want.ItemID, want.RequestID, want.Position)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAssistantScreenshot saves docs/screenshots/assistant.png: the chat
// panel over a running demo after two turns. It runs only when asked (see
// TestScreenshots).
func TestAssistantScreenshot(t *testing.T) {
	base := os.Getenv("AISLE_SCREENSHOT_URL")
	if base == "" {
		t.Skip("set AISLE_SCREENSHOT_URL (a running aisle demo) to take screenshots")
	}
	ctx := browser(t, 2*time.Minute)
	do(t, ctx, "ask",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(`.chat-toggle`),
		chromedp.Click(`.chat-toggle`),
		chromedp.SendKeys(`#chat-input`, "a label maker, not DYMO"),
		chromedp.Click(`.chat-form button`),
	)
	waitFor(t, ctx, `document.body.getAttribute('data-assistant-turns') === '1'`)
	do(t, ctx, "refine", chromedp.SendKeys(`#chat-input`, "only Brother"), chromedp.Click(`.chat-form button`))
	waitFor(t, ctx, `document.body.getAttribute('data-assistant-turns') === '2'`)
	do(t, ctx, "settle", chromedp.Sleep(300*time.Millisecond))
	png := get(t, ctx, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join("..", "docs", "screenshots", "assistant.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
