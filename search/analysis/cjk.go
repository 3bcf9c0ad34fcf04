package analysis

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-ego/gse"
)

// zhDict is a trimmed copy of gse's simplified-Chinese dictionary (words with
// frequency >= 5): see cjkdict/NOTICE. Loading gse's full embedded dictionary
// costs ~6 s and ~200 MB; this one loads in a fraction of that.
//
//go:embed cjkdict/zh_s_min5.txt.gz
var zhDict []byte

// Segmenter splits runs of Chinese characters into words with a
// dictionary (gse's shortest-path segmentation over word frequencies). The
// dictionary is loaded on first use, so a shop without Chinese text never
// pays for it. Without a dictionary (Bigram) it falls back to overlapping
// character bigrams. Safe for concurrent use.
type Segmenter struct {
	open   func() (io.Reader, error)
	bigram bool

	once    sync.Once
	seg     gse.Segmenter
	err     error
	loadDur time.Duration
}

// NewSegmenter returns a dictionary segmenter reading the dictionary ("word
// freq" lines, gse format) from open, or the bundled dictionary when open is nil.
func NewSegmenter(open func() (io.Reader, error)) *Segmenter {
	if open == nil {
		open = func() (io.Reader, error) { return gzip.NewReader(bytes.NewReader(zhDict)) }
	}
	return &Segmenter{open: open}
}

// NewBigramSegmenter returns a segmenter that emits overlapping character
// bigrams and needs no dictionary.
func NewBigramSegmenter() *Segmenter { return &Segmenter{bigram: true} }

func (s *Segmenter) load() {
	s.once.Do(func() {
		start := time.Now()
		r, err := s.open()
		if err != nil {
			s.err = fmt.Errorf("open CJK dictionary: %w", err)
			return
		}
		b, err := io.ReadAll(r)
		if err != nil {
			s.err = fmt.Errorf("read CJK dictionary: %w", err)
			return
		}
		s.seg.SkipLog = true
		if err := s.seg.LoadDictStr(string(b)); err != nil {
			s.err = fmt.Errorf("load CJK dictionary: %w", err)
			return
		}
		s.loadDur = time.Since(start)
	})
}

// Load loads the dictionary now (it is otherwise loaded on first use) and
// reports how long that took.
func (s *Segmenter) Load() (time.Duration, error) {
	if s.bigram {
		return 0, nil
	}
	s.load()
	return s.loadDur, s.err
}

// loaded reports whether Segment uses the dictionary (its words follow each
// other) rather than overlapping bigrams. Call it after Segment.
func (s *Segmenter) loaded() bool { return !s.bigram && s.err == nil }

// Segment splits a run of Han characters into words. If the dictionary
// failed to load it falls back to bigrams.
func (s *Segmenter) Segment(run string) []string {
	if utf8.RuneCountInString(run) <= 1 {
		return []string{run}
	}
	if !s.bigram {
		s.load()
		if s.err == nil {
			words := s.seg.Cut(run)
			out := words[:0]
			for _, w := range words {
				if w != "" {
					out = append(out, w)
				}
			}
			return out
		}
	}
	return bigrams(run)
}

func bigrams(run string) []string {
	var out []string
	var prev int = -1
	for i := range run {
		if prev >= 0 {
			_, sz := utf8.DecodeRuneInString(run[i:])
			out = append(out, run[prev:i+sz])
		}
		prev = i
	}
	return out
}
