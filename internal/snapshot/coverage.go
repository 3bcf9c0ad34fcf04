package snapshot

import (
	"encoding/binary"
	"slices"

	"github.com/aisle-dev/aisle/internal/varint"
)

// CoverWindow is how many Seqs below the newest covered one a Coverage
// lists individually: writers commit out of Seq order, so an event with a
// lower Seq can be counted after a higher one. Events more than this
// below the newest are taken as covered (engine.appliedWindow makes the
// same assumption, with a far larger window).
const CoverWindow = 4096

// Coverage is which events a part's state holds: the newest Seq, the Seqs
// of the last CoverWindow counted, and the number and an order-independent
// hash of all, which a start compares with the log (Check) to tell a
// snapshot that no longer matches it (decision 0040).
type Coverage struct {
	Max  uint64
	N    uint64
	Hash uint64
	ring []uint64 // the last CoverWindow Seqs added
	next int
	set  map[uint64]bool // the listed Seqs of a decoded coverage
}

// Mix is the hash of one Seq (splitmix64's finaliser); Coverage.Hash is
// their sum.
func Mix(seq uint64) uint64 {
	seq += 0x9e3779b97f4a7c15
	seq = (seq ^ seq>>30) * 0xbf58476d1ce4e5b9
	seq = (seq ^ seq>>27) * 0x94d049bb133111eb
	return seq ^ seq>>31
}

// Add notes that the state counted the event seq (0, an event never
// stored, is not noted).
func (c *Coverage) Add(seq uint64) {
	if seq == 0 {
		return
	}
	c.Max = max(c.Max, seq)
	c.N++
	c.Hash += Mix(seq)
	if len(c.ring) < CoverWindow {
		c.ring = append(c.ring, seq)
		return
	}
	c.ring[c.next] = seq
	c.next = (c.next + 1) % CoverWindow
}

// Remove takes out an event the store no longer holds (a forgotten
// user's).
func (c *Coverage) Remove(seq uint64) {
	if seq == 0 || c.N == 0 {
		return
	}
	c.N--
	c.Hash -= Mix(seq)
}

// Recent returns the listed Seqs, sorted: those added last and, for a
// decoded coverage added to since, the decoded ones not more than
// CoverWindow below the newest (older ones are covered anyway).
func (c *Coverage) Recent() []uint64 {
	r := slices.Clone(c.ring)
	for q := range c.set {
		if c.Max < CoverWindow || q > c.Max-CoverWindow {
			r = append(r, q)
		}
	}
	slices.Sort(r)
	return slices.Compact(r)
}

// Covers reports whether a decoded coverage counted seq.
func (c *Coverage) Covers(seq uint64) bool {
	if seq == 0 || seq > c.Max {
		return false
	}
	if c.Max >= CoverWindow && seq <= c.Max-CoverWindow {
		return true
	}
	return c.set[seq] || slices.Contains(c.ring, seq)
}

// Append encodes the coverage (uvarints: newest, count, hash, then the
// listed Seqs, counted and sorted).
func (c *Coverage) Append(b []byte) []byte {
	b = binary.AppendUvarint(b, c.Max)
	b = binary.AppendUvarint(b, c.N)
	b = binary.AppendUvarint(b, c.Hash)
	rec := c.Recent()
	b = binary.AppendUvarint(b, uint64(len(rec)))
	for _, q := range rec {
		b = binary.AppendUvarint(b, q)
	}
	return b
}

// ReadCoverage reads what Append wrote; a damaged field marks r bad.
func ReadCoverage(r *varint.Reader) Coverage {
	c := Coverage{Max: r.Uvarint(), N: r.Uvarint(), Hash: r.Uvarint(), set: map[uint64]bool{}}
	for range r.Count() {
		c.set[r.Uvarint()] = true
	}
	return c
}

// Check compares a snapshot's coverage with the log a start scans: every
// event Seen that the snapshot covers is counted and hashed, and Matches
// tells whether they are exactly the events the snapshot counted.
type Check struct {
	cov     *Coverage
	n, hash uint64
}

// NewCheck checks against (a copy of) c; nil: a check that covers
// nothing.
func NewCheck(c *Coverage) *Check {
	if c == nil {
		return &Check{}
	}
	cp := c.Clone()
	return &Check{cov: &cp}
}

// Clone is a copy of c that later Adds to c do not change.
func (c *Coverage) Clone() Coverage {
	cp := *c
	cp.ring = slices.Clone(c.ring)
	return cp
}

// Seen notes an event of the log and reports whether the snapshot
// covers it (so its owner skips it).
func (k *Check) Seen(seq uint64) bool {
	if k == nil || k.cov == nil || !k.cov.Covers(seq) {
		return false
	}
	k.n++
	k.hash += Mix(seq)
	return true
}

// Covered is how many of the log's events the snapshot covered.
func (k *Check) Covered() uint64 {
	if k == nil {
		return 0
	}
	return k.n
}

// Matches reports whether the covered events the log holds are exactly
// those the snapshot counted.
func (k *Check) Matches() bool {
	return k != nil && k.cov != nil && k.n == k.cov.N && k.hash == k.cov.Hash
}
