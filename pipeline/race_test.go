//go:build race

package pipeline

// raceDetector reports that the tests run under -race: a test whose
// concurrency other tests already race-check may skip the slower run.
const raceDetector = true
