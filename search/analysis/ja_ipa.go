//go:build !aisle_noja

package analysis

import (
	"fmt"

	"github.com/ikawaha/kagome-dict/dict"
	"github.com/ikawaha/kagome-dict/ipa"
)

// bundledJapaneseDict loads kagome's IPA dictionary (mecab-ipadic) without
// its content columns. It adds ~12 MB to the binary; build with the tag
// aisle_noja to leave it out.
func bundledJapaneseDict() (d *dict.Dict, err error) {
	defer func() {
		if r := recover(); r != nil { // the package panics on a corrupt embedded file
			err = fmt.Errorf("IPA dictionary: %v", r)
		}
	}()
	return ipa.DictShrink(), nil
}
