package ann

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestListsProbeVisitsNearestFirst(t *testing.T) {
	const dim = 8
	vecs := clustered(2000, dim, 10, 0.1, 4)
	l, err := BuildLists(context.Background(), dim, vecs[:500*dim], 10, 2000, 1)
	if err != nil {
		t.Fatal(err)
	}
	if l.NumLists() != 10 || l.Dim() != dim {
		t.Fatalf("%d lists of dim %d", l.NumLists(), l.Dim())
	}
	ids := make([]int32, 1000)
	for i := range ids {
		ids[i] = int32(i)
	}
	if err := l.AssignBatch(ids, vecs[:1000*dim]); err != nil {
		t.Fatal(err)
	}
	for i := 1000; i < 2000; i++ {
		if err := l.Assign(int32(i), vecs[i*dim:(i+1)*dim]); err != nil {
			t.Fatal(err)
		}
	}
	if l.Len() != 2000 || l.Bytes() < 2000*4 {
		t.Fatalf("Len %d Bytes %d", l.Len(), l.Bytes())
	}
	// Every id is in one list; a query equal to an item finds it in the
	// first list visited (tight clusters).
	for _, probe := range []int{0, 777, 1500} {
		q := vecs[probe*dim : (probe+1)*dim]
		seen := map[int32]int{}
		first := true
		foundFirst := false
		l.Probe(q, func(ids []int32) bool {
			for _, id := range ids {
				seen[id]++
				if first && id == int32(probe) {
					foundFirst = true
				}
			}
			first = false
			return true
		})
		if len(seen) != 2000 || !foundFirst {
			t.Fatalf("probe %d: %d ids seen, in the first list: %v", probe, len(seen), foundFirst)
		}
		for id, c := range seen {
			if c != 1 {
				t.Fatalf("id %d in %d lists", id, c)
			}
		}
		visits := 0
		l.Probe(q, func([]int32) bool { visits++; return false })
		if visits != 1 {
			t.Fatalf("Probe went on after visit returned false (%d visits)", visits)
		}
	}
	for _, bad := range []error{
		l.Assign(1, make([]float32, dim+1)),
		l.AssignBatch([]int32{1, 2}, make([]float32, dim)),
	} {
		if bad == nil {
			t.Fatal("a wrong shape was accepted")
		}
	}
	if _, err := BuildLists(context.Background(), dim, nil, 4, 10, 1); err == nil {
		t.Fatal("BuildLists without a sample succeeded")
	}
}

// TestListsSaveLoad: saved lists come back with the same centroids and
// lists (ids renumbered to key positions, keys in list order), skipped ids
// left out; the tag, the kind of file and damage are checked.
func TestListsSaveLoad(t *testing.T) {
	const dim = 8
	vecs := clustered(600, dim, 6, 0.1, 9)
	l, err := BuildLists(context.Background(), dim, vecs, 6, 600, 1)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int32, 600)
	for i := range ids {
		ids[i] = int32(1000 + i) // the caller's ids, not positions
	}
	if err := l.AssignBatch(ids, vecs); err != nil {
		t.Fatal(err)
	}
	key := func(id int32) (ListKey, bool) {
		if id%7 == 0 {
			return ListKey{}, false // a deleted item
		}
		return ListKey{Name: fmt.Sprintf("item-%d", id), Check: uint32(id) * 31}, true
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "s.lists")
	if err := SaveLists(path, l, "space/8", key); err != nil {
		t.Fatal(err)
	}
	got, keys, err := LoadLists(path, "space/8")
	if err != nil {
		t.Fatal(err)
	}
	// Map back to the caller's ids: every list must equal the original
	// without the skipped ids.
	back := got.Map(func(i int32) (int32, bool) {
		var id int32
		fmt.Sscanf(keys[i].Name, "item-%d", &id)
		if keys[i].Check != uint32(id)*31 {
			t.Fatalf("key %d: check %d", i, keys[i].Check)
		}
		return id, true
	})
	if back.NumLists() != l.NumLists() || back.Dim() != dim || back.Len() != len(keys) {
		t.Fatalf("%d lists, dim %d, %d ids; want %d, %d, %d", back.NumLists(), back.Dim(), back.Len(), l.NumLists(), dim, len(keys))
	}
	for c := range l.lists {
		var want []int32
		for _, id := range l.lists[c] {
			if id%7 != 0 {
				want = append(want, id)
			}
		}
		if !slices.Equal(back.lists[c], want) || !slices.Equal(back.cent, l.cent) {
			t.Fatalf("list %d: %d ids, want %d (or centroids differ)", c, len(back.lists[c]), len(want))
		}
	}
	for _, tc := range []struct {
		name  string
		load  func() error
		stale bool
	}{
		{"other tag", func() error { _, _, err := LoadLists(path, "space/16"); return err }, true},
		{"lists as an index", func() error { _, err := LoadIVF(path, "space/8"); return err }, false},
		{"index as lists", func() error {
			x, err := BuildIVF(context.Background(), dim, vecs, IVFOptions{Seed: 1}, nil)
			if err != nil {
				return nil // makes the test fail below
			}
			p := filepath.Join(dir, "x.ivf")
			if err := SaveIVF(p, x, "t"); err != nil {
				return nil
			}
			_, _, err = LoadLists(p, "t")
			return err
		}, false},
		{"damaged", func() error {
			b, _ := os.ReadFile(path)
			b[len(b)-20] ^= 1 // in the key table
			p := filepath.Join(dir, "bad.lists")
			os.WriteFile(p, b, 0o644)
			_, _, err := LoadLists(p, "space/8")
			return err
		}, false},
	} {
		err := tc.load()
		if err == nil || errors.Is(err, ErrStale) != tc.stale {
			t.Errorf("%s: err %v, want an error (stale: %v)", tc.name, err, tc.stale)
		}
	}
}

