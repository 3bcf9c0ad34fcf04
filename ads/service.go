package ads

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/rules"
	"github.com/aisle-dev/aisle/store"
)

// Buckets of store.Merch the ads live in (keys joined by 0x00):
//
//	campaigns:         campaign id → campaign (JSON, the current version)
//	campaign_versions: campaign id, version (8 digits) → that version
//	ad_imps:           request id, item → Impression (JSON)
//	ad_charges:        request id, item → Charge (JSON): one per valid click
//	ad_spend:          campaign, day (YYYY-MM-DD) or "total" → micros (8 bytes)
//	ad_stats:          campaign, counter → int64 (8 bytes)
//	ad_last_click:     user, item → LastClick (JSON): repeats and attribution
//	ad_events:         event seq (16 hex) → outcome: events already handled
//	ad_model:          "current" / "previous" → Model (JSON)
//	ad_slots:          surface, position (4 digits) → revenue micros; surface, "answers" → count
//	ad_freq:           day, user, campaign → impressions that day (frequency caps)
//	ad_bot:            user → the times of their ad clicks in the last minute (bot rate)
//
// Frequency counts and bot rates live in the store, not in a replica's
// memory, so that replicas sharing a store (PostgreSQL) share them.
const (
	bCampaigns = "campaigns"
	bVersions  = "campaign_versions"
	bImps      = "ad_imps"
	bCharges   = "ad_charges"
	bSpend     = "ad_spend"
	bStats     = "ad_stats"
	bLastClick = "ad_last_click"
	bEvents    = "ad_events"
	bModel     = "ad_model"
	bSlots     = "ad_slots"
	bFreq      = "ad_freq"
	bBot       = "ad_bot"
)

func rulesSurfaces() []string { return rules.Surfaces }

// Config tunes the ad server.
type Config struct {
	// Slots are the 1-based positions of ad slots per surface (see
	// rules.Surfaces); a surface without slots shows no ads.
	Slots map[string][]int
	// Reserve is the least price of a click.
	Reserve Micros
	// RelevanceFloor is the least relevance (0..1) for an ad to compete.
	RelevanceFloor float64
	// SurfaceFloors override RelevanceFloor on some surfaces.
	SurfaceFloors map[string]float64
	// RepeatWindow: a shopper's further clicks on the same ad item within
	// it are not charged.
	RepeatWindow time.Duration
	// ClickTTL: a click later than this after its impression is not charged.
	ClickTTL time.Duration
	// AttributionWindow: purchases of a clicked ad item within it count as
	// the campaign's sales.
	AttributionWindow time.Duration
	// BotClicksPerMinute: a shopper clicking more ads than this within a
	// minute is filtered as a bot (those clicks are not charged).
	BotClicksPerMinute int
	// PacingSlack is the share of a daily budget an even-paced campaign
	// may be ahead of the clock.
	PacingSlack float64
	// Retention is how long impressions and charges are kept (for
	// billing late clicks, attribution and training the click model); 0
	// keeps them for ever. It should exceed ClickTTL.
	Retention time.Duration
}

// DefaultConfig is the configuration of config.Default().
func DefaultConfig() Config {
	return Config{
		Slots:   map[string][]int{"search": {1, 5}, "recommend": {3}, "similar": {3}, "bought_together": {3}, "popular": {3}, "trending": {3}, "session": {3}, "rows": {3}, "because_you_viewed": {3}, "basket": {3}},
		Reserve: ToMicros(0.05), RelevanceFloor: 0.5,
		RepeatWindow: 30 * time.Minute, ClickTTL: 24 * time.Hour, AttributionWindow: 7 * 24 * time.Hour,
		BotClicksPerMinute: 10, PacingSlack: 0.05, Retention: 30 * 24 * time.Hour,
	}
}

// Options assemble a Service.
type Options struct {
	Store store.Merch
	// Item returns a catalogue item (store.ErrNotFound when absent).
	Item func(ctx context.Context, id string) (catalog.Item, error)
	// ReadItems, when set, reads many items at once into out (same order,
	// nil for one that cannot be read; rules.ItemCache.Read): an answer's
	// organic items cost one call, not one Item each. Only read.
	ReadItems func(ctx context.Context, ids []string, out []*catalog.Item)
	// Popularity, when set, is an item's popularity in 0..1 (a pCTR feature).
	Popularity func(id string) float64
	Now        func() time.Time
	Logger     *slog.Logger
	Config     Config
}

// Impression is one ad shown: logged for billing, reports and training.
type Impression struct {
	RequestID string    `json:"request_id"`
	Item      string    `json:"item_id"`
	Campaign  string    `json:"campaign_id"`
	User      string    `json:"user_id,omitempty"`
	Surface   string    `json:"surface"`
	Position  int       `json:"position"`
	Price     Micros    `json:"price_micros"` // per click, set by the auction
	At        time.Time `json:"at"`
	F         Features  `json:"features"`
}

// Charge is a valid click and what it cost.
type Charge struct {
	Campaign string    `json:"campaign_id"`
	User     string    `json:"user_id"`
	Amount   Micros    `json:"amount_micros"` // may be below the price when the budget ran out
	At       time.Time `json:"at"`
}

