//go:build !linux

package impressions

import (
	"testing"
	"time"
)

// processCPU is 0 where it is not read: BenchmarkWriter's cpu-ns/record is
// then 0.
func processCPU(*testing.B) time.Duration { return 0 }
