// Package impressions keeps the log of what the shop showed: one record per
// answer of a recommendation or search route (its request id, surface,
// shopper, experiment variant and the item ids in order). Clicks, carts and
// purchases that carry the answer's request id are attributed through it,
// and offline estimates (inverse propensity) replay it. The positions
// clicked in each answer are noted beside it (Click), and Fit estimates
// from both how often each position is examined (propensity.go), from the
// answers shuffled for exploration when there are enough (explore.go).
//
// Logging never slows an answer: Add appends the record to a bounded
// in-memory queue and returns; a writer goroutine (Run, joined by the
// owner) takes the queue every 50 ms and writes it in one transaction to
// its own bbolt file. When the queue is full the record is
// dropped and counted (Dropped). Records older than the retention are
// deleted in the background. User and session ids are stored as keyed
// hashes (Pseudonym), and Forget removes a deleted shopper's records.
// Records not yet written are read from the queue, so a click that
// follows its answer before the batch is written still finds it; the
// newest few thousand are also kept in memory (recent.go).
package impressions

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aisle-dev/aisle/internal/varint"
)

// Impression is one answer as it was shown.
type Impression struct {
	RequestID  string    `json:"request_id"`
	Time       time.Time `json:"time"`
	Surface    string    `json:"surface"` // recommend, session, similar, bought_together, popular, trending, search
	UserID     string    `json:"user_id,omitempty"`
	SessionID  string    `json:"session_id,omitempty"`
	Experiment string    `json:"experiment,omitempty"` // experiment id; "" outside experiments
	Variant    string    `json:"variant,omitempty"`
	Items      []string  `json:"items"`
	// Query is the search of a search answer ("" for other surfaces): the
	// context of an item's relevance when fitting position bias.
	Query string `json:"query,omitempty"`
	// Teams, in an interleaved answer, is the variant index (0 or 1) that
	// placed each item; nil otherwise.
	Teams []uint8 `json:"teams,omitempty"`
	// Explored marks an answer whose leading items were shuffled at random
	// (Explores, ExploreOrder): the randomised lists the position-bias
	// estimate prefers to the EM fit.
	Explored bool `json:"explored,omitempty"`
}

// Options configure a Log.
type Options struct {
	// Retention is how long records are kept (default 30 days).
	Retention time.Duration
	// Queue is how many records may wait for the writer (default 4096);
	// more are dropped and counted.
	Queue int
	// Recent is how many of the newest records are kept in memory, read
	// by Get before the file (default 4096). Get finds a record not yet
	// written in the queue whatever Recent is: this is a cache, and its
	// memory counts against the heap the answers have (decision 0083).
	Recent int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// CompactAfter is the longest the bytes of a forgotten shopper's
	// deleted records stay in the file (default 1 minute): bbolt keeps
	// deleted records in its free pages, so the writer rewrites the file
	// this long after the first deletion that has not been compacted yet
	// (several forgets share one rewrite). Negative: never (the bytes stay
	// until bbolt reuses the pages), as privacy.compact_after.
	CompactAfter time.Duration
}

var (
	bucket      = []byte("impressions")
	metaBucket  = []byte("meta")
	clickBucket = []byte("clicks")
)

// Pseudonym is a keyed hash of a user or session id: what the files hold
// instead of the id, so that a forgotten shopper's id is nowhere on disk
// (the key is random per file and never leaves it).
type Pseudonym struct{ key []byte }

// LoadPseudonym reads (creating it) the key in the meta bucket of tx.
func LoadPseudonym(tx *bolt.Tx) (Pseudonym, error) {
	b, err := tx.CreateBucketIfNotExists(metaBucket)
	if err != nil {
		return Pseudonym{}, err
	}
	if k := b.Get([]byte("pseudonym_key")); len(k) == 32 {
		return Pseudonym{key: append([]byte(nil), k...)}, nil
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return Pseudonym{}, err
	}
	return Pseudonym{key: k}, b.Put([]byte("pseudonym_key"), k)
}

