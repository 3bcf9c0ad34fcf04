package search

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
	"github.com/aisle-dev/aisle/internal/snapshot"
	"github.com/aisle-dev/aisle/internal/varint"
)

// Snapshots of the click model (decision 0047): the (query, item)
// weights and the sessions remembered, with the events they cover, in
// <dir>/clicks.snap, so a start counts only the events the snapshot does
// not cover. Written every `every` events and at Close; removed by a
// forget, a consent withdrawal and a Rebuild (which a retention pass
// runs), and not written again until a Rebuild has relearnt the model
// without what they removed.

// clicksPart names the click model's snapshot file.
const clicksPart = "clicks"

// clicksStateVersion is the version of the payload's encoding.
const clicksStateVersion = 1

// clickSnap is the click model's side of snapshots.
type clickSnap struct {
	keeper snapshot.Keeper
	cov    snapshot.Coverage // events recorded (under Clicks.mu)
	// check is the loaded snapshot's, while the start replays the log
	check *snapshot.Check
	// consentAt is the Consent value the weights were learnt under
	consentAt uint64
	// fp is the loaded snapshot's fingerprint, compared in ReplayDone:
	// the users who withdrew consent are known only once the recommender
	// has loaded (after LoadSnapshot), so comparing at load would check
	// the file against an empty set
	fp uint64
	// tail and covered count the start's replay: events recorded, and
	// skipped as the snapshot's; lastCovered is how many the last start
	// took from the snapshot (0: none, or it did not match the log)
	tail, covered, lastCovered int
	loaded                     bool // ReplayDone ran: the state holds the log
}

// SetSnapshots keeps snapshots in dir (every events, ≤ 0: at Close only);
// call it before LoadSnapshot.
func (c *Clicks) SetSnapshots(dir string, every int, log *slog.Logger) {
	c.snap.keeper = snapshot.Keeper{Dir: dir, Part: clicksPart, Every: every, Log: log, Encode: c.encodeSnapshot}
}

// consent is the Consent value (0 without).
func (c *Clicks) consent() uint64 {
	if c.Consent == nil {
		return 0
	}
	return c.Consent()
}

// fingerprint is what the weights depend on besides the log: the window,
// the bounds, and who SkipUser leaves out.
func (c *Clicks) fingerprint() uint64 {
	b := binary.AppendVarint(nil, int64(c.Window))
	b = binary.AppendVarint(b, int64(c.maxPairs))
	b = binary.AppendVarint(b, int64(c.maxSessions))
	b = binary.AppendUvarint(b, c.consent())
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// encodeSnapshot encodes the weights and sessions; batches of events
// wait (order) so the coverage is exactly what was recorded.
func (c *Clicks) encodeSnapshot() (uint64, []byte, bool) {
	c.order.Lock()
	defer c.order.Unlock()
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.snap.loaded || c.snap.check != nil {
		return 0, nil, false // the log is not (all) replayed
	}
	b := binary.AppendUvarint(nil, clicksStateVersion)
	b = binary.AppendUvarint(b, c.fingerprint())
	b = c.snap.cov.Append(b)
	b = binary.AppendUvarint(b, uint64(c.pruneAt))
	b = binary.AppendUvarint(b, uint64(len(c.pairs)))
	for q, m := range c.pairs {
		b = varint.AppendString(b, q)
		b = binary.AppendUvarint(b, uint64(len(m)))
		for id, w := range m {
			b = varint.AppendString(b, id)
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(w))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(c.sessions)))
	for id, ss := range c.sessions {
		b = varint.AppendString(b, id)
		b = appendTime(b, ss.newest)
		b = binary.AppendUvarint(b, uint64(len(ss.searches)))
		for _, s := range ss.searches {
			b = appendSearch(b, s)
		}
		b = binary.AppendUvarint(b, uint64(len(ss.actions)))
		for _, a := range ss.actions {
			b = appendTime(b, a.at)
			b = varint.AppendString(b, a.item)
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(a.w))
			b = appendSearch(b, a.search)
		}
	}
	return c.snap.cov.Max, b, true
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

func appendSearch(b []byte, s lastSearch) []byte {
	return appendTime(varint.AppendString(b, s.query), s.at)
}

type clickDec struct{ varint.Reader }

func (d *clickDec) time() time.Time {
	s, ns := d.Varint(), d.Uvarint()
	if ns >= 1e9 {
		d.Fail()
	}
	return time.Unix(s, int64(ns)).UTC()
}

func (d *clickDec) search() lastSearch { return lastSearch{query: d.String(), at: d.time()} }

func (d *clickDec) f64() float64 {
	w := math.Float64frombits(d.Uint64LE())
	if math.IsNaN(w) || math.IsInf(w, 0) {
		d.Fail()
	}
	return w
}

