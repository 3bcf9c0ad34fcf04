package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/embed"
	"github.com/aisle-dev/aisle/search"
	"github.com/aisle-dev/aisle/store/vecfile"
)

func TestEvalSearchVectorCache(t *testing.T) {
	dir := t.TempDir()
	items := `{"id":"1","title":"red running shoes","brand":"Acme"}
{"id":"2","title":"blue running shoes"}
{"id":"3","title":"printer ink cartridge"}
`
	cat, qr := filepath.Join(dir, "items.jsonl"), filepath.Join(dir, "qrels.tsv")
	if err := os.WriteFile(cat, []byte(items), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(qr, []byte("red shoes\t1\t1\nprinter ink\t3\t1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "v.vec")
	run := func(args ...string) (string, error) {
		root := newRootCmd()
		var out, errb bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&errb)
		root.SetArgs(append([]string{"eval", "search", "--format", "qrels", "--catalog", cat, "--qrels", qr, "--mode", "semantic"}, args...))
		err := root.Execute()
		return errb.String(), err
	}
	tests := []struct {
		name    string
		args    []string
		setup   func()
		wantErr string // "" means success
		wantLog string
		notLog  string
	}{
		{name: "first run fills the cache", args: []string{"--embedder", "hash", "--vectors", cache}, wantLog: "saved 3 vectors"},
		{name: "second run reads it", args: []string{"--embedder", "hash", "--vectors", cache}, wantLog: "3 vectors of hash-ngram-512/512", notLog: "saved"},
		{name: "other embedder rejected", args: []string{"--embedder", "use-lite", "--vectors", cache}, wantErr: `holds vectors of embedder "hash-ngram-512/512"`},
		{name: "corrupt cache rejected", args: []string{"--embedder", "hash", "--vectors", cache},
			setup: func() { os.WriteFile(cache, []byte("AISLEVEC garbage"), 0o644) }, wantErr: "corrupt vector file"},
		{name: "none disables it", args: []string{"--embedder", "hash", "--vectors", "none"}},
	}
	for _, tc := range tests {
		if tc.setup != nil {
			tc.setup()
		}
		log, err := run(tc.args...)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantLog != "" && !strings.Contains(log, tc.wantLog):
			t.Errorf("%s: log %q lacks %q", tc.name, log, tc.wantLog)
		case tc.notLog != "" && strings.Contains(log, tc.notLog):
			t.Errorf("%s: log %q has %q (embedded again?)", tc.name, log, tc.notLog)
		}
	}
}

// badText embeds with a real embedder but fails every batch holding a text
// with "BROKEN" (e.g. one the model server rejects).
type badText struct{ *embed.Hashing }

func (b badText) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	for _, s := range texts {
		if strings.Contains(s, "BROKEN") {
			return nil, errors.New("model server rejects the input")
		}
	}
	return b.Hashing.Embed(ctx, texts)
}

// One failed batch must not throw away the vectors computed in the same
// run: they are saved, and the failure is still reported.
func TestVectorCacheKeepsVectorsOfAFailedRun(t *testing.T) {
	ctx := context.Background()
	emb := badText{embed.NewHashing(32)}
	space := fmt.Sprintf("%s/%d", emb.Name(), emb.Dim())
	path := filepath.Join(t.TempDir(), "v.vec")
	vc := &vectorCache{path: path, file: vecfile.New(space)}
	ix, err := search.NewIndex(search.DefaultConfig(), search.Options{Embedder: emb, Vectors: vc.file,
		EmbedBatch: 1, EmbedWorkers: 1, EmbedRetry: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	items := []catalog.Item{
		{ID: "1", Title: "red running shoes", Available: true},
		{ID: "2", Title: "BROKEN input", Available: true},
		{ID: "3", Title: "printer ink cartridge", Available: true},
		{ID: "4", Title: "blue running shoes", Available: true},
	}
	if err := ix.Upsert(ctx, items...); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if err := vc.waitAndSave(ctx, ix, &log); err == nil || !strings.Contains(err.Error(), "rejects the input") {
		t.Errorf("waitAndSave error %v, want the embedding failure", err)
	}
	saved, err := vecfile.Load(path, space)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Len() != 3 {
		t.Errorf("cache holds %d vectors after a run with one failed item, want 3 (log %q)", saved.Len(), log.String())
	}
	got, err := saved.GetVectors(ctx, space, []string{"1", "2", "3", "4"})
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range got {
		if (g.Vec == nil) != (i == 1) {
			t.Errorf("item %s: stored vector %v", g.ItemID, g.Vec != nil)
		}
	}
}