// NewPseudonym returns the pseudonym keyed by key (32 random bytes kept
// secret, e.g. one that several replicas share).
func NewPseudonym(key []byte) Pseudonym { return Pseudonym{key: append([]byte(nil), key...)} }

// Of returns the pseudonym of id ("" for "").
func (p Pseudonym) Of(id string) string {
	if id == "" {
		return ""
	}
	return string(appendPseudonym(p, make([]byte, 0, pseudonymLen), id))
}

// appendField appends the record field of the pseudonym of id: its
// length and itself (a zero length for no id).
func (p Pseudonym) appendField(dst, id []byte) []byte {
	if len(id) == 0 {
		return append(dst, 0)
	}
	return appendPseudonym(p, append(dst, pseudonymLen), id)
}

// pseudonymLen is the length of a pseudonym: "h:" and 24 hex digits.
const pseudonymLen = 2 + 24

// appendPseudonym appends the pseudonym of id (nothing for "") to dst;
// for the ids of usual length it allocates nothing (the writer calls it
// twice a record).
func appendPseudonym[S string | []byte](p Pseudonym, dst []byte, id S) []byte {
	if len(id) == 0 {
		return dst
	}
	var sum [sha256.Size]byte
	var buf [160]byte
	if n := len(p.key) + len(id); n <= len(buf) {
		copy(buf[copy(buf[:], p.key):], id)
		sum = sha256.Sum256(buf[:n])
	} else {
		h := sha256.New()
		h.Write(p.key)
		h.Write([]byte(id))
		h.Sum(sum[:0])
	}
	return hex.AppendEncode(append(dst, "h:"...), sum[:12])
}

// Derive returns a key for another use of the pseudonym's secret:
// HMAC-SHA256 of label under it (so the key itself never leaves).
func (p Pseudonym) Derive(label string) []byte {
	h := hmac.New(sha256.New, p.key)
	h.Write([]byte(label))
	return h.Sum(nil)
}

// Log is the impression log. Its methods are safe for concurrent use.
type Log struct {
	path string
	opts Options
	ps   Pseudonym

	dbMu sync.RWMutex // write-locked only while compact swaps the file
	db   *bolt.DB

	dropped     atomic.Uint64
	written     atomic.Uint64
	compactions atomic.Uint64
	compactErr  atomic.Pointer[error]

	// wbuf holds the keys and values of the batch the writer is
	// writing (bbolt keeps them until the commit); the writer's only
	wbuf []byte

	// mu guards what follows: the queue and the recent records (recent.go),
	// none of which holds a pointer the collector would follow
	mu     sync.Mutex
	queue  []byte // records queued for the writer (enqueue)
	queued int    // how many
	qsec   uint32 // no queued record's id is of an earlier second
	// writing is the batch the writer took and has not committed yet
	// (nil between batches), wsec its qsec: Get reads it, so a record is
	// readable from its Add on, in memory or in the file
	writing []byte
	wsec    uint32
	spare   []byte   // the last batch written, emptied: the next queue
	clicks  [][]byte // click keys queued for the writer
	forget  []string // pseudonyms whose records the writer deletes
	index   []uint64 // the slots' ids (recent.go)
	adds    uint64   // records remembered so far (the next one's sequence)
	slots   []slot
	next    int    // the slot the next record replaces, once slots is full
	arena   []byte // the slots' records
	apos    uint64 // bytes ever written to the arena
}

// Open opens (creating it) the impression log in the bbolt file path.
func Open(path string, opts Options) (*Log, error) {
	if opts.Retention <= 0 {
		opts.Retention = 30 * 24 * time.Hour
	}
	if opts.Queue <= 0 {
		opts.Queue = 4096
	}
	if opts.Recent <= 0 {
		opts.Recent = 4096
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CompactAfter == 0 {
		opts.CompactAfter = time.Minute
	}
	db, err := bolt.Open(path, 0o600, boltOptions())
	if err != nil {
		return nil, fmt.Errorf("open the impression log %s: %w (is another aisle using this data directory?)", path, err)
	}
	var ps Pseudonym
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucket, clickBucket} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		var err error
		ps, err = LoadPseudonym(tx)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("open the impression log %s: %w", path, err)
	}
	return &Log{path: path, db: db, opts: opts, ps: ps}, nil // the ring grows as answers come (an idle shop holds none)
}

