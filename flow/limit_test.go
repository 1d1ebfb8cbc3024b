package flow_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/flow"
	"github.com/hookwise/hookwise/receiver"
)

func TestLimitPerSecond(t *testing.T) {
	calls := 0
	h := receiver.HandlerFunc(func(context.Context, *receiver.Event) error { calls++; return nil })
	clk := newClock()
	l := flow.NewLimit(h, flow.LimitConfig{PerSecond: 10, Burst: 2})
	flow.SetClock(l, clk.now)
	ctx, e := context.Background(), &receiver.Event{}
	require.NoError(t, l.HandleEvent(ctx, e))
	require.NoError(t, l.HandleEvent(ctx, e), "a burst of two")
	de := deferral(t, l.HandleEvent(ctx, e))
	assert.Equal(t, flow.ReasonRate, de.Reason)
	assert.GreaterOrEqual(t, de.After, 100*time.Millisecond, "the next call is allowed in 100ms")
	assert.LessOrEqual(t, de.After, 125*time.Millisecond)
	assert.Equal(t, 2, calls)
	clk.advance(50 * time.Millisecond)
	de = deferral(t, l.HandleEvent(ctx, e))
	assert.GreaterOrEqual(t, de.After, 50*time.Millisecond)
	assert.LessOrEqual(t, de.After, 63*time.Millisecond)
	clk.advance(50 * time.Millisecond)
	require.NoError(t, l.HandleEvent(ctx, e))
	// A quiet spell refills the bucket up to Burst, not beyond.
	clk.advance(time.Hour)
	require.NoError(t, l.HandleEvent(ctx, e))
	require.NoError(t, l.HandleEvent(ctx, e))
	deferral(t, l.HandleEvent(ctx, e))
	assert.Equal(t, 5, calls)
}

func TestLimitConcurrencyDefersAndReleases(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	h := receiver.HandlerFunc(func(context.Context, *receiver.Event) error {
		started <- struct{}{}
		<-release
		return errDown
	})
	l := flow.NewLimit(h, flow.LimitConfig{MaxInFlight: 1, RetryIn: 40 * time.Millisecond})
	ctx, e := context.Background(), &receiver.Event{}
	done := make(chan error)
	go func() { done <- l.HandleEvent(ctx, e) }()
	<-started
	assert.Equal(t, 1, l.InFlight())
	de := deferral(t, l.HandleEvent(ctx, e))
	assert.Equal(t, flow.ReasonConcurrency, de.Reason)
	assert.GreaterOrEqual(t, de.After, 40*time.Millisecond)
	assert.LessOrEqual(t, de.After, 50*time.Millisecond)
	close(release)
	assert.ErrorIs(t, <-done, errDown, "the handler's error is returned as is")
	assert.Zero(t, l.InFlight(), "a slot is released after a failure")
}

func TestLimitRateDeniedReleasesSlot(t *testing.T) {
	h := receiver.HandlerFunc(func(context.Context, *receiver.Event) error { return nil })
	clk := newClock()
	l := flow.NewLimit(h, flow.LimitConfig{MaxInFlight: 1, PerSecond: 1})
	flow.SetClock(l, clk.now)
	ctx, e := context.Background(), &receiver.Event{}
	require.NoError(t, l.HandleEvent(ctx, e))
	assert.Equal(t, flow.ReasonRate, deferral(t, l.HandleEvent(ctx, e)).Reason)
	assert.Zero(t, l.InFlight())
}

func TestNewLimitRefusesBadConfig(t *testing.T) {
	h := receiver.HandlerFunc(func(context.Context, *receiver.Event) error { return nil })
	assert.Panics(t, func() { flow.NewLimit(nil, flow.LimitConfig{}) })
	assert.Panics(t, func() { flow.NewLimit(h, flow.LimitConfig{MaxInFlight: -1}) })
	assert.Panics(t, func() { flow.NewLimit(h, flow.LimitConfig{PerSecond: math.NaN()}) })
	assert.Panics(t, func() { flow.NewLimit(h, flow.LimitConfig{PerSecond: math.Inf(1)}) })
	assert.Panics(t, func() { flow.NewLimit(h, flow.LimitConfig{Burst: -1}) })
	assert.NotPanics(t, func() { flow.NewLimit(h, flow.LimitConfig{}) })
}
