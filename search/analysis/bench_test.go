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

// Product titles as a Japanese and a Korean shop would write them.
var (
	jaTitles = []string{
		"ワイヤレスイヤホン Bluetooth 5.3 ノイズキャンセリング 防水 最大30時間再生",
		"Apple iPhone 15 ケース 手帳型 カード収納 スタンド機能 レザー",
		"ステンレス製の水筒 500ml 保温保冷 直飲み 軽量",
		"ランニングシューズ メンズ 軽量 通気性 クッション性 ｽﾆｰｶｰ",
		"電動歯ブラシ 音波式 替えブラシ4本付き USB充電",
	}
	koTitles = []string{
		"삼성 무선이어폰 블루투스 5.3 노이즈캔슬링 방수",
		"아이폰 15 케이스 지갑형 카드수납 가죽",
		"스테인리스 보온보냉 텀블러 500ml 휴대용",
		"남성용 런닝화 경량 통기성 운동화",
		"전동칫솔 음파식 교체용 칫솔모 4개 USB 충전",
	}
)

func benchTitles(b *testing.B, opt Options, titles []string) {
	en, _ := NewRegistry(opt).Analyzer(AnalyzerEnglish)
	for _, t := range titles {
		en.Analyze(t) // load the dictionaries outside the timing
	}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		en.Analyze(titles[i%len(titles)])
		i++
	}
}

// BenchmarkAnalyzeJapaneseTitle is the cost per Japanese title (kagome
// search mode, plus the Chinese pieces of kanji words).
func BenchmarkAnalyzeJapaneseTitle(b *testing.B) { benchTitles(b, Options{}, jaTitles) }

// BenchmarkAnalyzeJapaneseTitleJapaneseHan is the same with JapaneseHan set
// (kagome only, no Chinese pieces).
func BenchmarkAnalyzeJapaneseTitleJapaneseHan(b *testing.B) {
	benchTitles(b, Options{JapaneseHan: true}, jaTitles)
}

// BenchmarkAnalyzeKoreanTitle is the cost per Korean title (particles, bigrams).
func BenchmarkAnalyzeKoreanTitle(b *testing.B) { benchTitles(b, Options{}, koTitles) }

// BenchmarkAnalyzeLongKatakana is a pathological text: 10,000 katakana in
// one run (kagome alone takes 7 s on it; cut into pieces of 64 runes).
func BenchmarkAnalyzeLongKatakana(b *testing.B) {
	benchTitles(b, Options{}, []string{strings.Repeat("ア", 10000)})
}