// Add queues imp for writing and keeps it in memory for attribution. It
// never blocks on I/O and wakes no goroutine (the writer collects the
// queue every 50 ms): false means the record was not logged, because the
// queue was full (counted by Dropped; the record is still kept in
// memory) or because its request id was not made by reqid.New (such an
// answer can never be attributed). It copies the record's bytes and keeps
// nothing of imp.
func (l *Log) Add(imp Impression) bool {
	k, ok := parseID(imp.RequestID)
	if !ok {
		return false
	}
	if imp.Time.IsZero() {
		imp.Time = l.opts.Now()
	}
	size := recordLen(&imp)
	l.mu.Lock()
	defer l.mu.Unlock()
	rec := l.remember(k, &imp, size)
	if l.queued >= l.opts.Queue {
		l.dropped.Add(1)
		return false
	}
	l.enqueue(&k, rec)
	return true
}

// take returns the queued records (and how many) and clicks and empties
// the queue. The queue continues in the batch written before (recycle),
// so answers do not grow a new one every 50 ms.
func (l *Log) take() ([]byte, int, [][]byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out, n, clicks := l.queue, l.queued, l.clicks
	l.writing, l.wsec = out, l.qsec
	l.queue, l.spare, l.queued, l.clicks = l.spare, nil, 0, nil
	return out, n, clicks
}

// recycle ends the batch in flight (written, or abandoned) and gives it
// back as the next queue (a burst's is not kept).
func (l *Log) recycle(batch []byte) {
	l.mu.Lock()
	l.writing = nil
	l.mu.Unlock()
	if cap(batch) == 0 || cap(batch) > 4<<20 {
		return
	}
	clear(batch) // raw shopper ids
	l.mu.Lock()
	if l.spare == nil || cap(batch) > cap(l.spare) {
		l.spare = batch[:0]
	}
	l.mu.Unlock()
}

// Dropped is how many records were not logged because the queue was full.
func (l *Log) Dropped() uint64 { return l.dropped.Load() }

// Written is how many records were written.
func (l *Log) Written() uint64 { return l.written.Load() }

// Run writes the queued records every 50 ms, each batch in one
// transaction (one fsync), until ctx ends; it then writes what is left,
// deletes the records of the shoppers forgotten meanwhile, rewrites the
// file when records were deleted since the last rewrite (CompactAfter
// permitting) and returns. It deletes records older than the retention every hour
// (and once at the start). Run it once, in the owner's goroutine group.
func (l *Log) Run(ctx context.Context) error {
	trim := time.NewTicker(time.Hour)
	defer trim.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	if err := l.Trim(); err != nil {
		return err
	}
	var compactAt time.Time // zero: nothing deleted waits for a rewrite
	for {
		select {
		case <-ctx.Done():
			// the forgets queued, and a rewrite due, are in memory only: a
			// next start would know nothing of them, so they are done now
			batch, n, clicks := l.take()
			err := l.write(batch, n, clicks)
			l.recycle(batch)
			n, ferr := l.forgetPending(context.Background())
			if ferr == nil && (n > 0 || !compactAt.IsZero()) && l.opts.CompactAfter > 0 {
				ferr = l.Compact()
			}
			return errors.Join(err, ferr)
		case <-trim.C:
			if err := l.Trim(); err != nil {
				return err
			}
		case <-tick.C:
			batch, n, clicks := l.take()
			err := l.write(batch, n, clicks)
			l.recycle(batch)
			if err != nil {
				return err
			}
			n, err = l.forgetPending(ctx)
			if err != nil {
				return err
			}
			now := l.opts.Now()
			if n > 0 && compactAt.IsZero() && l.opts.CompactAfter > 0 {
				compactAt = now.Add(l.opts.CompactAfter)
			}
			if !compactAt.IsZero() && !now.Before(compactAt) {
				if err := l.Compact(); err != nil {
					// the deleted records are still unreadable through the
					// log; try again after another CompactAfter
					l.compactErr.Store(&err)
					compactAt = now.Add(l.opts.CompactAfter)
				} else {
					compactAt = time.Time{}
				}
			}
		}
	}
}

