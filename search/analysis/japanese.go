package analysis

import (
	"errors"
	"fmt"
	"sync"
	"time"

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
		s.tok = t
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
