package buildinfo

import (
	"strings"
	"testing"
)

func TestGet(t *testing.T) {
	in := Get()
	if in.Version == "" || in.Revision == "" || in.BuildDate == "" || !strings.HasPrefix(in.GoVersion, "go") {
		t.Fatalf("incomplete: %+v", in)
	}
	if s := in.String(); !strings.HasPrefix(s, "aisle "+in.Version) || !strings.Contains(s, in.Revision) {
		t.Fatalf("String: %q", s)
	}
}
