package snapshot

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
)

// Keeper writes one part's snapshots for its owner (the search click
// model, ad billing): every Every events counted, in the background, and
// at Close; Hold removes the file and refuses writes until Release, for
// the owner's privacy passes. Writes and removals are serialised, so a
// removal cannot be overtaken by a write of state read before it.
type Keeper struct {
	// Dir is the snapshot directory ("" keeps no snapshot), Part the
	// file's part name.
	Dir, Part string
	// Every is the events between snapshots; ≤ 0 writes at Close only.
	Every int
	Log   *slog.Logger
	// Encode returns the state to write and the newest Seq it covers;
	// ok false skips the write (nothing loaded yet). It runs under the
	// keeper's lock; the owner stops counting events while it reads.
	Encode func() (seq uint64, payload []byte, ok bool)

	mu      sync.Mutex
	held    int    // Holds not Released: writes are refused
	gen     uint64 // Holds so far
	since   atomic.Int64
	writing atomic.Bool
	wg      sync.WaitGroup
	written atomic.Int64
}

// Written is how many snapshots were written.
func (k *Keeper) Written() int64 { return k.written.Load() }

// Read returns the part's payload and Seq; ok false (logged as a warning
// when the file exists) when there is none to use.
func (k *Keeper) Read() (seq uint64, payload []byte, ok bool) {
	if k.Dir == "" {
		return 0, nil, false
	}
	seq, payload, err := Read(k.Dir, k.Part)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil, false
	}
	if err != nil {
		k.Ignored(err)
		return 0, nil, false
	}
	return seq, payload, true
}

// Ignored logs that the snapshot cannot be used and why.
func (k *Keeper) Ignored(err error) {
	k.Logger().Warn("a snapshot is ignored and removed: its part learns from the whole event log", "file", Path(k.Dir, k.Part), "error", err)
	// an ignored file may hold users forgotten or opted out since it was
	// written (that can be why it no longer matches): it goes at once
	k.Drop("it was ignored")
}

// Loaded sets the events counted since the snapshot on disk (those a
// start replayed beyond it).
func (k *Keeper) Loaded(tail int) { k.since.Store(int64(tail)) }

// Counted notes n events counted and starts a snapshot in the background
// once Every were counted since the last.
func (k *Keeper) Counted(n int) {
	if k.Dir == "" || k.since.Add(int64(n)) < int64(k.Every) || k.Every <= 0 || !k.writing.CompareAndSwap(false, true) {
		return
	}
	k.wg.Go(func() {
		defer k.writing.Store(false)
		if err := k.Save(); err != nil {
			k.Logger().Error("writing a snapshot failed; a restart learns from more of the log", "part", k.Part, "error", err)
		}
	})
}

// Save writes the snapshot now (a no-op while held or without a
// directory).
func (k *Keeper) Save() error {
	if k.Dir == "" {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.held > 0 {
		return nil
	}
	seq, payload, ok := k.Encode()
	if !ok {
		return nil
	}
	k.since.Store(0)
	if err := Write(k.Dir, k.Part, seq, payload); err != nil {
		return fmt.Errorf("save %s snapshot: %w", k.Part, err)
	}
	k.written.Add(1)
	k.Logger().Info("snapshot written", "part", k.Part, "seq", seq, "bytes", len(payload))
	return nil
}

// Close waits for a snapshot being written and writes the last one (at a
// clean shutdown), unless the one on disk holds every event counted.
func (k *Keeper) Close() error {
	k.wg.Wait()
	if k.Dir == "" {
		return nil
	}
	if k.since.Load() == 0 {
		if _, err := os.Stat(Path(k.Dir, k.Part)); err == nil {
			return nil
		}
	}
	return k.Save()
}

// Hold removes the snapshot (it holds what the store no longer does, or
// what must not be learnt any more) and refuses writes until Release with
// the generation it returns.
func (k *Keeper) Hold(why string) uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.held++
	k.gen++
	k.remove(why)
	return k.gen
}

// Drop removes the snapshot; the next batch counted writes a new one.
func (k *Keeper) Drop(why string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.remove(why)
}

func (k *Keeper) remove(why string) {
	k.since.Store(int64(max(k.Every, 0))) // the next batch writes a new one
	if k.Dir == "" {
		return
	}
	if err := Remove(k.Dir, k.Part); err != nil {
		k.Logger().Error("removing a snapshot failed; it is ignored at the next start only if it no longer matches the log", "part", k.Part, "why", why, "error", err)
	}
}

// Release ends the Holds up to generation gen (the owner's state no longer
// holds what they removed); a Hold since keeps writes refused.
func (k *Keeper) Release(gen uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if gen == k.gen {
		k.held = 0
	}
}

// Generation is the number of Holds so far (for Release by an owner that
// did not Hold itself: a rebuild started at generation g).
func (k *Keeper) Generation() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.gen
}

// Logger is the keeper's logger (a discarding one when Log is nil).
func (k *Keeper) Logger() *slog.Logger {
	if k.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return k.Log
}
