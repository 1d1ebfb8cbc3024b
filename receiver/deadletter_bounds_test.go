package receiver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/receiver"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes, for logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// records returns the JSON log records written so far.
func (s *syncBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m))
		out = append(out, m)
	}
	return out
}

func deadLetter(provider, id, token string, body int) receiver.DeadLetter {
	return receiver.DeadLetter{
		Event:  &receiver.Event{Provider: provider, ID: id, ClaimToken: token, Type: "t", Attempt: 3, Body: bytes.Repeat([]byte("secret-payload "), body/15+1)[:body]},
		Reason: "boom", FailedAt: time.Unix(1_800_000_000, 0),
	}
}

func TestMemoryDeadLettersCountBoundEvictsOldestLoudly(t *testing.T) {
	ctx := context.Background()
	var logs syncBuffer
	s := receiver.NewMemoryDeadLetters(3, receiver.DeadLettersLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	for i := range 5 {
		require.NoError(t, s.Put(ctx, deadLetter("stripe", fmt.Sprint("evt_", i), "", 100)))
	}
	assert.Equal(t, 3, s.Len())
	assert.Equal(t, uint64(2), s.Evicted())
	dls, err := s.List(ctx, 0)
	require.NoError(t, err)
	var ids []string
	for _, d := range dls {
		ids = append(ids, d.Event.ID)
	}
	assert.Equal(t, []string{"evt_2", "evt_3", "evt_4"}, ids, "the oldest were evicted")

	recs := logs.records(t)
	require.Len(t, recs, 2)
	for i, r := range recs {
		assert.Equal(t, "ERROR", r["level"])
		assert.Equal(t, "stripe", r["provider"])
		assert.Equal(t, fmt.Sprint("evt_", i), r["key"])
		assert.Equal(t, "t", r["type"])
	}
	logs.mu.Lock()
	assert.NotContains(t, logs.b.String(), "secret-payload", "no body in logs")
	logs.mu.Unlock()
}

func TestMemoryDeadLettersByteBound(t *testing.T) {
	ctx := context.Background()
	const maxBytes = 10 << 10
	s := receiver.NewMemoryDeadLetters(1000, receiver.DeadLettersMaxBytes(maxBytes))
	for i := range 50 {
		require.NoError(t, s.Put(ctx, deadLetter("github", fmt.Sprint("d", i), "", 1<<10)))
		assert.LessOrEqual(t, s.Bytes(), int64(maxBytes))
	}
	assert.Less(t, s.Len(), 10)
	assert.Positive(t, s.Len())
	assert.Equal(t, uint64(50-s.Len()), s.Evicted())

	require.NoError(t, s.Put(ctx, deadLetter("github", "huge", "", 3*maxBytes)))
	assert.Equal(t, 1, s.Len(), "a dead letter larger than the bound is kept alone")
	dls, _ := s.List(ctx, 0)
	assert.Equal(t, "huge", dls[0].Event.ID)

	require.NoError(t, s.Delete(ctx, "github", "huge"))
	assert.Zero(t, s.Len())
	assert.Zero(t, s.Bytes())
}

func TestMemoryDeadLettersKeyedByKey(t *testing.T) {
	ctx := context.Background()
	s := receiver.NewMemoryDeadLetters(0)
	// Events without IDs no longer replace each other.
	require.NoError(t, s.Put(ctx, deadLetter("slack", "", "tok1", 10)))
	require.NoError(t, s.Put(ctx, deadLetter("slack", "", "tok2", 10)))
	// The same ID under two providers is two dead letters.
	require.NoError(t, s.Put(ctx, deadLetter("slack", "evt", "", 10)))
	require.NoError(t, s.Put(ctx, deadLetter("stripe", "evt", "", 10)))
	assert.Equal(t, 4, s.Len())

	// The same key again replaces the earlier one, and its size.
	before := s.Bytes()
	require.NoError(t, s.Put(ctx, deadLetter("slack", "evt", "", 1000)))
	assert.Equal(t, 4, s.Len())
	assert.Equal(t, before+990, s.Bytes())

	require.NoError(t, s.Delete(ctx, "slack", "~tok1"))
	require.NoError(t, s.Delete(ctx, "slack", "evt"))
	require.NoError(t, s.Delete(ctx, "slack", "missing"))
	dls, _ := s.List(ctx, 0)
	var keys []string
	for _, d := range dls {
		keys = append(keys, d.Event.Provider+"/"+d.Key())
	}
	assert.Equal(t, []string{"slack/~tok2", "stripe/evt"}, keys)
	assert.Zero(t, s.Evicted())
}
