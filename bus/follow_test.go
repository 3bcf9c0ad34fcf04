package bus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/bus"
	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/engine"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
	"github.com/aisle-dev/aisle/store/boltstore"
)

// recorder is a listener that keeps what it was told.
type recorder struct {
	mu      sync.Mutex
	items   map[string]catalog.Item
	events  []uint64
	deleted []string
	models  []string
}

func (r *recorder) ItemsUpserted(its []catalog.Item) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, it := range its {
		r.items[it.ID] = it
	}
}
func (r *recorder) ItemsDeleted(ids []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		delete(r.items, id)
	}
}
func (r *recorder) EventsAppended(evs []events.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range evs {
		r.events = append(r.events, e.Seq)
	}
}
func (r *recorder) UserDeleted(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deleted = append(r.deleted, id)
}
func (r *recorder) ModelChanged(_ context.Context, m store.ModelMeta) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.models = append(r.models, m.Name)
	return nil
}

func (r *recorder) snapshot() (items []string, evs []uint64, deleted, models []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range r.items {
		items = append(items, id)
	}
	slices.Sort(items)
	return items, slices.Clone(r.events), slices.Clone(r.deleted), slices.Clone(r.models)
}

func newEngine(t *testing.T) (*engine.Engine, *recorder) {
	t.Helper()
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng, err := engine.New(engine.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{items: map[string]catalog.Item{}}
	eng.Subscribe(rec)
	return eng, rec
}

func change(t *testing.T, c engine.Change, id int64) bus.Message {
	t.Helper()
	m, err := bus.Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	m.ID = id
	return m
}

func ev(seq uint64, user, item string) events.Event {
	return events.Event{Seq: seq, UserID: user, ItemID: item, Type: events.View, Timestamp: time.Unix(1.7e9, 0).UTC()}
}

// eventually waits up to 5 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5 s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFollowerAppliesTheFeedOnce(t *testing.T) {
	for name, open := range feeds(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			b := open(t)
			eng, rec := newEngine(t)
			// this replica stored event 2 itself (told its listeners then)
			eng.SetAppliedFloor(1)
			msgs := []bus.Message{
				change(t, engine.Change{Kind: engine.KindItemsUpsert, Items: []catalog.Item{{ID: "a", Title: "blue pen"}, {ID: "b", Title: "red pen"}}}, 1),
				change(t, engine.Change{Kind: engine.KindEventsAppend, Events: []events.Event{ev(1, "u1", "a"), ev(3, "u1", "b")}}, 2),
				{ID: 3, Kind: "items.upsert", Payload: []byte(`{"id":`)}, // damaged: skipped, does not stop the feed
				change(t, engine.Change{Kind: engine.KindEventsAppend, Events: []events.Event{ev(3, "u1", "b"), ev(4, "u2", "a")}}, 4),
				change(t, engine.Change{Kind: engine.KindItemsDelete, IDs: []string{"b"}}, 5),
				change(t, engine.Change{Kind: engine.KindUsersDelete, UserID: "u2"}, 6),
				change(t, engine.Change{Kind: engine.KindModelMeta, Model: &store.ModelMeta{Name: "ials", Version: 2, Status: "serving"}}, 7),
			}
			if err := b.Publish(ctx, msgs[:4]...); err != nil {
				t.Fatal(err)
			}
			f := &bus.Follower{Bus: b, Engine: eng}
			caught := make(chan struct{})
			go f.Run(ctx, 1, func() { close(caught) })
			select {
			case <-caught:
			case <-time.After(5 * time.Second):
				t.Fatal("the follower did not catch up")
			}
			// caught up means the feed as it was at the start is applied
			items, evs, _, _ := rec.snapshot()
			if !slices.Equal(items, []string{"a", "b"}) || !slices.Equal(evs, []uint64{3, 4}) {
				t.Fatalf("after catching up: items %v, events %v; want [a b], [3 4]", items, evs)
			}
			if err := b.Publish(ctx, msgs[4:]...); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the later changes applied", func() bool {
				items, _, deleted, models := rec.snapshot()
				return slices.Equal(items, []string{"a"}) && slices.Equal(deleted, []string{"u2"}) && slices.Equal(models, []string{"ials"})
			})
			st := f.Stats()
			if st.Applied != 6 || st.Failed != 1 || st.Position != 7 {
				t.Errorf("stats %+v, want 6 applied, 1 failed, position 7", st)
			}
		})
	}
}

