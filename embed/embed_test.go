package embed

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// counting wraps a real Embedder and records what reaches it.
type counting struct {
	Embedder
	calls atomic.Int64
	texts atomic.Int64
	fail  error
}

func (c *counting) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	c.calls.Add(1)
	c.texts.Add(int64(len(texts)))
	if c.fail != nil {
		return nil, c.fail
	}
	return c.Embedder.Embed(ctx, texts)
}

func TestCache(t *testing.T) {
	ctx := context.Background()
	inner := &counting{Embedder: NewHashing(64)}
	c := NewCache(inner, 2)
	if c.Name() != "hash-ngram-64" || c.Dim() != 64 {
		t.Fatalf("Name, Dim = %q, %d", c.Name(), c.Dim())
	}
	direct, _ := NewHashing(64).Embed(ctx, []string{"a", "b", "c"})

	steps := []struct {
		texts      []string
		wantTexts  int64 // texts that reached the inner embedder, cumulative
		wantHits   int64
		wantMisses int64
	}{
		{[]string{"a", "b", "a"}, 2, 0, 3}, // duplicates inside one call are embedded once
		{[]string{"a", "b"}, 2, 2, 3},      // both cached
		{[]string{"c"}, 3, 2, 4},           // evicts the least recently used ("a")
		{[]string{"b", "c"}, 3, 4, 4},      // still cached
		{[]string{"a"}, 4, 4, 5},           // "a" was evicted
		{[]string{}, 4, 4, 5},              // nothing to do
	}
	for i, s := range steps {
		got, err := c.Embed(ctx, s.texts)
		if err != nil {
			t.Fatal(err)
		}
		for j, text := range s.texts {
			k := int(text[0] - 'a')
			if !slices.Equal(got[j], direct[k]) {
				t.Errorf("step %d: vector of %q differs from the inner embedder's", i, text)
			}
		}
		st := c.Stats()
		if inner.texts.Load() != s.wantTexts || st.Hits != s.wantHits || st.Misses != s.wantMisses || st.Len > 2 {
			t.Errorf("step %d: inner texts %d, stats %+v; want %d texts, %d hits, %d misses, len ≤ 2",
				i, inner.texts.Load(), st, s.wantTexts, s.wantHits, s.wantMisses)
		}
	}
	// Returned vectors are copies.
	v, _ := c.Embed(ctx, []string{"a"})
	v[0][0] = 42
	w, _ := c.Embed(ctx, []string{"a"})
	if w[0][0] == 42 {
		t.Error("modifying a returned vector changed the cache")
	}
}

func TestCacheError(t *testing.T) {
	boom := errors.New("boom")
	c := NewCache(&counting{Embedder: NewHashing(16), fail: boom}, 10)
	if _, err := c.Embed(context.Background(), []string{"x"}); !errors.Is(err, boom) {
		t.Fatalf("error %v, want %v", err, boom)
	}
	if st := c.Stats(); st.Len != 0 {
		t.Errorf("failed call left %d entries", st.Len)
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := NewCache(NewHashing(32), 8)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				text := fmt.Sprintf("query %d", (i*7+g)%20)
				v, err := c.Embed(context.Background(), []string{text, "fixed"})
				if err != nil || len(v) != 2 || len(v[0]) != 32 {
					t.Errorf("Embed: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if st := c.Stats(); st.Len > 8 || st.Hits+st.Misses != 8*200*2 {
		t.Errorf("stats %+v", st)
	}
}

func cos(t *testing.T, e Embedder, a, b string) float32 {
	t.Helper()
	v, err := e.Embed(context.Background(), []string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	return Dot(v[0], v[1])
}

func TestHashing(t *testing.T) {
	h := NewHashing(512)
	tests := []struct {
		a, b     string
		min, max float32
	}{
		{"苹果手机壳", "苹果 手机壳", 0.7, 1}, // segmentation does not matter
		{"红色跑鞋", "红色 跑鞋 男", 0.6, 1},
		{"苹果手机壳", "红色跑鞋", -0.2, 0.2}, // nothing shared
		{"Red Running Shoes", "red running shoes", 0.999, 1.001},
		{"ＡＢＣ cable", "abc cable", 0.999, 1.001},     // NFKC
		{"running shoes", "runing shoes", 0.4, 0.95}, // typo keeps trigrams
		{"iphone手机壳", "iphone 手机壳", 0.999, 1.001},
	}
	for _, tt := range tests {
		if got := cos(t, h, tt.a, tt.b); got < tt.min || got > tt.max {
			t.Errorf("cos(%q, %q) = %.3f, want in [%v, %v]", tt.a, tt.b, got, tt.min, tt.max)
		}
	}
	v, _ := h.Embed(context.Background(), []string{"", "!!!", "tea"})
	if Dot(v[0], v[0]) != 0 || Dot(v[1], v[1]) != 0 {
		t.Error("text without letters should give a zero vector")
	}
	if n := Dot(v[2], v[2]); math.Abs(float64(n)-1) > 1e-5 {
		t.Errorf("norm² %v, want 1", n)
	}
}

func TestConcat(t *testing.T) {
	a, b := NewHashing(64), NewHashing(128)
	c, err := NewConcat(Part{a, 3}, Part{b, 1})
	if err != nil {
		t.Fatal(err)
	}
	if c.Dim() != 192 || c.Name() != "concat(hash-ngram-64*3,hash-ngram-128*1)" {
		t.Fatalf("Dim, Name = %d, %q", c.Dim(), c.Name())
	}
	x, y := "stainless steel bottle", "steel water bottle"
	want := (3*cos(t, a, x, y) + cos(t, b, x, y)) / 4
	if got := cos(t, c, x, y); math.Abs(float64(got-want)) > 1e-5 {
		t.Errorf("concat cosine %v, want the weighted mean %v", got, want)
	}
	v, _ := c.Embed(context.Background(), []string{x})
	if n := Dot(v[0], v[0]); math.Abs(float64(n)-1) > 1e-5 {
		t.Errorf("norm² %v, want 1", n)
	}
	for _, parts := range [][]Part{nil, {{nil, 1}}, {{a, 0}}, {{a, math.NaN()}}} {
		if _, err := NewConcat(parts...); err == nil {
			t.Errorf("NewConcat(%v) accepted bad parts", parts)
		}
	}
}

func TestNormalize(t *testing.T) {
	v := []float32{3, 4}
	Normalize(v)
	if v[0] != 0.6 || v[1] != 0.8 {
		t.Errorf("Normalize = %v", v)
	}
	z := []float32{0, 0}
	Normalize(z)
	if z[0] != 0 || z[1] != 0 {
		t.Errorf("Normalize(0) = %v", z)
	}
}

func FuzzHashing(f *testing.F) {
	for _, s := range []string{"", "苹果手机壳", "red shoes", "\xff\xfe", "ＡＢＣ"} {
		f.Add(s)
	}
	h := NewHashing(64)
	f.Fuzz(func(t *testing.T, s string) {
		v, err := h.Embed(context.Background(), []string{s})
		if err != nil {
			t.Fatal(err)
		}
		n := Dot(v[0], v[0])
		if n != 0 && math.Abs(float64(n)-1) > 1e-4 {
			t.Fatalf("norm² %v for %q", n, s)
		}
	})
}
