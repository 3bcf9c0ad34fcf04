package shopsim

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"sync"
	"time"
)

// AdsConfig sets up the sponsored-products study (Sim.RunAds): the
// brands with the most items advertise them on the recommendation
// surface; half the shoppers (by a hash of their id) are served with ads,
// the others without, on the same shop in the same run.
type AdsConfig struct {
	Campaigns int     // advertisers: the brands with the most items (default 20)
	Budget    float64 // each campaign's total budget for the run (default 40)
	Daily     float64 // each campaign's daily budget (default: Budget)
	MinBid    float64 // bids are drawn uniformly from [MinBid, MaxBid] (default 0.2 … 1)
	MaxBid    float64
	// Share of shoppers served with ads (default 0.5); the others ask
	// with ads=off.
	Share float64
	// BotVisits a day: a client without history that asks Pages×4 pages
	// at once and clicks every ad (the shop should not charge most of it).
	BotVisits int // default 2
	// DoubleClicks is the share of a shopper's ad clicks sent twice (the
	// second must not be charged); negative for none.
	DoubleClicks float64 // default 0.05
}

func (c *AdsConfig) defaults() {
	if c.Campaigns <= 0 {
		c.Campaigns = 20
	}
	if c.Budget <= 0 {
		c.Budget = 40
	}
	if c.Daily <= 0 {
		c.Daily = c.Budget
	}
	if c.MinBid <= 0 {
		c.MinBid = 0.2
	}
	if c.MaxBid < c.MinBid {
		c.MaxBid = max(1, c.MinBid)
	}
	if c.Share <= 0 || c.Share > 1 {
		c.Share = 0.5
	}
	if c.BotVisits < 0 {
		c.BotVisits = 0
	} else if c.BotVisits == 0 {
		c.BotVisits = 2
	}
	switch {
	case c.DoubleClicks == 0:
		c.DoubleClicks = 0.05
	case c.DoubleClicks < 0:
		c.DoubleClicks = 0
	case c.DoubleClicks > 1:
		c.DoubleClicks = 1
	}
}

// AdsArm is what the simulator saw of one arm (served with ads or
// without) on one day.
type AdsArm struct {
	Visits, Pages    int
	Orders           float64 // purchases (units bought, counted once per purchase)
	Revenue          float64
	Converted        int     // visits with a purchase
	OrganicClicks    int     // clicks on items that were not ads
	OrganicNDCG      float64 // sum over pages of the organic nDCG@N (ads gain nothing and take their place)
	OrganicNDCGNoAds float64 // sum over the same pages of the nDCG@N of the page asked with ads=off just before
	NDCGDiff2        float64 // sum over the pages of the squared difference of the two (its spread)
}

// AdsDay is one simulated day of the study.
type AdsDay struct {
	Day         int
	WithAds     AdsArm
	WithoutAds  AdsArm
	Sponsored   int // sponsored items on the pages served to shoppers (bots left out)
	BotAds      int // sponsored items on the bots' pages
	AdClicks    int // clicks on sponsored items sent, double clicks and bots' included
	BotClicks   int
	DoubleSent  int // second clicks sent
	AdPurchases int // purchases of an ad item after clicking it
	// the shop's own reports (GET /api/campaigns/{id}/report, summed over
	// the campaigns; GET /api/campaigns/slots), for this day only
	Impressions, Clicks, Invalid, Unbilled int64
	Spend, AdRevenue                       float64
	Answers                                int64 // answers of the surface with campaigns (its slot's RPM denominator)
	SlotRevenue                            float64
}

// RPM is the day's ad revenue per thousand answers with ad slots.
func (d *AdsDay) RPM() float64 {
	if d.Answers == 0 {
		return 0
	}
	return 1000 * d.SlotRevenue / float64(d.Answers)
}

// ROAS is the day's attributed sales revenue per unit of spend.
func (d *AdsDay) ROAS() float64 {
	if d.Spend == 0 {
		return 0
	}
	return d.AdRevenue / d.Spend
}

