package impressions

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/internal/cputime"
	"github.com/aisle-dev/aisle/internal/reqid"
)

func TestEncodeRoundTrip(t *testing.T) {
	for _, imp := range []Impression{
		{Time: time.Unix(1700000000, 5).UTC(), Surface: "recommend", UserID: "u1", Items: []string{"a", "b"}},
		{Time: time.Unix(1700000001, 0).UTC(), Surface: "search", SessionID: "s", Experiment: "e1", Variant: "b", Items: []string{}, Teams: nil},
		{Time: time.Unix(1700000001, 0).UTC(), Surface: "search", SessionID: "s", Query: "gel pen", Items: []string{"p1", "p2"}, Teams: []uint8{1, 0}},
		{Time: time.Unix(1700000002, 0).UTC(), Surface: "recommend", UserID: "ü", Experiment: "e", Variant: "interleaved", Items: []string{"x", "y", "z"}, Teams: []uint8{0, 1, 1}},
		{Time: time.Unix(1700000003, 0).UTC(), Surface: "recommend", UserID: "u2", Items: []string{"c", "a", "b"}, Explored: true},
	} {
		var got Impression
		if err := decode(encode(&imp), &got); err != nil {
			t.Fatalf("decode(encode(%+v)): %v", imp, err)
		}
		if !reflect.DeepEqual(got, imp) {
			t.Errorf("round trip: got %+v, want %+v", got, imp)
		}
	}
}

// Records written before the explored flag (format 2) still read; a
// format 3 record with an unknown flag bit is refused.
func TestDecodesFormat2AndRefusesUnknownFlags(t *testing.T) {
	// 0x02 | time 0 | surface "similar" | user, session, experiment, variant "" | 1 item "a" | query "" | no teams
	v := []byte{format2, 0, 7, 's', 'i', 'm', 'i', 'l', 'a', 'r', 0, 0, 0, 0, 1, 1, 'a', 0, 0}
	var imp Impression
	if err := decode(v, &imp); err != nil || imp.Surface != "similar" || len(imp.Items) != 1 || imp.Explored {
		t.Fatalf("decode(format 2) = %+v, %v", imp, err)
	}
	b := encode(&Impression{Surface: "similar", Items: []string{"a"}, Explored: true})
	b[len(b)-2] |= 2 // the flags byte precedes the teams' length (0)
	if err := decode(b, &imp); err == nil {
		t.Fatalf("decoded a record with an unknown flag: %+v", imp)
	}
}

