package searcheval

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aisle-dev/aisle/catalog"
)

// Synthetic makes a deterministic catalogue of n products for load tests:
// titles of 6–12 and descriptions of 20–40 words drawn from a Zipf
// distribution over a vocabulary of pseudo-words, 3-level categories,
// brands and prices. It has no relevance judgments.
func Synthetic(n int, seed uint64) []catalog.Item {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	vocab := syntheticVocab(rng, 30000)
	zipf := rand.NewZipf(rng, 1.1, 2, uint64(len(vocab)-1))
	words := func(k int) string {
		var b strings.Builder
		for i := 0; i < k; i++ {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(vocab[zipf.Uint64()])
		}
		return b.String()
	}
	brands := make([]string, 2000)
	for i := range brands {
		brands[i] = strings.ToUpper(vocab[rng.IntN(len(vocab))][:1]) + vocab[rng.IntN(len(vocab))][1:]
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	items := make([]catalog.Item, n)
	for i := range items {
		p := float64(rng.IntN(50000)) / 100
		items[i] = catalog.Item{
			ID:          fmt.Sprintf("s%07d", i),
			Title:       words(6 + rng.IntN(7)),
			Description: words(20 + rng.IntN(21)),
			Brand:       brands[rng.IntN(len(brands))],
			Categories:  []string{fmt.Sprintf("c%d/c%d-%d/c%d-%d-%d", rng.IntN(20), 0, rng.IntN(10), 0, 0, rng.IntN(10))},
			Price:       &p,
			Attributes:  map[string]any{"color": []string{"red", "blue", "black", "white", "green"}[rng.IntN(5)]},
			Available:   true,
			CreatedAt:   t0.Add(time.Duration(rng.IntN(365*24)) * time.Hour),
		}
	}
	return items
}

// SyntheticQueries makes n queries of 1–3 words for a Synthetic catalogue
// with the same seed: words of middling frequency, as shoppers type them.
func SyntheticQueries(n int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	vocab := syntheticVocab(rng, 30000)
	out := make([]string, n)
	for i := range out {
		k := 1 + rng.IntN(3)
		w := make([]string, k)
		for j := range w {
			w[j] = vocab[10+rng.IntN(3000)]
		}
		out[i] = strings.Join(w, " ")
	}
	return out
}

func syntheticVocab(rng *rand.Rand, n int) []string {
	const cons, vows = "bcdfghklmnprstvz", "aeiou"
	seen := map[string]bool{}
	out := make([]string, 0, n)
	for len(out) < n {
		var b strings.Builder
		for s := 0; s < 2+rng.IntN(2); s++ {
			b.WriteByte(cons[rng.IntN(len(cons))])
			b.WriteByte(vows[rng.IntN(len(vows))])
		}
		if rng.IntN(2) == 0 {
			b.WriteByte(cons[rng.IntN(len(cons))])
		}
		w := b.String()
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}
