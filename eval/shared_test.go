package eval

import (
	"context"
	"testing"

	"github.com/aisle-dev/aisle/internal/testdata"
)

// TestSharedDataCounts loads the public data sets (when present) and checks
// the counts their SOURCE.txt files verified.
func TestSharedDataCounts(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the full public data sets; skipped in -short mode")
	}
	ctx := context.Background()
	t.Run("movielens-100k", func(t *testing.T) {
		dir := testdata.Path(t, "movielens-100k")
		d, err := Load(ctx, "movielens-100k", dir, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sp := d.Splits[0]
		if sp.Train.NumUsers() != 943 || sp.Train.NumItems() != 1682 || sp.Train.NumInteractions() != 80000 {
			t.Errorf("fold 1: %d users %d items %d train", sp.Train.NumUsers(), sp.Train.NumItems(), sp.Train.NumInteractions())
		}
		o, err := Load(ctx, "movielens-100k", dir, LoadOptions{Folds: "official"})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(o.Splits[0].Cases); n != 459 {
			t.Errorf("u1.test has %d users, want 459", n)
		}
	})
	t.Run("lcfn", func(t *testing.T) {
		d, err := Load(ctx, "lcfn", testdata.Path(t, "movielens-1m-implicit"), LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sp := d.Splits[0]
		nTest, nVal := 0, 0
		for _, c := range sp.Cases {
			nTest += len(c.Targets)
		}
		for _, c := range d.Validation.Cases {
			nVal += len(c.Targets)
		}
		if sp.Train.NumUsers() != 6022 || sp.Train.NumInteractions() != 796244 || nTest != 99455 || nVal != 99455 {
			t.Errorf("%d users, %d train, %d test, %d validation", sp.Train.NumUsers(), sp.Train.NumInteractions(), nTest, nVal)
		}
	})
	t.Run("s3rec", func(t *testing.T) {
		d, err := Load(ctx, "s3rec", testdata.Path(t, "s3rec-sequential", "Beauty.txt"), LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sp := d.Splits[0]
		if len(sp.Cases) != 22363 || sp.Train.NumItems() != 12101 || sp.Train.NumInteractions() != 198502-2*22363 {
			t.Errorf("%d cases %d items %d train", len(sp.Cases), sp.Train.NumItems(), sp.Train.NumInteractions())
		}
		if sp.Train.NumAttrs == 0 {
			t.Error("Beauty_item2attributes.json not read")
		}
	})
	t.Run("rechorus", func(t *testing.T) {
		d, err := Load(ctx, "rechorus", testdata.Path(t, "amazon-office-5core"), LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sp := d.Splits[0]
		if len(sp.Cases) != 4905 || sp.Train.NumItems() != 2420 || sp.Train.NumInteractions() != 43448 || len(sp.Cases[0].Candidates) != 99 {
			t.Errorf("%d cases %d items %d train %d candidates", len(sp.Cases), sp.Train.NumItems(), sp.Train.NumInteractions(), len(sp.Cases[0].Candidates))
		}
	})
}
