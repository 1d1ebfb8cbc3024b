package receiver_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/receiver"
)

// TestShutdownDeadlineHandlerIgnoresContext: with handlers that ignore
// their context and sleep 2 s, Shutdown with a 300 ms deadline used to
// return after ~2 s (and, with more workers and events, 4–6 s), still
// starting queued events with a cancelled context, and reported only the
// queued events. Now it starts nothing after the deadline, returns within
// a small margin of it, reports all 50 acknowledged events by ID, logs them
// at ERROR, and records the stuck handlers' outcome when they return.
func TestShutdownDeadlineHandlerIgnoresContext(t *testing.T) {
	const (
		events   = 50
		workers  = 2
		deadline = 300 * time.Millisecond
		bound    = 1500 * time.Millisecond // generous: expected ~deadline + ShutdownGrace
	)
	var calls atomic.Int64
	h := receiver.HandlerFunc(func(context.Context, *receiver.Event) error {
		calls.Add(1)
		time.Sleep(2 * time.Second)
		return nil
	})
	var logs syncBuffer
	obs := &stageCounter{}
	rc := newReceiver(t, h, receiver.Workers(workers), receiver.QueueCapacity(100), receiver.WithObserver(obs),
		receiver.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	var ids []string
	for i := range events {
		id := fmt.Sprint("stuck-", i)
		require.Equal(t, http.StatusOK, serve(rc, request(id, "t", []byte("{}"))).Code)
		ids = append(ids, id)
	}
	require.Eventually(t, func() bool { return calls.Load() == workers }, 5*time.Second, time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	err := rc.Shutdown(ctx)
	took := time.Since(start)
	t.Logf("Shutdown with a %v deadline returned after %v: %v", deadline, took, err)
	assert.Less(t, took, bound)

	var se *receiver.ShutdownError
	require.ErrorAs(t, err, &se)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, events, se.Unfinished)
	assert.Equal(t, workers, se.Running)
	sort.Strings(se.IDs)
	sort.Strings(ids)
	assert.Equal(t, ids, se.IDs)

	unhandled := map[string]bool{}
	for _, r := range logs.records(t) {
		if r["level"] == "ERROR" && r["msg"] == "acknowledged event not handled before shutdown" {
			unhandled[r["id"].(string)] = true
		}
	}
	assert.Len(t, unhandled, events, "each unfinished event logged at ERROR with its ID")

	dls, _ := rc.DeadLetters().List(context.Background(), 0)
	assert.Len(t, dls, events-workers, "the events never started are dead-lettered")
	for _, d := range dls {
		assert.Zero(t, d.Event.Attempt, "%s: never attempted", d.Event.ID)
		assert.Contains(t, d.Reason, "shutdown before handling")
	}

	// The stuck handlers finish in the background: their outcome is
	// recorded, and nothing else was started.
	require.Eventually(t, func() bool { return obs.handled.Load() == workers }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, int64(workers), calls.Load(), "no handler started after the deadline")
}

// TestShutdownRecordsAttemptsMade: a dead letter made at shutdown records
// the attempts that actually ran (it said attempts=2 after one attempt).
func TestShutdownRecordsAttemptsMade(t *testing.T) {
	var cc callCounter
	var hanging atomic.Bool
	h := receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
		cc.add(e.ID)
		switch e.ID {
		case "retrying":
			return errors.New("down")
		case "hanging":
			hanging.Store(true)
			<-ctx.Done() // honours cancellation
			return ctx.Err()
		}
		return nil
	})
	rc := newReceiver(t, h, receiver.Workers(1), receiver.Backoff(time.Hour, time.Hour))
	require.Equal(t, http.StatusOK, serve(rc, request("retrying", "t", []byte("{}"))).Code)
	require.Eventually(t, func() bool { return cc.get("retrying") == 1 }, 5*time.Second, time.Millisecond)
	require.Equal(t, http.StatusOK, serve(rc, request("hanging", "t", []byte("{}"))).Code)
	require.Eventually(t, hanging.Load, 5*time.Second, time.Millisecond)
	require.Equal(t, http.StatusOK, serve(rc, request("queued", "t", []byte("{}"))).Code)

	err := rc.Shutdown(ctxTimeout(t, 100*time.Millisecond))
	var se *receiver.ShutdownError
	require.ErrorAs(t, err, &se)
	sort.Strings(se.IDs)
	assert.Equal(t, []string{"hanging", "queued", "retrying"}, se.IDs)
	assert.Zero(t, se.Running, "the hanging handler honoured cancellation within the grace")

	dls, _ := rc.DeadLetters().List(context.Background(), 0)
	require.Len(t, dls, 3)
	for _, d := range dls {
		assert.Equal(t, cc.get(d.Event.ID), d.Event.Attempt, "%s: attempts recorded = attempts made", d.Event.ID)
	}
	assert.Zero(t, cc.get("queued"))
	assert.Equal(t, 1, cc.get("hanging"))
}