// boltOptions are the options the log's file is opened with.
func boltOptions() *bolt.Options {
	return &bolt.Options{Timeout: 5 * time.Second, NoFreelistSync: true}
}

func (l *Log) view(fn func(*bolt.Tx) error) error {
	l.dbMu.RLock()
	defer l.dbMu.RUnlock()
	return l.db.View(fn)
}

func (l *Log) update(fn func(*bolt.Tx) error) error {
	l.dbMu.RLock()
	defer l.dbMu.RUnlock()
	return l.db.Update(fn)
}

// Compact rewrites the file with only its live records, so that the bytes
// of deleted ones (a forgotten shopper's answers and queries, which bbolt
// keeps in its free pages) are in no file of the data directory. Reads
// and writes of the log wait meanwhile. On an error before the swap the
// file is unchanged.
func (l *Log) Compact() error {
	l.dbMu.Lock()
	defer l.dbMu.Unlock()
	db, err := CompactFile(l.db, l.path, boltOptions())
	if db != nil {
		l.db = db
	}
	if err != nil {
		return fmt.Errorf("compact the impression log: %w", err)
	}
	l.compactions.Add(1)
	return nil
}

// CompactFile rewrites the bbolt file at path, open as db, with only its
// live records (bolt.Compact into a copy, then the copy replaces it), so
// that deleted records' bytes are in no file of its directory, and
// reopens it with opts. The caller must keep every other use of db out
// meanwhile. It returns the database to use from now on: db itself when
// the rewrite failed before db was closed (the file is unchanged), nil
// when the file could not be reopened (the error says to restart).
func CompactFile(db *bolt.DB, path string, opts *bolt.Options) (*bolt.DB, error) {
	tmp := path + ".compact"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return db, fmt.Errorf("create %s: %w (%s is unchanged)", tmp, err, path)
	}
	if err := bolt.Compact(dst, db, 16<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return db, fmt.Errorf("rewrite %s: %w (the file is unchanged)", path, err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return db, fmt.Errorf("rewrite %s: close the copy: %w (the file is unchanged)", path, err)
	}
	if err := db.Close(); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("rewrite %s: close: %w (restart the server)", path, err)
	}
	swapErr := os.Rename(tmp, path)
	if swapErr == nil {
		swapErr = syncDir(filepath.Dir(path))
	}
	reopened, err := bolt.Open(path, 0o600, opts)
	if err != nil {
		// nothing can use the file: say so rather than use a closed one
		return nil, fmt.Errorf("rewrite %s: reopen: %w (restart the server)", path, errors.Join(swapErr, err))
	}
	if swapErr != nil {
		os.Remove(tmp)
		return reopened, fmt.Errorf("rewrite %s: swap in the copy: %w (the file is unchanged)", path, swapErr)
	}
	return reopened, nil
}

