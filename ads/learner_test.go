package ads

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/reqid"
)

// The click model retrains from logged impressions and clicks, serves
// when it is no worse, survives a restart and rolls back.
func TestLearnerRetrainsFromLoggedImpressions(t *testing.T) {
	ctx := context.Background()
	sh := newTestShop(t)
	s := sh.service(t)
	saveCampaign(t, s, Campaign{Name: "A", Advertiser: "Acme", Items: []string{"i0"}, Bid: 1, DailyBudget: 1e6, Pacing: "asap", Targeting: Targeting{Queries: []string{"stapler"}}})
	saveCampaign(t, s, Campaign{Name: "B", Advertiser: "Bolt", Items: []string{"i2"}, Bid: 0.9, DailyBudget: 1e6, Pacing: "asap", Targeting: Targeting{Queries: []string{"stapler"}}})
	l := Learner{S: s}
	if res, err := l.RunOnce(ctx); err != nil || res.Trained {
		t.Fatalf("with no impressions: %+v %v", res, err)
	}
	seq := uint64(0)
	for i := range 400 {
		user := fmt.Sprint("u", i)
		rid := reqid.New()
		for _, p := range s.Fill(ctx, Request{RequestID: rid, Surface: "search", Query: "red stapler", User: user}) {
			// shoppers click the first slot a third of the time, the fifth rarely
			if (p.Position == 1 && i%3 == 0) || (p.Position == 5 && i%17 == 0) {
				seq++
				s.Click(ctx, events.Event{Seq: seq, UserID: user, ItemID: p.Item, Type: events.Click, RequestID: rid, Position: p.Position, Timestamp: sh.now})
			}
		}
	}
	res, err := l.RunOnce(ctx)
	if err != nil || !res.Trained || res.Version != 1 || l.ServingVersion() != 1 {
		t.Fatalf("retrain: %+v %v", res, err)
	}
	m := s.Model()
	if p1, p5 := m.Predict(Features{Position: 1, TextMatch: 1}), m.Predict(Features{Position: 5, TextMatch: 1}); !(p1 > p5) {
		t.Fatalf("the model does not learn the position effect: %v at 1, %v at 5", p1, p5)
	}
	cal, err := s.Calibrate(ctx, 4)
	if err != nil || len(cal) != 4 {
		t.Fatalf("calibration: %+v %v", cal, err)
	}
	s2 := sh.service(t)
	if got := s2.Model(); got.Version != 1 {
		b, _ := json.Marshal(got)
		t.Fatalf("after a restart the model is %s", b)
	}
	if meta, err := l.Rollback(ctx); err != nil || meta.Version != 0 || s.Model().Version != 0 {
		t.Fatalf("rollback: %+v %v", meta, err)
	}
}
