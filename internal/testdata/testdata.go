// Package testdata finds the shared public data sets for tests and
// benchmarks. Tests that need them skip with a clear message when absent.
package testdata

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// EnvVar names the directory holding the shared data sets (the folder with
// amazon-office-5core/, movielens-100k/, …).
const EnvVar = "AISLE_SHARED_DATA"

// Dir returns the shared data directory: $AISLE_SHARED_DATA, or else
// ../shared/data beside the repository checkout. It returns "" when neither exists.
func Dir() string {
	if d := os.Getenv(EnvVar); d != "" {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
		return ""
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	// file is <repo>/internal/testdata/testdata.go
	d := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data")
	if fi, err := os.Stat(d); err == nil && fi.IsDir() {
		return d
	}
	return ""
}

// Path returns the path of a data set below the shared data directory, or
// skips the test when it is not there.
func Path(tb testing.TB, elem ...string) string {
	tb.Helper()
	d := Dir()
	if d == "" {
		tb.Skipf("shared data sets not found: set %s to the folder holding them (e.g. ../shared/data)", EnvVar)
	}
	p := filepath.Join(append([]string{d}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared data set %s not found: %v", p, err)
	}
	return p
}
