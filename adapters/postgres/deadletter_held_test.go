package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/adapters/postgres"
	"github.com/hookwise/hookwise/receiver/driver"
)

// Within an attempt, a dead letter of the attempt's own event is stored only
// while the attempt holds the event: once the event is done (a commit
// whose reply was lost) or taken over, Put stores nothing and says so.
func TestDeadLetterPutOnlyWhileTheAttemptHoldsTheEvent(t *testing.T) {
	pool := shared(t)
	ctx := context.Background()
	schema := newSchema(t, pool)
	in := postgres.New(pool, postgres.Schema(schema), postgres.PollInterval(20*time.Millisecond))
	q := in.Queue(postgres.Endpoint("held"))
	for _, id := range []string{"evt_held", "evt_gone"} {
		require.NoError(t, q.Enqueue(ctx, &driver.Event{Provider: "pgtest", ID: id, Type: "t", ClaimToken: "tok_" + id, Attempt: 1, Body: []byte(`{}`)}))
	}
	puts := make(chan error, 2)
	require.NoError(t, q.Start(procOf("held", func(ctx context.Context, e *driver.Event) driver.Result {
		if e.ID == "evt_gone" { // done meanwhile, as by a commit whose reply was lost
			_, err := pool.Exec(context.Background(), `UPDATE `+events(schema)+` SET state = 'done', lock_id = NULL WHERE event_id = $1`, e.ID)
			require.NoError(t, err)
		}
		err := in.DeadLetters().Put(ctx, driver.DeadLetter{Event: e, Reason: "failed", FailedAt: time.Now()})
		puts <- err
		if err != nil {
			return driver.Result{Retry: true, Delay: time.Hour, Err: err}
		}
		return driver.Result{Err: assert.AnError}
	})))
	t.Cleanup(func() { _ = q.Shutdown(context.Background()) })
	var errs []error
	for range 2 {
		select {
		case err := <-puts:
			errs = append(errs, err)
		case <-time.After(10 * time.Second):
			t.Fatal("events not run")
		}
	}
	var lost int
	for _, err := range errs {
		if err != nil {
			assert.ErrorIs(t, err, postgres.ErrLeaseLost)
			lost++
		}
	}
	assert.Equal(t, 1, lost, "one Put refused: the event no longer held")
	dls, err := in.DeadLetters().List(ctx, 0)
	require.NoError(t, err)
	require.Len(t, dls, 1)
	assert.Equal(t, "evt_held", dls[0].Event.ID, "the held event's dead letter stored")
	assert.Equal(t, 1, count(t, pool, `SELECT count(*) FROM `+events(schema)+` WHERE event_id = 'evt_gone' AND state = 'done'`), "the done event stays done")
	require.NoError(t, in.DeadLetters().Put(ctx, driver.DeadLetter{Event: &driver.Event{Provider: "pgtest", ID: "evt_x", ClaimToken: "tok_evt_gone", Attempt: 1}}),
		"outside an attempt: stored as before")
}
