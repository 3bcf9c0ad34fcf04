package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aisle-dev/aisle/bench/soak"
)

// A short soak (issue 12) of the real binary: 12 s of mixed load with two
// kill -9 restarts and a damaged data file. No acknowledged event may be
// lost, the server must never exit on its own, must refuse the damaged
// file without touching it, and must shut down cleanly. The 10-minute run
// with a full disk is `aisle bench soak` (figures in docs/benchmarks.md).
func TestShortSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: skipped with -short")
	}
	rep, err := soak.Run(context.Background(), soak.Config{Binary: aisleBin(t), Dir: filepath.Join(t.TempDir(), "soak"),
		Duration: 12 * time.Second, Kills: 2, Writers: 2, Readers: 2, Items: 200, DamageFile: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("short soak:\n%s", rep.Markdown())
	if rep.EventsLost != 0 || rep.EventsUnverified != 0 || rep.EventsAcked == 0 || rep.EventsChecked != rep.EventsAcked {
		t.Errorf("acknowledged events: %d, read back %d, lost %d", rep.EventsAcked, rep.EventsChecked, rep.EventsLost)
	}
	if rep.Reads == 0 || rep.Kills != 2 {
		t.Errorf("reads %d, kill cycles %d", rep.Reads, rep.Kills)
	}
	if rep.ServerCrashes != 0 {
		t.Errorf("the server exited %d times on its own", rep.ServerCrashes)
	}
	if !strings.HasPrefix(rep.DamagedFile, "truncated") || !strings.Contains(rep.DamagedFile, "file untouched: true") {
		t.Errorf("damaged file: %s", rep.DamagedFile)
	}
	if !strings.HasPrefix(rep.CleanShutdown, "yes") {
		t.Errorf("shutdown: %s", rep.CleanShutdown)
	}
}
