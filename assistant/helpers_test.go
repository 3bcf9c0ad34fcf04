package assistant

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"sync"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/demo"
	"github.com/aisle-dev/aisle/search"
)

var (
	demoOnce  sync.Once
	demoItems []catalog.Item
	demoIx    *search.Index
)

// demoShop returns the demo catalogue indexed for search (built once per
// test binary: the index is read-only in these tests).
func demoShop(t testing.TB) ([]catalog.Item, *search.Index) {
	t.Helper()
	demoOnce.Do(func() {
		f, err := demo.Open(demo.ItemsFile)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var it catalog.Item
			if err := json.Unmarshal(sc.Bytes(), &it); err != nil {
				t.Fatal(err)
			}
			it.Available = true
			demoItems = append(demoItems, it)
		}
		ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := ix.Upsert(context.Background(), demoItems...); err != nil {
			t.Fatal(err)
		}
		demoIx = ix
	})
	if demoIx == nil {
		t.Fatal("demo shop failed to build")
	}
	return demoItems, demoIx
}

// newDemoAssistant is a built-in assistant over the demo catalogue.
func newDemoAssistant(t testing.TB, opts ...func(*Options)) *Assistant {
	t.Helper()
	items, ix := demoShop(t)
	cat := NewCatalogue()
	cat.Add(items...)
	convs := NewConversations(0, nil, nil)
	t.Cleanup(convs.Close)
	o := Options{Catalogue: cat, Search: ix, Conversations: convs}
	for _, f := range opts {
		f(&o)
	}
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }
