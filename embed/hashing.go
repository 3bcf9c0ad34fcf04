package embed

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Hashing is a cheap, model-free embedder: it hashes character n-grams of
// the text into a fixed number of signed buckets (the "hashing trick") and
// L2-normalises the counts. It is lexical, not semantic — "sneakers" and
// "shoes" share nothing — but it reads every script, so it is the fallback
// for text the neural encoder cannot read, above all Chinese, Japanese and
// Korean, where words are not separated by spaces: character unigrams and
// bigrams match "苹果手机壳" with "苹果 手机壳" whatever the segmentation.
//
// Features, after NFKC normalisation and lower-casing, per run of letters
// and digits: for runs of Han, Hiragana, Katakana or Hangul characters,
// every character and every pair of adjacent characters; for other runs,
// the whole word and the character trigrams of "<word>". Hashing is a pure
// function of the text: no training, no state, safe for concurrent use.
type Hashing struct {
	dim int
}

// NewHashing returns a hashing embedder with dim buckets (at least 16;
// 256–1024 is a good range: more buckets, fewer collisions).
func NewHashing(dim int) *Hashing { return &Hashing{dim: max(dim, 16)} }

// Name returns "hash-ngram-<dim>".
func (h *Hashing) Name() string { return fmt.Sprintf("hash-ngram-%d", h.dim) }

// Dim returns the number of buckets.
func (h *Hashing) Dim() int { return h.dim }

// Embed returns one unit vector per text (a zero vector for a text without
// letters or digits). It only fails when ctx is done.
func (h *Hashing) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	flat := make([]float32, len(texts)*h.dim)
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		v := flat[i*h.dim : (i+1)*h.dim : (i+1)*h.dim]
		h.vector(t, v)
		out[i] = v
	}
	return out, nil
}

func isCJK(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}

func (h *Hashing) vector(text string, v []float32) {
	text = strings.ToLower(norm.NFKC.String(text))
	add := func(kind byte, s string) {
		f := fnv.New64a()
		f.Write([]byte{kind})
		f.Write([]byte(s))
		x := f.Sum64()
		i := int(x % uint64(h.dim))
		if x>>63 == 1 {
			v[i]--
		} else {
			v[i]++
		}
	}
	runs := strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
	for _, run := range runs {
		// Split a run where it switches between CJK and other characters,
		// e.g. "iphone手机壳" → "iphone", "手机壳".
		rs := []rune(run)
		for lo := 0; lo < len(rs); {
			cjk := isCJK(rs[lo])
			hi := lo + 1
			for hi < len(rs) && isCJK(rs[hi]) == cjk {
				hi++
			}
			part := rs[lo:hi]
			if cjk {
				for j := range part {
					add('c', string(part[j]))
					if j+1 < len(part) {
						add('b', string(part[j:j+2]))
					}
				}
			} else {
				add('w', string(part))
				padded := append(append([]rune{'<'}, part...), '>')
				for j := 0; j+3 <= len(padded); j++ {
					add('t', string(padded[j:j+3]))
				}
			}
			lo = hi
		}
	}
	Normalize(v)
}
