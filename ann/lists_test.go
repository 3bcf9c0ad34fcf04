package ann

import (
	"context"
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
