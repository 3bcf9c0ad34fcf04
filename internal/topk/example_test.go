package topk_test

import (
	"fmt"
	"math"

	"github.com/aisle-dev/aisle/internal/topk"
)

func Example() {
	scores := []float32{0.2, 0.9, float32(math.NaN()), 0.5, 0.9, 0.1}
	h := topk.New[int32, float32](3)
	for i, s := range scores {
		if s < h.Floor() { // most scores of a long scan stop here, inline
			continue
		}
		h.Push(int32(i), s)
	}
	for _, x := range h.Sorted() {
		fmt.Println(x.Index, x.Score)
	}
	// Output:
	// 1 0.9
	// 4 0.9
	// 3 0.5
}

func ExampleSelect() {
	// The two best positive scores of items the filter allows.
	scores := []float64{3, -1, 5, 4, 0}
	allow := func(i int32) bool { return i != 2 }
	for _, x := range topk.Select(scores, 2, allow, true) {
		fmt.Println(x.Index, x.Score)
	}
	// Output:
	// 3 4
	// 0 3
}
