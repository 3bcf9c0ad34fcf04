// Package assistant is Aisle's shopping assistant: a conversation over the
// shop's own search and recommendations. The built-in understanding (no
// language model) parses a message with the vocabulary of the catalogue
// (brands, categories, attribute values, learned at run time), price and
// sort language in English and Chinese, and merges it with the earlier
// turns ("cheaper ones", "only Casio", "the second one"). With a language
// model configured (any OpenAI-compatible chat completions endpoint) the
// model calls Aisle's functions as tools; a grounding checker removes from
// its reply every product, price and attribute no tool result gave, and
// any failure of the model falls back to the built-in understanding for
// that turn.
//
// The package holds no HTTP: api/assistant.go translates requests.
package assistant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/reqid"
	"github.com/aisle-dev/aisle/recommend"
	"github.com/aisle-dev/aisle/search"
)

// Searcher runs a product search (*search.Index).
type Searcher interface {
	Search(ctx context.Context, req search.Request) (*search.Result, error)
}

// Recommender gives recommendations (*recommend.Service).
type Recommender interface {
	Recommend(ctx context.Context, user string, req recommend.Request) (*recommend.Answer, error)
	Similar(ctx context.Context, itemID string, req recommend.Request) (*recommend.Answer, error)
	BoughtTogether(ctx context.Context, itemID string, req recommend.Request) (*recommend.Answer, error)
	Popular(window time.Duration, req recommend.Request) *recommend.Answer
	Popularity(itemID string) float64
}

// EventSink stores events (*engine.Engine): add to cart.
type EventSink interface {
	AddEvents(ctx context.Context, evs []events.Event) error
}

// Options assemble an Assistant.
type Options struct {
	Catalogue     *Catalogue
	List          ItemLister // reads the catalogue on first use
	Search        Searcher
	Recommend     Recommender // nil: no recommendations (similar items come from search)
	Events        EventSink   // nil: add to cart is not recorded
	Conversations *Conversations
	LLM           *LLM // nil: built-in understanding only
	Metrics       *Metrics
	Logger        *slog.Logger
	// N is the number of products in an answer (default 5).
	N int
}

// Assistant answers shoppers' messages. It is safe for concurrent use.
type Assistant struct {
	o Options
}

// New returns an Assistant.
func New(o Options) (*Assistant, error) {
	if o.Catalogue == nil || o.Search == nil || o.Conversations == nil {
		return nil, errors.New("assistant: a catalogue, a searcher and a conversation store are needed")
	}
	if o.N <= 0 {
		o.N = 5
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	return &Assistant{o: o}, nil
}

// Metrics returns the assistant's Prometheus metrics.
func (a *Assistant) Metrics() *Metrics { return a.o.Metrics }

// Close saves the conversations still to be written.
func (a *Assistant) Close() { a.o.Conversations.Close() }

// Request is one message of a shopper.
type Request struct {
	ConversationID string `json:"conversation_id,omitempty"`
	Message        string `json:"message"`
	UserID         string `json:"user_id,omitempty"`
	SessionID      string `json:"session_id,omitempty"`
	// Mode forces "builtin" (the eval compares modes); "" uses the model
	// when one is configured.
	Mode string `json:"-"`
}

// Card is one product of an answer.
type Card struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Brand    string   `json:"brand,omitempty"`
	Category string   `json:"category,omitempty"`
	Price    *float64 `json:"price,omitempty"`
	ImageURL string   `json:"image_url,omitempty"`
	URL      string   `json:"url"`
	Why      string   `json:"why"`
}

