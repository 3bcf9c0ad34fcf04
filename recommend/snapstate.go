package recommend

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"slices"

	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/snapshot"
	"github.com/aisle-dev/aisle/internal/varint"
)

// stateVersion is the version of the service state's encoding inside a
// snapshot file (internal/snapshot frames it); another is not read.
const stateVersion = 2

// fingerprint is what the counts depend on besides the log: the trending
// half-lives, the history bound, the excluded types and the event weights.
// A snapshot made under another configuration is not loaded.
func (s *Service) fingerprint() uint64 {
	h := fnv.New64a()
	var b []byte
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.cfg.TrendingShort.Seconds()))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.cfg.TrendingLong.Seconds()))
	b = binary.AppendVarint(b, int64(s.cfg.MaxHistory))
	for _, t := range s.cfg.ExcludeTypes {
		b = varint.AppendString(b, string(t))
	}
	for _, t := range []events.Type{events.View, events.Click, events.AddToCart, events.Purchase, events.Rating, events.Search, "other"} {
		for _, v := range []*float64{nil, ptr(0.5), ptr(1), ptr(3), ptr(5), ptr(1000)} {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.cfg.Weight(t, v)))
		}
	}
	h.Write(b)
	return h.Sum64()
}

func ptr(v float64) *float64 { return &v }

// consentHash identifies the users who withdrew consent: their events are
// counted differently (not in bought-together), so a snapshot made under
// another set is not loaded.
func (s *Service) consentHash() uint64 {
	s.priv.mu.RLock()
	ids := make([]string, 0, len(s.priv.optedOut))
	for id := range s.priv.optedOut {
		ids = append(ids, id)
	}
	s.priv.mu.RUnlock()
	slices.Sort(ids)
	h := fnv.New64a()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// enc appends the fields of the state.
type enc struct{ b []byte }

func (e *enc) u(x uint64)    { e.b = binary.AppendUvarint(e.b, x) }
func (e *enc) i(x int64)     { e.b = binary.AppendVarint(e.b, x) }
func (e *enc) s(x string)    { e.b = varint.AppendString(e.b, x) }
func (e *enc) f64(x float64) { e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(x)) }
func (e *enc) f32(x float32) { e.b = binary.AppendUvarint(e.b, uint64(math.Float32bits(x))) }
func (e *enc) item(x int32)  { e.u(uint64(x)) }
func (e *enc) flag(x bool)   { e.b = append(e.b, map[bool]byte{false: 0, true: 1}[x]) }
func (e *enc) count(n int)   { e.u(uint64(n)) }

// dec reads them back; every count is bounded by the bytes left, so a
// damaged payload cannot make it allocate without bound.
type dec struct{ varint.Reader }

func (d *dec) u() uint64    { return d.Uvarint() }
func (d *dec) i() int64     { return d.Varint() }
func (d *dec) s() string    { return d.String() }
func (d *dec) f64() float64 { return math.Float64frombits(d.Uint64LE()) }
func (d *dec) f32() float32 {
	x := d.Uvarint()
	if x > math.MaxUint32 {
		d.Fail()
	}
	return math.Float32frombits(uint32(x))
}
func (d *dec) flag() bool {
	c := d.Byte()
	if c > 1 {
		d.Fail()
	}
	return c == 1
}
func (d *dec) count() int { return d.Count() }

// item reads an item number of the snapshot and maps it to the
// catalogue's (-1: an item the catalogue no longer has).
func (d *dec) item(remap []int32) int32 {
	x := d.Uvarint()
	if x >= uint64(len(remap)) {
		d.Fail()
		return -1
	}
	return remap[x]
}

// encodeState encodes the ledger, profiles and rows state and their
// coverage. The caller holds relearn.mu exclusively (no batch is being
// counted).
func (s *Service) encodeState() []byte {
	e := &enc{}
	e.u(stateVersion)
	e.u(s.fingerprint())
	e.u(s.consentHash())
	s.items.mu.RLock()
	e.count(len(s.items.info))
	for i := range s.items.info {
		e.s(s.items.info[i].id)
	}
	cats := make([]string, len(s.items.catIDs))
	for c, id := range s.items.catIDs {
		cats[id] = c
	}
	s.items.mu.RUnlock()
	e.count(len(cats))
	for _, c := range cats {
		e.s(c)
	}
	s.cov.mu.Lock()
	e.b = s.cov.c.Append(e.b)
	s.cov.mu.Unlock()
	s.ledger.encode(e)
	s.profiles.encode(e)
	s.rows.encode(e)
	return e.b
}

