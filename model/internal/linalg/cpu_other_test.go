//go:build !unix

package linalg

import "testing"

// cpuSeconds is not measured off unix: the benchmarks report 0.
func cpuSeconds(*testing.B) float64 { return 0 }
