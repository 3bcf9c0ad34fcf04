package aisle

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/events"
)

// A server restarted over its data directory answers similar items,
// bought together and searches (boosted by the click model) exactly as
// before the stop, right after Start: the counts, the click model, ad
// billing and the learnt item relations come back from their snapshots
// (decision 0047), which a clean shutdown wrote; the products, added
// after the first start's Load, are analysed again (Close writes no
// keyword index, decision 0063).
func TestRestartAnswersFromSnapshots(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	a, url, stop := start(t, cfg)
	var its []catalog.Item
	for i := range 40 {
		its = append(its, catalog.Item{ID: fmt.Sprintf("p%02d", i), Title: fmt.Sprintf("gel pen %d colour %d", i, i%6),
			Categories: []string{fmt.Sprintf("Office/Pens/K%d", i%4)}, Available: true})
	}
	if err := a.Engine().AddItems(ctx, its); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	var evs []events.Event
	for u := range 120 {
		user, sess := fmt.Sprintf("u%d", u), fmt.Sprintf("s%d", u)
		at := t0.Add(time.Duration(u) * 10 * time.Minute)
		a1, a2 := fmt.Sprintf("p%02d", (u*7)%40), fmt.Sprintf("p%02d", (u*7+3)%40)
		evs = append(evs,
			events.Event{UserID: user, SessionID: sess, Type: events.Search, Query: "gel pen", Timestamp: at},
			events.Event{UserID: user, SessionID: sess, ItemID: a1, Type: events.Click, Timestamp: at.Add(time.Minute)},
			events.Event{UserID: user, SessionID: sess, ItemID: a1, Type: events.Purchase, Timestamp: at.Add(2 * time.Minute)},
			events.Event{UserID: user, SessionID: sess, ItemID: a2, Type: events.Purchase, Timestamp: at.Add(3 * time.Minute)})
	}
	if err := a.Engine().AddEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := a.svc.LearnRelated(ctx); err != nil {
		t.Fatal(err)
	}
	// events after the relations were learnt: they count at the next
	// scheduled rebuild, not before (a rebuild at start would count them)
	var more []events.Event
	for u := range 80 {
		user, sess := fmt.Sprintf("v%d", u), fmt.Sprintf("t%d", u)
		at := t0.Add(time.Duration(u) * 7 * time.Minute)
		for _, id := range []string{"p00", "p13", "p21", "p39"} {
			more = append(more, events.Event{UserID: user, SessionID: sess, ItemID: id, Type: events.Purchase, Timestamp: at})
		}
	}
	if err := a.Engine().AddEvents(ctx, more); err != nil {
		t.Fatal(err)
	}
	answers := func(url string) map[string]any {
		t.Helper()
		out := map[string]any{}
		paths := []string{"/api/search?q=gel+pen&n=20"}
		for _, id := range []string{"p00", "p07", "p13", "p21", "p39"} {
			paths = append(paths, "/api/items/"+id+"/similar?n=8", "/api/items/"+id+"/bought-together?n=8")
		}
		for _, p := range paths {
			code, body := get(t, url+p)
			var v map[string]any
			if code != 200 || json.Unmarshal([]byte(body), &v) != nil {
				t.Fatalf("GET %s: %d %s", p, code, body)
			}
			delete(v, "request_id")
			delete(v, "took_ms")
			out[p] = v
		}
		return out
	}
	before := answers(url)
	judged := a.clicks.Judgments()
	if len(judged) == 0 {
		t.Fatal("the click model learnt nothing: the test proves nothing")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	data := a.cfg.Data
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{"recommend", "clicks", "ads", "related"} {
		if _, err := os.Stat(filepath.Join(data, "snapshots", part+".snap")); err != nil {
			t.Fatalf("no %s snapshot after a clean shutdown: %v", part, err)
		}
	}
	// the products came after the start's Load: Close does not save the
	// keyword index (a save analyses the whole catalogue: minutes at 1M,
	// decision 0063), the restart analyses them
	if _, err := os.Stat(filepath.Join(data, "ann", "keyword.index")); err == nil {
		t.Fatal("a keyword index was saved, by Close or by a start whose catalogue was empty")
	}
	cfg.Data = data
	b, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go b.Serve(sctx, ln)
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, loads, reused, changed := b.ix.KeywordIndexStats(); loads != 0 || reused != 0 || changed != 0 {
		t.Fatalf("restart: keyword index loaded %d times, %d products reused, %d changed; want no file (the 40 products analysed)", loads, reused, changed)
	}
	after := answers("http://" + ln.Addr().String())
	for p, w := range before {
		if !reflect.DeepEqual(after[p], w) {
			t.Fatalf("GET %s after the restart:\n%v\nbefore the stop:\n%v", p, after[p], w)
		}
	}
	if !reflect.DeepEqual(b.clicks.Judgments(), judged) {
		t.Fatal("the click model differs after the restart")
	}
}
