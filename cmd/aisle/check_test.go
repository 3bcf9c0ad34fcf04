package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/config"
	"github.com/aisle-dev/aisle/store/boltstore"
)

func runAisle(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// `aisle check` finds damage without changing the file, `aisle recover`
// salvages into a new directory that serves, and serving the damaged
// directory is refused with a message that says what to do.
func TestCheckAndRecoverCommands(t *testing.T) {
	dir := t.TempDir()
	st, err := boltstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var items []catalog.Item
	for i := 0; i < 2000; i++ {
		items = append(items, catalog.Item{ID: fmt.Sprintf("p%05d", i), Title: strings.Repeat("word ", 30), Available: true})
	}
	if err := st.PutItems(context.Background(), items); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out, err := runAisle(t, "check", "--data", dir)
	if err != nil || !strings.Contains(out, "ok: no damage found") {
		t.Fatalf("check of a sound dir: %v\n%s", err, out)
	}
	path := filepath.Join(dir, boltstore.FileName)
	b, _ := os.ReadFile(path)
	for i := 8 * 4096; i < 10*4096; i++ {
		b[i] ^= 0x5a
	}
	os.WriteFile(path, b, 0o644)

	out, err = runAisle(t, "check", "--data", dir)
	if err == nil || !strings.Contains(out, "damaged:") || !strings.Contains(err.Error(), "aisle recover") {
		t.Fatalf("check of a damaged dir: %v\n%s", err, out)
	}
	if _, _, err := openEngine(mustLoad(t, dir), newLogger()); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("serving a damaged dir: %v", err)
	}
	to := filepath.Join(t.TempDir(), "salvaged")
	out, err = runAisle(t, "recover", "--data", dir, "--to", to)
	if err != nil || !strings.Contains(out, "recovered into") {
		t.Fatalf("recover: %v\n%s", err, out)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, b) {
		t.Fatal("check or recover modified the damaged file")
	}
	if out, err := runAisle(t, "check", "--data", to); err != nil {
		t.Fatalf("check of the recovered dir: %v\n%s", err, out)
	}
	eng, st2, err := openEngine(mustLoad(t, to), newLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	c, _ := eng.Counts(context.Background())
	if c.Items == 0 || c.Items > 2000 {
		t.Fatalf("recovered %d items", c.Items)
	}
	t.Logf("recovered %d of 2000 items", c.Items)
}

func mustLoad(t *testing.T, dir string) config.Config {
	t.Helper()
	g := globalFlags{data: dir}
	cfg, err := g.load()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
