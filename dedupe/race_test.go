//go:build race

package dedupe_test

// raceEnabled reports whether the race detector is on: it makes some values
// escape to the heap, so allocation counts are checked only without it.
const raceEnabled = true
