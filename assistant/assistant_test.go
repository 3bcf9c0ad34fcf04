package assistant

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/store/boltstore"
)

func turn(t *testing.T, a *Assistant, id, msg string) *Answer {
	t.Helper()
	ans, err := a.Turn(context.Background(), Request{ConversationID: id, Message: msg}, nil)
	if err != nil {
		t.Fatalf("%q: %v", msg, err)
	}
	return ans
}

// A conversation remembers its constraints and what it showed.
func TestMultiTurn(t *testing.T) {
	a := newDemoAssistant(t)
	first := turn(t, a, "", "label makers")
	if len(first.Products) < 3 || first.Constraints.Query != "label maker" {
		t.Fatalf("label makers: %+v", first)
	}
	id := first.ConversationID
	only := turn(t, a, id, "only Brother")
	if only.ConversationID != id || !slices.Equal(only.Constraints.Brands, []string{"Brother"}) || only.Constraints.Query != "label maker" {
		t.Fatalf("only Brother kept nothing: %+v", only.Constraints)
	}
	for _, p := range only.Products {
		if p.Brand != "Brother" {
			t.Errorf("only Brother shows %s by %q", p.ID, p.Brand)
		}
	}
	second := turn(t, a, id, "show the second one")
	if second.Intent != IntentDetail || len(second.Products) != 1 || second.Products[0].ID != only.Products[1].ID {
		t.Fatalf("the second one: %+v, want %s", second.Products, only.Products[1].ID)
	}
	cmp := turn(t, a, id, "compare the first two")
	if cmp.Intent != IntentCompare || len(cmp.Products) != 2 || cmp.Products[0].ID != only.Products[0].ID || cmp.Products[1].ID != only.Products[1].ID {
		t.Fatalf("compare: %+v", cmp.Products)
	}
	black := turn(t, a, id, "what about in black?")
	if black.Constraints.Attributes["color"] != "black" || !slices.Equal(black.Constraints.Brands, []string{"Brother"}) {
		t.Fatalf("in black: %+v", black.Constraints)
	}
	for _, p := range black.Products {
		if !strings.Contains(strings.ToLower(p.Title), "black") && !strings.Contains(black.Reply, "closest") {
			t.Errorf("in black shows %q", p.Title)
		}
	}
	not := turn(t, a, id, "not Brother")
	if len(not.Constraints.Brands) != 0 || !slices.Equal(not.Constraints.ExcludeBrands, []string{"Brother"}) {
		t.Fatalf("not Brother: %+v", not.Constraints)
	}
	for _, p := range not.Products {
		if p.Brand == "Brother" {
			t.Errorf("not Brother shows %s", p.ID)
		}
	}
	// a new product starts a new search
	fresh := turn(t, a, id, "staplers")
	if fresh.Constraints.Query != "stapler" || len(fresh.Constraints.ExcludeBrands) != 0 {
		t.Fatalf("staplers: %+v", fresh.Constraints)
	}
}

// Nothing matching is said, with the closest products instead.
func TestNeverAnEmptyListSilently(t *testing.T) {
	a := newDemoAssistant(t)
	for _, msg := range []string{"stapler under $5", "zebra unicorn glitter", "500元以下的打印机", "ballpoint pens only Samsung"} {
		ans := turn(t, a, "", msg)
		if len(ans.Products) == 0 {
			t.Errorf("%q: no products: %s", msg, ans.Reply)
		}
		if !strings.Contains(ans.Reply, "Nothing") && !strings.Contains(ans.Reply, "没有") && !strings.Contains(ans.Reply, "did not recognise") && !strings.Contains(ans.Reply, "found") && !strings.Contains(ans.Reply, "找到") {
			t.Errorf("%q: reply does not say what happened: %s", msg, ans.Reply)
		}
	}
	// an item without a brand naming it in its title is that brand's
	for _, p := range turn(t, a, "", "a label maker, not DYMO").Products {
		if strings.Contains(strings.ToUpper(p.Title), "DYMO") {
			t.Errorf("not DYMO shows %q", p.Title)
		}
	}
	ans := turn(t, a, "", "stapler under $5")
	if !strings.Contains(ans.Reply, "Nothing matches") {
		t.Errorf("no demo item has a price, yet %q", ans.Reply)
	}
}