// Records written before the query was kept (format 1) still read.
func TestDecodesFormat1(t *testing.T) {
	// 0x01 | time 0 | surface "search" | user, session, experiment, variant "" | 1 item "a" | no teams
	v := []byte{format1, 0, 6, 's', 'e', 'a', 'r', 'c', 'h', 0, 0, 0, 0, 1, 1, 'a', 0}
	var imp Impression
	if err := decode(v, &imp); err != nil || imp.Surface != "search" || len(imp.Items) != 1 || imp.Items[0] != "a" || imp.Query != "" {
		t.Fatalf("decode(format 1) = %+v, %v", imp, err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(&Impression{Surface: "recommend", UserID: "u", Items: []string{"a"}, Teams: []uint8{1}}))
	f.Add([]byte{format1, 0, 200})
	f.Add(encode(&Impression{Surface: "search", Query: "pen", Items: []string{"a", "b"}}))
	f.Add(encode(&Impression{Surface: "similar", Items: []string{"a", "b"}, Explored: true}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var imp Impression
		if err := decode(b, &imp); err != nil {
			return
		}
		var again Impression
		if err := decode(encode(&imp), &again); err != nil {
			t.Fatalf("a decoded record does not decode after encoding: %v", err)
		}
	})
}

func TestLogWritesGetsAndTrims(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	path := filepath.Join(t.TempDir(), "imp.db")
	l, err := Open(path, Options{Retention: time.Hour, Now: clock, Recent: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	ids := make([]string, 5)
	for i := range ids {
		ids[i] = reqid.New()
		if !l.Add(Impression{RequestID: ids[i], Surface: "recommend", UserID: "u", Items: []string{"a", "b"}}) {
			t.Fatal("Add dropped a record with an empty queue")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if l.Written() != 5 {
		t.Fatalf("written %d, want 5", l.Written())
	}
	// the oldest are no longer in memory (Recent 2): read from the file
	imp, ok, err := l.Get(ids[0])
	// on disk the user is a pseudonym
	if err != nil || !ok || imp.UserID != l.ps.Of("u") || len(imp.Items) != 2 || imp.RequestID != ids[0] {
		t.Fatalf("Get(%s) = %+v, %v, %v", ids[0], imp, ok, err)
	}
	if _, ok, _ := l.Get(reqid.New()); ok {
		t.Fatal("an unknown id was found")
	}
	n := 0
	if err := l.Scan(context.Background(), time.Time{}, func(Impression) error { n++; return nil }); err != nil || n != 5 {
		t.Fatalf("Scan saw %d, %v; want 5", n, err)
	}
	l.Close()

	// two hours later the records are past the retention
	now = now.Add(2 * time.Hour)
	l, err = Open(path, Options{Retention: time.Hour, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Trim(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := l.Get(ids[0]); ok {
		t.Fatal("a record past the retention survived Trim")
	}
}

func TestFullQueueDropsAndCounts(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "imp.db"), Options{Queue: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// no writer runs: the third record does not fit
	for i := range 3 {
		ok := l.Add(Impression{RequestID: reqid.New(), Surface: "popular"})
		if want := i < 2; ok != want {
			t.Fatalf("Add #%d = %v, want %v", i, ok, want)
		}
	}
	if l.Dropped() != 1 {
		t.Fatalf("dropped %d, want 1", l.Dropped())
	}
}

// BenchmarkAdd is what logging costs an answer: the time Add takes on the
// request's goroutine (the writer runs apart).
func BenchmarkAdd(b *testing.B) {
	l, err := Open(filepath.Join(b.TempDir(), "imp.db"), Options{Queue: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = reqid.New()
	}
	items := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	for i := range b.N {
		l.Add(Impression{RequestID: ids[i], Surface: "recommend", UserID: "u1", Items: items})
	}
	b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "cpu-ns/op")
}

// A forgotten shopper's impressions leave memory at once and the file
// within a writer tick; the file never holds the raw id.
func TestForget(t *testing.T) {
	path := filepath.Join(t.TempDir(), "imp.db")
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	alice, bob := reqid.New(), reqid.New()
	l.Add(Impression{RequestID: alice, Surface: "recommend", UserID: "alice-the-shopper", Items: []string{"a"}})
	l.Add(Impression{RequestID: bob, Surface: "recommend", UserID: "bob", Items: []string{"a"}})
	for l.Written() < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	l.Forget("alice-the-shopper")
	if _, ok, _ := l.Get(alice); ok {
		// may still be read from the file until the writer's next tick
		for deadline := time.Now().Add(5 * time.Second); ok && time.Now().Before(deadline); _, ok, _ = l.Get(alice) {
			time.Sleep(20 * time.Millisecond)
		}
		if ok {
			t.Fatal("a forgotten shopper's impression is still found")
		}
	}
	if _, ok, _ := l.Get(bob); !ok {
		t.Fatal("another shopper's impression was removed")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	l.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("alice-the-shopper")) || bytes.Contains(raw, []byte("bob")) {
		t.Fatal("the file holds a raw user id")
	}
}

// Answers logged from many goroutines while the writer writes batch after
// batch (each batch's queue reused as the next one's) all reach the file,
// each once and as it was given (ids as pseudonyms, also for ids longer
// than the writer's stack buffer), including those queued when the
// writer is told to stop.
func TestNoImpressionIsLostUnderConcurrentAnswers(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "imp.db"), Options{Queue: 1 << 16, Recent: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	const goroutines, each = 8, 1500
	want := make(map[string]Impression, goroutines*each)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				imp := Impression{RequestID: reqid.New(), Time: time.Unix(1700000000+int64(i), int64(g)).UTC(),
					Surface: []string{"recommend", "search", "similar"}[i%3], UserID: fmt.Sprintf("u%d-%d", g, i%50),
					Items: []string{fmt.Sprintf("i%d", i), fmt.Sprintf("i%d", g)}, Explored: i%7 == 0}
				switch i % 4 {
				case 1:
					imp.SessionID, imp.Query = fmt.Sprintf("s%d", i), "blue pen"
				case 2:
					imp.UserID = strings.Repeat("long-user-id-", 20) + fmt.Sprint(g)
					imp.Experiment, imp.Variant, imp.Teams = "exp_1", "interleaved", []uint8{0, 1}
				}
				mu.Lock()
				want[imp.RequestID] = imp
				mu.Unlock()
				if !l.Add(imp) {
					t.Error("Add dropped a record")
					return
				}
				if i%300 == 0 {
					time.Sleep(20 * time.Millisecond) // let the writer take batches meanwhile
				}
			}
		}()
	}
	wg.Wait()
	cancel() // the last records are still queued: Run writes them before it returns
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if l.Written() != goroutines*each || l.Dropped() != 0 {
		t.Fatalf("written %d, dropped %d; want %d, 0", l.Written(), l.Dropped(), goroutines*each)
	}
	seen := 0
	err = l.Scan(context.Background(), time.Time{}, func(got Impression) error {
		seen++
		w, ok := want[got.RequestID]
		if !ok {
			return fmt.Errorf("record %s was never added, or came twice", got.RequestID)
		}
		delete(want, got.RequestID)
		w.UserID, w.SessionID = l.ps.Of(w.UserID), l.ps.Of(w.SessionID)
		if !reflect.DeepEqual(got, w) {
			return fmt.Errorf("record %s read as %+v, want %+v", got.RequestID, got, w)
		}
		return nil
	})
	if err != nil || seen != goroutines*each || len(want) != 0 {
		t.Fatalf("Scan: %v; %d records, %d never written", err, seen, len(want))
	}
}

// A record is found from its Add on: in the ring while it holds it, then
// in the queue or the batch the writer has taken and not committed, then
// in the file. With a ring of 2, the ring alone lost the records of
// 8 answers at once before they were written (Get said "unknown" to a
// click on them); the batch in flight is the window between the queue
// and the file.
func TestGetFindsRecordsTheRingNoLongerHoldsBeforeTheyAreWritten(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "imp.db"), Options{Queue: 1 << 16, Recent: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	added := make([]Impression, 40)
	for i := range added {
		added[i] = Impression{RequestID: reqid.New(), Time: time.Unix(1700000000+int64(i), 0).UTC(), Surface: "recommend",
			UserID: fmt.Sprint("u", i), Items: []string{fmt.Sprint("i", i), "x"}}
		if !l.Add(added[i]) {
			t.Fatalf("Add #%d dropped", i)
		}
	}
	check := func(when string, imps []Impression, pseudonyms bool) {
		t.Helper()
		for _, want := range imps {
			got, ok, err := l.Get(want.RequestID)
			if pseudonyms {
				want.UserID = l.ps.Of(want.UserID)
			}
			if err != nil || !ok || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: Get(%s) = %+v, %v, %v; want %+v", when, want.RequestID, got, ok, err, want)
			}
		}
	}
	check("queued", added, false)
	batch, n, clicks := l.take()
	check("in the batch being written", added, false)
	more := make([]Impression, 5)
	for i := range more {
		more[i] = Impression{RequestID: reqid.New(), Time: time.Unix(1700000100+int64(i), 0).UTC(), Surface: "search", Items: []string{}}
		l.Add(more[i])
	}
	check("queued beside a batch being written", more, false)
	check("in the batch being written, others queued", added[:38], false)
	if err := l.write(batch, n, clicks); err != nil {
		t.Fatal(err)
	}
	l.recycle(batch)
	check("written", added[:38], true) // the ring holds two of more
	if _, ok, err := l.Get(reqid.New()); ok || err != nil {
		t.Fatalf("Get of an id never logged: %v, %v", ok, err)
	}

	// under a running writer, an answer's record is found right after its
	// Add while other answers push it out of the ring
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 400 {
				imp := Impression{RequestID: reqid.New(), Time: time.Unix(1700001000+int64(i), int64(g)).UTC(), Surface: "similar",
					Items: []string{fmt.Sprint("i", i)}}
				l.Add(imp)
				runtime.Gosched() // the others' answers push it out of the ring
				got, ok, err := l.Get(imp.RequestID)
				if err != nil || !ok || !reflect.DeepEqual(got, imp) {
					t.Errorf("Get right after Add: %+v, %v, %v; want %+v", got, ok, err, imp)
					return
				}
			}
		})
	}
	wg.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// The newest records are read back from memory exactly as they were
// added (raw shopper ids; times in UTC) before any is written, also while
// the arena grows and wraps; a record memory no longer holds is not
// found there (never another record's bytes), and every record reaches
// the file. With Recent 8 and a 4,096-byte arena (its largest), records
// of 40 to 400 items push the oldest out before the count does.
func TestRecentRecordsReadBackExactlyUntilPushedOut(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "imp.db"), Options{Recent: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var added []Impression
	for i := range 60 {
		n := 1 + i%5
		if i%7 == 3 {
			n = 40 + 10*(i%30) // 0.3–3 KB records
		}
		items := make([]string, n)
		for j := range items {
			items[j] = fmt.Sprintf("item-%d-%d", i, j)
		}
		imp := Impression{RequestID: reqid.New(), Time: time.Unix(1700000000+int64(i), 7).UTC(), Surface: "recommend",
			UserID: fmt.Sprint("user-", i%3), Experiment: "e", Variant: "b", Items: items, Query: strings.Repeat("q", i%4),
			Explored: i%2 == 0}
		if i%3 == 0 {
			imp.Teams = make([]uint8, n)
		}
		if !l.Add(imp) {
			t.Fatalf("Add #%d dropped", i)
		}
		added = append(added, imp)
		// the newest is always held, and whatever is held is exact
		for j, want := range added[max(0, len(added)-8):] {
			got, ok, err := l.Get(want.RequestID)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				if j == len(added[max(0, len(added)-8):])-1 {
					t.Fatalf("after Add #%d the newest record is not in memory", i)
				}
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("after Add #%d: Get(%s) = %+v, want %+v", i, want.RequestID, got, want)
			}
		}
		if k, _ := parseID(added[0].RequestID); l.find(&k) != nil && i >= 8 {
			t.Fatalf("after Add #%d the first record is still in the ring (Recent 8)", i)
		}
	}
	if len(l.arena) > l.maxArena() {
		t.Fatalf("arena of %d bytes, the largest is %d", len(l.arena), l.maxArena())
	}
	batch, n, clicks := l.take()
	if err := l.write(batch, n, clicks); err != nil || l.Written() != 60 {
		t.Fatalf("write: %v, written %d, want 60", err, l.Written())
	}
	for _, want := range added { // from memory (raw ids) or from the file (pseudonyms)
		got, ok, err := l.Get(want.RequestID)
		if err != nil || !ok {
			t.Fatalf("Get(%s) after the write: %v, %v", want.RequestID, ok, err)
		}
		onFile := want
		onFile.UserID = l.ps.Of(want.UserID)
		if !reflect.DeepEqual(got, want) && !reflect.DeepEqual(got, onFile) {
			t.Fatalf("Get(%s) after the write = %+v, want %+v", want.RequestID, got, want)
		}
	}
}

// What the log keeps in memory holds no pointer for the garbage collector
// to scan: 65,536 recent records (the default before decision 0083) add
// almost nothing to the scannable heap. Before, each Impression kept there was ~150 scannable
// bytes (ids, item slices and strings: ~1M pointers marked every cycle).
func TestRecentRecordsAreNotScannedByTheCollector(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "imp.db"), Options{Queue: 1 << 17, Recent: 65536})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	scannable := func() uint64 {
		runtime.GC()
		s := []metrics.Sample{{Name: "/gc/scan/heap:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	before := scannable()
	for i := range 65536 {
		items := make([]string, 10)
		for j := range items {
			items[j] = fmt.Sprintf("B%09d", i*10+j)
		}
		l.Add(Impression{RequestID: reqid.New(), Surface: "recommend", UserID: fmt.Sprint("u", i), Items: items})
	}
	after := scannable()
	t.Logf("scannable heap %d → %d bytes", before, after)
	if after > before+1<<20 {
		t.Fatalf("65,536 records made the scannable heap %d → %d bytes: want under 1 MiB more", before, after)
	}
	runtime.KeepAlive(l)
}

// BenchmarkWriter is what the writer costs per record, beside the answers:
// records of 10 items added and written in batches of 500 (a 50 ms batch
// at 10,000 answers a second), Add included (BenchmarkAdd alone), one
// transaction and fsync a batch.
func BenchmarkWriter(b *testing.B) {
	b.Run("ids=random", func(b *testing.B) { benchmarkWriter(b, func(time.Time) string { return reqid.New() }) })
	b.Run("ids=ordered", func(b *testing.B) { benchmarkWriter(b, orderedID) })
}

// orderedID is a request id of the time t as experiment.NewRequestID makes
// them: the second, then its fraction in 16 bits, then random bytes.
func orderedID(t time.Time) string {
	b := reqid.Raw()
	binary.BigEndian.PutUint32(b[:4], uint32(t.Unix()))
	binary.BigEndian.PutUint16(b[4:6], uint16(uint64(t.Nanosecond())<<16/1e9))
	return reqid.Encode(b)
}

func benchmarkWriter(b *testing.B, newID func(time.Time) string) {
	l, err := Open(filepath.Join(b.TempDir(), "imp.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	items := []string{"B00004Z5QO", "B0010T3QT2", "B0039N7ELS", "B002K9M7MS", "B00006IEIO", "B00006IE5K", "B00000JBNX", "B001CRYXHG", "B002M7Z338", "B0007OEE7E"}
	ids := make([]string, b.N+1)
	t0 := time.Now()
	for i := range ids { // 10,000 answers a second
		ids[i] = newID(t0.Add(time.Duration(i) * 100 * time.Microsecond))
	}
	users := make([]string, 5000)
	for i := range users {
		users[i] = fmt.Sprint("u", i)
	}
	flush := func() {
		batch, n, clicks := l.take()
		if err := l.write(batch, n, clicks); err != nil {
			b.Fatal(err)
		}
		l.recycle(batch)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	for i := range b.N {
		l.Add(Impression{RequestID: ids[i], Surface: "recommend", UserID: users[i%len(users)], Items: items})
		if (i+1)%500 == 0 {
			flush()
		}
	}
	flush()
	b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "cpu-ns/record")
}

// Every record the ring holds is found in memory, none it pushed out is,
// whatever Recent (a power of two or not) and however many records went
// through; an id logged twice is found while either record is held.
func TestIndexFindsWhatTheRingHolds(t *testing.T) {
	for _, recent := range []int{1, 7, 1000, 65536} {
		l, err := Open(filepath.Join(t.TempDir(), "imp.db"), Options{Recent: recent, Queue: 1})
		if err != nil {
			t.Fatal(err)
		}
		total := 3*recent + 5
		ids := make([]string, total)
		last := map[string]int{} // id → its newest record
		for i := range ids {
			ids[i] = reqid.New()
			if i%97 == 50 {
				ids[i] = ids[i-1] // logged twice
			}
			last[ids[i]] = i
			l.Add(Impression{RequestID: ids[i], Surface: "popular", Items: []string{fmt.Sprint(i)}})
			if i%(recent/3+1) != 0 && i != total-1 {
				continue
			}
			l.mu.Lock()
			for j := max(0, i-recent-10); j <= i; j++ {
				held := j > i-recent || min(last[ids[j]], i) > i-recent
				k, _ := parseID(ids[j])
				if got := l.find(&k) != nil; got != held {
					l.mu.Unlock()
					t.Fatalf("Recent %d, after %d records: record %d found %v, want %v", recent, i+1, j, got, held)
				}
			}
			l.mu.Unlock()
		}
		l.Close()
	}
}

// The index's 16-bit fingerprints tell apart the ids of one surface made
// by experiment.NewRequestID (whose bytes 8–9 hold 4 random bits beside
// the surface and variant, bytes 10–11 its check): of 4,096 such ids at
// least 3,000 fingerprints differ, so a lookup seldom reads a slot that
// is not its record's. Before, the fingerprint was the hash's low 16 bits,
// which depend on bytes 8–9 only: 16 values.
func TestFingerprintsOfOneSurfacesIDsDiffer(t *testing.T) {
	seen := map[uint16]bool{}
	for range 4096 {
		b := reqid.Raw()
		b[8] = b[8]&0xf0 | 1 // the surface "recommend", outside an A/B experiment
		b[9] = 0
		k, ok := parseID(reqid.Encode(b))
		if !ok {
			t.Fatal("parseID failed")
		}
		h := hashID(&k)
		seen[fingerprint(h)] = true
	}
	if len(seen) < 3000 {
		t.Fatalf("4,096 ids of one surface have %d different fingerprints, want 3,000 or more", len(seen))
	}
}