// decodeSnapshot reads encodeSnapshot's bytes.
func (c *Clicks) decodeSnapshot(p []byte) (fp uint64, cov snapshot.Coverage, pruneAt int, pairs map[string]map[string]float64, sessions map[string]*session, err error) {
	d := &clickDec{varint.NewReader(p)}
	if v := d.Uvarint(); v != clicksStateVersion {
		return 0, cov, 0, nil, nil, fmt.Errorf("state version %d, this server reads %d", v, clicksStateVersion)
	}
	fp = d.Uvarint()
	cov = snapshot.ReadCoverage(&d.Reader)
	pruneAt = int(min(d.Uvarint(), uint64(c.maxSessions)))
	pairs = map[string]map[string]float64{}
	for range d.Count() {
		q := d.String()
		m := map[string]float64{}
		for range d.Count() {
			id := d.String()
			m[id] = d.f64()
		}
		if len(m) > 0 {
			pairs[q] = m
		}
	}
	sessions = map[string]*session{}
	for range d.Count() {
		id := d.String()
		ss := &session{newest: d.time()}
		for range d.Count() {
			ss.searches = append(ss.searches, d.search())
		}
		for range d.Count() {
			ss.actions = append(ss.actions, action{at: d.time(), item: d.String(), w: d.f64(), search: d.search()})
		}
		sessions[id] = ss
	}
	if !d.OK() || d.Len() != 0 {
		return 0, cov, 0, nil, nil, errors.New("payload damaged")
	}
	return fp, cov, pruneAt, pairs, sessions, nil
}

// LoadSnapshot installs the snapshot, when there is a usable one, before
// the start replays the log through Replay: the events it covers are then
// skipped, and ReplayDone checks that they are the log's.
func (c *Clicks) LoadSnapshot() {
	seq, p, ok := c.snap.keeper.Read()
	if !ok {
		return
	}
	fp, cov, pruneAt, pairs, sessions, err := c.decodeSnapshot(p)
	if err == nil && cov.Max != seq {
		err = fmt.Errorf("covers Seq %d, its header says %d", cov.Max, seq)
	}
	if err != nil {
		c.snap.keeper.Ignored(err)
		return
	}
	c.mu.Lock()
	c.pairs, c.sessions, c.pruneAt = pairs, sessions, max(pruneAt, min(c.maxSessions, pruneFloor))
	c.snap.cov, c.snap.fp = cov, fp
	c.snap.check = snapshot.NewCheck(&c.snap.cov)
	c.mu.Unlock()
}

// Replay takes an event of the log read at start: one the loaded
// snapshot covers is skipped, any other recorded.
func (c *Clicks) Replay(e events.Event) {
	c.mu.Lock()
	if c.snap.check.Seen(e.Seq) {
		c.snap.covered++
		c.mu.Unlock()
		return
	}
	c.snap.cov.Add(e.Seq)
	c.snap.tail++
	c.mu.Unlock()
	c.Record(e)
}

// ReplayDone ends the start's replay. When the events the snapshot
// covered are not exactly the log's (a backup restored under it, events
// deleted while stopped), the model is relearnt from the whole log.
func (c *Clicks) ReplayDone(ctx context.Context, scan func(ctx context.Context, after uint64, fn func(events.Event) error) error) error {
	c.mu.Lock()
	check, covered, tail := c.snap.check, c.snap.covered, c.snap.tail
	c.snap.check, c.snap.covered, c.snap.tail, c.snap.loaded = nil, 0, 0, true
	c.snap.consentAt = c.consent()
	sameSettings := c.snap.fp == c.fingerprint() // consent is loaded by now
	c.mu.Unlock()
	c.snap.keeper.Loaded(tail)
	if check == nil {
		return nil
	}
	if !sameSettings {
		c.snap.keeper.Ignored(errors.New("made under other settings or when other users had withdrawn consent"))
		return c.Rebuild(ctx, scan)
	}
	if check.Matches() {
		c.mu.Lock()
		c.snap.lastCovered = covered
		c.mu.Unlock()
		c.snap.keeper.Logger().Info("click model loaded from its snapshot", "covered", covered, "replayed", tail)
		return nil
	}
	c.snap.keeper.Ignored(fmt.Errorf("it does not match the event log (%d of its events in the log, it counted %d)", check.Covered(), c.snap.cov.N))
	return c.Rebuild(ctx, scan)
}

// CloseSnapshots writes the last snapshot (at a clean shutdown).
func (c *Clicks) CloseSnapshots() error { return c.snap.keeper.Close() }

// SnapshotsWritten is how many snapshots were written.
func (c *Clicks) SnapshotsWritten() int64 { return c.snap.keeper.Written() }

// UsersUpserted implements engine.UsersListener: when the users SkipUser
// leaves out changed (Consent moved; the recommender, subscribed first,
// has taken the change), the snapshot goes and none is written until a
// Rebuild relearns the model (the next start replays the whole log).
func (c *Clicks) UsersUpserted([]catalog.User) {
	if c.Consent == nil {
		return
	}
	c.mu.Lock()
	now := c.consent()
	changed := c.snap.consentAt != now
	c.snap.consentAt = now
	c.mu.Unlock()
	if changed {
		c.snap.keeper.Hold("the users who consent to personalisation changed")
	}
}
