package analysis

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ikawaha/kagome-dict/dict"
	"github.com/ikawaha/kagome/v2/tokenizer"
)

// JapaneseSegmenter splits runs of Japanese text (kanji and kana) into
// morphemes with the kagome morphological analyser and the IPA dictionary
// (mecab-ipadic, bundled in the binary unless it is built with the tag
// aisle_noja). It uses kagome's search mode, which splits compounds
// (関西国際空港 → 関西/国際/空港), and drops particles, auxiliary verbs and
// symbols (ステンレス製の水筒 → ステンレス/製/水筒). Words keep their surface
// form: the dictionary is loaded without its content columns (base forms and
// readings), which costs a third of the heap.
//
// The dictionary is loaded on first use, so a shop without Japanese text
// never pays for it. Without a dictionary (or if it fails to load) runs fall
// back to overlapping character bigrams. Safe for concurrent use.
type JapaneseSegmenter struct {
	open func() (*dict.Dict, error)

	once    sync.Once
	dict    *dict.Dict
	tok     *tokenizer.Tokenizer
	err     error
	loadDur time.Duration
}

// NewJapaneseSegmenter returns a segmenter that loads its dictionary with
// open on first use, or the bundled IPA dictionary when open is nil. A
// binary built with the tag aisle_noja has no bundled dictionary: the
// segmenter then emits character bigrams.
func NewJapaneseSegmenter(open func() (*dict.Dict, error)) *JapaneseSegmenter {
	if open == nil {
		open = bundledJapaneseDict
	}
	return &JapaneseSegmenter{open: open}
}

func (s *JapaneseSegmenter) load() {
	s.once.Do(func() {
		start := time.Now()
		d, err := s.open()
		if err != nil {
			s.err = fmt.Errorf("load Japanese dictionary: %w", err)
			return
		}
		if d == nil {
			s.err = errNoJapaneseDict
			return
		}
		t, err := tokenizer.New(d, tokenizer.OmitBosEos())
		if err != nil {
			s.err = fmt.Errorf("create Japanese tokenizer: %w", err)
			return
		}
		s.dict, s.tok = d, t
		s.loadDur = time.Since(start)
	})
}

// Load loads the dictionary now (it is otherwise loaded on first use) and
// reports how long that took.
func (s *JapaneseSegmenter) Load() (time.Duration, error) {
	s.load()
	return s.loadDur, s.err
}

// loaded reports whether Segment uses the dictionary (its words follow each
// other) rather than overlapping bigrams. Call it after Segment.
func (s *JapaneseSegmenter) loaded() bool { return s.err == nil && s.tok != nil }

// Segment splits a run of Japanese text (no spaces) into index terms: the
// surface forms of its content morphemes, in order. If no dictionary is
// available it returns overlapping character bigrams.
func (s *JapaneseSegmenter) Segment(run string) []string {
	if run == "" {
		return nil
	}
	s.load()
	if s.err != nil {
		if len([]rune(run)) == 1 {
			return []string{run}
		}
		return bigrams(run)
	}
	var out []string
	for len(run) > 0 {
		piece := run[:japaneseCut(run)]
		run = run[len(piece):]
		for _, t := range s.tok.Analyze(piece, tokenizer.Search) {
			if t.Surface == "" || dropJapanesePOS(t.POS()) {
				continue
			}
			out = append(out, t.Surface)
		}
	}
	return out
}

// maxJapaneseRun bounds the runes given to kagome at once: its unknown-word
// model makes a long run of one script (10,000 katakana) quadratic, 7 s.
const maxJapaneseRun = 64

// japaneseCut returns where to end the next piece of run: the whole run when
// it is short, otherwise a script boundary within the first maxJapaneseRun
// runes (preferably where kanji or katakana follows hiragana, where a new
// word usually starts after a particle), otherwise the limit itself.
func japaneseCut(run string) int {
	n, limit, best, weak := 0, 0, 0, 0
	var prev rune
	for i, r := range run {
		if n == maxJapaneseRun {
			limit = i
			break
		}
		if n > 0 && n >= maxJapaneseRun/4 {
			ps, cs := japaneseScript(prev), japaneseScript(r)
			switch {
			case ps == 'h' && cs != 'h':
				best = i
			case ps != cs:
				weak = i
			}
		}
		prev = r
		n++
	}
	switch {
	case limit == 0:
		return len(run)
	case best > 0:
		return best
	case weak > 0:
		return weak
	}
	return limit
}

// japaneseScript classifies a rune as hiragana 'h', katakana 'k' or other
// (kanji) 'x'; marks belong to the script before them.
func japaneseScript(r rune) byte {
	switch {
	case r >= 0x3041 && r <= 0x309F:
		return 'h'
	case r >= 0x30A0 && r <= 0x30FF, r >= 0xFF66 && r <= 0xFF9F:
		return 'k'
	}
	return 'x'
}

