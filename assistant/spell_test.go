package assistant

import "testing"

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		max  int
		want int
	}{
		{"stapler", "stapler", 2, 0},
		{"staplr", "stapler", 2, 1},
		{"lable", "label", 2, 1}, // a transposition is one edit
		{"hilighter", "highlighter", 2, 2},
		{"pen", "stapler", 2, 3}, // past max: max+1
		{"", "ab", 2, 2},
	} {
		if got := editDistance(c.a, c.b, c.max); got != c.want {
			t.Errorf("editDistance(%q, %q, %d) = %d, want %d", c.a, c.b, c.max, got, c.want)
		}
	}
}

func TestCorrect(t *testing.T) {
	x := newWordIndex()
	for w, n := range map[string]int{"stapler": 5, "staples": 3, "calculator": 4, "label": 6, "laser": 2, "blue": 9, "blur": 1, "pen": 8} {
		for range n {
			x.add(w)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"staplr", "stapler"},
		{"calulator", "calculator"},
		{"lable", "label"},
		{"blu", "blue"},  // three letters: completed only
		{"pne", ""},      // three letters, not a completion
		{"stapler", ""},  // known
		{"coffee", ""},   // nothing close
		{"xstapler", ""}, // a first letter is not corrected
		{"caluclator", "calculator"},
		{"abc123", ""},
	} {
		if got := x.correct(c.in); got != c.want {
			t.Errorf("correct(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
