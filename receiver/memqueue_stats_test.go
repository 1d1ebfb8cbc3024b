package receiver_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// gatedProcessor holds every attempt until release is closed, and reports
// each start on started.
type gatedProcessor struct {
	started chan string
	release chan struct{}
}

func (p *gatedProcessor) Endpoint() string { return "stats" }

func (p *gatedProcessor) Process(ctx context.Context, e *driver.Event) driver.Result {
	p.started <- e.ID
	select {
	case <-p.release:
	case <-ctx.Done():
	}
	return driver.Result{}
}

func (p *gatedProcessor) Abandon(context.Context, *driver.Event, error) {}

// OldestAge counts only events waiting for a worker: once every event is in
// a handler it is zero, however long they have been queued, and an event
// queued behind them is counted again.
func TestMemoryQueueStatsSkipRunningEvents(t *testing.T) {
	q := receiver.NewMemoryQueue(10, 2)
	t.Cleanup(func() { _ = q.Shutdown(context.Background()) })
	ctx := context.Background()
	for _, id := range []string{"a", "b"} {
		require.NoError(t, q.Enqueue(ctx, &driver.Event{Provider: "p", ID: id, Attempt: 1}))
	}
	const waited = 200 * time.Millisecond
	time.Sleep(waited)
	st, err := q.Stats(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, st.OldestAge, waited, "queued, not started")

	p := &gatedProcessor{started: make(chan string, 3), release: make(chan struct{})}
	require.NoError(t, q.Start(p))
	<-p.started
	<-p.started
	st, err = q.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, st.Depth, "both running")
	assert.Zero(t, st.OldestAge, "no event waits for a worker")

	require.NoError(t, q.Enqueue(ctx, &driver.Event{Provider: "p", ID: "c", Attempt: 1}))
	time.Sleep(20 * time.Millisecond)
	st, err = q.Stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, st.Depth)
	assert.GreaterOrEqual(t, st.OldestAge, 20*time.Millisecond, "c waits for a worker")
	assert.Less(t, st.OldestAge, waited, "only c's wait counts, not a's or b's")
	close(p.release)
}
