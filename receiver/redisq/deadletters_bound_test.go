package redisq

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/receiver"
)

// Dead letters of events without an ID do not replace each other, and a
// full store refuses a new dead letter (ErrDeadLettersFull) instead of
// dropping an older one; replacing an existing one is always allowed.
func TestDeadLettersKeysAndBound(t *testing.T) {
	_, rdb := startRedis(t)
	s := NewDeadLetters(rdb, MaxDeadLetters(3))
	ctx := context.Background()
	put := func(id, token string) error {
		return s.Put(ctx, receiver.DeadLetter{
			Event:  &receiver.Event{Provider: "p", ID: id, Type: "t", Body: []byte(`{}`), Attempt: 1, ClaimToken: token},
			Reason: "r", FailedAt: time.Now(),
		})
	}
	require.NoError(t, put("", "tok-a"))
	require.NoError(t, put("", "tok-b"))
	require.NoError(t, put("evt_1", "tok-c"))
	list, err := s.List(ctx, 0)
	require.NoError(t, err)
	assert.Len(t, list, 3, "dead letters without IDs kept apart")

	assert.ErrorIs(t, put("evt_2", "tok-d"), receiver.ErrDeadLettersFull)
	assert.NoError(t, put("evt_1", "tok-e"), "replacing an existing dead letter")
	list, err = s.List(ctx, 0)
	require.NoError(t, err)
	require.Len(t, list, 3)

	// Deleting by Key makes room, also for events without IDs.
	require.NoError(t, s.Delete(ctx, "p", list[0].Key()))
	require.NoError(t, put("evt_2", "tok-d"))
	list, err = s.List(ctx, 0)
	require.NoError(t, err)
	keys := []string{}
	for _, d := range list {
		keys = append(keys, d.Key())
	}
	assert.ElementsMatch(t, []string{"~tok-b", "evt_1", "evt_2"}, keys)
}