// AdsCampaign is one campaign as created and as the shop reports it at
// the end.
type AdsCampaign struct {
	ID, Advertiser      string
	Items               int
	Bid, Budget         float64
	Impressions, Clicks int64
	Invalid, Unbilled   int64
	Spend, Revenue      float64
	AvgPosition         float64
}

// AdsReport is the outcome of Sim.RunAds.
type AdsReport struct {
	Days, ShoppersPerDay, N int
	PositionBias            float64
	Config                  AdsConfig
	Campaigns               []AdsCampaign
	PerDay                  []AdsDay
	// TotalSpend and TotalBudget of all campaigns; MaxOverspend the most
	// any campaign spent beyond its total budget (0 when none did), and
	// MaxBid the highest bid (a click's highest price).
	TotalSpend, TotalBudget, MaxOverspend, MaxBid float64
	// ValidClicksSent: ad clicks the shop should charge by its rules as
	// the simulator knows them (first click of a shopper on an ad item in
	// an answer; bots and second clicks left out): the report's charged
	// clicks are compared with it.
	ValidClicksSent int
	Took            time.Duration
}

// campaignReport is the part of GET /api/campaigns/{id}/report read here.
type campaignReport struct {
	Impressions    int64   `json:"impressions"`
	Clicks         int64   `json:"clicks"`
	Spend          float64 `json:"spend"`
	Revenue        float64 `json:"revenue"`
	AvgPosition    float64 `json:"avg_position"`
	InvalidClicks  int64   `json:"invalid_clicks"`
	UnbilledClicks int64   `json:"unbilled_clicks"`
}

type slotReport struct {
	Surface string  `json:"surface"`
	Answers int64   `json:"answers"`
	Revenue float64 `json:"revenue"`
}

// shopTotals are the shop's reports summed over the campaigns, and the
// recommendation slot's answers and revenue.
type shopTotals struct {
	imps, clicks, invalid, unbilled int64
	spend, revenue                  float64
	answers                         int64
	slotRevenue                     float64
}

// RunAds sets the shop up, creates the campaigns and simulates Days days
// of visits, half the shoppers served with ads; it reports per day what
// the simulator saw and what the shop reports (see docs/merchandising.md).
func (s *Sim) RunAds(ctx context.Context, ac AdsConfig) (*AdsReport, error) {
	start := time.Now()
	ac.defaults()
	if err := s.Setup(ctx); err != nil {
		return nil, err
	}
	if s.cfg.Progress != nil {
		fmt.Fprintf(s.cfg.Progress, "shop loaded and trained (%s)\n", time.Since(start).Round(time.Second))
	}
	rep := &AdsReport{Days: s.cfg.Days, ShoppersPerDay: s.cfg.ShoppersPerDay, N: s.cfg.N, PositionBias: s.cfg.PositionBias, Config: ac}
	camps, err := s.createCampaigns(ctx, ac)
	if err != nil {
		return nil, err
	}
	rep.Campaigns = camps
	prev, err := s.shopTotals(ctx, camps)
	if err != nil {
		return nil, err
	}
	st := &adsState{charged: map[string]time.Time{}}
	for d := range s.cfg.Days {
		t0 := time.Now()
		day := AdsDay{Day: d + 1}
		if err := s.adsDay(ctx, d, ac, st, &day); err != nil {
			return nil, err
		}
		cur, err := s.settledTotals(ctx, camps, prev, day.AdClicks)
		if err != nil {
			return nil, err
		}
		day.Impressions, day.Clicks, day.Invalid, day.Unbilled = cur.imps-prev.imps, cur.clicks-prev.clicks, cur.invalid-prev.invalid, cur.unbilled-prev.unbilled
		day.Spend, day.AdRevenue = cur.spend-prev.spend, cur.revenue-prev.revenue
		day.Answers, day.SlotRevenue = cur.answers-prev.answers, cur.slotRevenue-prev.slotRevenue
		prev = cur
		rep.PerDay = append(rep.PerDay, day)
		// the shop retrains overnight
		if err := s.Retrain(ctx); err != nil {
			return nil, err
		}
		if s.cfg.Progress != nil {
			fmt.Fprintf(s.cfg.Progress, "day %d/%d: %d sponsored items shown, %d ad clicks, spend %.2f (%s)\n", d+1, s.cfg.Days, day.Sponsored, day.AdClicks, day.Spend, time.Since(t0).Round(time.Millisecond))
		}
	}
	for i := range camps {
		var r campaignReport
		if _, err := s.do(ctx, "GET", "/api/campaigns/"+url.PathEscape(camps[i].ID)+"/report", nil, &r); err != nil {
			return nil, err
		}
		c := &camps[i]
		c.Impressions, c.Clicks, c.Invalid, c.Unbilled = r.Impressions, r.Clicks, r.InvalidClicks, r.UnbilledClicks
		c.Spend, c.Revenue, c.AvgPosition = r.Spend, r.Revenue, r.AvgPosition
		rep.TotalSpend += c.Spend
		rep.TotalBudget += c.Budget
		rep.MaxOverspend = max(rep.MaxOverspend, c.Spend-c.Budget)
		rep.MaxBid = max(rep.MaxBid, c.Bid)
	}
	rep.ValidClicksSent = st.valid
	rep.Took = time.Since(start)
	return rep, nil
}