func (l *ledger) encode(e *enc) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	e.i(int64(l.fine))
	e.i(int64(l.coarse))
	e.u(uint64(l.total))
	e.i(l.newest)
	e.u(uint64(l.lastUID))
	e.count(len(l.items))
	for _, bs := range l.items {
		e.count(len(bs))
		for _, b := range bs {
			e.i(int64(b.start))
			e.u(uint64(b.n))
			e.f32(b.w)
			e.f32(b.ds)
			e.f32(b.dl)
		}
	}
	e.count(len(l.uids))
	for u, id := range l.uids {
		e.s(u)
		e.u(uint64(id))
	}
	e.count(len(l.baskets))
	for k, b := range l.baskets {
		e.s(k.session)
		e.s(k.user)
		e.i(k.day)
		e.count(len(b))
		for _, be := range b {
			e.item(be.item)
			e.u(uint64(be.user))
		}
	}
	e.count(len(l.co))
	for a, m := range l.co {
		e.item(a)
		e.count(len(m))
		for b, c := range m {
			e.item(b)
			e.f32(c)
		}
	}
	e.count(len(l.buyCount))
	for a, c := range l.buyCount {
		e.item(a)
		e.f32(c)
	}
}

func (ps *profiles) encode(e *enc) {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	e.u(ps.seq)
	e.u(ps.evicted)
	e.count(len(ps.users))
	for u, p := range ps.users {
		e.s(u)
		e.count(len(p.entries))
		for _, x := range p.entries {
			e.item(x.item)
			e.f32(x.weight)
			e.i(x.last)
			e.u(x.seq)
			e.flag(x.excluded)
		}
		e.count(len(p.gone))
		for _, it := range p.gone {
			e.item(it)
		}
	}
}

func encodeIv(e *enc, iv *ivStats) {
	e.f64(iv.n)
	e.f64(iv.sum)
	e.f64(iv.sum2)
}

func (r *rowState) encode(e *enc) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e.i(r.newest)
	e.count(len(r.users))
	for u, ur := range r.users {
		e.s(u)
		e.count(len(ur.buys))
		for i, b := range ur.buys {
			e.item(i)
			e.i(b.first)
			e.i(b.last)
			e.i(int64(b.occasions))
			encodeIv(e, &b.gaps)
		}
		e.count(len(ur.weight))
		for i, w := range ur.weight {
			e.item(i)
			e.f32(w)
		}
	}
	for _, m := range []map[int32]*ivStats{r.itemIv, r.catIv} {
		e.count(len(m))
		for k, iv := range m {
			e.item(k)
			encodeIv(e, iv)
		}
	}
	encodeIv(e, &r.globIv)
	e.count(len(r.buyers))
	for i, b := range r.buyers {
		e.item(i)
		e.i(int64(b[0]))
		e.i(int64(b[1]))
	}
}

// decodedState is a snapshot's state, decoded against the catalogue.
type decodedState struct {
	cov      snapshot.Coverage
	ledger   *ledger
	profiles *profiles
	rows     *rowState // the event-derived fields only
}

// decodeState reads encodeState's bytes. Items and categories the
// catalogue no longer has are dropped (a replay would not count them).
func (s *Service) decodeState(p []byte) (*decodedState, error) {
	d := &dec{varint.NewReader(p)}
	if v := d.u(); v != stateVersion {
		return nil, fmt.Errorf("state version %d, this server reads %d", v, stateVersion)
	}
	if f := d.u(); f != s.fingerprint() {
		return nil, fmt.Errorf("made under other settings (trending half-lives, max_history, event weights or excluded types)")
	}
	if c := d.u(); c != s.consentHash() {
		return nil, fmt.Errorf("made when other users had withdrawn consent to personalisation")
	}
	n := d.count()
	remap := make([]int32, n)
	for k := range remap {
		remap[k] = -1
		if i, ok := s.items.lookup(d.s()); ok {
			remap[k] = i
		}
	}
	s.items.mu.RLock()
	catRemap := make([]int32, d.count())
	for k := range catRemap {
		catRemap[k] = -1
		if id, ok := s.items.catIDs[d.s()]; ok {
			catRemap[k] = id
		}
	}
	s.items.mu.RUnlock()
	st := &decodedState{cov: snapshot.ReadCoverage(&d.Reader)}
	st.ledger = s.newLedger()
	st.ledger.decode(d, remap)
	st.profiles = newProfiles(s.cfg.MaxHistory)
	st.profiles.decode(d, remap)
	st.rows = &rowState{}
	st.rows.init()
	st.rows.decode(d, remap, catRemap)
	if !d.OK() || d.Len() != 0 {
		return nil, fmt.Errorf("state damaged or truncated")
	}
	return st, nil
}

