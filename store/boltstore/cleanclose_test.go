package boltstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
)

// TestCleanCloseMarker (decision 0085): after a clean close the next Open
// checks only the meta pages and the length; after a crash, or when the
// file was written, replaced or damaged since the close, it checks every
// page and still refuses a damaged file, untouched.
func TestCleanCloseMarker(t *testing.T) {
	good := sampleStore(t)
	const page = 4096
	garbage := func(path string) {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 8*page)
		r := rand.New(rand.NewPCG(3, 4))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if _, err := f.WriteAt(b, 4*page); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name    string
		between func(t *testing.T, dir, path string) // after the clean close
		full    bool                                 // every page checked
		refused bool
	}{
		{"clean close", func(*testing.T, string, string) {}, false, false},
		{"crash (no close)", func(t *testing.T, dir, _ string) {
			st, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, CleanFile)); err == nil {
				t.Fatal("the marker is still there while the store is open")
			}
			if err := st.PutItems(context.Background(), []catalog.Item{{ID: "crash", Available: true}}); err != nil {
				t.Fatal(err)
			}
			st.db.Close() // the process dies: bbolt's lock goes, no marker
		}, true, false},
		{"damaged pages after the close", func(t *testing.T, _, path string) { garbage(path) }, true, true},
		{"replaced by a damaged copy with the same length and time", func(t *testing.T, dir, path string) {
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			cp := filepath.Join(dir, "copy")
			if err := os.WriteFile(cp, good, 0o644); err != nil {
				t.Fatal(err)
			}
			garbage(cp)
			if err := os.Rename(cp, path); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(path, time.Now(), st.ModTime()); err != nil {
				t.Fatal(err)
			}
		}, true, true},
		{"marker of another file", func(t *testing.T, dir, _ string) {
			if err := os.WriteFile(filepath.Join(dir, CleanFile), []byte("aisle clean close v1 size=1 mtime=2 ino=3 txid=4\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			if err := os.WriteFile(path, good, 0o644); err != nil {
				t.Fatal(err)
			}
			st, err := Open(dir) // no marker: every page
			if err != nil {
				t.Fatal(err)
			}
			if !st.StartCheck().Full {
				t.Fatal("a file without a clean-close marker was not checked in full")
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, CleanFile)); err != nil {
				t.Fatalf("no marker after a clean close: %v", err)
			}
			c.between(t, dir, path)
			before, _ := os.ReadFile(path)
			st, err = Open(dir)
			if c.refused {
				var de *DamagedError
				if !errors.As(err, &de) {
					if err == nil {
						st.Close()
					}
					t.Fatalf("want a *DamagedError, got %v", err)
				}
				if after, _ := os.ReadFile(path); sha256.Sum256(after) != sha256.Sum256(before) {
					t.Fatal("the damaged file was modified")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if got := st.StartCheck().Full; got != c.full {
				t.Fatalf("full check %v, want %v", got, c.full)
			}
			if _, err := os.Stat(filepath.Join(dir, CleanFile)); err == nil {
				t.Fatal("the marker is still there after Open")
			}
			if n, err := st.CountItems(context.Background()); err != nil || n < 1500 {
				t.Fatalf("items %d %v", n, err)
			}
		})
	}
	// a new shop's first Close writes the marker too; its next Open reads
	// it
	dir := t.TempDir()
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sc := st.StartCheck(); sc.Full || sc.Took != 0 {
		t.Fatalf("a new file was checked: %+v", sc)
	}
	st.Close()
	b, err := os.ReadFile(filepath.Join(dir, CleanFile))
	if err != nil || !bytes.HasPrefix(b, []byte("aisle clean close v1 ")) {
		t.Fatalf("marker %q %v", b, err)
	}
	if st, err = Open(dir); err != nil || st.StartCheck().Full {
		t.Fatalf("open after a clean close: %v, %+v", err, st.StartCheck())
	}
	st.Close()
}

// BenchmarkOpenChecked opens and closes the data file in
// AISLE_OPEN_BENCH_DIR (a copy of a real data directory: it is opened for
// writing) after a crash (no marker: every page checked) and after a clean
// close (the marker: meta pages and length only); cpu-ms/op is the
// process's CPU time per open.
func BenchmarkOpenChecked(b *testing.B) {
	dir := os.Getenv("AISLE_OPEN_BENCH_DIR")
	if dir == "" {
		b.Skip("AISLE_OPEN_BENCH_DIR not set: give it a data directory to open")
	}
	for _, c := range []struct {
		name  string
		crash bool
	}{{"after-crash", true}, {"after-clean-close", false}} {
		b.Run(c.name, func(b *testing.B) {
			start := cpuTime(b)
			for b.Loop() {
				if c.crash {
					if err := os.Remove(filepath.Join(dir, CleanFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
						b.Fatal(err)
					}
				}
				st, err := Open(dir)
				if err != nil {
					b.Fatal(err)
				}
				if st.StartCheck().Full != c.crash {
					b.Fatalf("full check %v", st.StartCheck().Full)
				}
				if err := st.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuTime(b)-start).Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}

// cpuTime is the process's CPU time so far (user + system, all threads).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
