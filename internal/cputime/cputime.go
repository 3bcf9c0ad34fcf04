// Package cputime reads the CPU time a process or an OS thread has used,
// for benchmarks that report CPU per operation rather than wall time (on a
// shared machine wall time is mostly the scheduler's). Where a clock is not
// read (another OS, or the call fails) it reads 0, so the benchmark's CPU
// columns are 0 rather than the benchmark failing.
package cputime
