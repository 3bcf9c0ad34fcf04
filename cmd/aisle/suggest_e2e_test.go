package main

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// Issue 12 item 4 against the binary (decision 0061): four cookie-less
// storefront searches (with the read key, which the storefront asks for
// when keys are set) and five read-key searches with varying session ids,
// all from 127.0.0.1, plant no suggestion; a query three named users
// searched is suggested, DELETE /api/suggest/{q} blocks it, and the block
// survives a restart (before, three more shoppers put it back).
func TestSuggestSybilAndBlockE2E(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, "--read-key", "test-read")
	if code, body := s.do("POST", "/api/items", `[{"id":"p1","title":"Gel pen, blue"},{"id":"p2","title":"Gel pen, red"}]`); code != 200 {
		t.Fatalf("items: %d %v", code, body)
	}
	suggested := func(s *server, text string) bool {
		_, body := s.do("GET", "/api/suggest?q=gel", "")
		list, _ := body["suggestions"].([]any)
		for _, x := range list {
			if m := x.(map[string]any); m["kind"] == "query" && m["text"] == text {
				return true
			}
		}
		return false
	}
	const planted = "gel pen fresh-cookie-scam example"
	for range 4 { // no cookie jar: every request a new storefront session
		req, err := http.NewRequest("GET", s.url+"/search?q="+url.QueryEscape(planted), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer test-read") // the storefront is read-level when keys are set
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("storefront search: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	for i := range 5 {
		if code, body := s.doKey("GET", "/api/search?q="+url.QueryEscape(planted)+"&session_id=tab-"+string(rune('a'+i)), "", "test-read"); code != 200 || body["total"] == 0.0 {
			t.Fatalf("read-key search: %d %v", code, body)
		}
	}
	waitLogged := func(n float64) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if _, body := s.do("GET", "/api/stats", ""); body["events"].(float64) >= n {
				time.Sleep(200 * time.Millisecond) // the index hears the log after the store
				return
			}
		}
		t.Fatalf("the searches were never logged")
	}
	waitLogged(9)
	if suggested(s, planted) {
		t.Fatal("nine searches from one address planted a suggestion for everyone")
	}

	const query = "gel pen visit scam shop"
	for _, u := range []string{"u1", "u2", "u3"} {
		s.do("GET", "/api/search?q="+url.QueryEscape(query)+"&user_id="+u, "")
	}
	for deadline := time.Now().Add(20 * time.Second); !suggested(s, query); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a query three named users searched is not suggested")
		}
	}
	if code, body := s.do("DELETE", "/api/suggest/"+url.PathEscape(query), ""); code != 200 {
		t.Fatalf("DELETE: %d %v", code, body)
	}
	s.stop()
	s = startServer(t, dir, "--read-key", "test-read")
	// after the restart three more shoppers search it, and a control query
	for _, u := range []string{"u4", "u5", "u6"} {
		s.do("GET", "/api/search?q="+url.QueryEscape(query)+"&user_id="+u, "")
		s.do("GET", "/api/search?q=gel+pen+red&user_id="+u, "")
	}
	for deadline := time.Now().Add(20 * time.Second); !suggested(s, "gel pen red"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("after the restart a query three named users searched is not suggested")
		}
	}
	if suggested(s, query) {
		t.Fatal("the blocked suggestion is back after a restart")
	}
	if code, body := s.do("GET", "/api/suggest/blocked", ""); code != 200 || len(body["blocked"].([]any)) != 1 {
		t.Fatalf("GET /api/suggest/blocked after a restart: %d %v", code, body)
	}
}
