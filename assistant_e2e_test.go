package aisle

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/events"
)

// The assistant's answers are logged as impressions under their request
// id, over the API (JSON and server-sent events) and the storefront's chat
// route, with the products in the order shown; a click and a purchase
// that carry the request id and a position are kept with them, so they
// join the answer that led to them.
func TestAssistantAnswersAreImpressions(t *testing.T) {
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.Recommend.RetrainEvery, cfg.Recommend.RetrainAfterEvents = 0, 0
	a, url, stop := replicaTB(t, cfg, "")
	defer stop()
	call(t, "POST", url+"/api/items", `[{"id":"s1","title":"Swingline stapler","brand":"Swingline","price":12},
		{"id":"s2","title":"Bostitch stapler","brand":"Bostitch","price":9},
		{"id":"p1","title":"Pilot gel pen","brand":"Pilot","price":2}]`, 200, nil)

	type turn struct {
		RequestID      string `json:"request_id"`
		ConversationID string `json:"conversation_id"`
		Products       []struct{ ID string }
	}
	ids := func(tn turn) []string {
		var out []string
		for _, p := range tn.Products {
			out = append(out, p.ID)
		}
		return out
	}
	// sse posts a message and returns the "done" event's answer.
	sse := func(c *http.Client, path, body string) turn {
		t.Helper()
		req, _ := http.NewRequest("POST", url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var done turn
		ev := ""
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if k, ok := strings.CutPrefix(line, "event: "); ok {
				ev = k
			} else if d, ok := strings.CutPrefix(line, "data: "); ok && ev == "done" {
				if err := json.Unmarshal([]byte(d), &done); err != nil {
					t.Fatalf("%s: done event %s: %v", path, d, err)
				}
			}
		}
		if resp.StatusCode != 200 || done.RequestID == "" {
			t.Fatalf("%s: %d, done %+v", path, resp.StatusCode, done)
		}
		return done
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	if resp, err := browser.Get(url + "/"); err != nil { // the storefront's cookies
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}

	var first turn
	call(t, "POST", url+"/api/assistant", `{"message":"staplers","user_id":"shopper1","session_id":"sess1"}`, 200, &first)
	cases := []struct {
		name string
		tn   turn
	}{
		{"api json", first},
		{"api sse", sse(http.DefaultClient, "/api/assistant", fmt.Sprintf(`{"message":"only Bostitch","conversation_id":%q,"user_id":"shopper1"}`, first.ConversationID))},
		{"storefront", sse(browser, "/ui/assistant", `{"message":"gel pens"}`)},
	}
	imps := a.exp.Impressions()
	for _, c := range cases {
		if len(c.tn.Products) == 0 {
			t.Fatalf("%s: no products in %+v", c.name, c.tn)
		}
		imp, ok, err := imps.Get(c.tn.RequestID)
		if err != nil || !ok {
			t.Fatalf("%s: impression %s: found %v, %v", c.name, c.tn.RequestID, ok, err)
		}
		if imp.Surface != "assistant" || !slices.Equal(imp.Items, ids(c.tn)) || imp.SessionID == "" {
			t.Errorf("%s: impression %+v, want surface assistant, items %v and a session", c.name, imp, ids(c.tn))
		}
	}
	if cases[1].tn.RequestID == first.RequestID {
		t.Fatal("two turns share a request id")
	}

	// the shopper clicks the second product of the first answer and buys
	// it (API), and the storefront visitor puts the first product of the
	// chat's answer in the cart (the panel's event)
	item := first.Products[1].ID
	call(t, "POST", url+"/api/events", fmt.Sprintf(`[{"user_id":"shopper1","item_id":%q,"type":"click","request_id":%q,"position":2},
		{"user_id":"shopper1","item_id":%q,"type":"purchase","request_id":%q,"position":2}]`, item, first.RequestID, item, first.RequestID), 200, nil)
	shop := cases[2].tn
	req, _ := http.NewRequest("POST", url+"/ui/events", strings.NewReader(fmt.Sprintf(`{"type":"add_to_cart","item_id":%q,"list":"assistant","request_id":%q,"position":1}`,
		shop.Products[0].ID, shop.RequestID)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := browser.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("storefront cart event: %v %v", resp, err)
	}
	resp.Body.Close()

	// every event that carries a request id finds the assistant's answer
	// and the item at its position there
	attributed := 0
	err = a.st.ScanEvents(context.Background(), 0, func(e events.Event) error {
		if e.RequestID == "" {
			return nil
		}
		imp, ok, err := imps.Get(e.RequestID)
		if err != nil || !ok {
			return fmt.Errorf("event %+v: no impression (%v)", e, err)
		}
		if imp.Surface != "assistant" || e.Position < 1 || e.Position > len(imp.Items) || imp.Items[e.Position-1] != e.ItemID {
			return fmt.Errorf("event %+v does not match its impression %+v", e, imp)
		}
		attributed++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if attributed != 3 {
		t.Fatalf("%d events attributed to the assistant, want 3 (click, purchase, cart)", attributed)
	}
}