// adsState is what the study remembers across days: when each shopper
// last made a valid click on each ad item, for the count of valid ones.
type adsState struct {
	mu      sync.Mutex
	charged map[string]time.Time // user, item → the last valid click
	valid   int
}

// repeatWindow is the shop's ads.repeat_window (its default): a
// shopper's further clicks on an ad item within it are not valid.
const repeatWindow = 30 * time.Minute

// botClicksPerMinute is the shop's ads.bot_clicks_per_minute (its default).
const botClicksPerMinute = 10

// click notes an ad click that passes the shop's other checks (ok) and
// reports whether it is valid: the shopper's first click on the item
// within the repeat window. A second click sent for the same answer is
// not noted here (it is a duplicate).
func (st *adsState) click(user, item string, ok bool) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	key := user + "\x00" + item
	if t, seen := st.charged[key]; seen && time.Since(t) < repeatWindow || !ok {
		return false
	}
	st.charged[key] = time.Now()
	st.valid++
	return true
}

// createCampaigns makes one campaign per brand among the ac.Campaigns
// brands with the most items, advertising (up to 100 of) its items on the
// recommendation surface with a seeded bid.
func (s *Sim) createCampaigns(ctx context.Context, ac AdsConfig) ([]AdsCampaign, error) {
	byBrand := map[string][]string{}
	for _, it := range s.w.Items {
		if it.Brand != "" {
			byBrand[it.Brand] = append(byBrand[it.Brand], it.ID)
		}
	}
	brands := make([]string, 0, len(byBrand))
	for b := range byBrand {
		brands = append(brands, b)
	}
	slices.SortFunc(brands, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(byBrand[b]), len(byBrand[a])), cmp.Compare(a, b))
	})
	brands = brands[:min(len(brands), ac.Campaigns)]
	rng := seeded(s.cfg.Seed, "campaigns")
	var out []AdsCampaign
	for _, b := range brands {
		items := byBrand[b][:min(len(byBrand[b]), 100)]
		bid := math.Round((ac.MinBid+(ac.MaxBid-ac.MinBid)*rng.Float64())*100) / 100
		body := map[string]any{"name": "brand " + b, "advertiser": b, "items": items, "bid": bid,
			"daily_budget": ac.Daily, "total_budget": ac.Budget, "pacing": "asap",
			"targeting": map[string]any{"surfaces": []string{"recommend"}}}
		var c struct {
			ID string `json:"id"`
		}
		if _, err := s.do(ctx, "POST", "/api/campaigns", body, &c); err != nil {
			return nil, err
		}
		out = append(out, AdsCampaign{ID: c.ID, Advertiser: b, Items: len(items), Bid: bid, Budget: ac.Budget})
	}
	return out, nil
}