// CompactError is the error of the last compaction that failed, or nil.
func (l *Log) CompactError() error {
	if p := l.compactErr.Load(); p != nil {
		return *p
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// write writes a batch of n queued records (and clicks) in one
// transaction: each record under its id's bytes, its user and session ids
// replaced by their pseudonyms.
func (l *Log) write(batch []byte, n int, clicks [][]byte) error {
	if n == 0 && len(clicks) == 0 {
		return nil
	}
	err := l.update(func(tx *bolt.Tx) error {
		cb := tx.Bucket(clickBucket)
		for _, k := range clicks {
			if err := cb.Put(k, nil); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucket)
		// every key and value in one buffer, sized first (bbolt reads
		// them at the commit): no allocation per record. A pseudonym
		// and its length take at most pseudonymLen+1 bytes more than the id.
		if need := len(batch) + n*2*(pseudonymLen+1); cap(l.wbuf) < need {
			l.wbuf = make([]byte, 0, need)
		}
		buf := l.wbuf[:0]
		for q := batch; len(q) > 0; {
			k, rec, rest, ok := nextQueued(q)
			if !ok {
				return errors.New("the queue is malformed")
			}
			q = rest
			head, user, session, tail, ok := splitRecord(rec)
			if !ok {
				return fmt.Errorf("queued record %x is malformed", k)
			}
			k0 := len(buf)
			buf = append(buf, k...)
			v0 := len(buf)
			buf = append(buf, head...)
			buf = l.ps.appendField(buf, user)
			buf = l.ps.appendField(buf, session)
			buf = append(buf, tail...)
			if err := b.Put(buf[k0:v0:v0], buf[v0:len(buf):len(buf)]); err != nil {
				return err
			}
		}
		return nil
	})
	if cap(l.wbuf) > 4<<20 {
		l.wbuf = nil // a burst's buffer is not kept
	}
	if err != nil {
		return fmt.Errorf("write %d impressions: %w (is the disk full?)", n, err)
	}
	l.written.Add(uint64(n))
	return nil
}

// key is the raw bytes of a request id (12 or 16): ids start with their
// time, so keys sort by time and retention deletes a prefix.
func key(id string) ([]byte, bool) {
	k, ok := parseID(id)
	if !ok {
		return nil, false
	}
	return append([]byte(nil), k.bytes()...), true
}

// Retention is how long records are kept: the attribution window, since
// an event carrying the request id of an older answer finds nothing.
func (l *Log) Retention() time.Duration { return l.opts.Retention }

// Trim deletes the records older than the retention.
func (l *Log) Trim() error {
	cut := make([]byte, 4)
	binary.BigEndian.PutUint32(cut, uint32(l.opts.Now().Add(-l.opts.Retention).Unix()))
	for {
		n := 0
		err := l.update(func(tx *bolt.Tx) error {
			for _, name := range [][]byte{bucket, clickBucket} {
				c := tx.Bucket(name).Cursor()
				for k, _ := c.First(); k != nil && bytes.Compare(k[:4], cut) < 0 && n < 10000; k, _ = c.Next() {
					if err := c.Delete(); err != nil {
						return err
					}
					n++
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("trim the impression log: %w", err)
		}
		if n < 10000 {
			return nil
		}
	}
}

// Get returns the impression of a request id: from memory when recent or
// not yet written (the ring, the queue, the batch being written), else
// from the file (whose user and session ids are pseudonyms). false when
// it is unknown (never logged, dropped or past the retention).
func (l *Log) Get(id string) (Impression, bool, error) {
	k, ok := parseID(id)
	if !ok {
		return Impression{}, false, nil
	}
	var imp Impression
	l.mu.Lock()
	var rec []byte
	if s := l.find(&k); s != nil {
		rec = l.record(s)
	} else {
		rec = l.unwritten(&k)
	}
	if rec != nil {
		var buf [512]byte
		rec = append(buf[:0], rec...)
		l.mu.Unlock()
		if err := decode(rec, &imp); err != nil {
			return Impression{}, false, fmt.Errorf("read impression %s from memory: %w", id, err)
		}
		imp.RequestID = id
		return imp, true, nil
	}
	l.mu.Unlock()
	found := false
	err := l.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucket).Get(k.bytes())
		if v == nil {
			return nil
		}
		found = true
		return decode(v, &imp)
	})
	if err != nil {
		return Impression{}, false, fmt.Errorf("read impression %s: %w", id, err)
	}
	if found {
		imp.RequestID = id
	}
	return imp, found, nil
}

// Scan calls fn for every written record from the time from on, oldest
// first, until fn returns an error.
func (l *Log) Scan(ctx context.Context, from time.Time, fn func(Impression) error) error {
	return l.view(func(tx *bolt.Tx) error {
		return scanTx(ctx, tx, from, func(k []byte, imp Impression) error {
			imp.RequestID = hex.EncodeToString(k)
			return fn(imp)
		})
	})
}

// scanTx calls fn with the key and the decoded record of every record of
// tx from the time from on, oldest first, until fn returns an error; it
// checks ctx every 1,024 records.
func scanTx(ctx context.Context, tx *bolt.Tx, from time.Time, fn func(k []byte, imp Impression) error) error {
	start := make([]byte, 4)
	binary.BigEndian.PutUint32(start, uint32(max(0, from.Unix())))
	c := tx.Bucket(bucket).Cursor()
	n := 0
	for k, v := c.Seek(start); k != nil; k, v = c.Next() {
		if n++; n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		var imp Impression
		if err := decode(v, &imp); err != nil {
			return fmt.Errorf("impression %x: %w", k, err)
		}
		if err := fn(k, imp); err != nil {
			return err
		}
	}
	return nil
}

// Forget removes a deleted user's (or session's) impressions: at once
// from memory and from the queue, from the file by the writer within
// 50 ms (a scan of the log).
func (l *Log) Forget(id string) {
	if id == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.slots {
		if s := &l.slots[i]; l.live(s) && shopperOf(l.record(s), id) {
			clear(l.record(s))
			s.n = 0 // no longer found
		}
	}
	// the queue, shifted in place over the forgotten shopper's records
	kept, n := l.queue[:0], 0
	for q := l.queue; len(q) > 0; {
		_, rec, rest, ok := nextQueued(q)
		if !ok {
			break // never: enqueue wrote it
		}
		if !shopperOf(rec, id) {
			kept = append(kept, q[:len(q)-len(rest)]...)
			n++
		}
		q = rest
	}
	clear(l.queue[len(kept):])
	l.queue, l.queued = kept, n
	l.forget = append(l.forget, l.ps.Of(id))
}

// forgetPending deletes the records of the pseudonyms Forget queued.
// It returns how many it deleted.
func (l *Log) forgetPending(ctx context.Context) (int, error) {
	l.mu.Lock()
	gone := l.forget
	l.forget = nil
	l.mu.Unlock()
	if len(gone) == 0 {
		return 0, nil
	}
	set := map[string]bool{}
	for _, p := range gone {
		set[p] = true
	}
	var doomed [][]byte
	err := l.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			var imp Impression
			if decode(v, &imp) == nil && (set[imp.UserID] || set[imp.SessionID]) {
				doomed = append(doomed, append([]byte(nil), k...))
			}
			return ctx.Err()
		})
	})
	if err == nil && len(doomed) > 0 {
		err = l.update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucket)
			for _, k := range doomed {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		// queued again: a later pass, or the one at shutdown, deletes them
		l.mu.Lock()
		l.forget = append(gone, l.forget...)
		l.mu.Unlock()
		if ctx.Err() == nil {
			return 0, fmt.Errorf("forget impressions: %w", err)
		}
		return 0, nil
	}
	return len(doomed), nil
}

