package receiver

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSplitsBounded(t *testing.T) {
	var s splits
	for i := range maxSplits {
		s.mark("tok"+strconv.Itoa(i), "billing")
	}
	assert.Len(t, s.done, maxSplits)
	s.mark("tok0", "crm") // a known event: no reset
	assert.Len(t, s.done, maxSplits)
	assert.True(t, s.queued("tok0", "crm"))
	s.mark("new", "billing") // beyond the bound: starts afresh
	assert.Len(t, s.done, 1)
	assert.True(t, s.queued("new", "billing"))
	assert.False(t, s.queued("tok1", "billing"), "forgotten: a retried split queues it again")
	s.forget("new")
	assert.Empty(t, s.done)
}
