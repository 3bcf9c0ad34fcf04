package assistant

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Constraints are what the shopper asked for so far in a conversation.
type Constraints struct {
	Query         string            `json:"query,omitempty"`
	Categories    []string          `json:"categories,omitempty"`
	Brands        []string          `json:"brands,omitempty"`
	ExcludeBrands []string          `json:"exclude_brands,omitempty"`
	MinPrice      *float64          `json:"min_price,omitempty"`
	MaxPrice      *float64          `json:"max_price,omitempty"`
	Attributes    map[string]string `json:"attributes,omitempty"`
	// ExcludeAttributes are attribute values refused ("not black").
	ExcludeAttributes map[string]string `json:"exclude_attributes,omitempty"`
	Sort              string            `json:"sort,omitempty"` // price_asc, price_desc, newest, popular; "" relevance
}

// Turn is one exchange kept in a conversation.
type Turn struct {
	Message  string    `json:"message"`
	Reply    string    `json:"reply"`
	Products []string  `json:"products,omitempty"`
	Mode     string    `json:"mode"`
	At       time.Time `json:"at"`
}

// Conversation is the state of one conversation: its constraints, the
// products last shown (what "the second one" means) and the items tool
// results produced (what an LLM's reply may name).
type Conversation struct {
	ID          string          `json:"id"`
	UserID      string          `json:"user_id,omitempty"`
	SessionID   string          `json:"session_id,omitempty"`
	Constraints Constraints     `json:"constraints"`
	Shown       []string        `json:"shown,omitempty"`
	Focus       string          `json:"focus,omitempty"` // the product last looked at
	Grounded    map[string]bool `json:"grounded,omitempty"`
	Turns       []Turn          `json:"turns,omitempty"`
	Lang        string          `json:"lang,omitempty"`
	Updated     time.Time       `json:"updated"`
}

const (
	maxTurnsKept    = 20
	maxGroundedKept = 2000
)

func (c *Conversation) addTurn(t Turn) {
	c.Turns = append(c.Turns, t)
	if len(c.Turns) > maxTurnsKept {
		c.Turns = append([]Turn(nil), c.Turns[len(c.Turns)-maxTurnsKept:]...)
	}
}

func (c *Conversation) ground(ids ...string) {
	if c.Grounded == nil {
		c.Grounded = map[string]bool{}
	}
	if len(c.Grounded) > maxGroundedKept {
		clear(c.Grounded) // older tool results are forgotten, the newest kept
	}
	for _, id := range ids {
		c.Grounded[id] = true
	}
}

func newConversationID() string {
	var b [12]byte
	rand.Read(b[:])
	return "c-" + hex.EncodeToString(b[:])
}

// Persister keeps conversations across restarts as opaque bytes
// (boltstore.Store implements it in its conversations bucket).
type Persister interface {
	// GetConversation returns the stored conversation, or nil when there
	// is none or it expired before now.
	GetConversation(ctx context.Context, id string, now time.Time) ([]byte, error)
	// PutConversations stores conversations with the time each expires.
	PutConversations(ctx context.Context, convs map[string][]byte, expires map[string]time.Time) error
	// ExpireConversations deletes up to max conversations expired before now.
	ExpireConversations(ctx context.Context, now time.Time, max int) (int, error)
}