// Close closes the file. Run must have returned.
func (l *Log) Close() error {
	l.dbMu.Lock()
	defer l.dbMu.Unlock()
	return l.db.Close()
}

// Records are: 0x03 | varint unix nanoseconds | str surface | str user |
// str session | str experiment | str variant | uvarint n | n × str item |
// str query | flags byte (bit 0: Explored) | uvarint len(teams) | teams
// bytes; str is a uvarint length and the bytes. Format 0x02 (still read)
// has no flags byte, format 0x01 neither a query.
const (
	format1 = 0x01
	format2 = 0x02
	format3 = 0x03
)

var errCorrupt = errors.New("corrupt impression record")

// encode returns imp's record, its user and session ids as they are.
func encode(imp *Impression) []byte {
	return appendRecord(make([]byte, 0, recordLen(imp)), imp)
}

// recordLen is the length of imp's record.
func recordLen(imp *Impression) int {
	var t [binary.MaxVarintLen64]byte
	n := 1 + binary.PutVarint(t[:], imp.Time.UnixNano()) + strLen(len(imp.Surface)) + strLen(len(imp.UserID)) +
		strLen(len(imp.SessionID)) + strLen(len(imp.Experiment)) + strLen(len(imp.Variant)) +
		uvarintLen(uint64(len(imp.Items))) + strLen(len(imp.Query)) + 1 + strLen(len(imp.Teams))
	for _, it := range imp.Items {
		n += strLen(len(it))
	}
	return n
}

