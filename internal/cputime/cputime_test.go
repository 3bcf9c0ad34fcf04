package cputime

import (
	"runtime"
	"testing"
)

func TestClocksAdvanceWithWork(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the thread clock is read on Linux only")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p0, t0 := Process(), Thread()
	x := 0.0
	for i := range 20_000_000 {
		x += float64(i) * 1e-9
	}
	if x == 0 {
		t.Fatal("the loop did not run")
	}
	if p, th := Process()-p0, Thread()-t0; p <= 0 || th <= 0 {
		t.Errorf("after a busy loop: process CPU %v, thread CPU %v; want both > 0", p, th)
	}
}
