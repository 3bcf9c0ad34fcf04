package impressions

import (
	"encoding/binary"
	"encoding/hex"

	"github.com/aisle-dev/aisle/internal/reqid"
)

// The log's memory (decision 0078): the newest answers' records (a cache
// Get reads before the file; 4,096 by default since decision 0083, whose
// Get also reads the records not yet written from the queue and the batch
// in flight, so the ring's size decides no attribution), and the queue the
// writer takes. Both hold records as bytes — the file's record with the
// raw user and session ids — in buffers without pointers, so the garbage
// collector never scans them. Before, the ring held 65,536 Impression
// values: their ids, item slices and strings were ~1M pointers every
// collection marked, and the collector's assists fell on the answers.
//
// The ring is a slice of fixed-size slots (the id's bytes and where the
// record lies) over an arena: a circular buffer of the records' bytes, each
// record contiguous (one that would wrap starts the arena again). Offsets
// count the bytes ever written (apos), so a slot's record is still there
// while apos − off ≤ len(arena). The arena grows (doubling) rather than
// overwrite a record the ring still holds, up to maxArena bytes; past it
// the oldest records leave memory early (they are in the file, or queued).

// idKey is a request id's raw bytes: reqid.Size of them, or reqid.OldSize.
type idKey struct {
	b [reqid.Size]byte
	n uint8
}

