package embedders

import (
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	tests := []struct {
		cfg      Config
		wantName string
		wantDim  int
		wantErr  string
	}{
		{Config{}, "use-lite-en", 512, ""},
		{Config{Kind: USELite, Workers: 1}, "use-lite-en", 512, ""},
		{Config{Kind: Hash}, "hash-ngram-512", 512, ""},
		{Config{Kind: Hash, HashDim: 256}, "hash-ngram-256", 256, ""},
		{Config{Kind: USELiteHash}, "concat(use-lite-en*1,hash-ngram-512*1)", 1024, ""},
		{Config{Kind: OpenAI, URL: "http://127.0.0.1:9/v1", Model: "m", Dim: 768}, "openai:m@127.0.0.1:9/v1", 768, ""},
		{Config{Kind: OpenAI, Model: "m"}, "", 0, "URL is required"},
		{Config{Kind: "bert"}, "", 0, `unknown embedder "bert"`},
	}
	for _, tt := range tests {
		e, err := New(tt.cfg)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New(%+v) error %v, want %q", tt.cfg, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("New(%+v): %v", tt.cfg, err)
			continue
		}
		if e.Name() != tt.wantName || e.Dim() != tt.wantDim {
			t.Errorf("New(%+v) = %s/%d, want %s/%d", tt.cfg, e.Name(), e.Dim(), tt.wantName, tt.wantDim)
		}
	}
	for _, k := range append(Kinds(), "") {
		if !Valid(k) {
			t.Errorf("Valid(%q) = false", k)
		}
	}
	if Valid("bert") {
		t.Error(`Valid("bert") = true`)
	}
}
