package zoo

import (
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/model"
)

func TestNewBuildsEveryModelByItsName(t *testing.T) {
	for _, name := range []string{"popular", "itemknn", "bpr", "ials", "ease", "itemfilter", "biased-mf", "neural-rating", "linear", "sasrec"} {
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

// TestParamsAndGrids: every model reports its effective parameters, which
// rebuild the same model, and offers a search grid of accepted values.
func TestParamsAndGrids(t *testing.T) {
	type reporter interface {
		Params() model.Params
		TuneGrid() map[string][]float64
	}
	for _, name := range []string{"popular", "itemknn", "bpr", "ials", "ease", "itemfilter"} {
		m, _ := New(name, nil)
		r, ok := m.(reporter)
		if !ok {
			t.Errorf("%s: no Params/TuneGrid", name)
			continue
		}
		p := r.Params()
		if _, err := New(name, p); err != nil {
			t.Errorf("%s: its own Params %v rejected: %v", name, p, err)
		}
		for k, vs := range r.TuneGrid() {
			if _, ok := p[k]; !ok {
				t.Errorf("%s: grid parameter %q is not among its Params", name, k)
			}
			for _, v := range vs {
				if _, err := New(name, model.Params{k: v}); err != nil {
					t.Errorf("%s: grid value %s=%v rejected: %v", name, k, v, err)
				}
			}
		}
	}
}
