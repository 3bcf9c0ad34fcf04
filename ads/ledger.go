package ads

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
)

// Run writes logged impressions every interval until ctx ends, then once
// more; every hour it trims impressions older than Config.Retention.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	lastTrim := time.Time{}
	for {
		select {
		case <-ctx.Done():
			if err := s.Flush(context.Background()); err != nil {
				s.log.Error("ads: writing impressions at shutdown", "error", err)
			}
			return
		case <-t.C:
			if err := s.Flush(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("ads: writing impressions", "error", err)
			}
			if r := s.o.Config.Retention; r > 0 && time.Since(lastTrim) > time.Hour {
				lastTrim = time.Now()
				if n, err := s.Trim(ctx, s.o.Now().Add(-r)); err != nil && ctx.Err() == nil {
					s.log.Error("ads: trimming old impressions", "error", err)
				} else if n > 0 {
					s.log.Info("ads: trimmed old impressions", "impressions", n)
				}
			}
		}
	}
}

// Flush writes the queued impressions in one transaction and counts them
// in the campaigns' reports.
func (s *Service) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	s.indexQueued()               // marks the replaced ones dead
	queuedN := len(s.pendingList) // the queue's entries this batch covers
	batch := make([]Impression, 0, len(s.pending))
	// every impression logged counts against frequency caps, also one
	// replaced by a later one of the same key (dead: not written)
	freq := map[freqSlot]int{}
	for _, q := range s.pendingList {
		if !q.dead {
			batch = append(batch, q.Impression)
		}
		if q.User != "" {
			freq[freqSlot{q.day, q.User, q.Campaign}]++
		}
	}
	answers := s.answers
	s.answers = map[string]int64{}
	s.mu.Unlock()
	if len(batch) == 0 && len(answers) == 0 && len(freq) == 0 {
		return nil
	}
	err := s.o.Store.MerchUpdate(ctx, func(tx store.MerchTx) error {
		for surface, n := range answers {
			if err := addInt(tx, bSlots, surface+"\x00answers", n); err != nil {
				return err
			}
		}
		for k, n := range freq {
			if err := addInt(tx, bFreq, k.key(), int64(n)); err != nil {
				return err
			}
		}
		for _, im := range batch {
			key := im.RequestID + "\x00" + im.Item
			if tx.Get(bImps, key) != nil {
				continue
			}
			data, err := json.Marshal(im)
			if err != nil {
				return err
			}
			if err := tx.Put(bImps, key, data); err != nil {
				return err
			}
			if err := addInt(tx, bStats, im.Campaign+"\x00impressions", 1); err != nil {
				return err
			}
			if err := addInt(tx, bStats, im.Campaign+"\x00position_sum", int64(im.Position)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.mu.Lock()
		for surface, n := range answers { // counted again at the next flush
			s.answers[surface] += n
		}
		s.mu.Unlock() // the queue, frequency counts included, is written at the next flush
		return fmt.Errorf("write %d ad impressions: %w", len(batch), err)
	}
	s.mu.Lock()
	s.dequeue(queuedN)
	s.mu.Unlock()
	return nil
}

// dequeue drops the first n entries of the queue (written) and keeps the
// ones queued since; those of a key just written (queued again while the
// batch was written) are marked dead: not written, but still counted
// against frequency caps at the next flush. s.mu is held.
func (s *Service) dequeue(n int) {
	s.indexQueued()
	for _, q := range s.pendingList[:n] {
		if j, ok := s.pending[impKey{q.RequestID, q.Item}]; ok && int(j) >= n {
			s.pendingList[j].dead = true
		}
	}
	// the index is made afresh: cleared rather than deleted from, it
	// keeps no deleted slots that later insertions would have to pass
	clear(s.pending)
	kept := s.pendingList[:0]
	for _, q := range s.pendingList[n:] {
		if !q.dead {
			s.pending[impKey{q.RequestID, q.Item}] = int32(len(kept))
		}
		kept = append(kept, q)
	}
	clear(s.pendingList[len(kept):])
	s.pendingList = kept
	s.indexed = len(kept)
}

// impression finds a logged impression (queued or written).
func (s *Service) impression(tx store.MerchTx, requestID, item string) (Impression, bool) {
	s.mu.Lock()
	s.indexQueued()
	i, ok := s.pending[impKey{requestID, item}]
	var im Impression
	if ok {
		im = s.pendingList[i].Impression
	}
	s.mu.Unlock()
	if ok {
		return im, true
	}
	v := tx.Get(bImps, requestID+"\x00"+item)
	if v == nil || json.Unmarshal(v, &im) != nil {
		return Impression{}, false
	}
	return im, true
}

// Sponsored reports whether an event answers an ad impression (it carries
// the request id of an answer in which its item was an ad): organic
// learning (popularity, training data) leaves such events out.
func (s *Service) Sponsored(e events.Event) bool {
	if e.RequestID == "" || e.ItemID == "" {
		return false
	}
	return s.hasImpression(e.RequestID, e.ItemID)
}

// hasImpression reports whether an ad impression of item in the answer
// requestID was logged (queued or written), without decoding it.
func (s *Service) hasImpression(requestID, item string) bool {
	s.mu.Lock()
	s.indexQueued()
	_, found := s.pending[impKey{requestID, item}]
	s.mu.Unlock()
	if !found {
		s.o.Store.MerchView(context.Background(), func(tx store.MerchTx) error {
			found = tx.Get(bImps, requestID+"\x00"+item) != nil
			return nil
		})
	}
	return found
}

// Outcome is what happened to an ad click.
type Outcome struct {
	Charged  Micros
	Campaign string
	// Invalid is why the click was not charged ("" when it was valid):
	// no_impression, position, user, expired, bot, duplicate, repeat.
	Invalid string
	// Seen: the event had been handled before (a replay); nothing changed.
	Seen bool
}

// EventsAppended implements engine.Listener: clicks carrying a request id
// are billed, purchases of clicked ad items attributed.
func (s *Service) EventsAppended(evs []events.Event) {
	s.snap.order.RLock()
	for _, e := range evs {
		if s.handle(context.Background(), e) == nil {
			s.covered(e.Seq)
		}
	}
	s.snap.order.RUnlock()
	s.snap.keeper.Counted(len(evs))
}

// replay handles an event read from the log unless the store says it was
// handled before.
func (s *Service) replay(e events.Event) error {
	if e.Type != events.Click && e.Type != events.Purchase || (e.Type == events.Click && e.RequestID == "") {
		return nil
	}
	if e.Seq != 0 {
		seen := false
		s.o.Store.MerchView(context.Background(), func(tx store.MerchTx) error {
			seen = tx.Get(bEvents, seqKey(e.Seq)) != nil
			return nil
		})
		if seen {
			return nil
		}
	}
	return s.handle(context.Background(), e)
}

// handle bills a click or attributes a purchase; an error (logged) leaves
// the event out of the snapshot's coverage, so a start tries it again.
func (s *Service) handle(ctx context.Context, e events.Event) error {
	switch {
	case e.Type == events.Click && e.RequestID != "":
		if _, err := s.Click(ctx, e); err != nil {
			s.log.Error("ads: billing a click", "request_id", e.RequestID, "item", e.ItemID, "error", err)
			return err
		}
	case e.Type == events.Purchase:
		s.mu.Lock()
		clicked := s.clickers[e.UserID]
		s.mu.Unlock()
		if clicked {
			if err := s.attribute(ctx, e); err != nil {
				s.log.Error("ads: attributing a purchase", "user", e.UserID, "item", e.ItemID, "error", err)
				return err
			}
		}
	}
	return nil
}

func seqKey(seq uint64) string { return fmt.Sprintf("%016x", seq) }

// Click bills one ad click exactly once. A click without an ad impression
// of its request id and item is no ad click: it is answered
// no_impression and nothing is written. A valid click (same position and
// shopper as the impression, not expired,
// not from a bot, not already charged, not a repeat within the repeat
// window) is charged its auction price, capped so that the campaign's
// daily and total spend never exceed its budgets; an invalid click is
// counted by reason. Everything is one durable transaction, keyed by the
// event's seq, so a replayed event changes nothing.
func (s *Service) Click(ctx context.Context, e events.Event) (Outcome, error) {
	now := e.Timestamp
	if now.IsZero() || now.After(s.o.Now()) {
		now = s.o.Now()
	}
	if !s.hasImpression(e.RequestID, e.ItemID) {
		// not an ad click: a click on an organic item (answers carry
		// request ids for attribution too), a forged request id, or the
		// impression was lost in a crash. Nothing is charged or written.
		s.unmatched.Add(1)
		return Outcome{Invalid: "no_impression"}, nil
	}
	var out Outcome
	err := s.o.Store.MerchUpdate(ctx, func(tx store.MerchTx) error {
		out = Outcome{}
		if e.Seq != 0 && tx.Get(bEvents, seqKey(e.Seq)) != nil {
			out.Seen = true
			return nil
		}
		key := e.RequestID + "\x00" + e.ItemID
		im, ok := s.impression(tx, e.RequestID, e.ItemID)
		clickTimes := 0
		if ok && e.UserID != "" && s.o.Config.BotClicksPerMinute > 0 {
			// the shopper's ad clicks in the last minute, kept in the
			// store so that every replica sharing it counts them all
			var err error
			if clickTimes, err = botClick(tx, e.UserID, now); err != nil {
				return err
			}
		}
		out.Campaign = im.Campaign
		lastKey := e.UserID + "\x00" + e.ItemID
		switch {
		case !ok:
			out.Invalid = "no_impression"
		case e.Position != 0 && e.Position != im.Position:
			out.Invalid = "position"
		case im.User != "" && im.User != e.UserID:
			out.Invalid = "user"
		case now.Sub(im.At) > s.o.Config.ClickTTL:
			out.Invalid = "expired"
		case s.o.Config.BotClicksPerMinute > 0 && clickTimes > s.o.Config.BotClicksPerMinute:
			out.Invalid = "bot"
		case tx.Get(bCharges, key) != nil:
			out.Invalid = "duplicate"
		default:
			if v := tx.Get(bLastClick, lastKey); v != nil {
				var lc LastClick
				if json.Unmarshal(v, &lc) == nil && now.Sub(lc.At) < s.o.Config.RepeatWindow && lc.Campaign == im.Campaign {
					out.Invalid = "repeat"
				}
			}
		}
		if e.Seq != 0 {
			if err := tx.Put(bEvents, seqKey(e.Seq), []byte(out.Invalid+"|"+out.Campaign)); err != nil {
				return err
			}
		}
		if out.Invalid != "" {
			if err := addInt(tx, bStats, out.Campaign+"\x00invalid", 1); err != nil {
				return err
			}
			return addInt(tx, bStats, out.Campaign+"\x00invalid_"+out.Invalid, 1)
		}
		c, known := s.Campaign(im.Campaign)
		amount := im.Price
		d := im.Campaign + "\x00" + day(now)
		if known {
			daily, total := ToMicros(c.DailyBudget), ToMicros(c.TotalBudget)
			amount = min(amount, max(0, daily-getInt(tx, bSpend, d)))
			if total > 0 {
				amount = min(amount, max(0, total-getInt(tx, bSpend, im.Campaign+"\x00total")))
			}
		} else {
			amount = 0 // the campaign was deleted: the click is not billed
		}
		out.Charged = amount
		ch, err := json.Marshal(Charge{Campaign: im.Campaign, User: e.UserID, Amount: amount, At: now.UTC()})
		if err != nil {
			return err
		}
		lc, err := json.Marshal(LastClick{Campaign: im.Campaign, At: now.UTC()})
		if err != nil {
			return err
		}
		for _, op := range []error{
			tx.Put(bCharges, key, ch),
			tx.Put(bLastClick, lastKey, lc),
			addInt(tx, bSpend, d, amount),
			addInt(tx, bSpend, im.Campaign+"\x00total", amount),
			addInt(tx, bStats, im.Campaign+"\x00clicks", 1),
			addInt(tx, bStats, im.Campaign+"\x00spend", amount),
			addInt(tx, bSlots, fmt.Sprintf("%s\x00%04d", im.Surface, im.Position), amount),
		} {
			if op != nil {
				return op
			}
		}
		if amount < im.Price {
			return addInt(tx, bStats, im.Campaign+"\x00unbilled", 1)
		}
		return nil
	})
	if err != nil {
		return Outcome{}, fmt.Errorf("bill click on %s of request %s: %w", e.ItemID, e.RequestID, err)
	}
	if !out.Seen && out.Invalid == "" {
		s.mu.Lock()
		delete(s.spend, out.Campaign) // read again from the ledger
		if h := s.itemHist[e.ItemID]; h != nil {
			h[1]++
		}
		s.clickers[e.UserID] = true
		s.mu.Unlock()
	}
	return out, nil
}

// botClick adds a click at now to the shopper's ad clicks of the last
// minute (ad_bot: unix nanoseconds, 8 bytes each) and returns how many
// there are, this one included.
func botClick(tx store.MerchTx, user string, now time.Time) (int, error) {
	old := tx.Get(bBot, user)
	kept := make([]byte, 0, len(old)+8)
	for i := 0; i+8 <= len(old); i += 8 {
		t := time.Unix(0, int64(binary.BigEndian.Uint64(old[i:])))
		if now.Sub(t) < time.Minute && !t.After(now) {
			kept = append(kept, old[i:i+8]...)
		}
	}
	kept = binary.BigEndian.AppendUint64(kept, uint64(now.UnixNano()))
	return len(kept) / 8, tx.Put(bBot, user, kept)
}

// attribute counts a purchase of an ad item the shopper clicked within
// the attribution window as the campaign's sale, once per event.
func (s *Service) attribute(ctx context.Context, e events.Event) error {
	var price float64
	if it, err := s.o.Item(ctx, e.ItemID); err == nil && it.Price != nil {
		price = *it.Price
	}
	qty := 1.0
	if e.Value != nil {
		qty = *e.Value
	}
	return s.o.Store.MerchUpdate(ctx, func(tx store.MerchTx) error {
		v := tx.Get(bLastClick, e.UserID+"\x00"+e.ItemID)
		if v == nil || (e.Seq != 0 && tx.Get(bEvents, seqKey(e.Seq)) != nil) {
			return nil
		}
		var lc LastClick
		if err := json.Unmarshal(v, &lc); err != nil {
			return err
		}
		if d := e.Timestamp.Sub(lc.At); d < 0 || d > s.o.Config.AttributionWindow {
			return nil
		}
		if e.Seq != 0 {
			if err := tx.Put(bEvents, seqKey(e.Seq), []byte("sale|"+lc.Campaign)); err != nil {
				return err
			}
		}
		if err := addInt(tx, bStats, lc.Campaign+"\x00sales", int64(qty)); err != nil {
			return err
		}
		return addInt(tx, bStats, lc.Campaign+"\x00revenue", ToMicros(qty*price))
	})
}

// Report is a campaign's performance.
type Report struct {
	CampaignID     string           `json:"campaign_id"`
	Impressions    int64            `json:"impressions"`
	Clicks         int64            `json:"clicks"`
	CTR            float64          `json:"ctr"`
	Spend          float64          `json:"spend"`
	SpendToday     float64          `json:"spend_today"`
	Sales          int64            `json:"sales"`   // attributed units
	Revenue        float64          `json:"revenue"` // attributed
	ROAS           float64          `json:"roas"`    // revenue / spend
	AvgPosition    float64          `json:"avg_position"`
	InvalidClicks  int64            `json:"invalid_clicks"`
	InvalidReasons map[string]int64 `json:"invalid_reasons"`
	// UnbilledClicks were valid but charged less than their price (the
	// budget ran out).
	UnbilledClicks int64 `json:"unbilled_clicks"`
}

// Report returns a campaign's report (after writing queued impressions).
func (s *Service) Report(ctx context.Context, id string) (Report, error) {
	if err := s.Flush(ctx); err != nil {
		return Report{}, err
	}
	r := Report{CampaignID: id, InvalidReasons: map[string]int64{}}
	var spend, today, revenue, posSum int64
	err := s.o.Store.MerchView(ctx, func(tx store.MerchTx) error {
		return tx.Scan(bStats, id+"\x00", func(k string, v []byte) error {
			name := k[len(id)+1:]
			n := getInt(tx, bStats, k)
			switch name {
			case "impressions":
				r.Impressions = n
			case "clicks":
				r.Clicks = n
			case "spend":
				spend = n
			case "sales":
				r.Sales = n
			case "revenue":
				revenue = n
			case "position_sum":
				posSum = n
			case "invalid":
				r.InvalidClicks = n
			case "unbilled":
				r.UnbilledClicks = n
			default:
				if len(name) > 8 && name[:8] == "invalid_" {
					r.InvalidReasons[name[8:]] = n
				}
			}
			return nil
		})
	})
	if err != nil {
		return Report{}, fmt.Errorf("read report of campaign %s: %w", id, err)
	}
	s.o.Store.MerchView(ctx, func(tx store.MerchTx) error {
		today = getInt(tx, bSpend, id+"\x00"+day(s.o.Now()))
		return nil
	})
	r.Spend, r.SpendToday, r.Revenue = FromMicros(spend), FromMicros(today), FromMicros(revenue)
	if r.Impressions > 0 {
		r.CTR = float64(r.Clicks) / float64(r.Impressions)
		r.AvgPosition = float64(posSum) / float64(r.Impressions)
	}
	if spend > 0 {
		r.ROAS = float64(revenue) / float64(spend)
	}
	return r, nil
}

// UserDeleted does nothing (engine.Listener).
func (s *Service) UserDeleted(string) {}

// ItemsUpserted and ItemsDeleted make the eligible campaign items be
// read again (an item may have become unavailable or changed its text).
func (s *Service) ItemsUpserted([]catalog.Item) { s.itemGen.Add(1) }
func (s *Service) ItemsDeleted([]string)        { s.itemGen.Add(1) }

// SlotReport is one ad slot's revenue.
type SlotReport struct {
	Surface  string  `json:"surface"`
	Position int     `json:"position"`
	Answers  int64   `json:"answers"` // answers of the surface that had ad slots
	Revenue  float64 `json:"revenue"`
	// RPM is the revenue per thousand answers.
	RPM float64 `json:"rpm"`
}

// Slots reports the revenue of every configured ad slot.
func (s *Service) Slots(ctx context.Context) ([]SlotReport, error) {
	if err := s.Flush(ctx); err != nil {
		return nil, err
	}
	out := []SlotReport{}
	err := s.o.Store.MerchView(ctx, func(tx store.MerchTx) error {
		for _, surface := range rulesSurfaces() {
			answers := getInt(tx, bSlots, surface+"\x00answers")
			for _, pos := range s.o.Config.Slots[surface] {
				rev := getInt(tx, bSlots, fmt.Sprintf("%s\x00%04d", surface, pos))
				r := SlotReport{Surface: surface, Position: pos, Answers: answers, Revenue: FromMicros(rev)}
				if answers > 0 {
					r.RPM = 1000 * FromMicros(rev) / float64(answers)
				}
				out = append(out, r)
			}
		}
		return nil
	})
	return out, err
}

// Trim deletes logged impressions and charges of answers made before
// before (request ids start with their time, so the oldest come first),
// in transactions of at most 10,000, and returns how many impressions it
// deleted. Spend, reports and the handled-event marks stay.
func (s *Service) Trim(ctx context.Context, before time.Time) (int, error) {
	if err := s.trimCaps(ctx); err != nil {
		return 0, err
	}
	cut := reqidPrefix(before)
	total := 0
	for {
		n := 0
		err := s.o.Store.MerchUpdate(ctx, func(tx store.MerchTx) error {
			var keys []string
			errStop := fmt.Errorf("stop")
			err := tx.Scan(bImps, "", func(k string, _ []byte) error {
				if k >= cut || len(keys) >= 10_000 {
					return errStop
				}
				keys = append(keys, k)
				return nil
			})
			if err != nil && err != errStop {
				return err
			}
			for _, k := range keys {
				if err := tx.Delete(bImps, k); err != nil {
					return err
				}
				if err := tx.Delete(bCharges, k); err != nil {
					return err
				}
			}
			n = len(keys)
			return nil
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("trim ad impressions before %s: %w", before.Format(time.RFC3339), err)
		}
		if n < 10_000 || ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}

// trimCaps deletes the frequency counts of days before yesterday and the
// bot-rate records without a click in the last minute.
func (s *Service) trimCaps(ctx context.Context) error {
	now := s.o.Now()
	keep := day(now.Add(-24 * time.Hour))
	err := s.o.Store.MerchUpdate(ctx, func(tx store.MerchTx) error {
		var freq, bots []string
		err := tx.Scan(bFreq, "", func(k string, _ []byte) error {
			if d, _, _ := strings.Cut(k, "\x00"); d < keep {
				freq = append(freq, k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Scan(bBot, "", func(k string, v []byte) error {
			if len(v) < 8 || now.Sub(time.Unix(0, int64(binary.BigEndian.Uint64(v[len(v)-8:])))) > time.Minute {
				bots = append(bots, k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range freq {
			if err := tx.Delete(bFreq, k); err != nil {
				return err
			}
		}
		for _, k := range bots {
			if err := tx.Delete(bBot, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("trim frequency counts and bot rates: %w", err)
	}
	return nil
}

// reqidPrefix is the smallest request id made at t (see internal/reqid).
func reqidPrefix(t time.Time) string {
	return fmt.Sprintf("%08x", uint32(t.Unix()))
}
