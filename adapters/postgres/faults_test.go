package postgres_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/adapters/postgres"
	"github.com/hookwise/hookwise/internal/pgtest"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// effectCounts returns the effect rows per event ID.
func effectCounts(t testing.TB, pool *pgxpool.Pool, schema string) map[string]int {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT event_id, count(*) FROM `+
		pgx.Identifier{schema, "effects"}.Sanitize()+` GROUP BY event_id`)
	require.NoError(t, err)
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		require.NoError(t, rows.Scan(&id, &n))
		out[id] = n
	}
	require.NoError(t, rows.Err())
	return out
}

// waitSettled waits until no event of schema is queued or running.
func waitSettled(t testing.TB, pool *pgxpool.Pool, schema string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var n int
		err := pool.QueryRow(context.Background(), `SELECT count(*) FROM `+pgx.Identifier{schema, "events"}.Sanitize()+
			` WHERE state IN ('queued', 'running')`).Scan(&n)
		if err == nil && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events still queued or running after %v: %d (err %v)", timeout, n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tally compares acknowledged events with effects: lost (acknowledged, no
// effect) and handled twice (more than one effect row).
func tally(t *testing.T, l *load, effects map[string]int) (lost, twice int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for id := range l.ackedIDs {
		if effects[id] == 0 {
			lost++
		}
	}
	for _, n := range effects {
		if n > 1 {
			twice++
		}
	}
	t.Logf("sent %d requests, acknowledged %d events, refused %d (statuses %v), handled %d, handled twice %d, lost %d",
		l.sent.Load(), len(l.ackedIDs), l.refused.Load(), l.statuses, len(effects), twice, lost)
	return lost, twice
}

// Two receivers (replicas, one with LISTEN/NOTIFY, one polling) share one
// database; every event is delivered three times at once, to either
// replica: each is acknowledged and handled exactly once.
func TestReplicasHandleEachEventOnce(t *testing.T) {
	pool := newPool(t, 60)
	schema := newSchema(t, pool)
	in := postgres.New(pool, postgres.Schema(schema), postgres.PollInterval(50*time.Millisecond))
	var mu sync.Mutex
	handled := map[string]int{}
	h := receiver.HandlerFunc(func(_ context.Context, e *driver.Event) error {
		mu.Lock()
		handled[e.ID]++
		mu.Unlock()
		return nil
	})
	var urls []string
	for i := range 2 {
		var opts []postgres.Option
		if i == 1 {
			opts = append(opts, postgres.PollOnly()) // replicas may mix the modes
		}
		r, err := receiver.New(testProvider{}, h, in.Options("pgtest", opts...)...)
		require.NoError(t, err)
		srv := httptest.NewServer(r)
		t.Cleanup(func() {
			srv.Close()
			_ = r.Shutdown(bounded())
		})
		urls = append(urls, srv.URL)
	}
	const n = 300
	evs := ids("replica", n)
	l := newLoad(func() string { return urls[rand.IntN(2)] })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for c := range 3 {
		order := append([]string(nil), evs...)
		if c > 0 {
			rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		wg.Go(func() { assert.NoError(t, l.run(ctx, order, 8, 1)) })
	}
	wg.Wait()
	waitSettled(t, pool, schema, 20*time.Second)
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	twice := 0
	for _, id := range evs {
		if handled[id] > 1 {
			twice++
		}
	}
	t.Logf("sent %d requests for %d events, acknowledged %d, handled %d, handled twice %d", l.sent.Load(), n, l.acked.Load(), len(handled), twice)
	assert.EqualValues(t, n, l.acked.Load(), "events acknowledged")
	assert.Len(t, handled, n, "events handled")
	assert.Zero(t, twice, "events handled more than once")
}

// A receiver process killed with SIGKILL mid-load loses no acknowledged
// event, and, its handler being transactional, no event's effect commits
// twice: the attempts the dead process held are run again by the next one
// once their lease lapses, and those whose transaction committed are done.
func TestKill9LosesNothingAndCommitsEffectsOnce(t *testing.T) {
	pool := newPool(t, 10)
	schema := newSchema(t, pool)
	createEffects(t, pool, schema)
	first := startChild(t, schema)
	var addr atomic.Pointer[string]
	addr.Store(&first.Addr)
	l := newLoad(func() string { return "http://" + *addr.Load() + "/" })
	const n = 1200
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.run(ctx, ids("kill", n), 16, 2) }()
	for l.acked.Load() < n/3 {
		time.Sleep(5 * time.Millisecond)
	}
	first.Kill()
	killedAt := l.acked.Load()
	var unfinished int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM `+pgx.Identifier{schema, "events"}.Sanitize()+
		` WHERE state IN ('queued', 'running')`).Scan(&unfinished))
	second := startChild(t, schema)
	addr.Store(&second.Addr)
	require.NoError(t, <-done)
	waitSettled(t, pool, schema, 30*time.Second)
	lost, twice := tally(t, l, effectCounts(t, pool, schema))
	t.Logf("killed after %d acknowledged events, %d of them queued or running", killedAt, unfinished)
	assert.EqualValues(t, n, l.acked.Load(), "events acknowledged")
	assert.Zero(t, lost, "acknowledged events lost")
	assert.Zero(t, twice, "events whose effect committed twice")
}

// PostgreSQL restarted mid-load: deliveries are refused with 503 while it
// is down, the receiver recovers without a restart, and nothing
// acknowledged is lost or committed twice.
func TestPostgresRestartMidLoad(t *testing.T) {
	s := pgtest.Start(t)
	cfg, err := pgxpool.ParseConfig(s.URL(""))
	require.NoError(t, err)
	cfg.MaxConns = 30
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	schema := newSchema(t, pool)
	createEffects(t, pool, schema)
	in := postgres.New(pool, postgres.Schema(schema), postgres.PollInterval(50*time.Millisecond),
		postgres.Visibility(2*time.Second), postgres.CallTimeout(500*time.Millisecond))
	r, err := receiver.New(testProvider{}, effectsHandler(schema), in.Options("pgtest")...)
	require.NoError(t, err)
	srv := httptest.NewServer(r)
	t.Cleanup(func() {
		srv.Close()
		_ = r.Shutdown(bounded())
	})
	l := newLoad(func() string { return srv.URL })
	const n = 600
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.run(ctx, ids("restart", n), 8, 1) }()
	for l.acked.Load() < n/3 {
		time.Sleep(5 * time.Millisecond)
	}
	s.Stop()
	l.mu.Lock()
	before := l.statuses[http.StatusServiceUnavailable]
	l.mu.Unlock()
	ackedDown := l.acked.Load()
	time.Sleep(1500 * time.Millisecond)
	l.mu.Lock()
	during := l.statuses[http.StatusServiceUnavailable] - before
	l.mu.Unlock()
	ackedWhileDown := l.acked.Load() - ackedDown
	require.NoError(t, s.Restart())
	require.NoError(t, <-done)
	waitSettled(t, pool, schema, 30*time.Second)
	lost, twice := tally(t, l, effectCounts(t, pool, schema))
	t.Logf("while PostgreSQL was down: %d answers 503, %d events acknowledged (requests in flight at the stop)", during, ackedWhileDown)
	assert.Positive(t, during, "503 answers while PostgreSQL was down")
	assert.LessOrEqual(t, ackedWhileDown, int64(8), "events acknowledged while PostgreSQL was down (at most those in flight)")
	assert.EqualValues(t, n, l.acked.Load(), "events acknowledged")
	assert.Zero(t, lost, "acknowledged events lost")
	assert.Zero(t, twice, "events whose effect committed twice")
}
