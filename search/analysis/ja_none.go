//go:build aisle_noja

package analysis

import "github.com/ikawaha/kagome-dict/dict"

// bundledJapaneseDict reports that this binary was built without the
// Japanese dictionary (tag aisle_noja): Japanese text gets character bigrams.
func bundledJapaneseDict() (*dict.Dict, error) { return nil, errNoJapaneseDict }