// shopTotals reads the shop's reports.
func (s *Sim) shopTotals(ctx context.Context, camps []AdsCampaign) (shopTotals, error) {
	var t shopTotals
	for _, c := range camps {
		var r campaignReport
		if _, err := s.do(ctx, "GET", "/api/campaigns/"+url.PathEscape(c.ID)+"/report", nil, &r); err != nil {
			return t, err
		}
		t.imps += r.Impressions
		t.clicks += r.Clicks
		t.invalid += r.InvalidClicks
		t.unbilled += r.UnbilledClicks
		t.spend += r.Spend
		t.revenue += r.Revenue
	}
	var slots struct {
		Slots []slotReport `json:"slots"`
	}
	if _, err := s.do(ctx, "GET", "/api/campaigns/slots", nil, &slots); err != nil {
		return t, err
	}
	for _, sl := range slots.Slots {
		if sl.Surface == "recommend" {
			t.answers = sl.Answers // the same for each of the surface's slots
			t.slotRevenue += sl.Revenue
		}
	}
	return t, nil
}

// settledTotals reads the shop's reports once every ad click sent today
// is counted (charged or invalid; clicks are billed as their events are
// applied), or after 30 seconds.
func (s *Sim) settledTotals(ctx context.Context, camps []AdsCampaign, prev shopTotals, sent int) (shopTotals, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		t, err := s.shopTotals(ctx, camps)
		if err != nil || int((t.clicks-prev.clicks)+(t.invalid-prev.invalid)) >= sent || time.Now().After(deadline) {
			return t, err
		}
		select {
		case <-ctx.Done():
			return t, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// withAds reports whether a shopper is served with ads (a hash of the id,
// fixed for the run).
func withAds(user string, share float64) bool {
	h := fnv.New64a()
	h.Write([]byte("ads:" + user))
	x := h.Sum64() // FNV's high bits barely change with the last letters: mixed (splitmix64's finaliser)
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11)/(1<<53) < share
}

// adsDay runs one day of the study: the shoppers' visits (with the
// configured workers), then the bots'.
func (s *Sim) adsDay(ctx context.Context, d int, ac AdsConfig, st *adsState, day *AdsDay) error {
	rng := seeded(s.cfg.Seed, "ads", d)
	users := make([]string, s.cfg.ShoppersPerDay)
	for i := range users {
		users[i] = s.w.Users[rng.IntN(len(s.w.Users))]
	}
	var mu sync.Mutex // guards day
	err := s.eachVisit(len(users), func(i int) error {
		return s.adsVisit(ctx, users[i], seeded(s.cfg.Seed, "ads", d, i), ac, st, day, &mu)
	})
	if err != nil {
		return err
	}
	for k := range ac.BotVisits {
		if err := s.botVisit(ctx, fmt.Sprintf("bot-%d-%d", d, k), st, day); err != nil {
			return err
		}
	}
	return nil
}

// adItem is an item of an answer.
type adItem struct {
	ID        string `json:"id"`
	Sponsored bool   `json:"sponsored"`
}

type adAnswer struct {
	RequestID string   `json:"request_id"`
	Items     []adItem `json:"items"`
}

// page asks for a shopper's recommendation page, with or without ads.
func (s *Sim) adsPage(ctx context.Context, user string, ads bool) (adAnswer, error) {
	var ans adAnswer
	path := "/api/recommend/" + url.PathEscape(user) + "?n=" + fmt.Sprint(s.cfg.N)
	if !ads {
		path += "&ads=off"
	}
	_, err := s.do(ctx, "GET", path, nil, &ans)
	return ans, err
}

// adsVisit is one shopper's visit: as Sim.visit (pages examined with
// position bias, clicked and bought by taste), ads looked at and clicked
// like any other item. A shopper served with ads also has the page
// without ads asked just before each page, for the organic nDCG of the
// same moment.
func (s *Sim) adsVisit(ctx context.Context, user string, rng *rand.Rand, ac AdsConfig, st *adsState, day *AdsDay, mu *sync.Mutex) error {
	taste := s.w.Taste(user)
	ideal := idealDCG(taste, s.cfg.N)
	on := withAds(user, ac.Share)
	pages := 1 + rng.IntN(s.cfg.Pages)
	examined := func(k int) float64 { return math.Pow(float64(k), -s.cfg.PositionBias) }
	clickable := func(id string) float64 { return 0.01 + 0.3*taste[id] }
	var arm AdsArm
	arm.Visits = 1
	sponsored, adClicks, doubles, adBuys := 0, 0, 0, 0
	converted := false
	for range pages {
		var plain adAnswer
		if on {
			var err error
			if plain, err = s.adsPage(ctx, user, false); err != nil {
				return err
			}
		}
		ans, err := s.adsPage(ctx, user, on)
		if err != nil {
			return err
		}
		arm.Pages++
		if on {
			with, without := organicNDCG(ans.Items, taste, ideal, s.cfg.N), organicNDCG(plain.Items, taste, ideal, s.cfg.N)
			arm.OrganicNDCG += with
			arm.OrganicNDCGNoAds += without
			arm.NDCGDiff2 += (with - without) * (with - without)
		} else {
			arm.OrganicNDCG += organicNDCG(ans.Items, taste, ideal, s.cfg.N)
			arm.OrganicNDCGNoAds += organicNDCG(ans.Items, taste, ideal, s.cfg.N)
		}
		var evs []event
		bought := false
		for k, it := range ans.Items {
			pos := k + 1
			if it.Sponsored {
				sponsored++
			}
			if rng.Float64() >= examined(pos) || rng.Float64() >= clickable(it.ID) {
				continue
			}
			r := taste[it.ID]
			click := event{UserID: user, ItemID: it.ID, Type: "click", RequestID: ans.RequestID, Position: pos}
			evs = append(evs, click)
			if it.Sponsored {
				adClicks++
				st.click(user, it.ID, true)
				if rng.Float64() < ac.DoubleClicks {
					evs = append(evs, click)
					adClicks++
					doubles++
				}
			} else {
				arm.OrganicClicks++
			}
			var q float64
			if evs, q = cartAndBuy(rng, evs, user, it.ID, ans.RequestID, pos, r); q == 0 {
				continue
			}
			p, _ := s.w.Item(it.ID)
			arm.Orders++
			arm.Revenue += q * p.Price
			if it.Sponsored {
				adBuys++
			}
			bought, converted = true, true
		}
		if len(evs) > 0 {
			if _, err := s.do(ctx, "POST", "/api/events", evs, nil); err != nil {
				return err
			}
		}
		if bought && rng.Float64() < 0.5 {
			break
		}
	}
	if converted {
		arm.Converted = 1
	}
	mu.Lock()
	defer mu.Unlock()
	a := &day.WithoutAds
	if on {
		a = &day.WithAds
	}
	a.Visits += arm.Visits
	a.Pages += arm.Pages
	a.Orders += arm.Orders
	a.Revenue += arm.Revenue
	a.Converted += arm.Converted
	a.OrganicClicks += arm.OrganicClicks
	a.OrganicNDCG += arm.OrganicNDCG
	a.OrganicNDCGNoAds += arm.OrganicNDCGNoAds
	a.NDCGDiff2 += arm.NDCGDiff2
	day.Sponsored += sponsored
	day.AdClicks += adClicks
	day.DoubleSent += doubles
	day.AdPurchases += adBuys
	return nil
}

// botVisit is a client without history asking for twelve pages at once
// and clicking every ad on them: past the shop's clicks-per-minute limit
// and on the same ad items again, most of it must not be charged.
func (s *Sim) botVisit(ctx context.Context, user string, st *adsState, day *AdsDay) error {
	clicks := 0
	for range 12 {
		ans, err := s.adsPage(ctx, user, true)
		if err != nil {
			return err
		}
		var evs []event
		for k, it := range ans.Items {
			if it.Sponsored {
				day.BotAds++
				evs = append(evs, event{UserID: user, ItemID: it.ID, Type: "click", RequestID: ans.RequestID, Position: k + 1})
				// past the shop's ads.bot_clicks_per_minute (default 10)
				// within the minute the visit takes, a bot's clicks are not valid
				clicks++
				st.click(user, it.ID, clicks <= botClicksPerMinute)
			}
		}
		if len(evs) > 0 {
			if _, err := s.do(ctx, "POST", "/api/events", evs, nil); err != nil {
				return err
			}
		}
		day.AdClicks += len(evs)
		day.BotClicks += len(evs)
	}
	return nil
}

// idealDCG is the DCG@n of the shopper's n best items (their taste as the
// gain, 1/log2(k+1) as the discount).
func idealDCG(taste map[string]float64, n int) float64 {
	gains := make([]float64, 0, len(taste))
	for _, g := range taste {
		gains = append(gains, g)
	}
	slices.SortFunc(gains, func(a, b float64) int { return cmp.Compare(b, a) })
	dcg := 0.0
	for k, g := range gains[:min(len(gains), n)] {
		dcg += g / math.Log2(float64(k+2))
	}
	return dcg
}

// organicNDCG is the nDCG@n of a page's organic items at the positions
// they are shown: a sponsored item gains nothing and takes its position.
func organicNDCG(items []adItem, taste map[string]float64, ideal float64, n int) float64 {
	if ideal == 0 {
		return 0
	}
	dcg := 0.0
	for k, it := range items[:min(len(items), n)] {
		if !it.Sponsored {
			dcg += taste[it.ID] / math.Log2(float64(k+2))
		}
	}
	return dcg / ideal
}

// Write prints the report as Markdown.
func (r *AdsReport) Write(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "Simulated shop with sponsored products: %d days × %d visits a day, pages of %d, position bias %.1f, took %s\n\n",
		r.Days, r.ShoppersPerDay, r.N, r.PositionBias, r.Took.Round(time.Second))
	fmt.Fprintf(w, "%d campaigns (the brands with the most items, up to 100 items each, recommend surface, slot 3), bids %.2f–%.2f, total budget %.2f and daily %.2f each; %.0f%% of shoppers served with ads, the others ads=off; %d bot visits a day, %.0f%% of ad clicks sent twice.\n\n",
		len(r.Campaigns), c.MinBid, c.MaxBid, c.Budget, c.Daily, 100*c.Share, c.BotVisits, 100*c.DoubleClicks)
	fmt.Fprintf(w, "| day | sponsored shown | ad clicks sent (bots, doubles) | impressions | charged clicks | invalid | unbilled | spend | ROAS | RPM | conversion with / without ads | revenue/visit with / without | organic clicks/page with / without | organic nDCG@%d with ads / same pages without / other arm |\n", r.N)
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	var tot AdsDay
	for _, d := range r.PerDay {
		r.writeDay(w, fmt.Sprint(d.Day), &d)
		addDay(&tot, &d)
	}
	r.writeDay(w, "all", &tot)
	on, off := &tot.WithAds, &tot.WithoutAds
	if n := float64(on.Pages); n > 1 {
		d := (on.OrganicNDCG - on.OrganicNDCGNoAds) / n
		h := z95 * math.Sqrt(max(on.NDCGDiff2/n-d*d, 0)/(n-1))
		fmt.Fprintf(w, "\nOrganic nDCG@%d of the pages served with ads against the same shoppers' pages without, asked just before (%d pages): %+.4f [%+.4f, %+.4f] (%+.1f%%).\n",
			r.N, on.Pages, d, d-h, d+h, 100*d/ratio(on.OrganicNDCGNoAds, n))
	}
	if on.Visits > 0 && off.Visits > 0 {
		p1, p0 := float64(on.Converted)/float64(on.Visits), float64(off.Converted)/float64(off.Visits)
		h := z95 * math.Sqrt(p1*(1-p1)/float64(on.Visits)+p0*(1-p0)/float64(off.Visits))
		fmt.Fprintf(w, "Conversion of visits with ads %.2f%% (%d) against without %.2f%% (%d): %+.2f points [%+.2f, %+.2f] (two random halves of the shoppers).\n",
			100*p1, on.Visits, 100*p0, off.Visits, 100*(p1-p0), 100*(p1-p0-h), 100*(p1-p0+h))
	}
	fmt.Fprintf(w, "\nSpend %.2f of %.2f budgeted; most any campaign spent beyond its total budget: %.2f (a click's highest price: %.2f). Charged clicks %d; valid clicks sent by the simulator's count %d.\n",
		r.TotalSpend, r.TotalBudget, r.MaxOverspend, r.MaxBid, tot.Clicks, r.ValidClicksSent)
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func (r *AdsReport) writeDay(w io.Writer, name string, d *AdsDay) {
	on, off := &d.WithAds, &d.WithoutAds
	fmt.Fprintf(w, "| %s | %d | %d (%d, %d) | %d | %d | %d | %d | %.2f | %.2f | %.2f | %.2f%% / %.2f%% | %.2f / %.2f | %.3f / %.3f | %.4f / %.4f / %.4f |\n",
		name, d.Sponsored, d.AdClicks, d.BotClicks, d.DoubleSent, d.Impressions, d.Clicks, d.Invalid, d.Unbilled, d.Spend, d.ROAS(), d.RPM(),
		100*ratio(float64(on.Converted), float64(on.Visits)), 100*ratio(float64(off.Converted), float64(off.Visits)),
		ratio(on.Revenue, float64(on.Visits)), ratio(off.Revenue, float64(off.Visits)),
		ratio(float64(on.OrganicClicks), float64(on.Pages)), ratio(float64(off.OrganicClicks), float64(off.Pages)),
		ratio(on.OrganicNDCG, float64(on.Pages)), ratio(on.OrganicNDCGNoAds, float64(on.Pages)), ratio(off.OrganicNDCG, float64(off.Pages)))
}

func addDay(t, d *AdsDay) {
	for _, p := range [][2]*AdsArm{{&t.WithAds, &d.WithAds}, {&t.WithoutAds, &d.WithoutAds}} {
		a, b := p[0], p[1]
		a.Visits += b.Visits
		a.Pages += b.Pages
		a.Orders += b.Orders
		a.Revenue += b.Revenue
		a.Converted += b.Converted
		a.OrganicClicks += b.OrganicClicks
		a.OrganicNDCG += b.OrganicNDCG
		a.OrganicNDCGNoAds += b.OrganicNDCGNoAds
		a.NDCGDiff2 += b.NDCGDiff2
	}
	t.Sponsored += d.Sponsored
	t.BotAds += d.BotAds
	t.AdClicks += d.AdClicks
	t.BotClicks += d.BotClicks
	t.DoubleSent += d.DoubleSent
	t.AdPurchases += d.AdPurchases
	t.Impressions += d.Impressions
	t.Clicks += d.Clicks
	t.Invalid += d.Invalid
	t.Unbilled += d.Unbilled
	t.Spend += d.Spend
	t.AdRevenue += d.AdRevenue
	t.Answers += d.Answers
	t.SlotRevenue += d.SlotRevenue
}
