package uselite

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf16"

	"golang.org/x/text/unicode/norm"
)

// UnknownID is the token id of text the vocabulary does not cover (any
// character outside the 8k SentencePiece vocabulary, e.g. Chinese). Runs of
// unknown characters collapse into one UnknownID.
const UnknownID = 0

// reservedSymbols is the number of vocabulary entries at the start that are
// control symbols (unknown, <s>, </s>, extra ids) and never matched in text.
const reservedSymbols = 6

// separator replaces spaces and starts every non-empty input, as in
// SentencePiece ("▁").
const separator = "\u2581"

// Tokenizer is the SentencePiece unigram tokenizer of Universal Sentence
// Encoder lite. It reproduces the reference JavaScript implementation
// (@energetic-ai/embeddings, itself a port of tfjs-models'
// universal-sentence-encoder tokenizer) bit for bit, including its quirks:
// NFKC normalisation, only U+0020 turned into "▁", the best-path search that
// treats a score of exactly 0 as "unset" and lets later (shorter) pieces win
// ties, and collapsing of consecutive unknown tokens. It is immutable and
// safe for concurrent use.
type Tokenizer struct {
	root     *trieNode
	pieceLen []int // JavaScript length (UTF-16 code units) of each vocabulary piece
}

type trieNode struct {
	children map[rune]*trieNode
	end      bool
	score    float64
	id       int32
	length   int // number of runes from the root
}

// NewTokenizer builds a tokenizer from the vocabulary file vocab.json of the
// model package: a JSON array of [piece, score] pairs whose position is the
// token id.
func NewTokenizer(vocabJSON []byte) (*Tokenizer, error) {
	var raw [][]json.RawMessage
	if err := json.Unmarshal(vocabJSON, &raw); err != nil {
		return nil, fmt.Errorf("parse vocabulary: %w", err)
	}
	if len(raw) <= reservedSymbols {
		return nil, fmt.Errorf("parse vocabulary: %d entries, want more than %d", len(raw), reservedSymbols)
	}
	t := &Tokenizer{root: &trieNode{children: map[rune]*trieNode{}}, pieceLen: make([]int, len(raw))}
	for i, e := range raw {
		if len(e) != 2 {
			return nil, fmt.Errorf("parse vocabulary: entry %d has %d fields, want 2", i, len(e))
		}
		var piece string
		var score float64
		if err := json.Unmarshal(e[0], &piece); err != nil {
			return nil, fmt.Errorf("parse vocabulary: entry %d piece: %w", i, err)
		}
		if err := json.Unmarshal(e[1], &score); err != nil {
			return nil, fmt.Errorf("parse vocabulary: entry %d score: %w", i, err)
		}
		t.pieceLen[i] = len(utf16.Encode([]rune(piece)))
		if i >= reservedSymbols {
			t.insert(piece, score, int32(i))
		}
	}
	if t.pieceLen[UnknownID] != 1 {
		// Backtracking over an unknown character steps back by the length of
		// piece 0; the reference vocabulary has "\uFFFD" there.
		return nil, fmt.Errorf("parse vocabulary: unknown piece has length %d, want 1", t.pieceLen[UnknownID])
	}
	return t, nil
}

// insert adds a piece; a later duplicate overwrites score and id, as in the
// reference.
func (t *Tokenizer) insert(piece string, score float64, id int32) {
	n := t.root
	depth := 0
	for _, r := range piece {
		depth++
		c := n.children[r]
		if c == nil {
			c = &trieNode{length: depth}
			if n.children == nil {
				n.children = map[rune]*trieNode{}
			}
			n.children[r] = c
		}
		n = c
	}
	if n != t.root {
		n.end = true
		n.score = score
		n.id = id
	}
}

// VocabSize is the number of entries of the vocabulary.
func (t *Tokenizer) VocabSize() int { return len(t.pieceLen) }

// normalize applies the reference's input processing.
func normalize(text string) string {
	s := norm.NFKC.String(text)
	if s == "" {
		return s
	}
	return separator + strings.ReplaceAll(s, " ", separator)
}

type candidate struct {
	start int
	score float64
	id    int32
}

// Encode returns the token ids of text (all of them: the encoder uses the
// first MaxTokens). Invalid UTF-8 reads as U+FFFD. As in the reference,
// only U+0020 separates words: tabs, newlines and other control characters
// become unknown tokens, so callers should collapse whitespace
// (strings.Join(strings.Fields(s), " ")) before embedding multi-line text.
func (t *Tokenizer) Encode(text string) []int32 {
	ids, _, _ := t.encode(text)
	return ids
}

// Coverage returns the fraction of the characters of text (after
// normalisation, counting the "▁" word markers) that the vocabulary covers,
// 1 for an empty text. Texts in scripts the model does not know (e.g.
// Chinese) score low: their vectors carry little meaning, and a caller
// should prefer another embedder or keyword search for them.
func (t *Tokenizer) Coverage(text string) float64 {
	_, unknown, total := t.encode(text)
	if total == 0 {
		return 1
	}
	return 1 - float64(unknown)/float64(total)
}

func (t *Tokenizer) encode(text string) (ids []int32, unknownRunes, totalRunes int) {
	symbols := []rune(normalize(text))
	n := len(symbols)
	if n == 0 {
		return []int32{}, 0, 0
	}
	// ends[e] lists the pieces ending at e, by ascending start (the
	// reference iterates an object keyed by start, which is ascending).
	ends := make([][]candidate, n+1)
	for i := 0; i < n; i++ {
		found := false
		node := t.root.children[symbols[i]]
		for j := i; node != nil; {
			if node.end {
				ends[i+node.length] = append(ends[i+node.length], candidate{start: i, score: node.score, id: node.id})
				found = true
			}
			j++
			if j >= n {
				break
			}
			node = node.children[symbols[j]]
		}
		if !found {
			ends[i+1] = append(ends[i+1], candidate{start: i, score: 0, id: UnknownID})
		}
	}
	best := make([]float64, n+1)
	words := make([]int32, n+1)
	for e := 0; e <= n; e++ {
		for _, c := range ends[e] {
			s := c.score + best[c.start]
			if best[e] == 0 || s >= best[e] {
				best[e] = s
				words[e] = c.id
			}
		}
	}
	var rev []int32
	for i := n; i > 0; i -= t.pieceLen[words[i]] {
		rev = append(rev, words[i])
		if words[i] == UnknownID {
			unknownRunes++
		}
	}
	out := make([]int32, 0, len(rev))
	prevUnknown := false
	for _, id := range rev {
		if !(prevUnknown && id == UnknownID) {
			out = append(out, id)
		}
		prevUnknown = id == UnknownID
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, unknownRunes, n
}
