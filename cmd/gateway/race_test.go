//go:build race

package main

// raceDetector reports a -race build: every goroutine runs several times
// slower, so timings measured inside the test process say little.
const raceDetector = true
