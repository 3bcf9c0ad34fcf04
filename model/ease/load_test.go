package ease

import (
	"bytes"
	"testing"

	"github.com/aisle-dev/aisle/model/internal/hyper"
)

func TestLoadRejectsOverflowingN(t *testing.T) {
	var buf bytes.Buffer
	s := saved{Lambda: 1}
	s.State.N = 1 << 32
	s.State.UserPtr = []int{0}
	if err := hyper.Save(&buf, Name, formatVersion, s); err != nil {
		t.Fatal(err)
	}
	var m EASE
	if err := m.Load(&buf); err == nil {
		t.Fatal("a model with N = 2^32 and no weights loaded")
	}
}
