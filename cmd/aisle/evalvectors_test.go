package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
