package receiver

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type ctxKey struct{}

func TestAttemptContextDeadline(t *testing.T) {
	parent := context.WithValue(context.Background(), ctxKey{}, "v")
	ctx, stop := newAttemptContext(parent, 50*time.Millisecond)
	defer stop()
	d, ok := ctx.Deadline()
	require.True(t, ok)
	assert.WithinDuration(t, time.Now().Add(50*time.Millisecond), d, 20*time.Millisecond)
	assert.Equal(t, "v", ctx.Value(ctxKey{}))
	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()
	assert.NoError(t, ctx.Err())
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed at the deadline")
	}
	assert.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
	assert.ErrorIs(t, context.Cause(ctx), context.DeadlineExceeded)
	<-child.Done()
	assert.ErrorIs(t, child.Err(), context.DeadlineExceeded, "a derived context ends at the deadline too")
	assert.Equal(t, "v", ctx.Value(ctxKey{}))
}

func TestAttemptContextCauseWithoutDone(t *testing.T) {
	// Nothing asked for Done before the deadline passed: Cause still says
	// the deadline passed.
	ctx, stop := newAttemptContext(context.Background(), time.Millisecond)
	defer stop()
	time.Sleep(5 * time.Millisecond)
	assert.ErrorIs(t, context.Cause(ctx), context.DeadlineExceeded)
	assert.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
}

func TestAttemptContextParentCanceled(t *testing.T) {
	parent, cancel := context.WithCancelCause(context.Background())
	ctx, stop := newAttemptContext(parent, time.Hour)
	defer stop()
	done := ctx.Done()
	cancel(errShutdownTest)
	<-done
	assert.ErrorIs(t, ctx.Err(), context.Canceled)
	assert.ErrorIs(t, context.Cause(ctx), errShutdownTest)

	// The parent's earlier deadline wins.
	pctx, pcancel := context.WithTimeout(context.Background(), time.Minute)
	defer pcancel()
	ctx2, stop2 := newAttemptContext(pctx, time.Hour)
	defer stop2()
	pd, _ := pctx.Deadline()
	d, _ := ctx2.Deadline()
	assert.Equal(t, pd, d)
}

var errShutdownTest = context.DeadlineExceeded

func TestAttemptContextStopped(t *testing.T) {
	ctx, stop := newAttemptContext(context.Background(), time.Hour)
	stop()
	select {
	case <-ctx.Done():
	default:
		t.Fatal("Done open after stop")
	}
	assert.ErrorIs(t, ctx.Err(), context.Canceled)
	stop() // again: no panic

	// Done made first, then stop: canceled too.
	ctx, stop = newAttemptContext(context.Background(), time.Hour)
	done := ctx.Done()
	stop()
	<-done
	assert.ErrorIs(t, ctx.Err(), context.Canceled)
}

func TestAttemptContextConcurrent(t *testing.T) {
	ctx, stop := newAttemptContext(context.Background(), 20*time.Millisecond)
	defer stop()
	var wg sync.WaitGroup
	chans := make([]<-chan struct{}, 8)
	for i := range chans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = ctx.Value(ctxKey{})
			chans[i] = ctx.Done()
			_ = ctx.Err()
		}()
	}
	wg.Wait()
	for _, c := range chans[1:] {
		assert.Equal(t, chans[0], c, "Done returns one channel")
	}
	<-chans[0]
}

// TestAttemptContextAllocs: an attempt whose handler never asks for Done
// allocates less than context.WithTimeout (run without -race, see
// scripts/test.sh).
func TestAttemptContextAllocs(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	lazy := testing.AllocsPerRun(200, func() {
		ctx, stop := newAttemptContext(parent, time.Minute)
		_ = ctx.Value(ctxKey{})
		stop()
	})
	timer := testing.AllocsPerRun(200, func() {
		ctx, stop := context.WithTimeout(parent, time.Minute)
		_ = ctx.Value(ctxKey{})
		stop()
	})
	t.Logf("allocs per attempt: lazy %.0f, context.WithTimeout %.0f", lazy, timer)
	assert.Less(t, lazy, timer)

	// Asking Err before the deadline makes no timer either (a store that
	// answers without a call checks only Err).
	checked := testing.AllocsPerRun(200, func() {
		ctx, stop := newAttemptContext(parent, time.Minute)
		_ = ctx.Err()
		stop()
	})
	assert.Equal(t, lazy, checked, "allocations with an Err before the deadline")
}

// TestAttemptContextErrWithoutDone: Err answered without a timer agrees with
// what Done would say: nil while the deadline is ahead, then the deadline,
// the parent's cancellation or the stop.
func TestAttemptContextErrWithoutDone(t *testing.T) {
	ctx, stop := newAttemptContext(context.Background(), time.Hour)
	assert.NoError(t, ctx.Err())
	assert.Nil(t, ctx.inner.Load(), "no timer made by Err")
	stop()
	assert.ErrorIs(t, ctx.Err(), context.Canceled, "stopped")

	short, stop2 := newAttemptContext(context.Background(), time.Millisecond)
	defer stop2()
	time.Sleep(5 * time.Millisecond)
	assert.ErrorIs(t, short.Err(), context.DeadlineExceeded, "deadline passed, Done never asked")

	parent, cancel := context.WithCancel(context.Background())
	child, stop3 := newAttemptContext(parent, time.Hour)
	defer stop3()
	cancel()
	assert.ErrorIs(t, child.Err(), context.Canceled, "parent canceled, Done never asked")
	select {
	case <-child.Done():
	default:
		t.Error("Done open after Err reported the parent's cancellation")
	}
}
