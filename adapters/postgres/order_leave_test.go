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

// An attempt's Leave of its own ordering line is recorded with its outcome,
// in the statement that finishes it: until then its token stays first in
// its line, so that an event run again after a crash runs before its key's
// later events. Another token's Leave, or another schema's store's, is done
// at once.
func TestOrderLeaveGoesWithTheOutcome(t *testing.T) {
	pool := shared(t)
	ctx := context.Background()
	schema, other := newSchema(t, pool), newSchema(t, pool)
	in := postgres.New(pool, postgres.Schema(schema), postgres.PollInterval(20*time.Millisecond))
	lines, foreign := in.OrderStore(), postgres.NewOrderStore(pool, postgres.Schema(other))
	q := in.Queue(postgres.Endpoint("leave"))
	e := &driver.Event{Provider: "pgtest", ID: "evt_l", Type: "t", ClaimToken: "tok1", Attempt: 1, Body: []byte(`{}`)}
	require.NoError(t, q.Enqueue(ctx, e))
	for _, tok := range []string{"tok1", "tok2", "tok3"} {
		require.NoError(t, lines.Join(ctx, "k", tok, time.Hour))
		require.NoError(t, foreign.Join(ctx, "k", tok, time.Hour))
	}
	type seen struct {
		err                    error
		stillFirst, t2Waits    bool
		otherGone, foreignGone bool
	}
	got := make(chan seen, 1)
	require.NoError(t, q.Start(procOf("leave", func(ctx context.Context, e *driver.Event) driver.Result {
		var s seen
		s.err = lines.Leave(ctx, "k", e.ClaimToken)
		first, err1 := lines.Turn(context.Background(), "k", e.ClaimToken, time.Hour)
		second, err2 := lines.Turn(context.Background(), "k", "tok2", time.Hour)
		s.stillFirst, s.t2Waits = first && err1 == nil, !second && err2 == nil
		_ = lines.Leave(ctx, "k", "tok3")
		_ = foreign.Leave(ctx, "k", e.ClaimToken)
		s.otherGone = count(t, pool, `SELECT count(*) FROM `+table(schema, "order_lines")+` WHERE token = 'tok3'`) == 0
		s.foreignGone = count(t, pool, `SELECT count(*) FROM `+table(other, "order_lines")+` WHERE token = 'tok1'`) == 0
		got <- s
		return driver.Result{}
	})))
	t.Cleanup(func() { _ = q.Shutdown(context.Background()) })
	var s seen
	select {
	case s = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("event not run")
	}
	require.NoError(t, s.err)
	assert.True(t, s.stillFirst, "the attempt's token still first in its line while it runs")
	assert.True(t, s.t2Waits, "the next token waits")
	assert.True(t, s.otherGone, "another token's Leave is done at once")
	assert.True(t, s.foreignGone, "another schema's store leaves at once")
	assert.Eventually(t, func() bool {
		return count(t, pool, `SELECT count(*) FROM `+table(schema, "order_lines")+` WHERE token = 'tok1'`) == 0
	}, 10*time.Second, 20*time.Millisecond, "left with the outcome")
	ok, err := lines.Turn(ctx, "k", "tok2", time.Hour)
	require.NoError(t, err)
	assert.True(t, ok, "the next token's turn once the outcome is recorded")
}
