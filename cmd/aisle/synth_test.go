package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/store/boltstore"
)

// `aisle bench synth` stores the asked sizes: items, users with their
// events (all in the past, which the server requires), and a serving model.
func TestBenchSynthSizes(t *testing.T) {
	dir := t.TempDir()
	out, err := runAisle(t, "bench", "synth", "--data", dir, "--items", "300", "--users", "40", "--per-user", "7", "--clusters", "6", "--dim", "8")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	st, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	items, err1 := st.CountItems(ctx)
	users, err2 := st.CountUsers(ctx)
	evs, err3 := st.CountEvents(ctx)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	if items != 300 || users != 40 || evs != 280 {
		t.Errorf("stored %d items, %d users, %d events; want 300, 40, 280", items, users, evs)
	}
	models, err := st.ListModels(ctx, "")
	if err != nil || len(models) != 1 || models[0].Items != 300 || models[0].Users != 40 {
		t.Fatalf("models %+v, %v", models, err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := runAisle(t, "bench", "synth", "--data", dir, "--items", "3"); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("a second synth into the same directory: %v, want a refusal", err)
	}
}