// Answer is the assistant's answer to one message.
type Answer struct {
	ConversationID string `json:"conversation_id"`
	// RequestID names this answer (internal/reqid): the turn's log line
	// carries it with the products shown, and the API and storefront log
	// the answer as an impression under it (surface "assistant"), so a
	// click, cart or purchase sent back with it and the product's position
	// is attributed to the assistant.
	RequestID   string      `json:"request_id"`
	Reply       string      `json:"reply"`
	Products    []Card      `json:"products"`
	Constraints Constraints `json:"constraints"`
	Intent      Intent      `json:"intent"`
	Suggestions []string    `json:"suggestions"`
	Mode        string      `json:"mode"`               // builtin or llm
	Fallback    string      `json:"fallback,omitempty"` // why the model was not used this turn
	// Removed counts what the grounding checker took out of the model's
	// reply (absent in built-in mode and when nothing was removed).
	Removed *Removed `json:"removed,omitempty"`
	// UserID and SessionID are the conversation's shopper (this turn's, or
	// an earlier turn's when this one named none): the impression log
	// records the answer under them. Not sent to the shopper.
	UserID    string `json:"-"`
	SessionID string `json:"-"`
}

// Emit receives the answer as it is produced: text pieces, then the
// products. Nil is allowed.
type Emit func(kind string, v any)

// MaxMessageBytes is the longest message accepted.
const MaxMessageBytes = 2000

// ErrBadRequest wraps the errors that are the caller's mistake.
var ErrBadRequest = errors.New("bad assistant request")

// Turn answers one message, continuing the conversation it names (a new
// one when the id is empty, unknown or expired).
func (a *Assistant) Turn(ctx context.Context, req Request, emit Emit) (*Answer, error) {
	start := time.Now()
	if strings.TrimSpace(req.Message) == "" {
		return nil, fmt.Errorf("%w: message is empty: send {\"message\": \"what you are looking for\"}", ErrBadRequest)
	}
	if len(req.Message) > MaxMessageBytes {
		return nil, fmt.Errorf("%w: message is %d bytes, longer than the %d allowed", ErrBadRequest, len(req.Message), MaxMessageBytes)
	}
	stream := emit != nil // a caller that takes pieces gets the model's text as it comes
	if emit == nil {
		emit = func(string, any) {}
	}
	if err := a.o.Catalogue.Load(ctx, a.o.List); err != nil {
		return nil, err
	}
	conv, ok, err := a.o.Conversations.Get(ctx, req.ConversationID)
	if err != nil {
		a.o.Logger.Warn("assistant conversation unreadable; starting a new one", "conversation", req.ConversationID, "error", err)
	}
	if !ok {
		// a new id even for an unknown one: ids are never chosen by clients,
		// so one cannot be guessed to read another's conversation
		conv = &Conversation{ID: newConversationID()}
	}
	if req.UserID != "" {
		conv.UserID = req.UserID
	}
	if req.SessionID != "" {
		conv.SessionID = req.SessionID
	}
	if conv.UserID != "" {
		ctx = withShopper(ctx, conv.UserID)
	}
	var ans *Answer
	mode, fallback := "builtin", ""
	if a.o.LLM != nil && req.Mode != "builtin" {
		sent := false
		ans, err = a.llmTurn(ctx, conv, req.Message, func(kind string, v any) { sent = true; emit(kind, v) }, stream)
		if err != nil {
			if sent {
				emit("reset", struct{}{}) // the model's partial text is void: the built-in answer follows
			}
			fallback = fallbackReason(err)
			a.o.Metrics.Fallbacks.WithLabelValues(fallback).Inc()
			a.o.Logger.Warn("assistant model failed; answering with the built-in understanding", "reason", fallback, "error", err)
			ans = nil
		} else {
			mode = "llm"
		}
	}
	if ans == nil {
		ans, err = a.builtinTurn(ctx, conv, req.Message)
		if err != nil {
			return nil, err
		}
		streamText(ans.Reply, emit)
	}
	ans.ConversationID, ans.Mode, ans.Fallback, ans.RequestID = conv.ID, mode, fallback, reqid.New()
	ans.UserID, ans.SessionID = conv.UserID, conv.SessionID
	if ans.Products == nil {
		ans.Products = []Card{}
	}
	if ans.Suggestions == nil {
		ans.Suggestions = []string{}
	}
	emit("products", ans.Products)
	ids := make([]string, len(ans.Products))
	for i, c := range ans.Products {
		ids[i] = c.ID
	}
	conv.ground(ids...)
	conv.addTurn(Turn{Message: req.Message, Reply: ans.Reply, Products: ids, Mode: mode, At: time.Now().UTC()})
	conv.Updated = time.Now()
	a.o.Conversations.Put(conv)
	took := time.Since(start)
	a.o.Metrics.Turns.WithLabelValues(mode, string(ans.Intent)).Inc()
	a.o.Metrics.Latency.WithLabelValues(mode).Observe(took.Seconds())
	a.o.Logger.Info("assistant turn", "request_id", ans.RequestID, "conversation", conv.ID, "user", conv.UserID, "session", conv.SessionID, "mode", mode,
		"intent", ans.Intent, "products", ids, "fallback", fallback, "duration_ms", float64(took.Microseconds())/1000)
	return ans, nil
}

