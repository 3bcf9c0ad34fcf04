package ann

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
)

// bruteForce is the reference: score everything, sort by score then index.
func bruteForce(dim int, vecs, q []float32, k int, filter func(int32) bool) []Hit {
	var all []Hit
	for i := 0; i < len(vecs)/dim; i++ {
		var s float32
		for j := 0; j < dim; j++ {
			s += q[j] * vecs[i*dim+j]
		}
		if s != s || (filter != nil && !filter(int32(i))) {
			continue
		}
		all = append(all, Hit{Index: int32(i), Score: s})
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].Score > all[b].Score })
	if len(all) > k {
		all = all[:k]
	}
	return all
}

func sameHits(t *testing.T, what string, got, want []Hit) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d hits, want %d\n got %v\nwant %v", what, len(got), len(want), got, want)
	}
	for i := range got {
		if got[i].Index != want[i].Index || math.Abs(float64(got[i].Score-want[i].Score)) > 1e-4 {
			t.Fatalf("%s: hit %d = %v, want %v\n got %v\nwant %v", what, i, got[i], want[i], got, want)
		}
	}
}

func TestFlatTable(t *testing.T) {
	// 2-d vectors with ties: items 1, 3 and 4 score 2 against q = (1, 1).
	vecs := []float32{
		0, 0, // 0: 0
		1, 1, // 1: 2
		3, 0, // 2: 3
		2, 0, // 3: 2
		0, 2, // 4: 2
		-1, -1, // 5: -2
		float32(math.NaN()), 0, // 6: NaN, never returned
	}
	q := []float32{1, 1}
	odd := func(i int32) bool { return i%2 == 1 }
	for _, c := range []struct {
		name   string
		k      int
		filter func(int32) bool
		want   []int32
	}{
		{"k=0", 0, nil, nil},
		{"k=1", 1, nil, []int32{2}},
		{"ties by lower index", 3, nil, []int32{2, 1, 3}},
		{"all ties", 4, nil, []int32{2, 1, 3, 4}},
		{"k>N skips NaN", 10, nil, []int32{2, 1, 3, 4, 0, 5}},
		{"filter", 10, odd, []int32{1, 3, 5}},
		{"exclude", 3, Exclude([]int32{2, 3}, nil), []int32{1, 4, 0}},
		{"exclude and filter", 10, Exclude([]int32{3}, odd), []int32{1, 5}},
		{"filter rejects all", 5, func(int32) bool { return false }, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := NewFlat(2, vecs)
			if err != nil {
				t.Fatal(err)
			}
			got := f.Search(q, c.k, c.filter)
			var ids []int32
			for _, h := range got {
				ids = append(ids, h.Index)
			}
			if !slices.Equal(ids, c.want) {
				t.Fatalf("got %v, want %v (%v)", ids, c.want, got)
			}
			sameHits(t, "vs brute force", got, bruteForce(2, vecs, q, c.k, c.filter))
		})
	}
}

func TestFlatMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, c := range []struct{ n, dim, k int }{
		{1, 1, 1}, {5, 3, 10}, {100, 8, 10}, {1000, 16, 100}, {3000, 64, 1}, {3000, 64, 3000}, {777, 5, 50},
	} {
		vecs := make([]float32, c.n*c.dim)
		for i := range vecs {
			vecs[i] = float32(rng.IntN(5) - 2) // small integers: many exact ties
		}
		f, err := NewFlat(c.dim, vecs)
		if err != nil {
			t.Fatal(err)
		}
		for trial := 0; trial < 5; trial++ {
			q := make([]float32, c.dim)
			for i := range q {
				q[i] = float32(rng.IntN(3) - 1)
			}
			var filter func(int32) bool
			if trial%2 == 1 {
				m := int32(2 + trial)
				filter = func(i int32) bool { return i%m != 0 }
			}
			sameHits(t, "flat", f.Search(q, c.k, filter), bruteForce(c.dim, vecs, q, c.k, filter))
		}
	}
}

func TestFlatAddDoesNotTouchCallerSlice(t *testing.T) {
	backing := []float32{1, 0, 0, 1, 9, 9}
	f, err := NewFlat(2, backing[:4])
	if err != nil {
		t.Fatal(err)
	}
	id, err := f.Add([]float32{5, 5})
	if err != nil || id != 2 || f.Len() != 3 {
		t.Fatalf("Add = %d, %v; Len %d", id, err, f.Len())
	}
	if backing[4] != 9 || backing[5] != 9 {
		t.Fatalf("Add wrote into the caller's array: %v", backing)
	}
	if got := f.Search([]float32{1, 1}, 1, nil); got[0].Index != 2 {
		t.Fatalf("added item not found: %v", got)
	}
	if _, err := f.Add([]float32{1}); err == nil {
		t.Fatal("Add of a wrong dimension succeeded")
	}
}

