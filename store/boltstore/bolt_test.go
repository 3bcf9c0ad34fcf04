package boltstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store"
)

func open(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestItemsAndPaging(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	var items []catalog.Item
	for i := 0; i < 25; i++ {
		items = append(items, catalog.Item{ID: fmt.Sprintf("i%02d", i), Title: "t", Available: true})
	}
	if err := s.PutItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	if err := s.PutItems(ctx, items[:3]); err != nil { // replace, not add
		t.Fatal(err)
	}
	if n, _ := s.CountItems(ctx); n != 25 {
		t.Fatalf("count %d", n)
	}
	for _, limit := range []int{1, 7, 25, 100} {
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			page, next, err := s.ListItems(ctx, cursor, limit)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range page {
				got = append(got, it.ID)
			}
			if next == "" {
				break
			}
			if pages > 100 {
				t.Fatal("paging does not end")
			}
			cursor = next
		}
		if len(got) != 25 || got[0] != "i00" || got[24] != "i24" {
			t.Fatalf("limit %d: got %v", limit, got)
		}
	}
	if _, _, err := s.ListItems(ctx, "!!", 10); !errors.Is(err, store.ErrBadCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
	if err := s.DeleteItem(ctx, "i03"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetItem(ctx, "i03"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted item: %v", err)
	}
	if err := s.DeleteItem(ctx, "i03"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestEventsUsersForget(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []events.Event
	for i := 0; i < 10; i++ {
		evs = append(evs, events.Event{UserID: fmt.Sprintf("u%d", i%3), ItemID: "x", Type: events.View, Timestamp: t0.Add(time.Duration(i) * time.Second)})
	}
	// A user id that is a prefix of another must not see the other's events.
	evs = append(evs, events.Event{UserID: "u1x", ItemID: "x", Type: events.Click, Timestamp: t0})
	if err := s.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	for i, e := range evs {
		if e.Seq != uint64(i+1) {
			t.Fatalf("seq %d = %d", i, e.Seq)
		}
	}
	if n, _ := s.CountUsers(ctx); n != 4 {
		t.Fatalf("users created by events: %d", n)
	}
	got, err := s.UserEvents(ctx, "u1", 0)
	if err != nil || len(got) != 3 || got[0].Seq != 8 || got[2].Seq != 2 {
		t.Fatalf("u1 events: %v %v", got, err)
	}
	if got, _ := s.UserEvents(ctx, "u1", 2); len(got) != 2 {
		t.Fatalf("limit: %d", len(got))
	}
	if got, _ := s.UserEvents(ctx, "u1x", 0); len(got) != 1 {
		t.Fatalf("u1x events: %v", got)
	}
	var seqs []uint64
	s.ScanEvents(ctx, 5, func(e events.Event) error { seqs = append(seqs, e.Seq); return nil })
	if len(seqs) != 6 || seqs[0] != 6 {
		t.Fatalf("scan after 5: %v", seqs)
	}
	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.UserEvents(ctx, "u1", 0); len(got) != 0 {
		t.Fatalf("forgotten events remain: %v", got)
	}
	if got, _ := s.UserEvents(ctx, "u1x", 0); len(got) != 1 {
		t.Fatalf("neighbour's events were deleted: %v", got)
	}
	if n, _ := s.CountEvents(ctx); n != 8 {
		t.Fatalf("events after forget: %d", n)
	}
	if err := s.DeleteUser(ctx, "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("forget twice: %v", err)
	}
}

func TestModels(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	for i := 0; i < 3; i++ {
		v, err := s.SaveModel(ctx, store.ModelMeta{Name: "bpr", Status: "candidate", Metrics: map[string]float64{"NDCG@10": float64(i)}}, []byte{byte(i)})
		if err != nil || v != i+1 {
			t.Fatalf("save %d: v%d %v", i, v, err)
		}
	}
	s.SaveModel(ctx, store.ModelMeta{Name: "bpr2"}, nil)
	list, _ := s.ListModels(ctx, "bpr")
	if len(list) != 3 || list[2].Version != 3 {
		t.Fatalf("list: %+v", list)
	}
	if all, _ := s.ListModels(ctx, ""); len(all) != 4 {
		t.Fatalf("all: %d", len(all))
	}
	meta, blob, err := s.LoadModel(ctx, "bpr", 2)
	if err != nil || blob[0] != 1 || meta.Metrics["NDCG@10"] != 1 {
		t.Fatalf("load: %+v %v %v", meta, blob, err)
	}
	var streamed []byte
	err = s.ReadModel(ctx, "bpr", 3, func(m store.ModelMeta, r io.Reader) error {
		streamed, err = io.ReadAll(r)
		if m.Version != 3 {
			t.Fatalf("streamed meta %+v", m)
		}
		return err
	})
	if err != nil || len(streamed) != 1 || streamed[0] != 2 {
		t.Fatalf("stream: %v %v", streamed, err)
	}
	if err := s.ReadModel(ctx, "bpr", 9, func(store.ModelMeta, io.Reader) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stream missing: %v", err)
	}
	meta.Status = "serving"
	if err := s.UpdateModelMeta(ctx, meta); err != nil {
		t.Fatal(err)
	}
	if m, _, _ := s.LoadModel(ctx, "bpr", 2); m.Status != "serving" {
		t.Fatalf("status not updated")
	}
	if _, _, err := s.LoadModel(ctx, "bpr", 9); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing version: %v", err)
	}
}

func BenchmarkAppendEvents(b *testing.B) {
	ctx := context.Background()
	s := open(b)
	batch := make([]events.Event, 10000)
	t0 := time.Now()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for i := range batch {
			batch[i] = events.Event{UserID: fmt.Sprintf("user%d", (n*10000+i)%50000), ItemID: fmt.Sprintf("item%d", i%3000), Type: events.View, Timestamp: t0}
		}
		if err := s.AppendEvents(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
}
