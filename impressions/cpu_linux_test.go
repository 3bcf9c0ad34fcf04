package impressions

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// processCPU is the CPU time (user and system) of every thread of the
// process so far.
func processCPU(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
