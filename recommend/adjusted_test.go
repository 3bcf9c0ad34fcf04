package recommend

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/pipeline"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// TestQueryTimeSettingsServeAfterARestart: the query-time settings the
// training chose for itemfilter (a model.Adjustable) are listed with the
// version (GET /api/models, the dashboard) and a restarted service, which
// loads the version from the store, serves with them: the same answer,
// and the loaded model reports the chosen settings.
func TestQueryTimeSettingsServeAfterARestart(t *testing.T) {
	ctx := context.Background()
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// 240 users: 8 old items of one group, then 4 of another; what they
	// take next is of the newer group, so a history bonus wins validation
	var its []catalog.Item
	for i := 0; i < 240; i++ {
		its = append(its, catalog.Item{ID: fmt.Sprintf("i%03d", i), Title: fmt.Sprintf("thing %d", i), Available: true})
	}
	if err := st.PutItems(ctx, its); err != nil {
		t.Fatal(err)
	}
	var evs []events.Event
	for u := 0; u < 240; u++ {
		g, h := u%4, 4+(u/4)%4
		at := t0.Add(time.Duration(u) * time.Hour)
		for k := 0; k < 12; k++ {
			it := g*30 + (u*7+k*3)%30
			if k >= 8 {
				it = h*30 + (u*5+k*3)%30
			}
			at = at.Add(time.Duration(60+(k*37+u)%50) * time.Second)
			evs = append(evs, events.Event{UserID: fmt.Sprintf("u%03d", u), ItemID: its[it].ID, Type: events.Purchase, Timestamp: at})
		}
	}
	if err := st.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	opts := pipeline.Options{Preprocess: pipeline.DefaultPreprocess(), ValidationUsers: 240,
		Models: []pipeline.Spec{{Name: "itemfilter", Params: model.Params{"gf_weight": 0, "ials_factors": 8}}}}
	data, err := opts.Load(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	res, err := pipeline.Train(ctx, st, data, opts)
	if err != nil || len(res) != 1 || !res[0].Trained {
		t.Fatalf("train: %+v %v", res, err)
	}
	chosen := res[0].Adjusted
	if chosen["recency"] <= 0 {
		t.Fatalf("no history bonus chosen where the newest items say what comes next: %+v", res[0])
	}
	svc := New(st, Config{}, nil)
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Promote(ctx, res[0].Model, res[0].Version); err != nil {
		t.Fatal(err)
	}
	before, err := svc.Recommend(ctx, "u005", Request{N: 10})
	if err != nil || len(before.Items) == 0 || before.Model != fmt.Sprintf("itemfilter@%d", res[0].Version) {
		t.Fatalf("answer before the restart: %+v %v", before, err)
	}

	restarted := New(st, Config{}, nil)
	if err := restarted.Load(ctx); err != nil {
		t.Fatal(err)
	}
	infos, err := restarted.Models(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || !infos[0].Serving || !maps.Equal(infos[0].Adjusted, chosen) {
		t.Fatalf("listed versions %+v, want itemfilter serving with settings %v", infos, chosen)
	}
	sm := restarted.models.Load().byName["itemfilter"]
	if sm == nil {
		t.Fatal("itemfilter does not serve after the restart")
	}
	got := sm.m.(interface{ Params() model.Params }).Params()
	for k, v := range chosen {
		if got[k] != v {
			t.Fatalf("after the restart %s is %v, chosen %v", k, got[k], v)
		}
	}
	after, err := restarted.Recommend(ctx, "u005", Request{N: 10})
	if err != nil {
		t.Fatal(err)
	}
	ids := func(a *Answer) []string {
		var out []string
		for _, it := range a.Items {
			out = append(out, it.ID)
		}
		return out
	}
	if !slices.Equal(ids(before), ids(after)) || before.Model != after.Model {
		t.Fatalf("answer before the restart %v (%s), after %v (%s)", ids(before), before.Model, ids(after), after.Model)
	}
}
