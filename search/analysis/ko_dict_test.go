//go:build aisle_kodict

package analysis

import (
	"reflect"
	"testing"
)

func TestKoreanDictAnalyzer(t *testing.T) {
	en := analyzer(t, AnalyzerEnglish)
	tests := []struct {
		in   string
		want []string
	}{
		{"무선이어폰", []string{"무선", "이어폰"}},
		{"무선 이어폰", []string{"무선", "이어폰"}},
		{"이어폰을", []string{"이어폰"}},
		{"삼성전자의 갤럭시", []string{"삼성전자", "갤럭시"}},
		{"케이스입니다", []string{"케이스"}},
		{"고양이", []string{"고양이"}},
		{"남성용 운동화", []string{"남성", "운동화"}},
		{"갤럭시 S24 케이스", []string{"갤럭시", "s", "24", "s24", "케이스"}},
	}
	for _, tc := range tests {
		if got := en.Terms(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("en(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
