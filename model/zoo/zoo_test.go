package zoo

import (
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/model"
)

func TestNewBuildsEveryModelByItsName(t *testing.T) {
	for _, name := range []string{"popular", "itemknn", "bpr", "ials", "ease"} {
		m, err := New(name, nil)
		if err != nil {
			t.Fatalf("New(%q): %v", name, err)
		}
		if m.Name() != name {
			t.Errorf("New(%q).Name() = %q", name, m.Name())
		}
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := New("nope", nil); err == nil || !strings.Contains(err.Error(), "unknown model") {
		t.Errorf("unknown model: err = %v", err)
	}
	if _, err := New("ials", model.Params{"factorz": 3}); err == nil {
		t.Error("unknown parameter accepted")
	}
}
