package dedupe_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
)

func TestOutcomeString(t *testing.T) {
	for o, want := range map[dedupe.Outcome]string{
		dedupe.Claimed:   "claimed",
		dedupe.Pending:   "pending",
		dedupe.Duplicate: "duplicate",
		0:                "Outcome(0)",
		9:                "Outcome(9)",
	} {
		assert.Equal(t, want, o.String())
	}
	assert.Equal(t, dedupe.Outcome(1), dedupe.Claimed, "the zero Outcome is not an outcome")
}

func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		tok := dedupe.NewToken()
		require.Len(t, tok, 26)
		require.Regexp(t, "^[A-Z2-7]+$", tok)
		require.False(t, seen[tok], "token drawn twice")
		seen[tok] = true
	}
	if !raceEnabled {
		allocs := testing.AllocsPerRun(100, func() { _ = dedupe.NewToken() })
		assert.LessOrEqual(t, allocs, 1.0, "allocations per NewToken")
	}
}

func TestKey(t *testing.T) {
	assert.Equal(t, "stripe:evt_1", dedupe.Key("stripe", "evt_1"))
}
