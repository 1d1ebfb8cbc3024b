//go:build race

package bench

// raceEnabled reports a -race build, whose sync.Pool drops items at random,
// so allocation counts are asserted only without it.
const raceEnabled = true
