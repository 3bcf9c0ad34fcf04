//go:build unix

package cputime

import (
	"time"

	"golang.org/x/sys/unix"
)

// Process is the CPU time (user and system) of every thread of the process
// so far.
func Process() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