// streamText emits the reply a few words at a time, as a model would.
func streamText(s string, emit Emit) {
	words := strings.SplitAfter(s, " ")
	for i := 0; i < len(words); i += 4 {
		emit("text", strings.Join(words[i:min(i+4, len(words))], ""))
	}
}

// builtinTurn answers with the built-in understanding.
func (a *Assistant) builtinTurn(ctx context.Context, conv *Conversation, msg string) (*Answer, error) {
	v := a.o.Catalogue.Vocabulary()
	p := v.Parse(msg)
	conv.Lang = p.Lang
	zh := p.Lang == "zh"
	switch p.Intent {
	case IntentDetail, IntentCompare, IntentSimilar, IntentTogether, IntentCart:
		return a.aboutShown(ctx, conv, p, zh)
	case IntentRecommend:
		return a.recommendTurn(ctx, conv, p, zh)
	case IntentHelp:
		ans := a.popularAnswer(conv, zh)
		ans.Intent = IntentHelp
		ans.Reply = say(zh, "I can find products by what you need, brand, price (\"under $50\", \"cheapest\") and more, compare two, or show similar ones. Popular right now:",
			"我可以按需求、品牌、价格（如“500元以下”“最便宜”）帮您找商品，也可以比较两件商品或找相似的。现在热门的有：") + listText(ans.Products, zh)
		return ans, nil
	}
	c := merge(conv, p, a.o.Catalogue)
	if !p.modifies() && len(conv.Turns) == 0 {
		ans := a.popularAnswer(conv, zh)
		ans.Intent = IntentSearch
		ans.Reply = say(zh, "I did not recognise a product in that. Tell me what you are looking for (a product, a brand, a price). Popular right now:",
			"我没有认出您要的商品。请告诉我您想找什么（商品、品牌、价格）。现在热门的有：") + listText(ans.Products, zh)
		return ans, nil
	}
	conv.Constraints = c
	cards, total, relaxed, err := a.find(ctx, c, v, zh)
	if err != nil {
		return nil, err
	}
	ans := &Answer{Intent: IntentSearch, Constraints: c}
	if len(cards) == 0 {
		pop := a.popularAnswer(conv, zh)
		ans.Products = pop.Products
		ans.Reply = say(zh, "Nothing in the shop matches "+describe(c, false)+", and nothing close either. Popular products instead:",
			"店里没有符合"+describe(c, true)+"的商品，也没有相近的。这些是热门商品：") + listText(ans.Products, zh)
	} else if relaxed != "" {
		ans.Products = cards
		ans.Reply = say(zh, fmt.Sprintf("Nothing matches %s. The closest I have %s:", describe(c, false), relaxed),
			fmt.Sprintf("没有符合%s的商品。最接近的（%s）：", describe(c, true), relaxed)) + listText(cards, zh)
	} else if p.Topic() && len(p.Unknown) > 0 {
		// a word no product uses: what was found matches only the others
		words := `"` + strings.Join(p.Unknown, `", "`) + `"`
		ans.Products = cards
		ans.Reply = say(zh, fmt.Sprintf("Nothing in the shop is %s. The closest I have for %s:", words, describe(c, false)),
			fmt.Sprintf("店里没有%s。与%s最接近的：", words, describe(c, true))) + listText(cards, zh)
	} else {
		ans.Products = cards
		ans.Reply = say(zh, fmt.Sprintf("I found %d %s. The best %d:", total, plural(total, "match", "matches")+" for "+describe(c, false), len(cards)),
			fmt.Sprintf("为您找到 %d 件符合%s的商品，前 %d 件：", total, describe(c, true), len(cards))) + listText(cards, zh)
	}
	if len(p.Corrected) > 0 && p.Topic() {
		ans.Reply = say(zh, "(Read as "+corrections(p.Corrected)+".) ", "（按"+corrections(p.Corrected)+"理解。）") + ans.Reply
	}
	conv.Shown = cardIDs(ans.Products)
	ans.Suggestions = suggestions(ans.Products, c, zh)
	return ans, nil
}

