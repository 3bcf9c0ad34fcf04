//go:build aisle_kodict

package analysis

import (
	ko "github.com/ikawaha/kagome-dict-ko"
	"github.com/ikawaha/kagome-dict/dict"
)

// koreanDict loads mecab-ko-dic (kagome-dict-ko) without its content
// columns: +25 MB of binary, ~1.5 s and ~77 MB of heap on first use.
func koreanDict() *dict.Dict { return ko.DictShrink() }