func TestBadShapes(t *testing.T) {
	if _, err := NewFlat(3, make([]float32, 4)); err == nil {
		t.Error("NewFlat accepted 4 floats of dimension 3")
	}
	if _, err := NewFlat(0, nil); err == nil {
		t.Error("NewFlat accepted dimension 0")
	}
	if _, err := BuildIVF(context.Background(), 3, make([]float32, 4), IVFOptions{}, nil); err == nil {
		t.Error("BuildIVF accepted 4 floats of dimension 3")
	}
	f, _ := NewFlat(2, make([]float32, 4))
	defer func() {
		if recover() == nil {
			t.Error("Search with a wrong query dimension did not panic")
		}
	}()
	f.Search([]float32{1}, 1, nil)
}

func TestIVFRecallClustered(t *testing.T) {
	const n, dim = 20000, 32
	vecs := clustered(n, dim, 200, 0.3, 1)
	queries := clustered(200, dim, 200, 0.3, 1) // same centres, new points
	x, err := BuildIVF(context.Background(), dim, vecs, IVFOptions{Seed: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if x.Len() != n || x.Lists() != int(math.Sqrt(n)) {
		t.Fatalf("Len %d Lists %d", x.Len(), x.Lists())
	}
	sizes := x.Sizes()
	total := x.HeadLen()
	for _, s := range sizes {
		total += s
	}
	if total != n || x.HeadLen() != n/100 {
		t.Fatalf("lists hold %d items (head %d), want %d (head %d)", total, x.HeadLen(), n, n/100)
	}
	f, _ := NewFlat(dim, vecs)
	var exact, approx [][]Hit
	for i := 0; i < len(queries)/dim; i++ {
		q := queries[i*dim : (i+1)*dim]
		exact = append(exact, f.Search(q, 10, nil))
		approx = append(approx, x.Search(q, 10, nil))
	}
	if r := recallAt(exact, approx); r < 0.95 {
		t.Fatalf("recall@10 = %.3f on clustered data, want ≥ 0.95", r)
	}
}

func TestIVFAllListsIsExact(t *testing.T) {
	const dim = 8
	vecs := uniform(3000, dim, 5)
	x, err := BuildIVF(context.Background(), dim, vecs, IVFOptions{Lists: 20, Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	qs := uniform(20, dim, 6)
	for i := 0; i < 20; i++ {
		q := qs[i*dim : (i+1)*dim]
		filter := func(j int32) bool { return j%3 != 0 }
		sameHits(t, "all lists", x.SearchProbe(q, 25, 20, filter), bruteForce(dim, vecs, q, 25, filter))
	}
}

func TestIVFSelectiveFilterStillFillsK(t *testing.T) {
	const dim = 8
	vecs := clustered(5000, dim, 50, 0.2, 9)
	x, err := BuildIVF(context.Background(), dim, vecs, IVFOptions{Lists: 50, NProbe: 2, Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rare := func(i int32) bool { return i%500 == 0 } // 10 items in all
	q := vecs[:dim]
	got := x.Search(q, 10, rare)
	sameHits(t, "selective filter", got, bruteForce(dim, vecs, q, 10, rare))
}

func TestIVFAdd(t *testing.T) {
	const dim = 16
	vecs := clustered(4000, dim, 20, 0.3, 11)
	x, err := BuildIVF(context.Background(), dim, vecs[:3000*dim], IVFOptions{Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 3000; i < 4000; i++ {
		id, err := x.Add(vecs[i*dim : (i+1)*dim])
		if err != nil || id != int32(i) {
			t.Fatalf("Add #%d = %d, %v", i, id, err)
		}
	}
	if x.Len() != 4000 {
		t.Fatalf("Len = %d", x.Len())
	}
	q := vecs[3500*dim : 3501*dim]
	sameHits(t, "after Add", x.SearchProbe(q, 20, x.Lists(), nil), bruteForce(dim, vecs, q, 20, nil))

	// An index built from nothing grows by Add.
	empty, err := BuildIVF(context.Background(), dim, nil, IVFOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := empty.Search(q, 5, nil); len(got) != 0 {
		t.Fatalf("empty index returned %v", got)
	}
	for i := 0; i < 10; i++ {
		if _, err := empty.Add(vecs[i*dim : (i+1)*dim]); err != nil {
			t.Fatal(err)
		}
	}
	sameHits(t, "grown from empty", empty.Search(q, 5, nil), bruteForce(dim, vecs[:10*dim], q, 5, nil))
	if _, err := x.Add(make([]float32, dim+1)); err == nil {
		t.Fatal("Add of a wrong dimension succeeded")
	}
}

// TestIVFHead checks that the longest vectors go to the head, which every
// search scans: a query finds a long vector even when it probes one list
// far from it.
func TestIVFHead(t *testing.T) {
	const dim = 4
	vecs := clustered(2000, dim, 20, 0.1, 4)
	for i := 0; i < dim; i++ { // item 7 becomes by far the longest vector
		vecs[7*dim+i] *= 50
	}
	x, err := BuildIVF(context.Background(), dim, vecs, IVFOptions{Lists: 20, NProbe: 1, Head: 0.001, Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if x.HeadLen() != 2 {
		t.Fatalf("HeadLen %d, want 2", x.HeadLen())
	}
	q := vecs[7*dim : 8*dim]
	if got := x.Search(q, 1, nil); len(got) != 1 || got[0].Index != 7 {
		t.Fatalf("search for the head item = %v", got)
	}
	// A longer vector added later also goes to the head.
	long := make([]float32, dim)
	for i := range long {
		long[i] = -100 * q[i]
	}
	id, err := x.Add(long)
	if err != nil || x.HeadLen() != 3 {
		t.Fatalf("Add = %d, %v; HeadLen %d", id, err, x.HeadLen())
	}
	neg := make([]float32, dim)
	for i := range neg {
		neg[i] = -q[i]
	}
	if got := x.Search(neg, 1, nil); got[0].Index != id {
		t.Fatalf("search for the added head item = %v, want %d", got, id)
	}
	noHead, err := BuildIVF(context.Background(), dim, vecs, IVFOptions{Lists: 20, Head: -1, Seed: 1}, nil)
	if err != nil || noHead.HeadLen() != 0 {
		t.Fatalf("Head -1: HeadLen %d, %v", noHead.HeadLen(), err)
	}
}

func TestIVFBuildIsReproducible(t *testing.T) {
	const dim = 8
	vecs := clustered(3000, dim, 10, 0.5, 2)
	a, _ := BuildIVF(context.Background(), dim, vecs, IVFOptions{Seed: 4, Workers: 2}, nil)
	b, _ := BuildIVF(context.Background(), dim, vecs, IVFOptions{Seed: 4, Workers: 2}, nil)
	if !slices.Equal(a.cent, b.cent) || !slices.Equal(a.Sizes(), b.Sizes()) {
		t.Fatal("two builds with the same seed differ")
	}
}

func TestBuildIVFCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := BuildIVF(ctx, 8, clustered(5000, 8, 10, 0.5, 1), IVFOptions{}, nil)
	if err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestBuildIVFProgress(t *testing.T) {
	var stages []string
	_, err := BuildIVF(context.Background(), 8, clustered(20000, 8, 10, 0.5, 1), IVFOptions{Lists: 100}, func(stage string, done, total int) {
		if done > total {
			t.Errorf("%s: done %d > total %d", stage, done, total)
		}
		if len(stages) == 0 || stages[len(stages)-1] != stage {
			stages = append(stages, stage)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"sample", "kmeans++", "kmeans", "assign"}; !slices.Equal(stages, want) {
		t.Fatalf("stages %v, want %v", stages, want)
	}
}

func TestNewPicksBySize(t *testing.T) {
	ctx := context.Background()
	vecs := uniform(100, 4, 1)
	small, err := New(ctx, 4, vecs, Options{Threshold: 101}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := small.(*Flat); !ok {
		t.Fatalf("100 items under threshold 101: got %T, want *Flat", small)
	}
	big, err := New(ctx, 4, vecs, Options{Threshold: 100}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := big.(*IVF); !ok {
		t.Fatalf("100 items at threshold 100: got %T, want *IVF", big)
	}
	def, _ := New(ctx, 4, vecs, Options{}, nil)
	if _, ok := def.(*Flat); !ok {
		t.Fatalf("default threshold: got %T, want *Flat", def)
	}
	if _, err := New(ctx, 3, vecs, Options{}, nil); err == nil {
		t.Fatal("New accepted a length that is not a multiple of dim")
	}
}

// TestConcurrentSearchAndAdd is meant for -race: searches and additions on
// one index at the same time.
func TestConcurrentSearchAndAdd(t *testing.T) {
	const dim = 8
	vecs := clustered(2000, dim, 10, 0.3, 3)
	ivf, _ := BuildIVF(context.Background(), dim, vecs, IVFOptions{Lists: 10}, nil)
	flat, _ := NewFlat(dim, vecs)
	for _, idx := range []Index{ivf, flat} {
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					if g == 0 {
						if _, err := idx.Add(vecs[i*dim : (i+1)*dim]); err != nil {
							t.Error(err)
						}
						continue
					}
					if got := idx.Search(vecs[i*dim:(i+1)*dim], 5, nil); len(got) != 5 {
						t.Errorf("%T: %d hits", idx, len(got))
					}
				}
			}(g)
		}
		wg.Wait()
		if idx.Len() != 2050 {
			t.Errorf("%T: Len %d after 50 adds, want 2050", idx, idx.Len())
		}
	}
}
