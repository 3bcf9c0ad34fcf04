package snapshot

import (
	"testing"

	"github.com/aisle-dev/aisle/internal/varint"
)

// A coverage read back covers exactly the Seqs added (those more than
// CoverWindow below the newest taken as covered), and a Check over a log
// tells the log it was made from from one that lost or gained events.
func TestCoverageRoundTripAndCheck(t *testing.T) {
	var c Coverage
	log := []uint64{}
	for q := uint64(1); q <= 10_000; q++ {
		if q%7 == 3 {
			continue // never counted: a gap
		}
		log = append(log, q)
	}
	// out of order near the top: 9_990 counted last
	for _, q := range log {
		if q != 9_990 {
			c.Add(q)
		}
	}
	c.Add(9_990)
	r := varint.NewReader(c.Append(nil))
	d := ReadCoverage(&r)
	if !r.OK() || r.Len() != 0 || d.Max != c.Max || d.N != c.N || d.Hash != c.Hash {
		t.Fatalf("read back %+v (ok %v), want %+v", d, r.OK(), c)
	}
	for _, q := range []uint64{1, 9_990, 10_000, 9_000} {
		if !d.Covers(q) {
			t.Errorf("Seq %d counted but not covered", q)
		}
	}
	for _, q := range []uint64{0, 10_001, 9_999} { // 9_999 % 7 == 3
		if d.Covers(q) {
			t.Errorf("Seq %d covered but never counted", q)
		}
	}
	for _, tc := range []struct {
		name string
		log  []uint64
		want bool
	}{
		{"same log", log, true},
		{"one event deleted", log[1:], false},
		{"log grew after", append(append([]uint64{}, log...), 10_001, 10_002), true},
		{"restored without the newest", log[:len(log)-100], false},
	} {
		k := NewCheck(&d)
		for _, q := range tc.log {
			k.Seen(q)
		}
		if k.Matches() != tc.want {
			t.Errorf("%s: Matches %v, want %v", tc.name, k.Matches(), tc.want)
		}
	}
	var nilCheck *Check
	if nilCheck.Seen(5) || nilCheck.Matches() || nilCheck.Covered() != 0 {
		t.Error("a nil check covers nothing")
	}
	bad := varint.NewReader([]byte{1, 1, 1, 200})
	if ReadCoverage(&bad); bad.OK() {
		t.Error("a count beyond the bytes left was read")
	}
}