// corrections says the spelling corrections of a message: "stapler"
// for "staplr", in the order of the words.
func corrections(m map[string]string) string {
	var parts []string
	for _, w := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%q for %q", m[w], w))
	}
	return strings.Join(parts, ", ")
}

func say(zh bool, en, cn string) string {
	if zh {
		return cn
	}
	return en
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func cardIDs(cs []Card) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

// merge applies a parsed message to the conversation's constraints: a
// message naming products starts a new search, one that only refines
// ("cheaper", "only Casio", "in black") keeps the rest.
func merge(conv *Conversation, p *Parsed, cat *Catalogue) Constraints {
	var c Constraints
	if !p.Topic() {
		c = conv.Constraints.clone()
	}
	if p.Topic() {
		c.Query, c.Categories = p.Query, p.Categories
	}
	if len(p.Brands) > 0 {
		c.Brands = p.Brands
		c.ExcludeBrands = slices.DeleteFunc(c.ExcludeBrands, func(b string) bool { return slices.Contains(p.Brands, b) })
	}
	for _, b := range p.ExcludeBrands {
		c.ExcludeBrands = appendNew(c.ExcludeBrands, b)
		c.Brands = slices.DeleteFunc(c.Brands, func(x string) bool { return x == b })
	}
	if p.AnyBrand {
		c.Brands, c.ExcludeBrands = nil, nil
	}
	if p.AnyAttributes {
		c.Attributes, c.ExcludeAttributes = nil, nil
	}
	if p.AnyPrice {
		c.MinPrice, c.MaxPrice = nil, nil
	}
	if p.MinPrice != nil || p.MaxPrice != nil {
		c.MinPrice, c.MaxPrice = p.MinPrice, p.MaxPrice
	}
	if p.Cheaper || p.Pricier {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, id := range conv.Shown {
			if pr, ok := cat.Get(id); ok && pr.Price != nil {
				lo, hi = min(lo, *pr.Price), max(hi, *pr.Price)
			}
		}
		switch {
		case p.Cheaper && !math.IsInf(lo, 1):
			m := round2(lo - 0.01)
			c.MaxPrice, c.MinPrice = &m, nil
			c.Sort = "price_desc" // the dearest of the cheaper ones first: closest to what was shown
		case p.Cheaper:
			c.Sort = "price_asc"
		case p.Pricier && !math.IsInf(hi, -1):
			m := round2(hi + 0.01)
			c.MinPrice, c.MaxPrice = &m, nil
			c.Sort = "price_asc"
		default:
			c.Sort = "price_desc"
		}
	}
	for k, val := range p.Attributes {
		if c.Attributes == nil {
			c.Attributes = map[string]string{}
		}
		c.Attributes[k] = val
		if c.ExcludeAttributes[k] == val {
			delete(c.ExcludeAttributes, k)
		}
	}
	for k, val := range p.ExcludeAttributes {
		if c.ExcludeAttributes == nil {
			c.ExcludeAttributes = map[string]string{}
		}
		c.ExcludeAttributes[k] = val
		if c.Attributes[k] == val {
			delete(c.Attributes, k)
		}
	}
	if p.Sort != "" {
		c.Sort = p.Sort
	}
	return c
}

// describe says the constraints in words.
func describe(c Constraints, zh bool) string {
	var parts []string
	if c.Query != "" {
		parts = append(parts, fmt.Sprintf("%q", c.Query))
	} else if len(c.Categories) > 0 {
		parts = append(parts, lastSeg(c.Categories[0]))
	}
	if len(c.Brands) > 0 {
		parts = append(parts, say(zh, "brand ", "品牌 ")+strings.Join(c.Brands, "/"))
	}
	if len(c.ExcludeBrands) > 0 {
		parts = append(parts, say(zh, "not ", "不要 ")+strings.Join(c.ExcludeBrands, "/"))
	}
	for _, k := range sortedKeys(c.Attributes) {
		parts = append(parts, c.Attributes[k])
	}
	for _, k := range sortedKeys(c.ExcludeAttributes) {
		parts = append(parts, say(zh, "not ", "不要")+c.ExcludeAttributes[k])
	}
	switch {
	case c.MinPrice != nil && c.MaxPrice != nil:
		parts = append(parts, fmt.Sprintf(say(zh, "$%s to $%s", "%s 到 %s 元"), money(*c.MinPrice), money(*c.MaxPrice)))
	case c.MaxPrice != nil:
		parts = append(parts, fmt.Sprintf(say(zh, "up to $%s", "%s 元以下"), money(*c.MaxPrice)))
	case c.MinPrice != nil:
		parts = append(parts, fmt.Sprintf(say(zh, "from $%s", "%s 元以上"), money(*c.MinPrice)))
	}
	switch c.Sort {
	case "price_asc":
		parts = append(parts, say(zh, "cheapest first", "从便宜到贵"))
	case "price_desc":
		parts = append(parts, say(zh, "dearest first", "从贵到便宜"))
	case "newest":
		parts = append(parts, say(zh, "newest first", "最新优先"))
	case "popular":
		parts = append(parts, say(zh, "most popular first", "最受欢迎优先"))
	}
	if len(parts) == 0 {
		return say(zh, "your request", "您的要求")
	}
	if zh {
		return "「" + strings.Join(parts, "，") + "」"
	}
	return strings.Join(parts, ", ")
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func lastSeg(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

func money(f float64) string {
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.2f", f)
}

// listText numbers the products, so that "the second one" is clear.
func listText(cs []Card, zh bool) string {
	var b strings.Builder
	for i, c := range cs {
		fmt.Fprintf(&b, "\n%d. %s", i+1, c.Title)
		if c.Price != nil {
			fmt.Fprintf(&b, say(zh, " ($%s)", "（%s 元）"), money(*c.Price))
		}
	}
	return b.String()
}

// suggestions offers the next messages that make sense after cs.
func suggestions(cs []Card, c Constraints, zh bool) []string {
	if len(cs) == 0 {
		return []string{say(zh, "Show me popular products", "看看热门商品")}
	}
	var out []string
	out = append(out, say(zh, "Cheaper ones", "便宜一点的"))
	if len(c.Brands) == 0 {
		for _, x := range cs {
			if x.Brand != "" {
				out = append(out, say(zh, "Only "+x.Brand, "只要"+x.Brand))
				break
			}
		}
	}
	out = append(out, say(zh, "Show the first one", "看看第一个"))
	if len(cs) >= 2 {
		out = append(out, say(zh, "Compare the first two", "比较前两个"))
	}
	out = append(out, say(zh, "Similar to the first one", "和第一个类似的"))
	return out
}

// Known reports whether id is a product of the catalogue (the eval's
// grounding check).
func (a *Assistant) Known(id string) bool {
	_, ok := a.o.Catalogue.Get(id)
	return ok
}
