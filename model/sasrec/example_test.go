package sasrec_test

import (
	"context"
	"fmt"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/sasrec"
)

// Train on shoppers who browse items in a fixed order (0→1→2→…→9→0), then
// ask what an anonymous session that just viewed items 3 and 4 wants next.
func Example() {
	ds := &model.Dataset{UserPtr: []int{0}}
	for i := 0; i < 10; i++ {
		ds.ItemIDs = append(ds.ItemIDs, fmt.Sprint("item", i))
	}
	for u := 0; u < 60; u++ {
		ds.UserIDs = append(ds.UserIDs, fmt.Sprint("user", u))
		for k := 0; k < 6; k++ {
			ds.Items = append(ds.Items, int32((u+k)%10))
		}
		ds.UserPtr = append(ds.UserPtr, len(ds.Items))
	}
	cfg := sasrec.DefaultConfig()
	cfg.Dim, cfg.FFN, cfg.Layers, cfg.MaxLen, cfg.Epochs, cfg.LR, cfg.Threads = 16, 32, 1, 8, 30, 1e-2, 1
	m, err := sasrec.New(cfg)
	if err != nil {
		panic(err)
	}
	if err := m.Fit(context.Background(), ds, nil); err != nil {
		panic(err)
	}
	scores := make([]float32, ds.NumItems())
	m.Score(model.Query{User: -1, History: []int32{3, 4}}, scores)
	best := 0
	for j, s := range scores {
		if s > scores[best] {
			best = j
		}
	}
	fmt.Println(ds.ItemIDs[best])
	// Output: item5
}
