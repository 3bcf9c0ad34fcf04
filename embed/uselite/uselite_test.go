package uselite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
)

// The model is decoded once per test binary.
var (
	sharedOnce sync.Once
	shared     *Encoder
)

func encoder(t testing.TB) *Encoder {
	t.Helper()
	sharedOnce.Do(func() { shared = New(Config{}) })
	if err := shared.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return shared
}

type reference struct {
	Reference string `json:"reference"`
	Backend   string `json:"backend"`
	Items     []struct {
		Text      string    `json:"text"`
		IDs       []int32   `json:"ids"`
		Embedding []float64 `json:"embedding"`
	} `json:"items"`
	// Tokens are tokenizer-only cases: scripts, normalisation, quirks.
	Tokens []struct {
		Text string  `json:"text"`
		IDs  []int32 `json:"ids"`
	} `json:"tokens"`
}

func readReference(t *testing.T) reference {
	t.Helper()
	b, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Items) < 10 {
		t.Fatalf("reference has %d items, want at least 10", len(ref.Items))
	}
	return ref
}

// TestAssetChecksums checks the embedded model files against
// assets/SHA256SUMS (the checksums of the files in the npm tarball).
func TestAssetChecksums(t *testing.T) {
	sums, err := os.ReadFile("assets/SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("bad SHA256SUMS line %q", line)
		}
		want[f[1]] = f[0]
	}
	entries, err := assets.ReadDir("assets")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 9 {
		t.Errorf("%d embedded files, want 9 (model.json, vocab.json, 7 shards)", len(entries))
	}
	for _, e := range entries {
		b, err := assets.ReadFile("assets/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != want[e.Name()] {
			t.Errorf("embedded %s has sha256 %s, want %q", e.Name(), got, want[e.Name()])
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		fsys fstest.MapFS
	}{
		{"empty", fstest.MapFS{}},
		{"bad vocabulary", fstest.MapFS{"m/vocab.json": {Data: []byte(`{}`)}}},
	}
	for _, tt := range tests {
		if _, _, err := load(tt.fsys, "m"); err == nil {
			t.Errorf("%s: load succeeded", tt.name)
		}
	}
}

// TestParityTokens checks the tokenizer against the reference token ids.
func TestParityTokens(t *testing.T) {
	ref := readReference(t)
	tok, err := encoder(t).Tokenizer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	check := func(text string, want []int32) {
		n++
		if got := tok.Encode(text); !slices.Equal(got, want) {
			t.Errorf("Encode(%q)\n got %v\nwant %v", text, got, want)
		}
	}
	for _, it := range ref.Items {
		check(it.Text, it.IDs)
	}
	for _, it := range ref.Tokens {
		check(it.Text, it.IDs)
	}
	if n < 50 {
		t.Errorf("only %d tokenizer cases in the reference", n)
	}
}

