package assistant

import (
	"strings"
	"testing"
)

// FuzzCheck: whatever a model writes, the checked reply cites only
// grounded products, and checking it again removes nothing more.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"Try [B0000AG93P] for $12.", "Samsung makes [X1] at 5元.\nAnd [B00004VVIX].", "", "[[]]$$$ 1.5 dollars", "价格 99元。好的！", "B0000AG93P is $3"} {
		f.Add(s)
	}
	a := newDemoAssistant(f)
	grounded := map[string]bool{"B0000AG93P": true, "B000059RDW": true}
	conv := &Conversation{ID: "c"}
	f.Fuzz(func(t *testing.T, text string) {
		out, cited, _ := a.check(text, grounded, conv, "a printer cartridge")
		for _, m := range citeRe.FindAllStringSubmatch(out, -1) {
			if !grounded[m[1]] {
				t.Fatalf("%q: checked reply %q cites %s", text, out, m[1])
			}
		}
		for _, id := range cited {
			if !grounded[id] {
				t.Fatalf("%q: cited %s", text, id)
			}
		}
		again, _, rm := a.check(out, grounded, conv, "a printer cartridge")
		if rm.Products+rm.Attributes > 0 || strings.TrimSpace(again) != strings.TrimSpace(out) && rm.Prices == 0 {
			t.Fatalf("%q: checking %q again removed %+v → %q", text, out, rm, again)
		}
	})
}
