//go:build !race

package main

// raceDetector reports that the tests run under -race (see aisleBin).
const raceDetector = false
