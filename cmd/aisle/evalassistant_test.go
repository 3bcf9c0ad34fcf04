package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aisle-dev/aisle/assistant"
	"github.com/aisle-dev/aisle/assistant/assisteval"
)

// scriptedChat is a deterministic OpenAI-compatible chat completions
// server for the eval: every fifth message of a shopper gets a tool call
// whose arguments are not JSON (the assistant falls back to its built-in
// understanding); every other one calls search_products with the message
// as the query, and, given the tool's result, answers citing its first
// product and an invented one, [ZZFAKE0001], which the grounding checker
// must remove.
type scriptedChat struct {
	mu    sync.Mutex
	users int // shopper messages seen
	calls int
}

var firstID = regexp.MustCompile(`"id":"([^"]+)"`)

func (f *scriptedChat) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Model    string `json:"model"`
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
		Tools  []json.RawMessage `json:"tools"`
		Stream bool              `json:"stream"`
	}
	if r.URL.Path != "/v1/chat/completions" || json.NewDecoder(r.Body).Decode(&body) != nil || len(body.Messages) == 0 ||
		len(body.Tools) == 0 || body.Model != "scripted" || body.Stream {
		http.Error(w, "not a chat completion request this server knows", http.StatusBadRequest)
		return
	}
	last := body.Messages[len(body.Messages)-1]
	f.mu.Lock()
	f.calls++
	n := f.users
	if last.Role == "user" {
		f.users++
	}
	f.mu.Unlock()
	var msg map[string]any
	switch {
	case last.Role == "user" && n%5 == 4:
		msg = toolCallMsg("search_products", `{"query": staplers`)
	case last.Role == "user":
		args, _ := json.Marshal(map[string]string{"query": last.Content})
		msg = toolCallMsg("search_products", string(args))
	default: // the tool's result
		text := "Nothing matched that."
		if m := firstID.FindStringSubmatch(last.Content); m != nil {
			text = fmt.Sprintf("The best match is [%s].", m[1])
		}
		msg = map[string]any{"role": "assistant", "content": text + " You could also try the Zap 9000 [ZZFAKE0001]."}
	}
	json.NewEncoder(w).Encode(map[string]any{"choices": []any{map[string]any{"message": msg, "finish_reason": "stop"}},
		"usage": map[string]any{"prompt_tokens": 100, "completion_tokens": 10}})
}

func toolCallMsg(name, args string) map[string]any {
	return map[string]any{"role": "assistant", "content": "", "tool_calls": []any{map[string]any{"id": "call-1", "type": "function",
		"function": map[string]any{"name": name, "arguments": args}}}}
}

// `aisle eval assistant` with a language model configured (in the config
// file, as a server would have it) runs the judged set through the model's
// path and reports the same metrics for both modes, plus what the model
// did: the turns it answered, the fallbacks by reason, and what the
// grounding checker removed, in numbers the scripted model fixes.
func TestEvalAssistantLLMMode(t *testing.T) {
	fake := &scriptedChat{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	// a small judged set: the first 12 conversations of the built-in one
	var lines []string
	for _, l := range bytes.Split(assistant.JudgedSet, []byte("\n")) {
		if len(l) > 0 && len(lines) < 12 {
			lines = append(lines, string(l))
		}
	}
	judged := filepath.Join(dir, "judged.jsonl")
	if err := os.WriteFile(judged, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases, err := assisteval.Load(strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	turns := 0
	for _, c := range cases {
		turns += len(c.Turns)
	}
	cfgPath := filepath.Join(dir, "aisle.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf("assistant:\n  llm:\n    base_url: %s/v1\n    model: scripted\n    timeout: 10s\n", srv.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AISLE_CONFIG", "")
	out, err := runAisle(t, "eval", "assistant", "--config", cfgPath, "--judged", judged, "--recommender=false", "--format", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var reps []assisteval.Report
	if err := json.Unmarshal([]byte(out), &reps); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if len(reps) != 2 || reps[0].Mode != "builtin" || reps[1].Mode != "llm" {
		t.Fatalf("want a builtin and an llm report, got %s", out)
	}
	fallbacks := turns / 5 // every fifth shopper message gets a malformed tool call
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"builtin turns", reps[0].Turns, turns},
		{"llm turns", reps[1].Turns, turns},
		{"builtin model turns", reps[0].ModelTurns, 0},
		{"builtin fallbacks", reps[0].Fallbacks, 0},
		{"builtin removed", reps[0].Removed, assistant.Removed{}},
		{"llm model turns", reps[1].ModelTurns, turns - fallbacks},
		{"llm fallbacks", reps[1].Fallbacks, fallbacks},
		{"llm fallback reasons", fmt.Sprint(reps[1].FallbackReasons), fmt.Sprint(map[string]int{"malformed_tool_call": fallbacks})},
		// one invented product in every reply of the model, each removed
		{"llm removed", reps[1].Removed, assistant.Removed{Products: turns - fallbacks}},
		{"llm ungrounded after the checker", reps[1].Ungrounded, 0.0},
		{"builtin ungrounded", reps[0].Ungrounded, 0.0},
		{"llm judged turns", reps[1].JudgedTurns, reps[0].JudgedTurns},
		{"model calls", fake.calls, 2*(turns-fallbacks) + fallbacks},
	} {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
	if reps[1].JudgedTurns == 0 || reps[1].NDCG5 <= 0 || reps[1].ConstraintAccuracy < 0 || reps[1].ConstraintAccuracy > 1 || reps[1].P99MS < reps[1].P50MS {
		t.Errorf("llm report metrics out of range: %+v", reps[1])
	}

	// the text report has both rows and the model's line; with no model
	// configured there is only the built-in row
	out, err = runAisle(t, "eval", "assistant", "--config", cfgPath, "--judged", judged, "--recommender=false")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := fmt.Sprintf("%d of %d turns answered by the model; fallbacks: malformed_tool_call %d; the grounding checker removed %d products, 0 prices, 0 attributes",
		turns-fallbacks, turns, fallbacks, turns-fallbacks)
	if !regexp.MustCompile(`(?m)^builtin `).MatchString(out) || !regexp.MustCompile(`(?m)^llm `).MatchString(out) || !strings.Contains(out, want) {
		t.Errorf("text report lacks a row or %q:\n%s", want, out)
	}
	out, err = runAisle(t, "eval", "assistant", "--judged", judged, "--recommender=false")
	if err != nil || regexp.MustCompile(`(?m)^llm `).MatchString(out) {
		t.Errorf("no model configured: %v\n%s", err, out)
	}
	if _, err := runAisle(t, "eval", "assistant", "--judged", judged, "--recommender=false", "--llm-url", srv.URL+"/v1"); err == nil {
		t.Error("a model URL without a model name was accepted")
	}
}