// TestParityEmbeddings checks the vectors against the reference
// implementation's, computed on the whole list as one batch (see
// testdata/gen), and each text alone.
func TestParityEmbeddings(t *testing.T) {
	ref := readReference(t)
	enc := encoder(t)
	texts := make([]string, len(ref.Items))
	for i, it := range ref.Items {
		texts[i] = it.Text
	}
	check := func(name string, got [][]float32) {
		t.Helper()
		if len(got) != len(texts) {
			t.Fatalf("%s: %d vectors for %d texts", name, len(got), len(texts))
		}
		worst := 0.0
		for i, it := range ref.Items {
			if len(got[i]) != Dim || len(it.Embedding) != Dim {
				t.Fatalf("%s: %q: dims %d and %d, want %d", name, it.Text, len(got[i]), len(it.Embedding), Dim)
			}
			d := 0.0
			for j, v := range got[i] {
				d = math.Max(d, math.Abs(float64(v)-it.Embedding[j]))
			}
			if d >= 1e-5 {
				t.Errorf("%s: %q: max abs diff %.3g, want < 1e-5", name, it.Text, d)
			}
			worst = math.Max(worst, d)
		}
		t.Logf("%s: max abs diff over %d texts: %.3g", name, len(texts), worst)
	}
	ctx := context.Background()
	got, err := enc.Embed(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	check("batch", got)
	if testing.Short() {
		return // the passes below repeat the work through other code paths
	}
	one := make([][]float32, len(texts))
	for i, text := range texts {
		v, err := enc.Embed(ctx, []string{text})
		if err != nil {
			t.Fatal(err)
		}
		one[i] = v[0]
	}
	check("one by one", one)
	// One worker, tiny batches: the chunking must not change results.
	small := New(Config{Workers: 1, BatchTokens: 1})
	small.tok, small.model = enc.tok, enc.model
	small.once.Do(func() {})
	got, err = small.Embed(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	check("one worker, batch 1", got)
}

func dot(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func TestSimilarity(t *testing.T) {
	enc := encoder(t)
	texts := []string{"red running shoes", "crimson sneakers", "coffee maker", "espresso machine"}
	v, err := enc.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range v {
		if n := dot(x, x); math.Abs(n-1) > 1e-5 {
			t.Errorf("%q: squared norm %v, want 1", texts[i], n)
		}
	}
	tests := []struct {
		a, b int
		want float64
	}{
		{0, 1, 0.577}, // reference values (see SOURCE.txt of the model)
		{0, 2, 0.294},
		{2, 3, 0.751},
	}
	for _, tt := range tests {
		if got := dot(v[tt.a], v[tt.b]); math.Abs(got-tt.want) > 0.001 {
			t.Errorf("cos(%q, %q) = %.4f, want %.3f", texts[tt.a], texts[tt.b], got, tt.want)
		}
	}
}

func TestTokenizerCases(t *testing.T) {
	tok, err := encoder(t).Tokenizer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text         string
		wantIDs      []int32 // nil: not checked
		minCov, maxC float64
	}{
		{"", []int32{}, 1, 1},
		{"coffee maker", []int32{3741, 134, 93}, 1, 1},
		{"红色跑鞋", []int32{30, UnknownID}, 0.19, 0.21}, // "▁" then one collapsed unknown
		{"红色跑鞋 running shoes", nil, 0.4, 0.8},
		{"\xff\xfe", nil, 0, 0.5}, // invalid UTF-8 reads as U+FFFD, unknown
	}
	for _, tt := range tests {
		got := tok.Encode(tt.text)
		if tt.wantIDs != nil && !slices.Equal(got, tt.wantIDs) {
			t.Errorf("Encode(%q) = %v, want %v", tt.text, got, tt.wantIDs)
		}
		if c := tok.Coverage(tt.text); c < tt.minCov || c > tt.maxC {
			t.Errorf("Coverage(%q) = %v, want in [%v, %v]", tt.text, c, tt.minCov, tt.maxC)
		}
	}
}

func TestLongTextIsCut(t *testing.T) {
	enc := encoder(t)
	base := strings.Repeat("stainless steel bottle ", 50) // > MaxTokens tokens
	if n := len(enc.tok.Encode(base)); n <= MaxTokens {
		t.Fatalf("test text has %d tokens, want more than %d", n, MaxTokens)
	}
	v, err := enc.Embed(context.Background(), []string{base, base + " with a red lid"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v[0], v[1]) {
		t.Error("words after the first 128 tokens changed the vector")
	}
}

func TestConcurrentEmbed(t *testing.T) {
	enc := encoder(t)
	texts := []string{"usb c charger 65w", "wireless mouse", "organic green tea", "kids bicycle helmet"}
	want, err := enc.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := enc.Embed(context.Background(), texts)
			if err != nil {
				t.Error(err)
				return
			}
			for i := range got {
				if !slices.Equal(got[i], want[i]) {
					t.Errorf("concurrent result for %q differs", texts[i])
				}
			}
		}()
	}
	wg.Wait()
}

func TestEmbedCanceled(t *testing.T) {
	enc := encoder(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := enc.Embed(ctx, []string{"a", "b"}); err == nil {
		t.Fatal("Embed with a canceled context returned no error")
	}
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"", "red running shoes", "红色跑鞋", "Café ½ ＡＢＣ", "\xff", "  a  b  ", ":00 :00"} {
		f.Add(s)
	}
	tok, err := encoder(f).Tokenizer(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids := tok.Encode(s)
		for _, id := range ids {
			if id < 0 || int(id) >= tok.VocabSize() {
				t.Fatalf("Encode(%q) gave id %d outside the vocabulary", s, id)
			}
		}
		for i := 1; i < len(ids); i++ {
			if ids[i] == UnknownID && ids[i-1] == UnknownID {
				t.Fatalf("Encode(%q) = %v has consecutive unknown ids", s, ids)
			}
		}
		if c := tok.Coverage(s); c < 0 || c > 1 {
			t.Fatalf("Coverage(%q) = %v", s, c)
		}
	})
}
