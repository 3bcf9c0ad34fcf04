package reqid

import (
	"testing"
	"time"
)

func TestNewIsValidUniqueAndTimed(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := New()
		if !Valid(id) {
			t.Fatalf("New() = %q is not Valid", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
	at, ok := Time(New())
	if !ok || time.Since(at) > time.Minute || time.Until(at) > time.Minute {
		t.Fatalf("Time = %v, %v; want about now", at, ok)
	}
}

func TestValid(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"", false},
		{"0123456789abcdef01234567", true}, // made before session 10
		{"0123456789abcdef0123456789abcdef", true},
		{"0123456789abcdef0123456789abcdeF", false},
		{"0123456789abcdef0123456789abcde", false},
		{"0123456789abcdef0123456789", false},
		{"0123456789ABCDEF01234567", false},
		{"0123456789abcdef0123456", false},
		{"0123456789abcdef0123456g", false},
		{"0123456789abcdef012345678", false},
	} {
		if got := Valid(c.in); got != c.want {
			t.Errorf("Valid(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestRawEncodeDecodeRoundTrip(t *testing.T) {
	b := Raw()
	s := Encode(b)
	if !Valid(s) {
		t.Fatalf("Encode(Raw()) = %q is not Valid", s)
	}
	got, ok := Decode(s)
	if !ok || string(got) != string(b[:]) || len(s) != 32 {
		t.Fatalf("Decode(%q) = %x, %v; want %x", s, got, ok, b)
	}
	if _, ok := Decode("0123456789ABCDEF01234567"); ok {
		t.Fatal("Decode accepted an invalid id")
	}
	if old, ok := Decode("0123456789abcdef01234567"); !ok || len(old) != OldSize {
		t.Fatalf("Decode of an id made before session 10: %x %v", old, ok)
	}
}
