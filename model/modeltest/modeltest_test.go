package modeltest

import (
	"reflect"
	"testing"

	"github.com/aisle-dev/aisle/model"
)

func TestSyntheticIsDeterministicAndShaped(t *testing.T) {
	a, b := Synthetic(), Synthetic()
	if !reflect.DeepEqual(a.DS, b.DS) {
		t.Fatal("two calls built different data sets")
	}
	c := SyntheticWith(Config{Users: 50, Items: 30, Clusters: 3, MinPer: 4, MaxPer: 6, Focus: 1, Seed: 2})
	ds := c.DS
	if ds.NumUsers() != 50 || ds.NumItems() != 30 || len(ds.Weights) != ds.NumInteractions() || len(ds.Times) != ds.NumInteractions() {
		t.Fatalf("shape: %d users, %d items, %d weights, %d times", ds.NumUsers(), ds.NumItems(), len(ds.Weights), len(ds.Times))
	}
	for u := 0; u < ds.NumUsers(); u++ {
		row := ds.Row(u)
		if len(row) < 4 || len(row) > 6 {
			t.Errorf("user %d has %d interactions", u, len(row))
		}
		seen := map[int32]bool{}
		for j, it := range row {
			if c.ItemCluster[it] != c.UserCluster[u] { // Focus 1: own cluster only
				t.Errorf("user %d (cluster %d) has item %d of cluster %d", u, c.UserCluster[u], it, c.ItemCluster[it])
			}
			if seen[it] {
				t.Errorf("user %d has item %d twice", u, it)
			}
			seen[it] = true
			if p := ds.UserPtr[u] + j; j > 0 && ds.Times[p] <= ds.Times[p-1] {
				t.Errorf("user %d: times not increasing", u)
			}
		}
	}
}

func TestLeaveLastOut(t *testing.T) {
	ds := &model.Dataset{
		UserIDs: []string{"a", "b", "c"}, ItemIDs: []string{"x", "y", "z"},
		UserPtr: []int{0, 3, 4, 6},
		Items:   []int32{0, 1, 2, 1, 2, 0},
		Weights: []float32{1, 2, 3, 4, 5, 6},
	}
	train, test := LeaveLastOut(ds)
	if want := []int32{2, -1, 0}; !reflect.DeepEqual(test, want) {
		t.Errorf("test = %v, want %v", test, want)
	}
	if want := []int32{0, 1, 1, 2}; !reflect.DeepEqual(train.Items, want) {
		t.Errorf("train items = %v, want %v", train.Items, want)
	}
	if want := []float32{1, 2, 4, 5}; !reflect.DeepEqual(train.Weights, want) {
		t.Errorf("train weights = %v, want %v", train.Weights, want)
	}
	if want := []int{0, 2, 3, 4}; !reflect.DeepEqual(train.UserPtr, want) {
		t.Errorf("train ptr = %v, want %v", train.UserPtr, want)
	}
}

// fixed scores every user with the same list.
type fixed []float32

func (f fixed) Score(_ model.Query, s []float32) { copy(s, f) }

func TestRecallOf(t *testing.T) {
	// 4 items; user 0 trained on item 0, test item 3; user 1 trained on 1, test 2.
	train := &model.Dataset{ItemIDs: make([]string, 4), UserIDs: make([]string, 2), UserPtr: []int{0, 1, 2}, Items: []int32{0, 1}}
	test := []int32{3, 2}
	tests := []struct {
		name   string
		scores fixed
		k      int
		want   float64
	}{
		// order 0>1>2>3: user 0 ranks (1,2,3) → 3 is 3rd; user 1 ranks (0,2,3) → 2 is 2nd
		{"k=2", fixed{4, 3, 2, 1}, 2, 0.5},
		{"k=3", fixed{4, 3, 2, 1}, 3, 1},
		{"k=1 train item excluded", fixed{1, 9, 8, 0}, 1, 0.5}, // user 1: 1 excluded → 2 first
		{"ties count against", fixed{1, 1, 1, 1}, 2, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := recallOf(func(u int, s []float32) { tc.scores.Score(model.Query{}, s) }, train, test, tc.k)
			if got != tc.want {
				t.Errorf("recall = %v, want %v", got, tc.want)
			}
		})
	}
	if got := PopularityRecall(train, test, 3); got != 1 { // counts (1,1,0,0): 3 candidates
		t.Errorf("popularity recall@3 = %v, want 1", got)
	}
}
