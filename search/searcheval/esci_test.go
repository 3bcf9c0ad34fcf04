package searcheval

import (
	"context"
	"testing"

	"github.com/aisle-dev/aisle/internal/testdata"
	"github.com/aisle-dev/aisle/search"
)

// BenchmarkESCIKeyword evaluates the default keyword search on ESCI-US 150
// (the whole catalogue) and reports test nDCG@10.
func TestESCIQuick(t *testing.T) {
	dir := testdata.Path(t, "esci-us-150")
	ds, err := LoadESCI(dir)
	if err != nil {
		t.Fatal(err)
	}
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert(context.Background(), ds.Items...); err != nil {
		t.Fatal(err)
	}
	rep, err := Evaluate(context.Background(), ix, ds, search.ModeKeyword, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v %+v", rep.Metrics, rep.Latency)
}
