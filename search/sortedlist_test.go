package search

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestSortedListBestMatchesBruteForce checks the ranked prefix lookup
// against sorting every entry under the prefix by (rank, key), for lists
// with and without an unsorted tail and for prefixes matching nothing,
// one entry, or everything.
func TestSortedListBestMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 2, 3, 7, 100, 1000, 3000} {
		rank := map[string]int32{}
		l := sortedList{rank: func(k string, _ uint32) int32 { return rank[k] }}
		var all []string
		for i := 0; i < n; i++ {
			k := fmt.Sprintf("%c%c%d", 'a'+rng.IntN(3), 'a'+rng.IntN(4), rng.IntN(50))
			if _, dup := rank[k]; dup {
				continue
			}
			rank[k] = int32(rng.IntN(20))
			all = append(all, k)
			l.add(k, uint32(i))
			if i == n/2 {
				l.merge() // the rest stays in the tail
			}
		}
		l.merge()
		for _, p := range []string{"", "a", "b", "ab", "ca1", "zz", "cd49"} {
			var want []string
			for _, k := range all {
				if strings.HasPrefix(k, p) {
					want = append(want, k)
				}
			}
			slices.SortFunc(want, func(a, b string) int {
				if rank[a] != rank[b] {
					return int(rank[a] - rank[b])
				}
				return strings.Compare(a, b)
			})
			for _, limit := range []int{1, 5, len(want)} {
				var got []string
				l.best(p, func(k string, _ uint32) bool {
					got = append(got, k)
					return len(got) < limit
				})
				w := want[:min(limit, len(want))]
				if !slices.Equal(got, w) {
					t.Fatalf("n=%d prefix %q limit %d: got %v, want %v", n, p, limit, got, w)
				}
			}
		}
	}
}