func TestFollowerReloadsWhenItsPositionWasTrimmed(t *testing.T) {
	ctx := t.Context()
	b := bus.NewMemory()
	eng, rec := newEngine(t)
	for i := range 4 {
		if err := b.Publish(ctx, change(t, engine.Change{Kind: engine.KindItemsDelete, IDs: []string{"x"}}, int64(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	b.Trim(3) // positions 1 and 2 are gone
	// the store holds an item that the trimmed changes had announced
	if err := eng.Store().PutItems(ctx, []catalog.Item{{ID: "kept", Title: "in the store", CreatedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	reloads := 0
	f := &bus.Follower{Bus: b, Engine: eng, Reload: func(ctx context.Context) error { reloads++; return eng.Reload(ctx) }}
	caught := make(chan struct{})
	go f.Run(ctx, 1, func() { close(caught) })
	select {
	case <-caught:
	case <-time.After(5 * time.Second):
		t.Fatal("the follower did not catch up")
	}
	items, _, _, _ := rec.snapshot()
	if reloads != 1 || !slices.Equal(items, []string{"kept"}) {
		t.Fatalf("reloads %d, items %v; want 1 reload that told the listeners the stored item", reloads, items)
	}
	if p := f.Stats().Position; p != 4 {
		t.Fatalf("position %d after the reload, want 4 (the feed's last)", p)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	v := 4.0
	cases := []engine.Change{
		{Kind: engine.KindItemsUpsert, Items: []catalog.Item{{ID: "a", Title: "pen"}}},
		{Kind: engine.KindItemsDelete, IDs: []string{"a", "b"}},
		{Kind: engine.KindUsersUpsert, Users: []catalog.User{{ID: "u"}}},
		{Kind: engine.KindUsersDelete, UserID: "u", Events: []events.Event{ev(9, "u", "a")}},
		{Kind: engine.KindEventsAppend, Events: []events.Event{{Seq: 7, UserID: "u", ItemID: "a", Type: events.Rating, Value: &v, Timestamp: time.Unix(1.7e9, 0).UTC()}}},
		{Kind: engine.KindModelMeta, Model: &store.ModelMeta{Name: "ease", Version: 3, Status: "serving"}},
	}
	for _, c := range cases {
		t.Run(c.Kind, func(t *testing.T) {
			m, err := bus.Encode(c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := bus.Decode(t.Context(), m, nil)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := json.Marshal(c)
			b, _ := json.Marshal(got)
			if string(a) != string(b) {
				t.Errorf("round trip\n got %s\nwant %s", b, a)
			}
		})
	}
	// other spellings a store may write
	for payload, want := range map[string]string{`{"ids":["a"]}`: "a", `"a"`: "a"} {
		kind := engine.KindItemsDelete
		if payload == `"a"` {
			kind = engine.KindUsersDelete
		}
		c, err := bus.Decode(t.Context(), bus.Message{Kind: kind, Payload: []byte(payload)}, nil)
		if err != nil || (c.UserID != want && (len(c.IDs) != 1 || c.IDs[0] != want)) {
			t.Errorf("decode %s %s = %+v, %v", kind, payload, c, err)
		}
	}
	if _, err := bus.Decode(t.Context(), bus.Message{Kind: "items.rename"}, nil); err == nil {
		t.Error("an unknown kind decoded")
	}
}

// The PostgreSQL outbox carries changes by reference: the replica reads
// the records from the shared store.
func TestDecodeByReference(t *testing.T) {
	ctx := t.Context()
	eng, _ := newEngine(t)
	st := eng.Store()
	now := time.Now().UTC()
	if err := st.PutItems(ctx, []catalog.Item{{ID: "a", Title: "pen", Available: true, CreatedAt: now}, {ID: "b", Title: "cup", Available: true, CreatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	evs := []events.Event{ev(0, "u1", "a"), ev(0, "u1", "b"), ev(0, "u2", "a")}
	if err := st.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	dec := func(kind, payload string) engine.Change {
		t.Helper()
		c, err := bus.Decode(ctx, bus.Message{ID: 1, Kind: kind, Payload: []byte(payload)}, st)
		if err != nil {
			t.Fatalf("%s %s: %v", kind, payload, err)
		}
		return c
	}
	c := dec(engine.KindItemsUpsert, `{"ids":["a","gone","b"]}`)
	if len(c.Items) != 2 || c.Items[0].Title != "pen" || c.Items[1].Title != "cup" {
		t.Errorf("items by reference: %+v (an id gone from the store is left out)", c.Items)
	}
	c = dec(engine.KindEventsAppend, fmt.Sprintf(`{"first_seq":%d,"last_seq":%d,"count":2}`, evs[1].Seq, evs[2].Seq))
	if len(c.Events) != 2 || c.Events[0].Seq != evs[1].Seq || c.Events[1].UserID != "u2" {
		t.Errorf("events by range: %+v", c.Events)
	}
	if c = dec(engine.KindItemsDelete, `{"ids":["a","gone"]}`); len(c.IDs) != 1 || c.IDs[0] != "gone" {
		t.Errorf("items.delete by reference: %+v; an item the store holds again must stay", c.IDs)
	}
	if c = dec(engine.KindUsersDelete, `{"ids":["u1"]}`); len(c.IDs) != 1 || c.IDs[0] != "u1" {
		t.Errorf("users.delete by reference: %+v", c)
	}
	if c = dec(engine.KindEventsExpire, `{"seqs":[1,2]}`); len(c.Seqs) != 2 {
		t.Errorf("events.expire: %+v", c)
	}
	if _, err := bus.Decode(ctx, bus.Message{Kind: engine.KindItemsUpsert, Payload: []byte(`{"ids":["a"]}`)}, nil); err == nil {
		t.Error("a by-reference change decoded without a store")
	}
	if _, err := bus.Decode(ctx, bus.Message{Kind: engine.KindEventsAppend, Payload: []byte(`{"first_seq":5,"last_seq":2}`)}, st); err == nil {
		t.Error("a backwards range decoded")
	}
}
