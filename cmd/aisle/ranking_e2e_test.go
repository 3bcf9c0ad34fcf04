package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSearchLearnsToRankFromClicks runs the real server: shoppers search
// (logged by /api/search with their session) and click the product they
// want, which keyword ranking puts last; a retraining learns the search
// ranker from that log, stores it with the other models, and from then on
// searches in the default mode rank what shoppers want first.
func TestSearchLearnsToRankFromClicks(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: trains a ranker through the real server")
	}
	dataDir := t.TempDir()
	s := startServer(t, dataDir)
	var items []string
	var words []string
	favorite := map[string]string{}
	for f := 0; f < 48; f++ {
		w := fmt.Sprintf("gizmo%c%c", 'a'+f%26, 'a'+f/26)
		words = append(words, w)
		for k := 0; k < 6; k++ {
			title := fmt.Sprintf("%s model %d", w, k)
			if k == 5 {
				title += " with extra long descriptive words in the title"
				favorite[w] = fmt.Sprintf("%s-%d", w, k)
			}
			items = append(items, fmt.Sprintf(`{"id":%q,"title":%q}`, fmt.Sprintf("%s-%d", w, k), title))
		}
	}
	if code, body := s.do("POST", "/api/items", "["+strings.Join(items, ",")+"]"); code != 200 {
		t.Fatalf("post items: %d %v", code, body)
	}
	first := func(q, mode string) (string, string) {
		t.Helper()
		path := "/api/search?n=5&q=" + url.QueryEscape(q)
		if mode != "" {
			path += "&mode=" + mode
		}
		code, body := s.do("GET", path, "")
		its, _ := body["items"].([]any)
		if code != 200 || len(its) == 0 {
			t.Fatalf("search %q: %d %v", q, code, body)
		}
		return its[0].(map[string]any)["id"].(string), body["mode"].(string)
	}
	if id, mode := first(words[0], ""); id == favorite[words[0]] || mode != "keyword" {
		t.Fatalf("before learning: first %s in mode %s", id, mode)
	}
	n := 0
	for round := 0; round < 4; round++ {
		for i, w := range words {
			n++
			sess := fmt.Sprintf("s%d", n)
			s.do("GET", "/api/search?q="+w+"&session_id="+sess+"&user_id=u"+sess, "")
			time.Sleep(time.Millisecond) // the click follows the search
			item := favorite[w]
			if (i+round)%5 == 0 {
				item = fmt.Sprintf("%s-%d", w, (i+round)%5)
			}
			ev, _ := json.Marshal([]map[string]string{{"user_id": "u" + sess, "session_id": sess, "item_id": item, "type": "click"}})
			if code, body := s.do("POST", "/api/events", string(ev)); code != 200 {
				t.Fatalf("post click: %d %v", code, body)
			}
		}
	}
	// search events are logged in the background: wait until all are stored
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, body := s.do("GET", "/api/users/u"+fmt.Sprintf("s%d", n)+"/events", "")
		if evs, _ := body["events"].([]any); len(evs) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body := s.do("POST", "/api/models/retrain", ""); code != 202 && code != 200 {
		t.Fatalf("retrain: %d %v", code, body)
	}
	deadline = time.Now().Add(60 * time.Second)
	var serving bool
	for !serving && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		_, body := s.do("GET", "/api/models", "")
		list, _ := body["models"].([]any)
		for _, m := range list {
			mm := m.(map[string]any)
			if mm["name"] == "search-ltr" && mm["status"] == "serving" {
				serving = true
			}
		}
	}
	if !serving {
		_, body := s.do("GET", "/api/models", "")
		t.Fatalf("no serving search-ltr version: %v\nlogs:\n%s", body, s.logs)
	}
	wrong := 0
	for _, w := range words {
		id, mode := first(w, "")
		if mode != "ltr" {
			t.Fatalf("default mode after learning is %s", mode)
		}
		if id != favorite[w] {
			wrong++
		}
	}
	if wrong > len(words)/10 {
		t.Fatalf("learned ranking misses the favourite on %d of %d queries", wrong, len(words))
	}
	_, body := s.do("GET", "/api/models", "")
	for _, m := range body["models"].([]any) {
		if mm := m.(map[string]any); mm["name"] == "search-ltr" && mm["serving"] != true {
			t.Fatalf("search-ltr listed as not serving: %v", mm)
		}
	}
	if id, mode := first(words[0], "keyword"); mode != "keyword" || id == favorite[words[0]] {
		t.Fatalf("mode=keyword still asks for keyword ranking: %s %s", id, mode)
	}
	// the ranker can be rolled back like any model: no earlier version here
	if code, _ := s.do("POST", "/api/models/search-ltr/rollback", ""); code != 409 && code != 404 {
		t.Fatalf("rollback without an earlier version: %d", code)
	}
	// after a restart the stored ranker serves again, and the click model
	// (replayed from the log) still scopes it to the clicked queries
	s.stop()
	s = startServer(t, dataDir)
	if id, mode := first(words[1], ""); mode != "ltr" || id != favorite[words[1]] {
		t.Fatalf("after a restart: first %s in mode %s", id, mode)
	}
	if _, mode := first("gizmo unclicked words", ""); mode != "keyword" {
		t.Fatalf("a query without clicks ran in mode %s", mode)
	}
}