// LastClick is a shopper's last charged click on an ad item.
type LastClick struct {
	Campaign string    `json:"campaign_id"`
	At       time.Time `json:"at"`
}

// Service runs the campaigns of a shop. Safe for concurrent use.
type Service struct {
	o   Options
	log *slog.Logger

	camps atomic.Pointer[campaignSet]
	// itemGen counts item changes (ItemsUpserted, ItemsDeleted): the
	// eligible-item cache starts afresh when it moves.
	itemGen atomic.Uint64
	texts   sync.Map  // item id → *cachedText: campaign items' text for relevance
	scratch sync.Pool // *fillScratch: an auction's storage
	model   atomic.Pointer[Model]

	mu     sync.Mutex
	campMu sync.Mutex // serialises campaign changes
	// pending are the impressions queued for the background writer (in
	// the order logged; one replaced by a later one of the same key is
	// dead), indexed by their key
	pending     map[impKey]int32
	pendingList []queued
	indexed     int                    // the entries of pendingList in pending (indexQueued)
	spend       map[string]*spendState // campaign → cached spend
	// (the queue's impressions are also the frequency counts not yet
	// added to the store's ad_freq: counted when written)
	itemHist map[string]*[2]int // item → ad impressions, clicks
	clickers map[string]bool    // users with a charged ad click (attribution)
	answers  map[string]int64   // surface → answers with ad slots, not yet written

	flushMu   sync.Mutex
	dropped   atomic.Int64 // impressions dropped (queue full)
	unmatched atomic.Int64 // clicks with a request id but no ad impression
	trainMu   sync.Mutex
	snap      adSnap // (snapshot.go)
	// today is the day of the last answer's auction (dayOf)
	today atomic.Pointer[dayName]
	// wallClock: Options.Now is time.Now (the answer's time then also
	// ages the eligible-item cache)
	wallClock bool
}

// dayName is day(t) for every t in [from, until).
type dayName struct {
	from, until time.Time
	name        string
}

// dayOf is day(now), formatted once a day rather than once an answer.
func (s *Service) dayOf(now time.Time) string {
	if d := s.today.Load(); d != nil && !now.Before(d.from) && now.Before(d.until) {
		return d.name
	}
	u := now.UTC()
	from := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	d := &dayName{from: from, until: from.AddDate(0, 0, 1), name: day(u)}
	s.today.Store(d)
	return d.name
}

type spendState struct {
	day        string
	daySpent   Micros
	totalSpent Micros
}

type campaignSet struct {
	list []Campaign
	byID map[string]int
	// bySurface lists, per surface, the campaigns whose targeting admits
	// it (indexes into list, ascending); kws are each campaign's
	// keywords, normalised once.
	bySurface map[string][]int
	kws       [][]string
	// elig keeps the eligible items of recent requests (Service.eligible);
	// a campaign change makes a new set, so a new cache.
	elig eligibleCache
}

