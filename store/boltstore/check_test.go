package boltstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/events"
)

// sampleStore writes a data dir with enough records for many pages and
// returns the data file's bytes.
func sampleStore(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var items []catalog.Item
	for i := 0; i < 1500; i++ {
		items = append(items, catalog.Item{ID: fmt.Sprintf("item-%05d", i), Title: strings.Repeat(fmt.Sprintf("title %d ", i), 8), Available: true})
	}
	if err := st.PutItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	var evs []events.Event
	for i := 0; i < 3000; i++ {
		evs = append(evs, events.Event{UserID: fmt.Sprintf("u%03d", i%200), ItemID: items[i%len(items)].ID, Type: events.View, Timestamp: time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC)})
	}
	if err := st.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Issue 12 item 6: a damaged data file crashed the server at start
// (truncated to 8 KiB: SIGSEGV; half: panic: invalid freelist page;
// damaged pages: started, then panicked) and a 0-byte file silently became
// an empty shop. Each must be refused with a message naming the file and
// what to do, and the file must stay byte for byte as it was.
func TestOpenRefusesDamagedFiles(t *testing.T) {
	good := sampleStore(t)
	const page = 4096
	if len(good) < 40*page {
		t.Fatalf("sample file only %d bytes: too small to damage meaningfully", len(good))
	}
	garbage := func(b []byte, from, to int) []byte {
		r := rand.New(rand.NewPCG(1, 2))
		for i := from; i < to && i < len(b); i++ {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	cases := []struct {
		name   string
		damage func([]byte) []byte
		want   string
	}{
		{"empty", func(b []byte) []byte { return nil }, "0 bytes"},
		{"truncated to 8 KiB", func(b []byte) []byte { return b[:8<<10] }, "truncated"},
		{"truncated to half", func(b []byte) []byte { return b[:len(b)/2/page*page] }, "truncated"},
		{"truncated mid-page", func(b []byte) []byte { return b[:len(b)-100] }, "damaged"},
		{"both meta pages zeroed", func(b []byte) []byte { clear(b[:2*page]); return b }, "meta page"},
		{"garbage pages", func(b []byte) []byte { return garbage(b, 4*page, 12*page) }, "damaged"},
		{"garbage at the end", func(b []byte) []byte { return garbage(b, len(b)-6*page, len(b)) }, "damaged"},
		{"not a database", func(b []byte) []byte { return []byte(strings.Repeat("hello, world\n", 1000)) }, "meta page"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			bad := c.damage(bytes.Clone(good))
			if err := os.WriteFile(path, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			before := sha256.Sum256(bad)
			st, err := Open(dir)
			if err == nil {
				st.Close()
				t.Fatal("a damaged data file was opened")
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, path) || !strings.Contains(msg, c.want) || !strings.Contains(msg, "backup") {
				t.Fatalf("message %q must name %s, say %q and what to do", msg, path, c.want)
			}
			var de *DamagedError
			if c.name != "empty" && !errors.As(err, &de) {
				t.Fatalf("want a *DamagedError, got %T", err)
			}
			if c.name == "empty" && !errors.Is(err, ErrEmptyFile) {
				t.Fatalf("want ErrEmptyFile, got %v", err)
			}
			after, rerr := os.ReadFile(path)
			if rerr != nil || sha256.Sum256(after) != before {
				t.Fatal("the damaged file was modified")
			}
		})
	}
	// The sound file still opens, and a missing one makes a new shop.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, FileName), good, 0o644)
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := st.CountItems(context.Background()); n != 1500 {
		t.Fatalf("items %d", n)
	}
	st.Close()
	rep, err := Check(context.Background(), filepath.Join(dir, FileName), 0)
	if err != nil || len(rep.Problems) != 0 || rep.PageSize != page {
		t.Fatalf("check of a sound file: %+v %v", rep, err)
	}
}

// Whatever the bytes of the data file, Open and Check return (an error or
// a store), never panic or fault.
func FuzzOpenDamaged(f *testing.F) {
	dir := f.TempDir()
	st, err := Open(dir)
	if err != nil {
		f.Fatal(err)
	}
	st.PutItems(context.Background(), []catalog.Item{{ID: "a", Title: "pen"}, {ID: "b", Title: "ink"}})
	st.Close()
	good, _ := os.ReadFile(filepath.Join(dir, FileName))
	f.Add(good)
	f.Add(good[:4096])
	f.Fuzz(func(t *testing.T, data []byte) {
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, FileName), data, 0o644)
		Check(context.Background(), filepath.Join(d, FileName), 0)
		if st, err := Open(d); err == nil {
			st.ScanItems(context.Background(), func(catalog.Item) error { return nil })
			st.Close()
		}
	})
}

// BenchmarkCheck500k times the check Open runs on an existing data file
// holding 500k events (about the size of MovieLens-1M's half).
func BenchmarkCheck500k(b *testing.B) {
	dir := b.TempDir()
	st, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for batch := 0; batch < 50; batch++ {
		evs := make([]events.Event, 10000)
		for i := range evs {
			n := batch*10000 + i
			evs[i] = events.Event{UserID: fmt.Sprintf("u%05d", n%6000), ItemID: fmt.Sprintf("i%05d", n%3700), Type: events.Rating, Timestamp: base.Add(time.Duration(n) * time.Second)}
		}
		if err := st.AppendEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
	}
	st.Close()
	path := filepath.Join(dir, FileName)
	fi, _ := os.Stat(path)
	for b.Loop() {
		rep, err := Check(ctx, path, 0)
		if err != nil || len(rep.Problems) > 0 {
			b.Fatal(err, rep.Problems)
		}
	}
	b.ReportMetric(float64(fi.Size())/(1<<20), "MiB")
}

// A data dir in use by another process is refused as such (not as damage),
// after the lock wait, and `Check` says so too.
func TestOpenInUse(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = Open(dir)
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "another aisle process") {
		t.Fatalf("second open: %v", err)
	}
	if _, err := Check(context.Background(), filepath.Join(dir, FileName), 0); !errors.Is(err, ErrInUse) {
		t.Fatalf("check of a file in use: %v", err)
	}
}
