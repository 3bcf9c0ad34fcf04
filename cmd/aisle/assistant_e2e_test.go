package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// assistantTurn posts one message with Accept: application/json.
func (s *server) assistantTurn(body string) map[string]any {
	s.t.Helper()
	req, _ := http.NewRequest("POST", s.url+"/api/assistant", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
		s.t.Fatalf("%s: %d %v %v", body, resp.StatusCode, m, err)
	}
	return m
}

func productIDs(m map[string]any) []string {
	var out []string
	ps, _ := m["products"].([]any)
	for _, p := range ps {
		out = append(out, p.(map[string]any)["id"].(string))
	}
	return out
}

// The assistant over HTTP: JSON and server-sent events, constraints over
// turns (price, brand, colour, "the second one"), and a conversation that
// survives a restart of the server.
func TestAssistantOverHTTP(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	var items []string
	for i, b := range []string{"Swingline", "Bostitch", "Casio", "Swingline", "Bostitch", "Swingline"} {
		colour := []string{"black", "red"}[i%2]
		items = append(items, fmt.Sprintf(`{"id":"st%d","title":"%s desk stapler %d","brand":"%s","categories":["Office/Staplers"],"price":%d,"attributes":{"color":"%s"}}`, i, b, i, b, 8+6*i, colour))
	}
	items = append(items, `{"id":"calc1","title":"Casio scientific calculator","brand":"Casio","categories":["Office/Calculators"],"price":15}`)
	if code, m := s.do("POST", "/api/items", "["+strings.Join(items, ",")+"]"); code != 200 {
		t.Fatalf("items: %d %v", code, m)
	}
	a := s.assistantTurn(`{"message":"staplers under $30, not Casio"}`)
	id, _ := a["conversation_id"].(string)
	c := a["constraints"].(map[string]any)
	if id == "" || c["max_price"] != 30.0 || fmt.Sprint(c["exclude_brands"]) != "[Casio]" {
		t.Fatalf("first turn: %v", a)
	}
	for _, p := range a["products"].([]any) {
		p := p.(map[string]any)
		if p["price"].(float64) > 30 || p["brand"] == "Casio" {
			t.Errorf("under $30, not Casio: %v", p)
		}
	}
	b := s.assistantTurn(`{"message":"only Swingline","conversation_id":"` + id + `"}`)
	shown := productIDs(b)
	if b["conversation_id"] != id || len(shown) < 2 {
		t.Fatalf("only Swingline: %v", b)
	}
	for _, p := range b["products"].([]any) {
		if p.(map[string]any)["brand"] != "Swingline" {
			t.Errorf("only Swingline shows %v", p)
		}
	}
	// streamed: text as it is produced, then the products, then the answer
	req, _ := http.NewRequest("POST", s.url+"/api/assistant", strings.NewReader(`{"message":"what about in black?","conversation_id":"`+id+`"}`))
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	var done map[string]any
	sc := bufio.NewScanner(resp.Body)
	event := ""
	for sc.Scan() {
		if k, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			event = k
			if len(kinds) == 0 || kinds[len(kinds)-1] != k {
				kinds = append(kinds, k)
			}
		} else if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok && event == "done" {
			json.Unmarshal([]byte(d), &done)
		}
	}
	resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" || strings.Join(kinds, ",") != "text,products,done" || done == nil {
		t.Fatalf("stream: %s, events %v", resp.Header.Get("Content-Type"), kinds)
	}
	black := productIDs(done)
	if len(black) == 0 {
		t.Fatalf("in black: %v", done)
	}
	for _, p := range done["products"].([]any) {
		p := p.(map[string]any)
		if p["brand"] != "Swingline" || p["price"].(float64) > 30 {
			t.Errorf("black Swingline under $30 shows %v", p)
		}
	}
	// a restart keeps the conversation: "the first one" is still the list's first
	s.stop()
	s = startServer(t, dir)
	d := s.assistantTurn(`{"message":"show the first one","conversation_id":"` + id + `"}`)
	if d["conversation_id"] != id || d["intent"] != "detail" || fmt.Sprint(productIDs(d)) != "["+black[0]+"]" {
		t.Fatalf("after a restart: %v, want %s", d, black[0])
	}
	_, body := s.metricsText()
	if !strings.Contains(body, `aisle_assistant_turns_total{intent="detail",mode="builtin"} 1`) {
		t.Errorf("metrics lack the assistant's turns")
	}
}

func (s *server) metricsText() (int, string) {
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return resp.StatusCode, b.String()
}
