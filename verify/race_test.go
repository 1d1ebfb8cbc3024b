//go:build race

package verify_test

// raceEnabled reports a -race build, whose sync.Pool drops items at random,
// so allocation counts are only asserted without it (scripts/test.sh runs
// those tests once more without -race).
const raceEnabled = true
