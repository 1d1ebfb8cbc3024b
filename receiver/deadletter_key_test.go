package receiver

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDeadLetterKey(t *testing.T) {
	assert.Equal(t, "evt_1", DeadLetter{Event: &Event{ID: "evt_1", ClaimToken: "tok"}}.Key())
	assert.Equal(t, "~tok", DeadLetter{Event: &Event{ClaimToken: "tok"}}.Key())
	assert.NotEqual(t, DeadLetter{Event: &Event{ClaimToken: "a"}}.Key(), DeadLetter{Event: &Event{ClaimToken: "b"}}.Key())
	assert.Empty(t, DeadLetter{}.Key())
}
