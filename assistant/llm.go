package assistant

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

//go:embed prompts/system.md prompts/tools.json
var prompts embed.FS

// LLMConfig configures the language model mode.
type LLMConfig struct {
	BaseURL string // OpenAI-compatible API root, e.g. http://127.0.0.1:11434/v1
	Model   string
	Key     string        // bearer token; "" sends none
	Timeout time.Duration // per model call (default 20s)
	// MaxRounds bounds the tool-calling rounds of one turn (default 4).
	MaxRounds int
	// PromptDir, when set, holds system.md and/or tools.json replacing the
	// embedded defaults.
	PromptDir string
	Client    *http.Client
}

// LLM is a client of an OpenAI-compatible chat completions endpoint with
// Aisle's functions as tools.
type LLM struct {
	cfg    LLMConfig
	system string
	tools  []json.RawMessage
	names  map[string]bool
}

// NewLLM checks the configuration and reads the prompts.
func NewLLM(cfg LLMConfig) (*LLM, error) {
	if cfg.BaseURL == "" || cfg.Model == "" {
		return nil, errors.New("assistant: the language model needs assistant.llm.base_url and assistant.llm.model")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 20 * time.Second
	}
	if cfg.MaxRounds <= 0 {
		cfg.MaxRounds = 4
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	read := func(name string) ([]byte, error) {
		if cfg.PromptDir != "" {
			b, err := os.ReadFile(filepath.Join(cfg.PromptDir, name))
			if err == nil {
				return b, nil
			}
			if !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("assistant: read prompt %s: %w", name, err)
			}
		}
		return prompts.ReadFile("prompts/" + name)
	}
	sys, err := read("system.md")
	if err != nil {
		return nil, err
	}
	tb, err := read("tools.json")
	if err != nil {
		return nil, err
	}
	l := &LLM{cfg: cfg, system: string(sys), names: map[string]bool{}}
	if err := json.Unmarshal(tb, &l.tools); err != nil {
		return nil, fmt.Errorf("assistant: tools.json is not a JSON array of tools: %w", err)
	}
	for _, t := range l.tools {
		var d struct {
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		if json.Unmarshal(t, &d) != nil || !toolNames[d.Function.Name] {
			return nil, fmt.Errorf("assistant: tools.json: %s is not one of Aisle's tools (%s)", t, strings.Join(toolList, ", "))
		}
		l.names[d.Function.Name] = true
	}
	return l, nil
}

type message struct {
	Role       string     `json:"role"`
	Content    string     `json:"content"`
	ToolCalls  []toolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

type toolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type chatResponse struct {
	Choices []struct {
		Message      message `json:"message"`
		FinishReason string  `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

// Errors of a model call, each a reason to fall back.
var (
	errTimeout     = errors.New("the language model did not answer in time")
	errRateLimited = errors.New("the language model refused: rate limited (429)")
	errMalformed   = errors.New("the language model made a malformed tool call")
)

func fallbackReason(err error) string {
	switch {
	case errors.Is(err, errTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, errRateLimited):
		return "rate_limited"
	case errors.Is(err, errMalformed):
		return "malformed_tool_call"
	}
	return "error"
}

// chat makes one call to the model. With onText set it asks for a
// streamed answer and hands it the text as it arrives.
func (l *LLM) chat(ctx context.Context, msgs []message, m *Metrics, onText func(string)) (*message, error) {
	params := map[string]any{"model": l.cfg.Model, "messages": msgs, "tools": l.tools, "tool_choice": "auto", "temperature": 0}
	if onText != nil {
		params["stream"] = true
		params["stream_options"] = map[string]any{"include_usage": true}
	}
	body, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(l.cfg.BaseURL, "/")+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("assistant: model request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if l.cfg.Key != "" {
		req.Header.Set("Authorization", "Bearer "+l.cfg.Key)
	}
	start := time.Now()
	resp, err := l.cfg.Client.Do(req)
	m.LLMLatency.Observe(time.Since(start).Seconds())
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%v): %v", errTimeout, l.cfg.Timeout, err)
		}
		return nil, fmt.Errorf("assistant: call the model at %s: %w", l.cfg.BaseURL, err)
	}
	defer resp.Body.Close()
	if onText != nil && resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		out, err := readStream(resp.Body, onText, m)
		if err != nil && ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%v)", errTimeout, l.cfg.Timeout)
		}
		return out, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%v)", errTimeout, l.cfg.Timeout)
		}
		return nil, fmt.Errorf("assistant: read the model's answer: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, errRateLimited
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("assistant: the model answered %s: %.200s", resp.Status, b)
	}
	var cr chatResponse
	if err := json.Unmarshal(b, &cr); err != nil || len(cr.Choices) == 0 {
		return nil, fmt.Errorf("assistant: the model's answer is not a chat completion: %.200s", b)
	}
	m.Tokens.WithLabelValues("prompt").Add(float64(cr.Usage.PromptTokens))
	m.Tokens.WithLabelValues("completion").Add(float64(cr.Usage.CompletionTokens))
	if onText != nil && cr.Choices[0].Message.Content != "" {
		onText(cr.Choices[0].Message.Content) // a server that does not stream
	}
	return &cr.Choices[0].Message, nil
}

// readStream reads a streamed chat completion (server-sent events of
// chunks, "data: [DONE]" last): text deltas go to onText as they come,
// tool-call deltas are put together by index.
func readStream(r io.Reader, onText func(string), m *Metrics) (*message, error) {
	out := &message{Role: "assistant"}
	var content strings.Builder
	sc := bufio.NewScanner(io.LimitReader(r, 8<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data:")
		if !ok {
			continue
		}
		data = strings.TrimSpace(data)
		if data == "[DONE]" {
			break
		}
		var chunk struct {
			Choices []struct {
				Delta struct {
					Content   string `json:"content"`
					ToolCalls []struct {
						Index    int    `json:"index"`
						ID       string `json:"id"`
						Type     string `json:"type"`
						Function struct {
							Name      string `json:"name"`
							Arguments string `json:"arguments"`
						} `json:"function"`
					} `json:"tool_calls"`
				} `json:"delta"`
			} `json:"choices"`
			Usage *struct {
				PromptTokens     int `json:"prompt_tokens"`
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			return nil, fmt.Errorf("assistant: a streamed chunk of the model is not JSON: %.100s", data)
		}
		if chunk.Usage != nil {
			m.Tokens.WithLabelValues("prompt").Add(float64(chunk.Usage.PromptTokens))
			m.Tokens.WithLabelValues("completion").Add(float64(chunk.Usage.CompletionTokens))
		}
		for _, c := range chunk.Choices {
			if c.Delta.Content != "" {
				content.WriteString(c.Delta.Content)
				onText(c.Delta.Content)
			}
			for _, tc := range c.Delta.ToolCalls {
				if tc.Index < 0 || tc.Index > 32 {
					return nil, fmt.Errorf("%w: tool call index %d", errMalformed, tc.Index)
				}
				for len(out.ToolCalls) <= tc.Index {
					out.ToolCalls = append(out.ToolCalls, toolCall{Type: "function"})
				}
				t := &out.ToolCalls[tc.Index]
				if tc.ID != "" {
					t.ID = tc.ID
				}
				t.Function.Name += tc.Function.Name
				t.Function.Arguments += tc.Function.Arguments
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("assistant: read the model's stream: %w", err)
	}
	out.Content = content.String()
	return out, nil
}

// llmTurn answers with the model: tool calls until it replies, then the
// grounding checker.
func (a *Assistant) llmTurn(ctx context.Context, conv *Conversation, msg string, emit Emit, stream bool) (*Answer, error) {
	l := a.o.LLM
	msgs := []message{{Role: "system", Content: l.system}}
	for _, t := range conv.Turns[max(0, len(conv.Turns)-6):] {
		msgs = append(msgs, message{Role: "user", Content: t.Message}, message{Role: "assistant", Content: t.Reply})
	}
	msgs = append(msgs, message{Role: "user", Content: msg})
	run := &toolRun{a: a, conv: conv, grounded: map[string]bool{}}
	for id := range conv.Grounded {
		run.grounded[id] = true
	}
	// Streamed, the reply is checked a sentence at a time as it arrives
	// (against what the tools grounded so far) and only checked sentences
	// go out; otherwise the whole reply is checked at the end.
	var st *sentenceStream
	var onText func(string)
	if stream {
		st = &sentenceStream{c: a.newChecker(run.grounded, conv, msg), emit: emit}
		onText = st.add
	}
	var reply *message
	for round := 0; ; round++ {
		out, err := l.chat(ctx, msgs, a.o.Metrics, onText)
		if err != nil {
			return nil, err
		}
		if len(out.ToolCalls) == 0 {
			reply = out
			break
		}
		if round+1 >= l.cfg.MaxRounds {
			return nil, fmt.Errorf("%w: still calling tools after %d rounds", errMalformed, l.cfg.MaxRounds)
		}
		msgs = append(msgs, message{Role: "assistant", Content: out.Content, ToolCalls: out.ToolCalls})
		for _, tc := range out.ToolCalls {
			if !l.names[tc.Function.Name] {
				return nil, fmt.Errorf("%w: unknown tool %q", errMalformed, tc.Function.Name)
			}
			res, err := run.call(ctx, tc.Function.Name, tc.Function.Arguments)
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, message{Role: "tool", ToolCallID: tc.ID, Content: res})
		}
		if st != nil {
			st.c.learn() // the next round may name what the tools just returned
		}
	}
	conv.ground(keys(run.grounded)...)
	var text string
	var cited []string
	var rm Removed
	if st != nil {
		st.flush()
		text, cited, rm = strings.TrimSpace(st.out.String()), st.c.cited, st.c.rm
	} else {
		text, cited, rm = a.check(reply.Content, run.grounded, conv, msg)
	}
	ans := &Answer{Intent: run.intent, Constraints: conv.Constraints}
	if ans.Intent == "" {
		ans.Intent = IntentSearch
	}
	for _, id := range cited {
		if p, ok := a.o.Catalogue.Get(id); ok && len(ans.Products) < a.o.N {
			ans.Products = append(ans.Products, cardOf(p, run.why[id]))
		}
	}
	if len(ans.Products) == 0 {
		for _, id := range run.last {
			if p, ok := a.o.Catalogue.Get(id); ok && len(ans.Products) < a.o.N {
				ans.Products = append(ans.Products, cardOf(p, run.why[id]))
			}
		}
	}
	zh := hasHan(msg)
	if strings.TrimSpace(text) == "" {
		text = say(zh, "Here is what I found:", "为您找到：") + listText(ans.Products, zh)
		if st != nil {
			emit("text", text)
		}
	}
	ans.Reply = text
	if rm.Products+rm.Prices+rm.Attributes > 0 {
		ans.Removed = &rm
		a.o.Metrics.Ungrounded.WithLabelValues("product").Add(float64(rm.Products))
		a.o.Metrics.Ungrounded.WithLabelValues("price").Add(float64(rm.Prices))
		a.o.Metrics.Ungrounded.WithLabelValues("attribute").Add(float64(rm.Attributes))
	}
	if len(ans.Products) > 0 && run.intent != IntentDetail && run.intent != IntentCart {
		conv.Shown = cardIDs(ans.Products)
	}
	ans.Suggestions = suggestions(ans.Products, conv.Constraints, zh)
	if st == nil {
		// not streamed: the checked text goes out now, a line at a time
		for _, line := range strings.SplitAfter(text, "\n") {
			emit("text", line)
		}
	}
	return ans, nil
}

// sentenceStream checks a streamed reply a sentence at a time and emits
// the sentences that pass.
type sentenceStream struct {
	c    *checker
	emit Emit
	buf  strings.Builder
	out  strings.Builder
}

func (s *sentenceStream) add(delta string) {
	s.buf.WriteString(delta)
	parts := splitSentences(s.buf.String())
	if len(parts) < 2 {
		return // no sentence is complete yet (the last part may go on)
	}
	for _, p := range parts[:len(parts)-1] {
		s.pass(p)
	}
	rest := parts[len(parts)-1]
	s.buf.Reset()
	s.buf.WriteString(rest)
}

func (s *sentenceStream) flush() {
	if s.buf.Len() > 0 {
		s.pass(s.buf.String())
		s.buf.Reset()
	}
}

func (s *sentenceStream) pass(sentence string) {
	if out, ok := s.c.sentence(sentence); ok {
		s.out.WriteString(out)
		s.emit("text", out)
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
