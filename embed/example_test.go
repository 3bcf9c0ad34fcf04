package embed_test

import (
	"context"
	"fmt"

	"github.com/aisle-dev/aisle/embed"
)

// Query vectors go through a Cache: a repeated query costs a map lookup.
func ExampleCache() {
	ctx := context.Background()
	queries := embed.NewCache(embed.NewHashing(256), 10000)
	for _, q := range []string{"苹果手机壳", "苹果手机壳", "红色跑鞋"} {
		if _, err := queries.Embed(ctx, []string{q}); err != nil {
			panic(err)
		}
	}
	st := queries.Stats()
	fmt.Println(st.Hits, st.Misses, st.Len)
	// Output: 1 2 2
}

// Hashing matches Chinese text whatever the word segmentation.
func ExampleHashing() {
	v, err := embed.NewHashing(512).Embed(context.Background(), []string{"苹果手机壳", "苹果 手机壳", "红色跑鞋"})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%.2f %.2f\n", embed.Dot(v[0], v[1]), embed.Dot(v[0], v[2]))
	// Output: 0.94 0.00
}
