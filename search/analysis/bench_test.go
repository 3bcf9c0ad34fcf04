package analysis

import (
	"strings"
	"testing"
)

var benchText = strings.Repeat("Premium stainless-steel water bottle, 32 oz, keeps drinks cold for 24 hours; BPA-free lid with straw. Men's and women's sizes. ", 8)

func BenchmarkAnalyzeEnglish(b *testing.B) {
	en, _ := NewRegistry(Options{CJK: NewBigramSegmenter()}).Analyzer(AnalyzerEnglish)
	b.SetBytes(int64(len(benchText)))
	for b.Loop() {
		en.Analyze(benchText)
	}
}