// Conversations expire after the TTL and survive a restart through the
// bolt store.
func TestConversationsPersistAndExpire(t *testing.T) {
	dir := t.TempDir()
	st, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	convs := NewConversations(time.Hour, st, nil)
	conv := &Conversation{ID: "c-1", Constraints: Constraints{Query: "pen", Brands: []string{"Pilot"}}, Shown: []string{"a", "b"}, Updated: time.Now()}
	convs.Put(conv)
	convs.Close() // flushes
	st.Close()
	st, err = boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	convs = NewConversations(time.Hour, st, nil)
	defer convs.Close()
	got, ok, err := convs.Get(context.Background(), "c-1")
	if err != nil || !ok || got.Constraints.Query != "pen" || !slices.Equal(got.Shown, []string{"a", "b"}) {
		t.Fatalf("after a restart: %+v %v %v", got, ok, err)
	}
	later := time.Now().Add(2 * time.Hour)
	convs.now = func() time.Time { return later }
	if _, ok, _ := convs.Get(context.Background(), "c-1"); ok {
		t.Fatal("a conversation older than the TTL was found")
	}
	if n, err := st.ExpireConversations(context.Background(), later, 10); err != nil || n != 1 {
		t.Fatalf("expire: %d %v", n, err)
	}
}

// fakeLLM is an OpenAI-compatible chat completions server answering from
// a script: each call gets the request's messages and returns a body.
type fakeLLM struct {
	mu     sync.Mutex
	script []func(w http.ResponseWriter, msgs []message)
	calls  int
}

func (f *fakeLLM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Messages []message `json:"messages"`
		Tools    []any     `json:"tools"`
	}
	if r.URL.Path != "/v1/chat/completions" || json.NewDecoder(r.Body).Decode(&body) != nil || len(body.Tools) == 0 {
		http.Error(w, "bad request", 400)
		return
	}
	f.mu.Lock()
	i := f.calls
	f.calls++
	f.mu.Unlock()
	if i >= len(f.script) {
		http.Error(w, "script over", 500)
		return
	}
	f.script[i](w, body.Messages)
}

func toolCallAnswer(w http.ResponseWriter, name, args string) {
	json.NewEncoder(w).Encode(map[string]any{"choices": []any{map[string]any{"message": map[string]any{"role": "assistant", "content": "",
		"tool_calls": []any{map[string]any{"id": "call-1", "type": "function", "function": map[string]any{"name": name, "arguments": args}}}}}},
		"usage": map[string]any{"prompt_tokens": 100, "completion_tokens": 10}})
}

func textAnswer(w http.ResponseWriter, text string) {
	json.NewEncoder(w).Encode(map[string]any{"choices": []any{map[string]any{"message": map[string]any{"role": "assistant", "content": text}}},
		"usage": map[string]any{"prompt_tokens": 200, "completion_tokens": 30}})
}

var idInTool = regexp.MustCompile(`"id":"([^"]+)"`)

