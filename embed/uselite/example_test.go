package uselite_test

import (
	"context"
	"fmt"

	"github.com/aisle-dev/aisle/embed"
	"github.com/aisle-dev/aisle/embed/uselite"
)

func Example() {
	enc := uselite.New(uselite.Config{}) // the model loads on first use
	v, err := enc.Embed(context.Background(), []string{"red running shoes", "crimson sneakers", "coffee maker"})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d %.2f %.2f\n", enc.Dim(), embed.Dot(v[0], v[1]), embed.Dot(v[0], v[2]))
	// Output: 512 0.58 0.29
}
