//go:build !linux

package api

import (
	"testing"
	"time"
)

// threadCPU is 0 where the thread's CPU clock is not read: the CPU
// columns of BenchmarkMerchOverhead are then 0.
func threadCPU(*testing.B) time.Duration { return 0 }

func processCPU(*testing.B) time.Duration { return 0 }