// dropJapanesePOS reports whether a morpheme of this part of speech carries
// no meaning for product search: particles (助詞: の, を, に, …), auxiliary
// verbs (助動詞: です, ます, …), symbols and fillers. Interjections are kept
// because the dictionary tags イヤ in a standalone イヤホン as one.
func dropJapanesePOS(pos []string) bool {
	if len(pos) == 0 {
		return false
	}
	switch pos[0] {
	case "助詞", "助動詞", "記号", "フィラー":
		return true
	}
	return false
}

// errNoJapaneseDict is returned by the dictionary loader of a binary built
// without the Japanese dictionary.
var errNoJapaneseDict = errors.New("no Japanese dictionary in this binary (built with tag aisle_noja)")

// Bounds of the pieces katakanaPieces makes, in runes.
const (
	minKnownPiece   = 3 // a dictionary noun: マウス, ネック
	minUnknownPiece = 5 // a leftover that is no dictionary word: ゲーミング
	// maxPieceCost is the highest IPA word cost of a dictionary piece:
	// common product nouns cost 1,400–4,400 (セット, マウス, ケース), rare
	// words more (ション 5,284, which would make プレイステー + ション).
	maxPieceCost = 4500
	// maxCompound bounds the words looked at (runes): no product word is
	// longer, and the split is quadratic in the length.
	maxCompound = 24
)

// katakanaPieces splits a katakana word that is not in the dictionary into
// dictionary nouns and leftovers, for compounds of loanwords that kagome
// keeps whole because one part is unknown: ゲーミングマウス → ゲーミング, マウス;
// ネックストラップ → ネック, ストラップ. Pieces must be long (dictionary nouns of
// at least 3 runes and of a common word's cost, leftovers of at least 5), so
// that キャンセリング does not become キャンセ + リング; among the splits that qualify it takes the one
// with the largest sum of squared dictionary-noun lengths (long known words
// first), and gives up when two splits tie (ネック + ストラップ or ネックスト +
// ラップ: both have one 3-rune noun). It returns nil when w is a dictionary word or nothing qualifies.
// Call it only after Segment has loaded the dictionary.
func (s *JapaneseSegmenter) katakanaPieces(w string) []string {
	if s.dict == nil || !isKatakanaWord(w) {
		return nil
	}
	rs := []rune(w)
	n := len(rs)
	if n < minKnownPiece+minKnownPiece || n > maxCompound || len(s.dict.Index.Search(w)) > 0 {
		return nil
	}
	// byte offset of every rune boundary
	off := make([]int, n+1)
	for i, r := range rs {
		off[i+1] = off[i] + utf8.RuneLen(r)
	}
	// known[i] lists the rune ends j of dictionary nouns w[i:j], j-i >= minKnownPiece
	known := make([][]int, n)
	for i := 0; i < n; i++ {
		s.dict.Index.CommonPrefixSearchCallback(w[off[i]:], func(id, l int) {
			j := i + utf8.RuneCountInString(w[off[i]:off[i]+l])
			if j-i >= minKnownPiece && s.common(id) && !slices.Contains(known[i], j) {
				known[i] = append(known[i], j)
			}
		})
	}
	// best[i] is the best score of a split of rs[:i], ways[i] how many
	// splits reach it (0: rs[:i] cannot be split under the bounds)
	best, from, ways := make([]int, n+1), make([]int, n+1), make([]int, n+1)
	ways[0] = 1
	relax := func(i, j, sc int) {
		switch {
		case ways[j] == 0 || sc > best[j]:
			best[j], from[j], ways[j] = sc, i, ways[i]
		case sc == best[j]:
			ways[j] += ways[i]
		}
	}
	for i := 0; i < n; i++ {
		if ways[i] == 0 {
			continue
		}
		for _, j := range known[i] {
			relax(i, j, best[i]+(j-i)*(j-i))
		}
		for j := i + minUnknownPiece; j <= n; j++ {
			relax(i, j, best[i])
		}
	}
	// No split, one without a dictionary noun, or a tie between splits
	// (ネック+ストラップ or ネックスト+ラップ?): better no pieces than wrong ones.
	if ways[n] != 1 || best[n] == 0 {
		return nil
	}
	var pieces []string
	for j := n; j > 0; j = from[j] {
		pieces = append(pieces, w[off[from[j]]:off[j]])
	}
	if len(pieces) < 2 {
		return nil
	}
	slices.Reverse(pieces)
	return pieces
}

// common reports whether dictionary entry id is a noun of a common word's cost.
func (s *JapaneseSegmenter) common(id int) bool {
	return s.isNoun(id) && s.dict.Morphs[id].Weight <= maxPieceCost
}

// isNoun reports whether dictionary entry id is a noun (名詞).
func (s *JapaneseSegmenter) isNoun(id int) bool {
	pos := s.dict.POSTable.POSs
	if id < 0 || id >= len(pos) || len(pos[id]) == 0 {
		return false
	}
	names := s.dict.POSTable.NameList
	k := int(pos[id][0])
	return k < len(names) && names[k] == "名詞"
}

// isKatakanaWord reports whether w is made of katakana (and ー) only.
func isKatakanaWord(w string) bool {
	for _, r := range w {
		if !(r >= 0x30A1 && r <= 0x30FA || r == 'ー') {
			return false
		}
	}
	return w != ""
}
