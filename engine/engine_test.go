package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/store/boltstore"
)

type recorder struct {
	upserted, deleted, appended, forgotten int
}

func (r *recorder) ItemsUpserted(items []catalog.Item) { r.upserted += len(items) }
func (r *recorder) ItemsDeleted(ids []string)          { r.deleted += len(ids) }
func (r *recorder) EventsAppended(evs []events.Event)  { r.appended += len(evs) }
func (r *recorder) UserDeleted(string)                 { r.forgotten++ }

func newEngine(t *testing.T, accept bool) (*Engine, *recorder) {
	t.Helper()
	st, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e, err := New(Options{Store: st, AcceptUnknownItems: accept})
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	e.Subscribe(r)
	return e, r
}

func TestBatchesAreAllOrNothing(t *testing.T) {
	ctx := context.Background()
	e, r := newEngine(t, false)
	if err := e.AddItems(ctx, []catalog.Item{{ID: "a"}, {ID: "b"}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		run  func() error
		// field of the first problem
		field string
	}{
		{"duplicate ids", func() error { return e.AddItems(ctx, []catalog.Item{{ID: "c"}, {ID: "c"}}) }, "id"},
		{"one bad item", func() error { return e.AddItems(ctx, []catalog.Item{{ID: "c"}, {ID: ""}}) }, "id"},
		{"unknown item in events", func() error {
			return e.AddEvents(ctx, []events.Event{{UserID: "u", ItemID: "a", Type: events.View}, {UserID: "u", ItemID: "zz", Type: events.View}})
		}, "item_id"},
		{"duplicate users", func() error { return e.AddUsers(ctx, []catalog.User{{ID: "u"}, {ID: "u"}}) }, "id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			var be *catalog.BatchError
			if !errors.As(err, &be) || be.Problems[0].Field != c.field {
				t.Fatalf("got %v, want a problem with %s", err, c.field)
			}
		})
	}
	n, _ := e.Counts(ctx)
	if n.Items != 2 || n.Events != 0 || n.Users != 0 {
		t.Fatalf("rejected batches left data: %+v", n)
	}
	if r.upserted != 2 || r.appended != 0 {
		t.Fatalf("listeners told about rejected batches: %+v", r)
	}
	if err := e.AddEvents(ctx, []events.Event{{UserID: "u", ItemID: "a", Type: events.View}}); err != nil || r.appended != 1 {
		t.Fatalf("good event: %v %+v", err, r)
	}
	if err := e.DeleteItem(ctx, "a"); err != nil || r.deleted != 1 {
		t.Fatalf("delete: %v %+v", err, r)
	}
	if err := e.DeleteUser(ctx, "u"); err != nil || r.forgotten != 1 {
		t.Fatalf("forget: %v %+v", err, r)
	}
}

func TestAcceptUnknownItems(t *testing.T) {
	e, _ := newEngine(t, true)
	if err := e.AddEvents(context.Background(), []events.Event{{UserID: "u", ItemID: "nowhere", Type: events.Click}}); err != nil {
		t.Fatalf("unknown item refused although accepted by config: %v", err)
	}
}

func TestPatchItem(t *testing.T) {
	ctx := context.Background()
	e, _ := newEngine(t, false)
	e.AddItems(ctx, []catalog.Item{{ID: "a", Title: "old", Brand: "B", Available: true}})
	it, err := e.PatchItem(ctx, "a", []byte(`{"title":"new","brand":null}`))
	if err != nil || it.Title != "new" || it.Brand != "" || !it.Available {
		t.Fatalf("patched %+v %v", it, err)
	}
	if _, err := e.PatchItem(ctx, "a", []byte(`{"price":-3}`)); err == nil {
		t.Fatal("invalid patch accepted")
	}
	got, _ := e.GetItem(ctx, "a")
	if got.Title != "new" {
		t.Fatalf("invalid patch half-applied: %+v", got)
	}
}

func TestImportSkipsBadRowsAndReports(t *testing.T) {
	ctx := context.Background()
	e, _ := newEngine(t, false)
	var sb strings.Builder
	for i := 0; i < 25; i++ {
		fmt.Fprintf(&sb, `{"id":"i%d","title":"t"}`+"\n", i)
	}
	sb.WriteString(`{"id":"","title":"no id"}` + "\n" + `{"id":"x","bogus":1}` + "\nnot json\n")
	rep, err := e.Import(ctx, KindItems, ImportSource{R: strings.NewReader(sb.String()), Format: catalog.JSONL})
	if err != nil || rep.Accepted != 25 || rep.Rejected != 3 || len(rep.Reasons) != 3 {
		t.Fatalf("items: %+v %v", rep, err)
	}
	if !strings.Contains(rep.Reasons[0], "line 26") {
		t.Fatalf("reason without its line: %v", rep.Reasons)
	}
	csv := "user_id,item_id,type\nu1,i1,view\nu2,missing,view\nu3,i2,fly\n"
	rep, err = e.Import(ctx, KindEvents, ImportSource{R: strings.NewReader(csv), Format: catalog.CSV, Sep: ','})
	if err != nil || rep.Accepted != 1 || rep.Rejected != 2 {
		t.Fatalf("events: %+v %v", rep, err)
	}
	rep, err = e.Import(ctx, KindUsers, ImportSource{R: strings.NewReader("id,colour\nu1,red\n"), Format: catalog.CSV, Sep: ','})
	if err == nil || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("bad header must stop the import: %+v %v", rep, err)
	}
}
