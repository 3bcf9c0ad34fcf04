package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// With search.embedder configured, synth stores every item's search vector
// in the embedder's space, so that the server embeds nothing at start.
func TestBenchSynthVectors(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(t.TempDir(), "aisle.yaml")
	if err := os.WriteFile(cfgFile, []byte("search:\n  embedder: hash\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runAisle(t, "bench", "synth", "--config", cfgFile, "--data", dir, "--items", "250", "--users", "5", "--clusters", "7", "--dim", "8")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	st, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ids := make([]string, 250)
	for i := range ids {
		ids[i] = fmt.Sprintf("p%07d", i)
	}
	got, err := st.GetVectors(context.Background(), "hash-ngram-512/512", ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range got {
		if len(g.Vec) != 512 {
			t.Fatalf("item %s: stored vector has %d dimensions, want 512", ids[i], len(g.Vec))
		}
	}
}
