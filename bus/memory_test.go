package bus_test

import (
	"testing"

	"github.com/aisle-dev/aisle/bus"
	"github.com/aisle-dev/aisle/bus/bustest"
)

func TestMemoryContract(t *testing.T) {
	bustest.Run(t, func(t *testing.T) bustest.Feed {
		m := bus.NewMemory()
		return bustest.Feed{Bus: m, Trim: func(_ *testing.T, before uint64) { m.Trim(before) }}
	})
}
