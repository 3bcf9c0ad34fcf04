package impressions

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/internal/reqid"
)

// After a shopper is forgotten, the bytes of their deleted records (the
// query they searched, the items they were shown) leave the file within
// CompactAfter: bbolt keeps deleted records in its free pages, where
// `strings impressions.db` read them long after DELETE /api/users/{id}
// (issue 12, privacy: "their bytes are gone from disk"). Others' records
// stay readable through the rewritten file.
func TestForgottenRecordsLeaveTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "impressions.db")
	l, err := Open(path, Options{CompactAfter: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	var carol, dave []string
	for range 20 {
		c, d := reqid.New(), reqid.New()
		carol, dave = append(carol, c), append(dave, d)
		l.Add(Impression{RequestID: c, Surface: "search", UserID: "carol", Query: "zebracornflux secret query", Items: []string{"x1", "x2"}})
		l.Add(Impression{RequestID: d, Surface: "search", UserID: "dave", Query: "plain stapler", Items: []string{"x3"}})
	}
	for l.Written() < 40 {
		time.Sleep(10 * time.Millisecond)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("zebracornflux")) {
		t.Fatal("the query is not in the file before forgetting: the test shows nothing")
	}
	l.Forget("carol")
	deadline := time.Now().Add(10 * time.Second)
	for l.Compactions() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if l.Compactions() == 0 {
		t.Fatalf("no compaction within 10 s of the forget (last error: %v)", l.CompactError())
	}
	if raw, err = os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(raw, []byte("zebracornflux")); n != 0 {
		t.Fatalf("the file still holds %d copies of the forgotten shopper's query", n)
	}
	for _, id := range carol {
		if _, ok, err := l.Get(id); ok || err != nil {
			t.Fatalf("forgotten record %s: found %v, error %v", id, ok, err)
		}
	}
	for _, id := range dave {
		if imp, ok, err := l.Get(id); !ok || err != nil || imp.Query != "plain stapler" {
			t.Fatalf("another shopper's record %s after the rewrite: %+v found %v, error %v", id, imp, ok, err)
		}
	}
	// the log goes on writing into the rewritten file
	later := reqid.New()
	l.Add(Impression{RequestID: later, Surface: "search", UserID: "dave", Query: "after"})
	n := l.Written()
	for l.Written() == n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if imp, ok, err := l2.Get(later); !ok || err != nil || imp.Query != "after" {
		t.Fatalf("a record written after the rewrite, reopened: %+v found %v, error %v", imp, ok, err)
	}
}

// BenchmarkCompact200k rewrites an impression log of 200,000 search
// answers (10 items each), the work a forget adds within
// privacy.compact_after; reads and writes of the log wait meanwhile.
func BenchmarkCompact200k(b *testing.B) {
	path := filepath.Join(b.TempDir(), "impressions.db")
	l, err := Open(path, Options{Queue: 1 << 20, Retention: 365 * 24 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	items := []string{"B00004Z5QO", "B0010T3QT2", "B0039N7ELS", "B002K9M7MS", "B00006IEIO", "B00006IE5K", "B00000JBNX", "B001CRYXHG", "B002M7Z338", "B0007OEE7E"}
	for i := range 200_000 {
		l.Add(Impression{RequestID: reqid.New(), Surface: "search", UserID: "u" + string(rune('a'+i%26)) + time.Duration(i%5000).String(),
			SessionID: "s" + time.Duration(i).String(), Query: "blue gel pen fine point", Items: items})
		if (i+1)%10_000 == 0 {
			batch, n, clicks := l.take()
			if err := l.write(batch, n, clicks); err != nil {
				b.Fatal(err)
			}
			l.recycle(batch)
		}
	}
	fi, _ := os.Stat(path)
	b.ResetTimer()
	for range b.N {
		if err := l.Compact(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	after, _ := os.Stat(path)
	b.ReportMetric(float64(fi.Size())/(1<<20), "MiB-before")
	b.ReportMetric(float64(after.Size())/(1<<20), "MiB-after")
}

// A forget that comes just before a shutdown is done before Run returns,
// and the file is rewritten then: a next start knows nothing of the
// forget (the queue and the rewrite due are in memory only), so the
// forgotten shopper's records, or their bytes in bbolt's free pages,
// would otherwise stay in the file until retention trims them.
func TestForgetJustBeforeShutdownLeavesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "impressions.db")
	l, err := Open(path, Options{CompactAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	var carol []string
	for range 20 {
		c := reqid.New()
		carol = append(carol, c)
		l.Add(Impression{RequestID: c, Surface: "search", UserID: "carol", Query: "zebracornflux secret query", Items: []string{"x1"}})
		l.Add(Impression{RequestID: reqid.New(), Surface: "search", UserID: "dave", Query: "plain stapler", Items: []string{"x3"}})
	}
	for l.Written() < 40 {
		time.Sleep(10 * time.Millisecond)
	}
	l.Forget("carol")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(raw, []byte("zebracornflux")); n != 0 {
		t.Fatalf("after the shutdown the file holds %d copies of the forgotten shopper's query", n)
	}
	l2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	for _, id := range carol {
		if _, ok, err := l2.Get(id); ok || err != nil {
			t.Fatalf("forgotten record %s after a restart: found %v, error %v", id, ok, err)
		}
	}
}