// parseID returns the raw bytes of a request id made by reqid.New (the
// shape reqid.Valid checks: lowercase hex of Size or OldSize bytes),
// without allocating.
func parseID(s string) (idKey, bool) {
	var k idKey
	if len(s) != 2*reqid.Size && len(s) != 2*reqid.OldSize {
		return k, false
	}
	for i := 0; i < len(s); i += 2 {
		hi, ok1 := fromHex(s[i])
		lo, ok2 := fromHex(s[i+1])
		if !ok1 || !ok2 {
			return k, false
		}
		k.b[i/2] = hi<<4 | lo
	}
	k.n = uint8(len(s) / 2)
	return k, true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func (k *idKey) bytes() []byte { return k.b[:k.n] }

// slot is one recent record: its id and where its bytes lie in the arena.
type slot struct {
	key idKey
	n   uint32 // the record's length; 0: forgotten
	off uint64 // its first byte's position in the stream of arena bytes
}

// arenaMin is the arena's first size; maxArenaPerRecord × Options.Recent
// its largest (a 10-item answer's record is ~100–150 bytes).
const (
	arenaMin          = 4096
	maxArenaPerRecord = 512
)

// live reports whether s's record is still in the arena. l.mu is held.
func (l *Log) live(s *slot) bool {
	return s.n != 0 && l.apos-s.off <= uint64(len(l.arena))
}

// record is s's bytes in the arena (s live). l.mu is held.
func (l *Log) record(s *slot) []byte {
	st := s.off % uint64(len(l.arena))
	return l.arena[st : st+uint64(s.n)]
}

// remember keeps imp, of size bytes (recordLen), among the recent records
// and returns its record (in the arena). l.mu is held.
func (l *Log) remember(k idKey, imp *Impression, size int) []byte {
	start := l.reserve(size)
	rec := appendRecord(l.arena[start:start:start+size], imp)
	s := slot{key: k, off: l.apos, n: uint32(size)}
	l.apos += uint64(size)
	seq := l.adds
	l.adds++
	if len(l.slots) < l.opts.Recent {
		// growing: preallocating opts.Recent slots cost every shop of a
		// deployment memory before its first answer
		if len(l.slots) == cap(l.slots) {
			grown := make([]slot, len(l.slots), min(max(2*len(l.slots), 64), l.opts.Recent))
			copy(grown, l.slots)
			l.slots = grown
		}
		l.slots = append(l.slots, s) // at seq: the ring fills in order
	} else {
		l.slots[l.next] = s // the slot of seq modulo Recent
		l.next = (l.next + 1) % len(l.slots)
	}
	if min(l.adds, uint64(l.opts.Recent)) > 2*uint64(len(l.index)/bucketSize) {
		l.growIndex() // this record's entry too
	} else {
		l.put(hashID(&k), seq)
	}
	return rec
}

// The index of the recent records is a hash table without pointers or
// deletions: buckets of bucketSize entries, an entry a record's sequence
// number + 1 (0: empty) in its high 48 bits and 16 bits of its id's hash.
// The ring fills in order, so the record of sequence q is in slot q modulo
// Options.Recent, and an entry whose record was pushed out is known by its
// number alone (older than the ring's Recent). Add writes one entry (one
// cache line, nothing deleted; a Go map was an insert and a delete, the
// larger part of Add); a lookup reads its bucket and the slots whose
// fingerprint matches. The table holds at most a quarter of its entries
// live; a record is looked for in probes consecutive buckets.
const (
	bucketSize = 8
	probes     = 4
)

// hashID is a request id's hash: its last 8 bytes (random, or its check)
// times a constant. Its bits from 32 up choose the buckets.
func hashID(k *idKey) uint64 {
	return binary.LittleEndian.Uint64(k.b[k.n-8:k.n]) * 0x9e3779b97f4a7c15
}

// fingerprint is the 16 bits of a hash an entry keeps: its bits 16–31,
// which depend on the id's bytes 8–11 (a product's low 16 bits depend on
// bytes 8 and 9 only, which experiment.NewRequestID fills with the
// surface and variant and 4 random bits: 16 values among one surface's
// ids).
func fingerprint(h uint64) uint16 { return uint16(h >> 16) }

// cut is the largest entry value (sequence + 1) whose record the ring no
// longer holds. l.mu is held.
func (l *Log) cut() uint64 {
	if r := uint64(l.opts.Recent); l.adds > r {
		return l.adds - r
	}
	return 0
}

// put indexes the record of sequence seq, whose id hashes to h: in an
// empty or stale entry of its buckets, else in place of their oldest
// (that record is then read from the file). l.mu is held.
func (l *Log) put(h, seq uint64) {
	mask, cut := uint64(len(l.index)/bucketSize-1), l.cut()
	v := (seq+1)<<16 | uint64(fingerprint(h))
	oldest := -1
	for p := range uint64(probes) {
		b := ((h>>32 + p) & mask) * bucketSize
		for i, e := range l.index[b : b+bucketSize] {
			if e>>16 <= cut {
				l.index[b+uint64(i)] = v
				return
			}
			if oldest < 0 || e < l.index[oldest] {
				oldest = int(b) + i
			}
		}
	}
	l.index[oldest] = v
}

// find returns the slot of the live record of id k, or nil. l.mu is held.
func (l *Log) find(k *idKey) *slot {
	if len(l.index) == 0 {
		return nil
	}
	h := hashID(k)
	mask, cut := uint64(len(l.index)/bucketSize-1), l.cut()
	for p := range uint64(probes) {
		b := ((h>>32 + p) & mask) * bucketSize
		for _, e := range l.index[b : b+bucketSize] {
			if e>>16 <= cut || uint16(e) != fingerprint(h) {
				continue
			}
			if s := &l.slots[(e>>16-1)%uint64(l.opts.Recent)]; s.key == *k && l.live(s) {
				return s
			}
		}
	}
	return nil
}

// growIndex doubles the index (it starts at 64 buckets) and indexes the
// ring's records again. It grows only while the ring does, when the
// record of sequence i is in slot i. l.mu is held.
func (l *Log) growIndex() {
	l.index = make([]uint64, max(2*len(l.index), 64*bucketSize))
	for i := range l.slots {
		l.put(hashID(&l.slots[i].key), uint64(i))
	}
}

// reserve makes room for a record of size bytes at the end of the arena's
// stream and returns where it starts in the arena: it pads to the arena's
// end when the record would wrap, and grows the arena rather than
// overwrite the oldest record the ring keeps (up to the largest arena).
// l.mu is held.
func (l *Log) reserve(size int) int {
	for {
		c := uint64(len(l.arena))
		if c >= uint64(size) {
			pos := l.apos % c
			pad := uint64(0)
			if pos+uint64(size) > c {
				pad = c - pos
			}
			end := l.apos + pad + uint64(size)
			oldest, keeps := l.oldestKept()
			if !keeps || end <= c || oldest >= end-c || len(l.arena) >= l.maxArena() {
				l.apos += pad
				return int((pos + pad) % c)
			}
		}
		l.grow(max(2*len(l.arena), 2*size, arenaMin))
	}
}

// maxArena is the largest the arena grows.
func (l *Log) maxArena() int { return max(arenaMin, maxArenaPerRecord*l.opts.Recent) }

// oldestKept is the offset of the oldest record the ring keeps after the
// next one is remembered; false when it keeps none. l.mu is held.
func (l *Log) oldestKept() (uint64, bool) {
	switch {
	case len(l.slots) == 0:
		return 0, false
	case len(l.slots) < l.opts.Recent:
		return l.slots[0].off, true
	case len(l.slots) == 1:
		return 0, false // the next replaces the only one
	}
	return l.slots[(l.next+1)%len(l.slots)].off, true
}

// grow moves the live records, oldest first, to a new arena of c bytes.
// l.mu is held.
func (l *Log) grow(c int) {
	arena := make([]byte, c)
	pos := uint64(0)
	for i := range l.slots {
		s := &l.slots[(l.next+i)%len(l.slots)]
		if l.live(s) {
			pos += uint64(copy(arena[pos:], l.record(s)))
		} else {
			s.n = 0
		}
		s.off = pos - uint64(s.n)
	}
	l.arena, l.apos = arena, pos
}

// enqueue appends the record rec of id k to the writer's queue: the id's
// length, its bytes, the record's length as a uvarint and the record.
// l.mu is held.
func (l *Log) enqueue(k *idKey, rec []byte) {
	if sec := k.second(); l.queued == 0 || sec < l.qsec {
		l.qsec = sec
	}
	l.queue = append(l.queue, k.n)
	l.queue = append(l.queue, k.bytes()...)
	l.queue = binary.AppendUvarint(l.queue, uint64(len(rec)))
	l.queue = append(l.queue, rec...)
	l.queued++
}

// unwritten returns the record of id k in the queue or in the batch being
// written, or nil: the records the file does not hold yet, which the ring
// may no longer hold (it keeps Options.Recent, the queue up to
// Options.Queue, the batch in flight as many). Ids sort by time, so an id
// of a second before the oldest queued one's skips the scan (an event
// seconds after its answer finds it in the file). l.mu is held.
func (l *Log) unwritten(k *idKey) []byte {
	sec := k.second()
	for _, b := range [2]struct {
		q   []byte
		sec uint32
	}{{l.queue, l.qsec}, {l.writing, l.wsec}} {
		if len(b.q) == 0 || sec < b.sec {
			continue
		}
		for q := b.q; len(q) > 0; {
			key, rec, rest, ok := nextQueued(q)
			if !ok {
				break // never: enqueue wrote it
			}
			if string(key) == string(k.bytes()) {
				return rec
			}
			q = rest
		}
	}
	return nil
}

// second is the unix second an id starts with.
func (k *idKey) second() uint32 { return binary.BigEndian.Uint32(k.b[:4]) }

// nextQueued splits the first entry off a queue: its id's bytes, its
// record and the rest; false when q is empty or malformed.
func nextQueued(q []byte) (key, rec, rest []byte, ok bool) {
	if len(q) == 0 || int(q[0]) >= len(q) {
		return nil, nil, nil, false
	}
	key, q = q[1:1+q[0]], q[1+q[0]:]
	n, w := binary.Uvarint(q)
	if w <= 0 || n > uint64(len(q)-w) {
		return nil, nil, nil, false
	}
	return key, q[w : w+int(n)], q[w+int(n):], true
}

// splitRecord splits a record at its user and session ids: head is the
// format, time and surface; user and session the ids' bytes (without
// their lengths); tail what follows. false when rec is malformed.
func splitRecord(rec []byte) (head, user, session, tail []byte, ok bool) {
	if len(rec) == 0 {
		return nil, nil, nil, nil, false
	}
	p := 1
	if _, w := binary.Varint(rec[p:]); w > 0 {
		p += w
	} else {
		return nil, nil, nil, nil, false
	}
	var fields [3][]byte
	for i := range fields {
		n, w := binary.Uvarint(rec[p:])
		if w <= 0 || n > uint64(len(rec)-p-w) {
			return nil, nil, nil, nil, false
		}
		if i == 0 {
			head = rec[:p+w+int(n)]
		}
		fields[i] = rec[p+w : p+w+int(n)]
		p += w + int(n)
	}
	return head, fields[1], fields[2], rec[p:], true
}

// shopperOf reports whether rec's user or session id is id.
func shopperOf(rec []byte, id string) bool {
	_, user, session, _, ok := splitRecord(rec)
	return ok && (string(user) == id || string(session) == id)
}

// hexID is a key's request id.
func hexID(k []byte) string { return hex.EncodeToString(k) }
