//go:build unix

package linalg

import (
	"syscall"
	"testing"
)

// cpuSeconds is the process's user+system CPU time: on a shared machine
// the wall time of a benchmark mostly measures the other tenants.
func cpuSeconds(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