// Conversations holds conversations in memory, expires them after the
// TTL, and writes changed ones to a Persister in the background (every
// flush interval, and on Close), so a turn never waits for a disk sync.
type Conversations struct {
	ttl  time.Duration
	p    Persister // nil: memory only
	log  *slog.Logger
	now  func() time.Time
	mu   sync.Mutex
	m    map[string]*Conversation
	dirt map[string]bool

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// NewConversations returns a store expiring conversations ttl after their
// last turn; p, when not nil, keeps them across restarts.
func NewConversations(ttl time.Duration, p Persister, log *slog.Logger) *Conversations {
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Conversations{ttl: ttl, p: p, log: log, now: time.Now, m: map[string]*Conversation{}, dirt: map[string]bool{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go c.run(250 * time.Millisecond)
	return c
}

// Get returns a copy of a live conversation, reading the Persister for
// one not in memory (after a restart).
func (c *Conversations) Get(ctx context.Context, id string) (*Conversation, bool, error) {
	now := c.now()
	c.mu.Lock()
	conv, ok := c.m[id]
	if ok && now.Sub(conv.Updated) > c.ttl {
		delete(c.m, id)
		ok = false
	}
	c.mu.Unlock()
	if ok {
		return clone(conv), true, nil
	}
	if c.p == nil {
		return nil, false, nil
	}
	b, err := c.p.GetConversation(ctx, id, now)
	if err != nil {
		return nil, false, fmt.Errorf("read conversation %q: %w", id, err)
	}
	if b == nil {
		return nil, false, nil
	}
	var stored Conversation
	if err := json.Unmarshal(b, &stored); err != nil {
		return nil, false, fmt.Errorf("decode conversation %q: %w", id, err)
	}
	if now.Sub(stored.Updated) > c.ttl {
		return nil, false, nil
	}
	return &stored, true, nil
}

// Put stores a conversation (the store keeps its own copy).
func (c *Conversations) Put(conv *Conversation) {
	cp := clone(conv)
	c.mu.Lock()
	c.m[conv.ID] = cp
	c.dirt[conv.ID] = true
	c.mu.Unlock()
}

// Len is the number of conversations in memory.
func (c *Conversations) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func clone(c *Conversation) *Conversation {
	cp := *c
	cp.Constraints = c.Constraints.clone()
	cp.Shown = append([]string(nil), c.Shown...)
	cp.Turns = append([]Turn(nil), c.Turns...)
	if c.Grounded != nil {
		cp.Grounded = make(map[string]bool, len(c.Grounded))
		for k := range c.Grounded {
			cp.Grounded[k] = true
		}
	}
	return &cp
}

func (k Constraints) clone() Constraints {
	out := k
	out.Categories = append([]string(nil), k.Categories...)
	out.Brands = append([]string(nil), k.Brands...)
	out.ExcludeBrands = append([]string(nil), k.ExcludeBrands...)
	if k.MinPrice != nil {
		v := *k.MinPrice
		out.MinPrice = &v
	}
	if k.MaxPrice != nil {
		v := *k.MaxPrice
		out.MaxPrice = &v
	}
	out.Attributes = cloneMap(k.Attributes)
	out.ExcludeAttributes = cloneMap(k.ExcludeAttributes)
	return out
}

func (c *Conversations) run(every time.Duration) {
	defer close(c.done)
	t := time.NewTicker(every)
	defer t.Stop()
	sweep := 0
	for {
		select {
		case <-c.stop:
			c.flush()
			return
		case <-t.C:
			c.flush()
			if sweep++; sweep%40 == 0 {
				c.expire()
			}
		}
	}
}

// Flush writes the changed conversations to the Persister now.
func (c *Conversations) Flush() { c.flush() }

func (c *Conversations) flush() {
	c.mu.Lock()
	if len(c.dirt) == 0 || c.p == nil {
		clear(c.dirt)
		c.mu.Unlock()
		return
	}
	data, exp := map[string][]byte{}, map[string]time.Time{}
	for id := range c.dirt {
		conv, ok := c.m[id]
		if !ok {
			continue
		}
		b, err := json.Marshal(conv)
		if err != nil {
			continue
		}
		data[id], exp[id] = b, conv.Updated.Add(c.ttl)
	}
	clear(c.dirt)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.p.PutConversations(ctx, data, exp); err != nil {
		c.log.Error("saving assistant conversations failed; they live on in memory until the TTL", "error", err, "conversations", len(data))
	}
}

func (c *Conversations) expire() {
	now := c.now()
	c.mu.Lock()
	for id, conv := range c.m {
		if now.Sub(conv.Updated) > c.ttl {
			delete(c.m, id)
		}
	}
	c.mu.Unlock()
	if c.p != nil {
		if _, err := c.p.ExpireConversations(context.Background(), now, 1000); err != nil {
			c.log.Warn("expiring stored assistant conversations failed", "error", err)
		}
	}
}

// Close writes the changed conversations and stops the background writer.
func (c *Conversations) Close() {
	c.once.Do(func() { close(c.stop) })
	<-c.done
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