func llmAssistant(t *testing.T, f *fakeLLM, timeout time.Duration) *Assistant {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	llm, err := NewLLM(LLMConfig{BaseURL: srv.URL + "/v1", Model: "fake", Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return newDemoAssistant(t, func(o *Options) { o.LLM = llm })
}

func TestLLMToolCallsAndGrounding(t *testing.T) {
	var real string
	f := &fakeLLM{script: []func(http.ResponseWriter, []message){
		func(w http.ResponseWriter, _ []message) {
			toolCallAnswer(w, "search_products", `{"query":"label maker","brand":"Brother"}`)
		},
		func(w http.ResponseWriter, msgs []message) {
			last := msgs[len(msgs)-1]
			if last.Role != "tool" {
				http.Error(w, "no tool result", 400)
				return
			}
			real = idInTool.FindStringSubmatch(last.Content)[1]
			textAnswer(w, fmt.Sprintf("Here are label makers.\n1. A Brother labeler [%s] for $19.99.\n2. The Acme Label Pro [B0INVENTED] is great.\n3. Samsung makes one too.", real))
		},
	}}
	a := llmAssistant(t, f, 5*time.Second)
	var streamed strings.Builder
	ans, err := a.Turn(context.Background(), Request{Message: "a Brother label maker"}, func(kind string, v any) {
		if kind == "text" {
			streamed.WriteString(v.(string))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if ans.Mode != "llm" || ans.Fallback != "" {
		t.Fatalf("mode %s fallback %q", ans.Mode, ans.Fallback)
	}
	if strings.Contains(ans.Reply, "B0INVENTED") || strings.Contains(ans.Reply, "Samsung") || strings.Contains(ans.Reply, "19.99") {
		t.Errorf("ungrounded content reached the shopper: %q", ans.Reply)
	}
	if !strings.Contains(ans.Reply, real) {
		t.Errorf("the grounded product was removed: %q", ans.Reply)
	}
	if ans.Removed == nil || ans.Removed.Products != 1 || ans.Removed.Prices != 1 || ans.Removed.Attributes != 1 {
		t.Errorf("removed %+v, want 1 product, 1 price, 1 attribute", ans.Removed)
	}
	if len(ans.Products) != 1 || ans.Products[0].ID != real {
		t.Errorf("products %+v, want only %s", ans.Products, real)
	}
	if !slices.Equal(ans.Constraints.Brands, []string{"Brother"}) || ans.Constraints.Query != "label maker" {
		t.Errorf("constraints %+v", ans.Constraints)
	}
	if streamed.String() != ans.Reply {
		t.Errorf("streamed %q, answered %q", streamed.String(), ans.Reply)
	}
}

func TestLLMFallsBack(t *testing.T) {
	for _, c := range []struct {
		name, reason string
		step         func(w http.ResponseWriter, msgs []message)
	}{
		{"malformed arguments", "malformed_tool_call", func(w http.ResponseWriter, _ []message) { toolCallAnswer(w, "search_products", `{"query": "pen"`) }},
		{"unknown tool", "malformed_tool_call", func(w http.ResponseWriter, _ []message) { toolCallAnswer(w, "drop_tables", `{}`) }},
		{"rate limited", "rate_limited", func(w http.ResponseWriter, _ []message) { http.Error(w, "slow down", http.StatusTooManyRequests) }},
		{"server error", "error", func(w http.ResponseWriter, _ []message) { http.Error(w, "boom", 500) }},
		{"not a completion", "error", func(w http.ResponseWriter, _ []message) { w.Write([]byte(`{"choices":[]}`)) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := llmAssistant(t, &fakeLLM{script: []func(http.ResponseWriter, []message){c.step}}, 5*time.Second)
			ans, err := a.Turn(context.Background(), Request{Message: "staplers"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if ans.Mode != "builtin" || ans.Fallback != c.reason || len(ans.Products) == 0 || ans.Constraints.Query != "stapler" {
				t.Errorf("mode %s fallback %q products %d constraints %+v", ans.Mode, ans.Fallback, len(ans.Products), ans.Constraints)
			}
		})
	}
}

func TestLLMTimeoutFallsBack(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	f := &fakeLLM{script: []func(http.ResponseWriter, []message){func(w http.ResponseWriter, _ []message) {
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
	}}}
	a := llmAssistant(t, f, 50*time.Millisecond)
	ans, err := a.Turn(context.Background(), Request{Message: "shredders"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ans.Mode != "builtin" || ans.Fallback != "timeout" || len(ans.Products) == 0 {
		t.Errorf("mode %s fallback %q products %d", ans.Mode, ans.Fallback, len(ans.Products))
	}
}

func TestPromptDirOverrides(t *testing.T) {
	dir := t.TempDir()
	if err := writeFile(dir+"/system.md", "Be brief."); err != nil {
		t.Fatal(err)
	}
	l, err := NewLLM(LLMConfig{BaseURL: "http://127.0.0.1:1/v1", Model: "m", PromptDir: dir})
	if err != nil || l.system != "Be brief." || len(l.tools) != len(toolList) {
		t.Fatalf("%v %q %d", err, l.system, len(l.tools))
	}
	if err := writeFile(dir+"/tools.json", `[{"type":"function","function":{"name":"rm_rf"}}]`); err != nil {
		t.Fatal(err)
	}
	if _, err := NewLLM(LLMConfig{BaseURL: "http://127.0.0.1:1/v1", Model: "m", PromptDir: dir}); err == nil {
		t.Fatal("a tool Aisle does not have was accepted")
	}
}

// sse writes a streamed chat completion: each chunk a data: line.
func sse(w http.ResponseWriter, chunks ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	for _, c := range chunks {
		fmt.Fprintf(w, "data: %s\n\n", c)
		w.(http.Flusher).Flush()
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}

func textChunk(s string) string {
	b, _ := json.Marshal(map[string]any{"choices": []any{map[string]any{"delta": map[string]any{"content": s}}}})
	return string(b)
}

// A streamed model: tool-call arguments arrive in pieces, the reply a few
// words at a time; checked sentences go out as they complete, the
// invented product never does.
func TestLLMStreaming(t *testing.T) {
	var real string
	f := &fakeLLM{script: []func(http.ResponseWriter, []message){
		func(w http.ResponseWriter, _ []message) {
			sse(w,
				`{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call-1","type":"function","function":{"name":"search_products","arguments":"{\"query\":"}}]}}]}`,
				`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":" \"shredder\"}"}}]}}]}`,
				`{"choices":[],"usage":{"prompt_tokens":120,"completion_tokens":12}}`)
		},
		func(w http.ResponseWriter, msgs []message) {
			real = idInTool.FindStringSubmatch(msgs[len(msgs)-1].Content)[1]
			sse(w, textChunk("Here are "), textChunk("shredders. The "), textChunk(fmt.Sprintf("first is [%s]. Also", real)),
				textChunk(" try the Zap 9000 [NOPE123]."), textChunk(" Ask me for more"))
		},
	}}
	a := llmAssistant(t, f, 5*time.Second)
	var pieces []string
	ans, err := a.Turn(context.Background(), Request{Message: "shredders"}, func(kind string, v any) {
		if kind == "text" {
			pieces = append(pieces, v.(string))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if ans.Mode != "llm" || ans.Constraints.Query != "shredder" {
		t.Fatalf("mode %s fallback %q constraints %+v", ans.Mode, ans.Fallback, ans.Constraints)
	}
	if len(pieces) < 3 || strings.TrimSpace(strings.Join(pieces, "")) != ans.Reply {
		t.Errorf("streamed %q, answered %q", pieces, ans.Reply)
	}
	if strings.Contains(ans.Reply, "NOPE123") || !strings.Contains(ans.Reply, real) || !strings.HasSuffix(ans.Reply, "Ask me for more") {
		t.Errorf("reply %q", ans.Reply)
	}
	if ans.Removed == nil || ans.Removed.Products != 1 || len(ans.Products) != 1 || ans.Products[0].ID != real {
		t.Errorf("removed %+v, products %+v", ans.Removed, ans.Products)
	}
}

// A stream that stops half way: the partial text is declared void
// ("reset") and the built-in answer follows.
func TestLLMStreamCutFallsBack(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	f := &fakeLLM{script: []func(http.ResponseWriter, []message){func(w http.ResponseWriter, _ []message) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: %s\n\n", textChunk("Let me look. "))
		fmt.Fprintf(w, "data: %s\n\n", textChunk("Then"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
	}}}
	a := llmAssistant(t, f, 100*time.Millisecond)
	var kinds []string
	ans, err := a.Turn(context.Background(), Request{Message: "staplers"}, func(kind string, _ any) {
		if len(kinds) == 0 || kinds[len(kinds)-1] != kind {
			kinds = append(kinds, kind)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if ans.Mode != "builtin" || ans.Fallback != "timeout" || strings.Join(kinds, ",") != "text,reset,text,products" {
		t.Errorf("mode %s fallback %q events %v", ans.Mode, ans.Fallback, kinds)
	}
}
