//go:build !aisle_kodict

package analysis

import "github.com/ikawaha/kagome-dict/dict"

// koreanDict returns nil: this binary segments Korean by rules (build with
// the tag aisle_kodict for the mecab-ko-dic dictionary).
func koreanDict() *dict.Dict { return nil }
