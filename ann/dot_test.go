package ann

import (
	"math/rand/v2"
	"testing"
)

func TestDotsI8MatchesPortableLoop(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct{ dim, n int }{{16, 1}, {16, 7}, {32, 3}, {48, 5}, {64, 100}, {80, 9}, {512, 4}} {
		codes := make([]int8, tc.dim*tc.n)
		for i := range codes {
			codes[i] = int8(rng.IntN(255) - 127)
		}
		q := make([]int16, tc.dim)
		for i := range q {
			q[i] = int16(rng.IntN(2*32767+1) - 32767)
		}
		// extreme values too: every code −127 against every q at the limit
		if tc.n > 2 {
			for d := 0; d < tc.dim; d++ {
				codes[d] = -127
			}
		}
		got := make([]int32, tc.n)
		want := make([]int32, tc.n)
		dotsI8(got, codes, q, tc.dim)
		dotsI8Go(want, codes, q, tc.dim)
		for r := range got {
			var ref int64
			for d := 0; d < tc.dim; d++ {
				ref += int64(codes[r*tc.dim+d]) * int64(q[d])
			}
			if got[r] != want[r] || int64(got[r]) != ref {
				t.Fatalf("dim %d row %d: kernel %d, loop %d, int64 %d", tc.dim, r, got[r], want[r], ref)
			}
		}
	}
}

func BenchmarkDotsI8(b *testing.B) {
	const dim, n = 64, 1024
	codes := make([]int8, dim*n)
	q := make([]int16, dim)
	out := make([]int32, n)
	b.SetBytes(dim * n)
	for b.Loop() {
		dotsI8(out, codes, q, dim)
	}
}