// strLen is the length of a string of n bytes in a record.
func strLen(n int) int { return uvarintLen(uint64(n)) + n }

func uvarintLen(x uint64) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}

// appendRecord appends imp's record to b (recordLen(imp) bytes).
func appendRecord(b []byte, imp *Impression) []byte {
	b = append(b, format3)
	b = binary.AppendVarint(b, imp.Time.UnixNano())
	b = varint.AppendString(b, imp.Surface)
	b = varint.AppendString(b, imp.UserID)
	b = varint.AppendString(b, imp.SessionID)
	b = varint.AppendString(b, imp.Experiment)
	b = varint.AppendString(b, imp.Variant)
	b = binary.AppendUvarint(b, uint64(len(imp.Items)))
	for _, s := range imp.Items {
		b = varint.AppendString(b, s)
	}
	b = varint.AppendString(b, imp.Query)
	var flags byte
	if imp.Explored {
		flags |= 1
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(imp.Teams)))
	return append(b, imp.Teams...)
}

func decode(v []byte, imp *Impression) error {
	if len(v) == 0 || (v[0] != format1 && v[0] != format2 && v[0] != format3) {
		return errCorrupt
	}
	format := v[0]
	r := varint.NewReader(v[1:])
	*imp = Impression{Time: time.Unix(0, r.Varint()).UTC()}
	for _, dst := range []*string{&imp.Surface, &imp.UserID, &imp.SessionID, &imp.Experiment, &imp.Variant} {
		*dst = r.String()
	}
	cnt := r.Uvarint()
	if !r.OK() || cnt > uint64(r.Len()) {
		return errCorrupt
	}
	imp.Items = make([]string, 0, cnt)
	for range cnt {
		imp.Items = append(imp.Items, r.String())
	}
	if format >= format2 {
		imp.Query = r.String()
	}
	if format >= format3 {
		flags := r.Byte()
		if !r.OK() || flags&^1 != 0 {
			return errCorrupt
		}
		imp.Explored = flags&1 != 0
	}
	nt := r.Uvarint()
	if !r.OK() || nt != uint64(r.Len()) {
		return errCorrupt
	}
	if nt > 0 {
		imp.Teams = append([]uint8(nil), r.Rest()...)
	}
	return nil
}

// WriteSnapshot writes a consistent copy of the log's file to w (one read
// transaction: answers logged meanwhile are not in it), for backups.
func (l *Log) WriteSnapshot(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	err := l.view(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	return n, err
}

// FlushForgotten deletes at once from the file the records of the shoppers
// Forget was given (the writer otherwise does it within 50 ms) and, when
// it deleted any, compacts the file so that their bytes are gone too, for
// a tool that opens the log without running it (aisle restore).
func (l *Log) FlushForgotten(ctx context.Context) error {
	n, err := l.forgetPending(ctx)
	if err != nil || n == 0 {
		return err
	}
	return l.Compact()
}

// ctxWriter stops a long copy when its context ends.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// Compactions is how many times the file was rewritten by Compact.
func (l *Log) Compactions() uint64 { return l.compactions.Load() }