// BenchmarkListsBuildVsLoad compares what a restart of semantic search
// costs without and with saved lists: clustering and assigning n vectors
// against reading the file and renumbering its ids.
//
//	go test ./ann -run XXX -bench ListsBuildVsLoad -benchtime 3x
func BenchmarkListsBuildVsLoad(b *testing.B) {
	const n, dim = 100_000, 256
	vecs := clustered(n, dim, 300, 0.4, 11)
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(i)
	}
	nl := 317 // √n, as search does
	build := func() *Lists {
		l, err := BuildLists(context.Background(), dim, vecs[:64*nl*dim], nl, n, 1)
		if err != nil {
			b.Fatal(err)
		}
		for lo := 0; lo < n; lo += 4096 {
			hi := min(n, lo+4096)
			l.AssignBatch(ids[lo:hi], vecs[lo*dim:hi*dim])
		}
		return l
	}
	path := filepath.Join(b.TempDir(), "s.lists")
	if err := SaveLists(path, build(), "t", func(id int32) (ListKey, bool) {
		return ListKey{Name: fmt.Sprintf("product-%07d", id), Check: uint32(id)}, true
	}); err != nil {
		b.Fatal(err)
	}
	b.Run("build", func(b *testing.B) {
		for range b.N {
			build()
		}
	})
	b.Run("load", func(b *testing.B) {
		for range b.N {
			l, keys, err := LoadLists(path, "t")
			if err != nil {
				b.Fatal(err)
			}
			byName := make(map[string]int32, len(keys))
			for i, k := range keys {
				byName[k.Name] = int32(i)
			}
			l.Map(func(i int32) (int32, bool) { return byName[keys[i].Name], true })
		}
	})
}

// ProbeWithin goes past its minimum of lists until it has visited its
// share of the ids, nearest lists first, and on while more() asks: with
// lists of very different sizes the ids visited, not the lists, meet the
// budget.
func TestListsProbeWithinSpendsItsBudget(t *testing.T) {
	// ten lists on a line, nearest to the origin first, of these sizes
	sizes := []int{3, 1, 2, 200, 5, 90, 4, 300, 1, 394}
	l := &Lists{dim: 2, cent: make([]float32, 2*len(sizes)), half: make([]float32, len(sizes)), lists: make([][]int32, len(sizes))}
	id := int32(0)
	for c, n := range sizes {
		l.cent[2*c] = float32(c + 1)
		l.half[c] = float32((c+1)*(c+1)) / 2
		for range n {
			l.lists[c] = append(l.lists[c], id)
			id++
		}
		l.n += n
	}
	q := []float32{0, 0}
	cases := []struct {
		b                  ProbeBudget
		more               bool
		wantLists, wantIDs int
	}{
		{ProbeBudget{Lists: 2}, false, 2, 4},               // lists only
		{ProbeBudget{Lists: 2, Share: 0.1}, false, 4, 206}, // 100 ids: the fourth list reaches it
		{ProbeBudget{Lists: 5, Share: 0.1}, false, 5, 211}, // the lists' minimum is the larger
		{ProbeBudget{Lists: 1, Share: 0.3}, false, 6, 301}, // 300 ids
		{ProbeBudget{Lists: 1, Share: 0.1, Scale: 3}, false, 6, 301},
		{ProbeBudget{Lists: 1}, true, 10, 1000},             // more() wants every list
		{ProbeBudget{Lists: 20, Share: 2}, false, 10, 1000}, // beyond the index: all of it, once
	}
	for _, c := range cases {
		var seen []int32
		lists, ids := l.ProbeWithin(q, c.b, func(v []int32) { seen = append(seen, v...) }, func() bool { return c.more })
		if lists != c.wantLists || ids != c.wantIDs || len(seen) != ids {
			t.Errorf("%+v more=%v: %d lists, %d ids (%d seen); want %d, %d", c.b, c.more, lists, ids, len(seen), c.wantLists, c.wantIDs)
		}
		if ids > 0 && seen[0] != 0 {
			t.Errorf("%+v: first id %d, want the nearest list's 0", c.b, seen[0])
		}
	}
}
