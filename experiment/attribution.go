package experiment

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"hash/fnv"
	"slices"
	"time"

	"github.com/aisle-dev/aisle/impressions"
	"github.com/aisle-dev/aisle/internal/reqid"
)

// Request ids that carry their own attribution (issue 15): a click sent to
// a replica that did not serve the answer is attributed there as on the
// serving one, without the serving replica's impression log.
//
// A request id is 16 bytes (internal/reqid): 4 of Unix time, 12 random.
// NewRequestID puts in bytes 4–11, as bits of their big-endian uint64:
//
//	63…48 the fraction of the second, in 1/65,536 s (since session 11)
//	47…28 random
//	27…24 the surface (surfaceCodes; 0: a surface without a code)
//	23…20 the A/B variant's index + 1 (0: outside an A/B experiment)
//	19…16 a 4-bit hash of the experiment's id (expTag)
//	15…0  the first 16 bits of HMAC-SHA256(key, bytes 0–9 and 12–15)
//
// Bytes 12–15 stay random. The key is derived from the key that
// pseudonymises shoppers, which the
// replicas of one shared store share (store.Experiments.ExperimentKey), so
// every replica checks and reads every replica's ids. A request id whose
// check fails (an older id, one made elsewhere, a forged one) says
// nothing: attribution then falls back to the impression log. Ids of 12
// bytes, made before session 10, are read alike (their check covers bytes
// 0–9). The fraction makes ids sort by time to 1/65,536 s, so the
// impression log, keyed by id, appends each batch after the last instead
// of inserting it all over the second's records (decision 0078: ~4× less
// of the writer's CPU, 5× fewer bytes allocated). 52 random bits keep
// ids unique: n ids of one 1/65,536 s, of the same surface and variant,
// collide with a chance of about n²/2⁵³ (before the fraction, 68 bits for
// the ids of a whole second: n²/2⁶⁹; with 12-byte ids n²/2³⁷).

// surfaceCodes are the surfaces a request id can name, by their code.
var surfaceCodes = [...]string{1: "recommend", 2: "session", 3: "similar", 4: "bought_together",
	5: "popular", 6: "trending", 7: "search", 8: "assistant"}

func surfaceCode(surface string) uint64 {
	if i := slices.Index(surfaceCodes[1:], surface); i >= 0 && surface != "" {
		return uint64(i + 1)
	}
	return 0
}

// maxTaggedVariant is the largest variant index an id can carry.
const maxTaggedVariant = 14

// tagKeyLabel derives the key of the check from the pseudonym's secret.
const tagKeyLabel = "aisle: request id attribution v1"

// expTag is the 4-bit hash of an experiment id a request id carries.
func expTag(id string) uint64 {
	h := fnv.New32a()
	h.Write([]byte(id))
	return uint64(h.Sum32() & 0xf)
}

// Tagged is what a request id made by NewRequestID says of its answer.
type Tagged struct {
	Time    time.Time
	Surface string // "" for a surface without a code
	Variant int    // the A/B variant's index; -1 outside an A/B experiment
	tag     uint64 // expTag of the experiment when Variant ≥ 0
}

// NewRequestID returns a new request id for an answer of surface served
// with assignment as, carrying both (see the layout above).
func (m *Manager) NewRequestID(surface string, as Assignment) string {
	// reqid.Raw's layout (the wall clock's second, then random bytes),
	// with one reading of the clock for the second and its fraction
	now := time.Now()
	var b [reqid.Size]byte
	binary.BigEndian.PutUint32(b[:4], uint32(now.Unix()))
	rand.Read(b[4:]) // never fails (crypto/rand)
	v := binary.BigEndian.Uint64(b[4:])&^(1<<28-1)&^(0xffff<<48) | uint64(now.Nanosecond())<<16/1e9<<48
	v |= surfaceCode(surface) << 24
	if as.Experiment != "" && as.Index >= 0 && as.Index <= maxTaggedVariant {
		v |= uint64(as.Index+1)<<20 | expTag(as.Experiment)<<16
	}
	binary.BigEndian.PutUint64(b[4:], v)
	v |= uint64(m.check(b[:]))
	binary.BigEndian.PutUint64(b[4:], v)
	return reqid.Encode(b)
}

// check is the 16-bit HMAC of an id's bytes but its check's own: its first
// 10 and those after the 12th (none in an id of reqid.OldSize). Every
// answer and every attributed event computes one, so the keyed MACs are
// pooled: a reset one resumes from its keyed state (two SHA-256 blocks
// fewer than a new one, and none of hmac.New's allocations).
func (m *Manager) check(b []byte) uint16 {
	t, _ := m.tagMACs.Get().(*tagMAC)
	if t == nil {
		t = &tagMAC{h: hmac.New(sha256.New, m.tagKey)}
	}
	// the MAC reads a copy: b itself, written to the interface, would
	// escape (an allocation an answer)
	n := copy(t.in[:], b)
	t.h.Write(t.in[:10])
	t.h.Write(t.in[12:n])
	v := binary.BigEndian.Uint16(t.h.Sum(t.sum[:0]))
	t.h.Reset()
	m.tagMACs.Put(t)
	return v
}

// tagMAC is a pooled HMAC of the check and the buffer of its sum (a sum
// on the stack would escape through the interface call).
type tagMAC struct {
	h   hash.Hash
	in  [reqid.Size]byte
	sum [sha256.Size]byte
}

// Attribution reads what a request id made by NewRequestID (on any
// replica sharing this one's key) says of its answer; false for any other
// id.
func (m *Manager) Attribution(requestID string) (Tagged, bool) {
	b, ok := reqid.Decode(requestID)
	if !ok {
		return Tagged{}, false
	}
	v := binary.BigEndian.Uint64(b[4:12])
	if uint16(v) != m.check(b) {
		return Tagged{}, false
	}
	t := Tagged{Time: time.Unix(int64(binary.BigEndian.Uint32(b[:4])), 0).UTC(), Variant: int(v>>20&0xf) - 1, tag: v >> 16 & 0xf}
	if c := v >> 24 & 0xf; c < uint64(len(surfaceCodes)) {
		t.Surface = surfaceCodes[c]
	}
	return t, true
}

// taggedImpression is the impression a tagged request id stands for when
// this replica's log does not hold it: its surface, time and, when it was
// served inside an A/B experiment still running, the experiment and
// variant (no items: the position clicked is not noted for the fit, which
// reads this replica's own answers). m.mu is held (read or write).
func (m *Manager) taggedImpression(requestID string) (impressions.Impression, bool) {
	t, ok := m.Attribution(requestID)
	if !ok {
		return impressions.Impression{}, false
	}
	imp := impressions.Impression{RequestID: requestID, Time: t.Time, Surface: t.Surface}
	if t.Variant < 0 || t.Surface == "" {
		return imp, true
	}
	for _, x := range m.exps {
		// the id's second must not precede the experiment's start: an
		// answer of an earlier experiment on the surface is not this one's
		if x.Surface == t.Surface && x.Status == Running && x.Method != MethodInterleave && expTag(x.ID) == t.tag &&
			t.Variant < len(x.Variants) && !t.Time.Before(x.Started.Truncate(time.Second)) {
			imp.Experiment, imp.Variant = x.ID, x.Variants[t.Variant].Name
			break
		}
	}
	return imp, true
}