func (l *ledger) decode(d *dec, remap []int32) {
	l.fine = int32(max(min(d.i(), math.MaxInt32), math.MinInt32))
	l.coarse = int32(max(min(d.i(), math.MaxInt32), math.MinInt32))
	if l.fine%coarseHours != 0 || l.coarse%coarseHours != 0 || l.coarse > l.fine {
		d.Fail() // the bucket widths would not tile
	}
	d.u() // the total, recounted below without the items dropped
	l.newest = d.i()
	l.lastUID = uint32(d.u())
	nItems := d.count()
	total := 0
	for k := range nItems {
		nb := d.count()
		var bs []bucket
		if k < len(remap) && remap[k] >= 0 {
			bs = make([]bucket, 0, nb)
		}
		prev := int64(math.MinInt64)
		for range nb {
			b := bucket{start: int32(max(min(d.i(), math.MaxInt32), math.MinInt32)), n: int32(min(d.u(), math.MaxInt32)), w: d.f32(), ds: d.f32(), dl: d.f32()}
			if int64(b.start) <= prev || b.n <= 0 || l.keyOf(int64(b.start)) != b.start {
				d.Fail() // buckets are in order, never empty, and tile time
			}
			prev = int64(b.start)
			if bs != nil {
				bs = append(bs, b)
				total += int(b.n)
			}
		}
		if k >= len(remap) {
			d.Fail()
		}
		if bs != nil && d.OK() {
			i := remap[k]
			if int(i) >= len(l.items) {
				l.items = slices.Grow(l.items, int(i)+1-len(l.items))[:i+1]
			}
			l.items[i] = bs
		}
	}
	l.total = total // events of items dropped are not counted
	for range d.count() {
		u, id := d.s(), d.u()
		if id > math.MaxUint32 {
			d.Fail()
		}
		l.uids[u] = uint32(id)
	}
	for range d.count() {
		k := basketKey{session: d.s(), user: d.s(), day: d.i()}
		m := d.count()
		var b []basketEntry
		for range m {
			i, u := d.item(remap), d.u()
			if i >= 0 {
				b = append(b, basketEntry{item: i, user: uint32(u)})
			}
		}
		if len(b) > 0 {
			l.baskets[k] = b
		}
	}
	for range d.count() {
		a := d.item(remap)
		var row map[int32]float32
		for range d.count() {
			b, c := d.item(remap), d.f32()
			if a >= 0 && b >= 0 {
				if row == nil {
					row = map[int32]float32{}
				}
				row[b] = c
			}
		}
		if row != nil {
			l.co[a] = row
		}
	}
	for range d.count() {
		a, c := d.item(remap), d.f32()
		if a >= 0 {
			l.buyCount[a] = c
		}
	}
}

func (ps *profiles) decode(d *dec, remap []int32) {
	ps.seq = d.u()
	ps.evicted = d.u()
	for range d.count() {
		u := d.s()
		n := d.count()
		p := &profile{entries: make([]profileEntry, 0, n)}
		for range n {
			x := profileEntry{item: d.item(remap), weight: d.f32(), last: d.i(), seq: d.u(), excluded: d.flag()}
			if x.item >= 0 {
				p.entries = append(p.entries, x)
			}
		}
		for range d.count() {
			if it := d.item(remap); it >= 0 {
				p.addGone(it)
			}
		}
		if len(p.entries) > indexFrom {
			p.at = make(map[int32]int, len(p.entries)*2)
			for i, x := range p.entries {
				p.at[x.item] = i
			}
		}
		if len(p.entries) > 0 || len(p.gone) > 0 {
			ps.users[u] = p
		}
	}
}

func decodeIv(d *dec) ivStats { return ivStats{n: d.f64(), sum: d.f64(), sum2: d.f64()} }

func (r *rowState) decode(d *dec, remap, catRemap []int32) {
	r.newest = d.i()
	for range d.count() {
		u := d.s()
		ur := &userRows{buys: map[int32]*buyRec{}, weight: map[int32]float32{}}
		for range d.count() {
			i := d.item(remap)
			b := &buyRec{first: d.i(), last: d.i(), occasions: int32(d.i()), gaps: decodeIv(d)}
			if i >= 0 {
				ur.buys[i] = b
			}
		}
		for range d.count() {
			i, w := d.item(remap), d.f32()
			if i >= 0 {
				ur.weight[i] = w
			}
		}
		r.users[u] = ur
	}
	for range d.count() {
		i, iv := d.item(remap), decodeIv(d)
		if i >= 0 {
			r.itemIv[i] = &iv
		}
	}
	for range d.count() {
		c, iv := d.item(catRemap), decodeIv(d)
		if c >= 0 {
			r.catIv[c] = &iv
		}
	}
	r.globIv = decodeIv(d)
	for range d.count() {
		i, a, b := d.item(remap), d.i(), d.i()
		if i >= 0 {
			r.buyers[i] = &[2]int32{int32(a), int32(b)}
		}
	}
}
