package related

import (
	"fmt"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// TestMemoryBytesGrows: the estimate grows with the catalogue and with the
// behaviour, and a nil index holds nothing.
func TestMemoryBytesGrows(t *testing.T) {
	if (*Index)(nil).MemoryBytes() != 0 {
		t.Fatal("a nil index holds memory")
	}
	var prev int64
	for _, n := range []int{20, 200, 2000} {
		var items []catalog.Item
		var evs []events.Event
		for i := 0; i < n; i++ {
			items = append(items, item(fmt.Sprintf("i%d", i), fmt.Sprintf("blue pen %d", i), fmt.Sprintf("Office/Pens/%d", i%5), "B"))
		}
		for u := 0; u < n; u++ {
			for k := 0; k < 4; k++ {
				evs = append(evs, buy(fmt.Sprintf("u%d", u), fmt.Sprintf("i%d", (u+k*7)%n), fmt.Sprintf("s%d", u), time.Duration(u*10+k)*time.Minute))
			}
		}
		got := build(t, items, evs, Config{}).MemoryBytes()
		if got <= prev || got < int64(20*n) || got > int64(100_000*n) {
			t.Fatalf("%d items: %d bytes (previous size %d)", n, got, prev)
		}
		prev = got
	}
}