// New opens the campaigns, spend and click model kept in o.Store.
func New(ctx context.Context, o Options) (*Service, error) {
	if o.Store == nil || o.Item == nil {
		return nil, errors.New("ads: need a store and an item lookup")
	}
	wall := o.Now == nil
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Config.Slots == nil {
		o.Config = DefaultConfig()
	}
	s := &Service{o: o, log: o.Logger, pending: map[impKey]int32{}, spend: map[string]*spendState{},
		itemHist: map[string]*[2]int{}, clickers: map[string]bool{},
		answers: map[string]int64{}, wallClock: wall}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var list []Campaign
	m := PriorModel()
	err := o.Store.MerchView(ctx, func(tx store.MerchTx) error {
		if err := tx.Scan(bCampaigns, "", func(_ string, v []byte) error {
			var c Campaign
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("stored campaign: %w", err)
			}
			list = append(list, c)
			return nil
		}); err != nil {
			return err
		}
		if v := tx.Get(bModel, "current"); v != nil {
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("stored click model: %w", err)
			}
		}
		return tx.Scan(bLastClick, "", func(k string, _ []byte) error {
			u, _, _ := strings.Cut(k, "\x00")
			s.clickers[u] = true
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load campaigns: %w", err)
	}
	s.setCampaigns(list)
	s.model.Store(&m)
	return s, nil
}

func (s *Service) setCampaigns(list []Campaign) {
	s.texts.Clear()
	slices.SortFunc(list, func(a, b Campaign) int { return cmp.Compare(a.ID, b.ID) })
	cs := &campaignSet{list: list, byID: map[string]int{}, bySurface: map[string][]int{}, kws: make([][]string, len(list))}
	for i, c := range list {
		cs.byID[c.ID] = i
		for _, kw := range c.Targeting.Queries {
			if k := rules.Normalize(kw); k != "" {
				cs.kws[i] = append(cs.kws[i], k)
			}
		}
		for _, sf := range rules.Surfaces {
			if surfaceTargeted(&c, sf) {
				cs.bySurface[sf] = append(cs.bySurface[sf], i)
			}
		}
	}
	s.camps.Store(cs)
}

// Campaigns lists the campaigns, by id.
func (s *Service) Campaigns() []Campaign { return append([]Campaign{}, s.camps.Load().list...) }

// Campaign returns one campaign.
func (s *Service) Campaign(id string) (Campaign, bool) {
	cs := s.camps.Load()
	i, ok := cs.byID[id]
	if !ok {
		return Campaign{}, false
	}
	return cs.list[i], true
}

// Save validates c and stores it as a new campaign (empty ID) or the next
// version of campaign c.ID.
func (s *Service) Save(ctx context.Context, c Campaign) (Campaign, error) {
	if err := c.Validate(); err != nil {
		return Campaign{}, &rules.InvalidError{Err: err}
	}
	s.campMu.Lock()
	defer s.campMu.Unlock()
	if c.ID == "" {
		c.ID = rules.NewID("camp")
	}
	c.UpdatedAt = s.o.Now().UTC()
	err := s.o.Store.MerchUpdate(ctx, func(tx store.MerchTx) error {
		last := 0
		tx.Scan(bVersions, c.ID+"\x00", func(string, []byte) error { last++; return nil })
		c.Version = last + 1
		data, err := json.Marshal(c)
		if err != nil {
			return err
		}
		if err := tx.Put(bVersions, fmt.Sprintf("%s\x00%08d", c.ID, c.Version), data); err != nil {
			return err
		}
		return tx.Put(bCampaigns, c.ID, data)
	})
	if err != nil {
		return Campaign{}, fmt.Errorf("store campaign %s: %w", c.ID, err)
	}
	list := slices.DeleteFunc(s.Campaigns(), func(o Campaign) bool { return o.ID == c.ID })
	s.setCampaigns(append(list, c))
	return c, nil
}

// Delete removes a campaign (its spend, impressions and reports stay).
func (s *Service) Delete(ctx context.Context, id string) error {
	s.campMu.Lock()
	defer s.campMu.Unlock()
	if _, ok := s.Campaign(id); !ok {
		return fmt.Errorf("campaign %q: %w", id, store.ErrNotFound)
	}
	if err := s.o.Store.MerchUpdate(ctx, func(tx store.MerchTx) error { return tx.Delete(bCampaigns, id) }); err != nil {
		return fmt.Errorf("delete campaign %s: %w", id, err)
	}
	s.setCampaigns(slices.DeleteFunc(s.Campaigns(), func(o Campaign) bool { return o.ID == id }))
	return nil
}

// Model returns the click model in use.
func (s *Service) Model() Model { return *s.model.Load() }

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func getInt(tx store.MerchTx, bucket, key string) int64 {
	v := tx.Get(bucket, key)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func addInt(tx store.MerchTx, bucket, key string, delta int64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(getInt(tx, bucket, key)+delta))
	return tx.Put(bucket, key, b[:])
}

// spent returns a campaign's spend today and in total (cached).
func (s *Service) spent(ctx context.Context, id string, now time.Time) (Micros, Micros) {
	return s.spentOn(ctx, id, day(now))
}

// spentOn is spent on the day d (day(now)).
func (s *Service) spentOn(ctx context.Context, id string, d string) (Micros, Micros) {
	s.mu.Lock()
	st, ok := s.spend[id]
	s.mu.Unlock()
	if ok && st.day == d {
		return st.daySpent, st.totalSpent
	}
	var ds, ts Micros
	err := s.o.Store.MerchView(ctx, func(tx store.MerchTx) error {
		ds, ts = getInt(tx, bSpend, id+"\x00"+d), getInt(tx, bSpend, id+"\x00total")
		return nil
	})
	if err != nil {
		s.log.Error("ads: reading spend", "campaign", id, "error", err)
		return 1 << 62, 1 << 62 // unknown spend: the campaign sits out
	}
	s.mu.Lock()
	s.spend[id] = &spendState{day: d, daySpent: ds, totalSpent: ts}
	s.mu.Unlock()
	return ds, ts
}

// Affordable reports whether a campaign may take part at now: budget left
// today and in total, and, paced evenly, not ahead of the clock (spent at
// most the elapsed share of the day plus the slack).
func (s *Service) Affordable(ctx context.Context, c *Campaign, now time.Time) bool {
	return s.affordable(ctx, c, now, day(now))
}

// affordable is Affordable with today's day(now).
func (s *Service) affordable(ctx context.Context, c *Campaign, now time.Time, today string) bool {
	ds, ts := s.spentOn(ctx, c.ID, today)
	return s.affordableAt(c, now, ds, ts)
}

// affordableAt is affordable with the campaign's spend today (ds) and in
// total (ts) known.
func (s *Service) affordableAt(c *Campaign, now time.Time, ds, ts Micros) bool {
	daily, total := ToMicros(c.DailyBudget), ToMicros(c.TotalBudget)
	if ds >= daily || (total > 0 && ts >= total) {
		return false
	}
	if c.Pacing == "even" {
		u := now.UTC()
		start := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
		frac := float64(u.Sub(start)) / float64(24*time.Hour)
		if float64(ds) > float64(daily)*min(1, frac+s.o.Config.PacingSlack) {
			return false
		}
	}
	return true
}
