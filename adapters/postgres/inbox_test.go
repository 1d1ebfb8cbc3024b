package postgres_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/adapters/postgres"
	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/internal/pgtest"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

func events(schema string) string { return pgx.Identifier{schema, "events"}.Sanitize() }

func count(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// serve starts a receiver on the Inbox for endpoint "pgtest" behind an
// HTTP server; both are shut down when t ends.
func serve(t *testing.T, in *postgres.Inbox, h receiver.Handler, opts ...postgres.Option) string {
	t.Helper()
	r, err := receiver.New(testProvider{}, h, in.Options("pgtest", opts...)...)
	require.NoError(t, err)
	srv := httptest.NewServer(r)
	t.Cleanup(func() {
		srv.Close()
		// A deadline: a test that stopped PostgreSQL leaves outcomes that
		// cannot be recorded, and Shutdown would wait for them for ever.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
	})
	return srv.URL
}

// Migrate applies once, however often it runs; CheckSchema tells a
// migrated schema from a missing or newer one.
func TestMigrateAndCheckSchema(t *testing.T) {
	pool := shared(t)
	ctx := context.Background()
	schema := newSchema(t, pool)
	require.NoError(t, postgres.Migrate(ctx, pool, postgres.Schema(schema)), "second Migrate")
	assert.Equal(t, postgres.SchemaVersion, count(t, pool, `SELECT count(*) FROM `+pgx.Identifier{schema, "schema_migrations"}.Sanitize()))
	assert.NoError(t, postgres.CheckSchema(ctx, pool, postgres.Schema(schema)))
	assert.ErrorIs(t, postgres.CheckSchema(ctx, pool, postgres.Schema("never_migrated")), postgres.ErrSchemaVersion)

	_, err := pool.Exec(ctx, `INSERT INTO `+pgx.Identifier{schema, "schema_migrations"}.Sanitize()+` (version, name) VALUES (99, 'future')`)
	require.NoError(t, err)
	assert.ErrorIs(t, postgres.CheckSchema(ctx, pool, postgres.Schema(schema)), postgres.ErrSchemaVersion)
	assert.ErrorIs(t, postgres.Migrate(ctx, pool, postgres.Schema(schema)), postgres.ErrSchemaVersion, "Migrate of a newer schema")

	// Concurrent Migrate calls (replicas starting together) apply once.
	fresh := "t_concurrent_migrate"
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { assert.NoError(t, postgres.Migrate(ctx, pool, postgres.Schema(fresh))) })
	}
	wg.Wait()
	assert.NoError(t, postgres.CheckSchema(ctx, pool, postgres.Schema(fresh)))
}

// An invalid schema name is a programming error.
func TestSchemaNameChecked(t *testing.T) {
	pool := shared(t)
	for _, name := range []string{"", "a-b", `x"; DROP`, "1abc", string(make([]byte, 49))} {
		assert.Panics(t, func() { postgres.NewQueue(pool, postgres.Schema(name)) }, "schema %q", name)
	}
	assert.NotPanics(t, func() { postgres.NewQueue(pool, postgres.Schema("Ok_1")) })
}

// With PostgreSQL unreachable, Enqueue fails within its call timeout with
// an error the receiver answers 503, and the receiver does so.
func TestUnreachableDatabaseIs503(t *testing.T) {
	s := pgtest.Start(t)
	cfg, err := pgxpool.ParseConfig(s.URL(""))
	require.NoError(t, err)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	schema := newSchema(t, pool)
	in := postgres.New(pool, postgres.Schema(schema), postgres.CallTimeout(300*time.Millisecond))
	url := serve(t, in, receiver.HandlerFunc(func(context.Context, *driver.Event) error { return nil }))
	require.Equal(t, http.StatusOK, deliver(http.DefaultClient, url, "up"))
	waitSettled(t, pool, schema, 5*time.Second) // "up" handled and recorded before PostgreSQL goes
	s.Stop()

	q := in.Queue(postgres.Endpoint("pgtest"))
	start := time.Now()
	err = q.Enqueue(context.Background(), &driver.Event{Provider: "pgtest", ID: "down", Body: []byte("{}"), Attempt: 1, ClaimToken: dedupe.NewToken()})
	assert.ErrorIs(t, err, postgres.ErrUnavailable)
	assert.ErrorIs(t, err, driver.ErrQueueFull)
	assert.Equal(t, http.StatusServiceUnavailable, receiver.StatusCode(err))
	status, reason := receiver.Classify(err)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "unavailable", reason)
	assert.Less(t, time.Since(start), 2*time.Second, "Enqueue bounded by its call timeout")
	assert.Equal(t, http.StatusServiceUnavailable, deliver(http.DefaultClient, url, "down"))
}

// The one-statement request path: a redelivery of a stored event is
// acknowledged without storing it again, an event held by an admission
// claim of the full Store (outcome unknown) is answered 503, and events
// without an ID are stored each time.
func TestEnqueueClaimsInOneStatement(t *testing.T) {
	pool := shared(t)
	schema := newSchema(t, pool)
	in := postgres.New(pool, postgres.Schema(schema), postgres.PollInterval(20*time.Millisecond))
	var mu sync.Mutex
	handled := map[string]int{}
	url := serve(t, in, receiver.HandlerFunc(func(_ context.Context, e *driver.Event) error {
		mu.Lock()
		handled[e.ID]++
		mu.Unlock()
		return nil
	}))
	c := http.DefaultClient
	assert.Equal(t, http.StatusOK, deliver(c, url, "evt_1"))
	assert.Equal(t, http.StatusOK, deliver(c, url, "evt_1"), "redelivery while queued")
	waitSettled(t, pool, schema, 5*time.Second)
	assert.Equal(t, http.StatusOK, deliver(c, url, "evt_1"), "redelivery once done")
	assert.Equal(t, 1, count(t, pool, `SELECT count(*) FROM `+events(schema)+` WHERE event_id = 'evt_1'`), "rows stored")

	_, err := in.Store().Claim(context.Background(), dedupe.Key("pgtest", "evt_2"), dedupe.NewToken(), time.Hour)
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, deliver(c, url, "evt_2"), "event admitted by another delivery")
	assert.Zero(t, count(t, pool, `SELECT count(*) FROM `+events(schema)+` WHERE event_id = 'evt_2'`))

	q := in.Queue(postgres.Endpoint("other"), postgres.PollOnly())
	for range 2 {
		require.NoError(t, q.Enqueue(context.Background(), &driver.Event{Provider: "pgtest", Body: []byte("{}"), ClaimToken: dedupe.NewToken()}))
	}
	ev := &driver.Event{Provider: "pgtest", ID: "same-token", Body: []byte("{}"), ClaimToken: dedupe.NewToken()}
	require.NoError(t, q.Enqueue(context.Background(), ev))
	require.NoError(t, q.Enqueue(context.Background(), ev), "the same Enqueue again")
	assert.Equal(t, 3, count(t, pool, `SELECT count(*) FROM `+events(schema)+` WHERE endpoint = 'other'`))
	assert.ErrorIs(t, q.Enqueue(context.Background(), &driver.Event{Provider: "pgtest", ID: "a\x00b", ClaimToken: "x"}), postgres.ErrUnstorable)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, handled["evt_1"])
}

// A transactional handler's write commits with the event's completion; an
// attempt that lost its event (another instance took it) rolls back, and
// the event's effect commits once.
func TestTxHandlerCommitsOnce(t *testing.T) {
	pool := shared(t)
	schema := newSchema(t, pool)
	createEffects(t, pool, schema)
	in := postgres.New(pool, postgres.Schema(schema), postgres.PollInterval(20*time.Millisecond), postgres.Visibility(600*time.Millisecond))
	insert := `INSERT INTO ` + pgx.Identifier{schema, "effects"}.Sanitize() + ` (event_id) VALUES ($1)`
	var mu sync.Mutex
	attempts := map[string]int{}
	var lost []error
	url := serve(t, in, postgres.TxHandler(func(ctx context.Context, tx pgx.Tx, e *driver.Event) error {
		if _, err := tx.Exec(ctx, insert, e.ID); err != nil {
			return err
		}
		mu.Lock()
		attempts[e.ID]++
		first := attempts[e.ID] == 1
		mu.Unlock()
		if e.ID == "stolen" && first {
			// Another instance takes the event meanwhile: its lock changes.
			if _, err := pool.Exec(ctx, `UPDATE `+events(schema)+` SET lock_id = 1 WHERE event_id = 'stolen'`); err != nil {
				return err
			}
			err := postgres.CompleteTx(ctx, tx, e)
			mu.Lock()
			lost = append(lost, err)
			mu.Unlock()
			return err
		}
		return nil
	}))
	assert.Equal(t, http.StatusOK, deliver(http.DefaultClient, url, "plain"))
	assert.Equal(t, http.StatusOK, deliver(http.DefaultClient, url, "stolen"))
	waitSettled(t, pool, schema, 10*time.Second)
	effects := effectCounts(t, pool, schema)
	assert.Equal(t, map[string]int{"plain": 1, "stolen": 1}, effects)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 2, attempts["stolen"], "attempts of the stolen event (the first rolled back)")
	require.Len(t, lost, 1)
	assert.ErrorIs(t, lost[0], postgres.ErrLeaseLost)
}

// Outside a postgres Queue, TxHandler refuses permanently and CompleteTx
// says so.
func TestTxHandlerOutsideQueue(t *testing.T) {
	h := postgres.TxHandler(func(context.Context, pgx.Tx, *driver.Event) error { return nil })
	err := h.HandleEvent(context.Background(), &driver.Event{ID: "x"})
	assert.ErrorIs(t, err, postgres.ErrNotQueued)
	assert.ErrorIs(t, err, receiver.ErrPermanent)
	assert.ErrorIs(t, postgres.CompleteTx(context.Background(), nil, &driver.Event{}), postgres.ErrNotQueued)
}

// Handled events are kept as history: found by provider, type, ID, state
// and time, replayed on request, and deleted past their retention in
// bounded batches.
func TestHistoryFindReplayCleanup(t *testing.T) {
	pool := shared(t)
	schema := newSchema(t, pool)
	in := postgres.New(pool, postgres.Schema(schema), postgres.PollInterval(20*time.Millisecond),
		postgres.History(time.Hour), postgres.CleanupInterval(-1), postgres.CleanupBatch(2))
	var mu sync.Mutex
	handled := map[string]int{}
	url := serve(t, in, receiver.HandlerFunc(func(_ context.Context, e *driver.Event) error {
		mu.Lock()
		handled[e.ID]++
		mu.Unlock()
		if e.ID == "h_bad" {
			return receiver.Permanent(errors.New("refused by handler"))
		}
		return nil
	}))
	before := time.Now().Add(-time.Second)
	for _, id := range []string{"h_1", "h_2", "h_3", "h_4", "h_bad"} {
		require.Equal(t, http.StatusOK, deliver(http.DefaultClient, url, id))
	}
	waitSettled(t, pool, schema, 5*time.Second)
	ctx := context.Background()

	all, err := in.Find(ctx, postgres.Filter{Provider: "pgtest", Type: "payment.settled", Since: before, Until: time.Now().Add(time.Second)})
	require.NoError(t, err)
	assert.Len(t, all, 5)
	assert.Greater(t, all[0].Seq, all[4].Seq, "newest first")
	page, err := in.Find(ctx, postgres.Filter{Limit: 2})
	require.NoError(t, err)
	require.Len(t, page, 2)
	rest, err := in.Find(ctx, postgres.Filter{Before: page[1].Seq})
	require.NoError(t, err)
	assert.Len(t, rest, 3, "the next page")
	none, err := in.Find(ctx, postgres.Filter{Since: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	assert.Empty(t, none)

	dead, err := in.Find(ctx, postgres.Filter{ID: "h_bad"})
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, postgres.StateDead, dead[0].State)
	assert.Contains(t, dead[0].LastError, "refused by handler")
	assert.Equal(t, "pgtest", dead[0].Endpoint)
	assert.Equal(t, `{"id":"h_bad","amount":42}`, string(dead[0].Event.Body))
	assert.False(t, dead[0].FinishedAt.IsZero())

	one, err := in.Find(ctx, postgres.Filter{ID: "h_1", State: postgres.StateDone})
	require.NoError(t, err)
	require.Len(t, one, 1)
	got, err := in.Get(ctx, one[0].Seq)
	require.NoError(t, err)
	assert.Equal(t, "application/json", got.Event.Header.Get("Content-Type"))
	_, err = in.Get(ctx, -1)
	assert.ErrorIs(t, err, postgres.ErrNotFound)

	seq, err := in.Replay(ctx, one[0].Seq)
	require.NoError(t, err)
	assert.Greater(t, seq, one[0].Seq)
	waitSettled(t, pool, schema, 5*time.Second)
	mu.Lock()
	assert.Equal(t, 2, handled["h_1"], "a replayed event runs again")
	mu.Unlock()
	_, err = in.Replay(ctx, -1)
	assert.ErrorIs(t, err, postgres.ErrNotFound)

	n, err := in.Cleanup(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing past a retention of an hour")
	for i := range 3 {
		_, err := in.Store().Claim(ctx, dedupe.Key("pgtest", "lapsing_"+string(rune('a'+i))), dedupe.NewToken(), time.Millisecond)
		require.NoError(t, err)
	}
	time.Sleep(5 * time.Millisecond)
	n, err = in.Cleanup(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 3, n, "expired dedupe marks deleted")
	_, err = pool.Exec(ctx, `UPDATE `+events(schema)+` SET finished_at = finished_at - interval '2 hours'`)
	require.NoError(t, err)
	n, err = in.Cleanup(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 6, n, "history rows deleted, in batches of 2")
	assert.Zero(t, count(t, pool, `SELECT count(*) FROM `+events(schema)))
}

// MaxBacklog bounds an endpoint's events queued or running: beyond it
// Enqueue answers ErrQueueFull (503) until workers catch up.
func TestMaxBacklogBound(t *testing.T) {
	pool := shared(t)
	schema := newSchema(t, pool)
	q := postgres.NewQueue(pool, postgres.Schema(schema), postgres.Endpoint("bound"), postgres.MaxBacklog(3),
		postgres.PollInterval(20*time.Millisecond), postgres.Workers(1))
	release := make(chan struct{})
	require.NoError(t, q.Start(procFunc(func(ctx context.Context, _ *driver.Event) driver.Result {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return driver.Result{}
	})))
	t.Cleanup(func() { _ = q.Shutdown(bounded()) })
	ev := func() *driver.Event {
		return &driver.Event{Provider: "pgtest", Body: []byte("{}"), Attempt: 1, ClaimToken: dedupe.NewToken()}
	}
	for range 3 {
		require.NoError(t, q.Enqueue(context.Background(), ev()))
	}
	require.Eventually(t, func() bool { return errors.Is(q.Enqueue(context.Background(), ev()), driver.ErrQueueFull) },
		2*time.Second, 10*time.Millisecond, "Enqueue beyond MaxBacklog refused")
	stats, err := q.Stats(context.Background())
	require.NoError(t, err)
	assert.GreaterOrEqual(t, stats.Depth, 3)
	close(release)
	require.Eventually(t, func() bool { return q.Enqueue(context.Background(), ev()) == nil }, 3*time.Second, 10*time.Millisecond,
		"Enqueue accepted again once the backlog drained")
}

// procFunc is a driver.Processor of endpoint "bound".
type procFunc func(ctx context.Context, e *driver.Event) driver.Result

func (procFunc) Endpoint() string                                             { return "bound" }
func (f procFunc) Process(ctx context.Context, e *driver.Event) driver.Result { return f(ctx, e) }
func (procFunc) Abandon(context.Context, *driver.Event, error)                {}

// Copies left by an Enqueue whose outcome was unknown run once: the copy
// whose delivery released its claim (the receiver does after a failed
// Enqueue) finds the key held by the sender's retry and is skipped, and a
// copy of an event done meanwhile is skipped too.
func TestUnknownOutcomeCopiesRunOnce(t *testing.T) {
	pool := shared(t)
	schema := newSchema(t, pool)
	in := postgres.New(pool, postgres.Schema(schema), postgres.PollInterval(20*time.Millisecond))
	ctx := context.Background()
	store, q := in.Store(), in.Queue(postgres.Endpoint("pgtest"))
	enqueue := func(id, token string) {
		t.Helper()
		require.NoError(t, q.Enqueue(ctx, &driver.Event{Provider: "pgtest", ID: id, Type: "payment.settled",
			Body: []byte(`{}`), Attempt: 1, ClaimToken: token}))
	}
	claim := func(id, token string) {
		t.Helper()
		out, err := store.Claim(ctx, dedupe.Key("pgtest", id), token, time.Hour)
		require.NoError(t, err)
		require.Equal(t, dedupe.Claimed, out)
		held, err := store.Confirm(ctx, dedupe.Key("pgtest", id), token, time.Hour)
		require.NoError(t, err)
		require.True(t, held)
	}
	// evt_a: stored by delivery A, whose claim was then released; the
	// sender's retry B claimed the key and stored a second copy.
	a, b := dedupe.NewToken(), dedupe.NewToken()
	claim("evt_a", a)
	enqueue("evt_a", a)
	require.NoError(t, store.Release(ctx, dedupe.Key("pgtest", "evt_a"), a))
	claim("evt_a", b)
	enqueue("evt_a", b)
	// evt_d: a copy whose event is done by another delivery.
	enqueue("evt_d", dedupe.NewToken())
	require.NoError(t, store.Complete(ctx, dedupe.Key("pgtest", "evt_d"), dedupe.NewToken(), time.Hour))
	// evt_f: a copy whose key was released and not taken again: it runs.
	f := dedupe.NewToken()
	claim("evt_f", f)
	enqueue("evt_f", f)
	require.NoError(t, store.Release(ctx, dedupe.Key("pgtest", "evt_f"), f))

	var mu sync.Mutex
	handled := map[string][]string{}
	serve(t, in, receiver.HandlerFunc(func(_ context.Context, e *driver.Event) error {
		mu.Lock()
		handled[e.ID] = append(handled[e.ID], e.ClaimToken)
		mu.Unlock()
		return nil
	}))
	waitSettled(t, pool, schema, 5*time.Second)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[string][]string{"evt_a": {b}, "evt_f": {f}}, handled)
	// The copy that ran marked the key done with its token.
	out, err := store.Claim(ctx, dedupe.Key("pgtest", "evt_a"), dedupe.NewToken(), time.Hour)
	require.NoError(t, err)
	assert.Equal(t, dedupe.Duplicate, out)
}

// A queue started under the name of an instance that died takes back the
// events that instance left running at once, not when their lease lapses.
func TestRestartedInstanceReclaimsAtOnce(t *testing.T) {
	pool := shared(t)
	schema := newSchema(t, pool)
	opts := []postgres.Option{postgres.Schema(schema), postgres.Endpoint("bound"), postgres.Instance("host:8080"),
		postgres.Visibility(time.Hour), postgres.PollInterval(20 * time.Millisecond)}
	first := postgres.NewQueue(pool, opts...)
	running, release := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release) })
	require.NoError(t, first.Start(procFunc(func(context.Context, *driver.Event) driver.Result {
		close(running)
		<-release // a handler that ignores cancellation: the instance dies before it returns
		return driver.Result{}
	})))
	require.NoError(t, first.Enqueue(context.Background(), &driver.Event{Provider: "pgtest", ID: "cut", Body: []byte("{}"), Attempt: 1, ClaimToken: dedupe.NewToken()}))
	<-running
	// The instance dies with the attempt running: its outcome is never
	// recorded (Shutdown past its deadline and grace stops recording).
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = first.Shutdown(ctx)
	require.Equal(t, 1, count(t, pool, `SELECT count(*) FROM `+events(schema)+` WHERE state = 'running'`))

	second := postgres.NewQueue(pool, opts...)
	got := make(chan string, 1)
	require.NoError(t, second.Start(procFunc(func(_ context.Context, e *driver.Event) driver.Result {
		got <- e.ID
		return driver.Result{}
	})))
	t.Cleanup(func() { _ = second.Shutdown(bounded()) })
	select {
	case id := <-got:
		assert.Equal(t, "cut", id)
	case <-time.After(5 * time.Second):
		t.Fatal("the event left running was not taken back (its lease is an hour)")
	}
}

// Find returns at most 1000 rows, whatever the limit asked.
func TestFindBound(t *testing.T) {
	pool := shared(t)
	schema := newSchema(t, pool)
	_, err := pool.Exec(context.Background(), `INSERT INTO `+events(schema)+` (endpoint, provider, event_id, type, body, claim_token)
SELECT 'e', 'p', 'id_' || i, 't', '\x7b7d'::bytea, 'tok_' || i FROM generate_series(1, 1001) AS i`)
	require.NoError(t, err)
	in := postgres.New(pool, postgres.Schema(schema))
	for _, limit := range []int{0, 1001, 5000} {
		recs, err := in.Find(context.Background(), postgres.Filter{Limit: limit})
		require.NoError(t, err)
		assert.Len(t, recs, 1000, "limit %d", limit)
	}
	recs, err := in.Find(context.Background(), postgres.Filter{Limit: 3, Provider: "p"})
	require.NoError(t, err)
	assert.Len(t, recs, 3)
}

// An event enqueued by one instance wakes the idle workers of another at
// once through LISTEN/NOTIFY: the consumer here polls once an hour.
func TestNotifyWakesOtherInstances(t *testing.T) {
	pool := shared(t)
	schema := newSchema(t, pool)
	consumer := postgres.NewQueue(pool, postgres.Schema(schema), postgres.Endpoint("bound"), postgres.PollInterval(time.Hour))
	got := make(chan string, 10)
	require.NoError(t, consumer.Start(procFunc(func(_ context.Context, e *driver.Event) driver.Result {
		got <- e.ID
		return driver.Result{}
	})))
	t.Cleanup(func() { _ = consumer.Shutdown(bounded()) })
	producer := postgres.NewQueue(pool, postgres.Schema(schema), postgres.Endpoint("bound"))
	time.Sleep(200 * time.Millisecond) // the consumer's LISTEN is in place
	for _, id := range []string{"n1", "n2"} {
		require.NoError(t, producer.Enqueue(context.Background(), &driver.Event{Provider: "pgtest", ID: id, Body: []byte("{}"), Attempt: 1, ClaimToken: dedupe.NewToken()}))
		select {
		case gotID := <-got:
			assert.Equal(t, id, gotID)
		case <-time.After(5 * time.Second):
			t.Fatalf("%s not run: no notification reached the other instance", id)
		}
	}
}

// Heartbeats renew a running attempt's lease: a handler that runs for
// several times the visibility timeout is not run again meanwhile.
func TestHeartbeatKeepsLongAttempt(t *testing.T) {
	pool := shared(t)
	schema := newSchema(t, pool)
	q := postgres.NewQueue(pool, postgres.Schema(schema), postgres.Endpoint("bound"),
		postgres.Visibility(300*time.Millisecond), postgres.PollInterval(20*time.Millisecond))
	var mu sync.Mutex
	runs := 0
	require.NoError(t, q.Start(procFunc(func(context.Context, *driver.Event) driver.Result {
		mu.Lock()
		runs++
		mu.Unlock()
		time.Sleep(1200 * time.Millisecond)
		return driver.Result{}
	})))
	t.Cleanup(func() { _ = q.Shutdown(bounded()) })
	require.NoError(t, q.Enqueue(context.Background(), &driver.Event{Provider: "pgtest", ID: "long", Body: []byte("{}"), Attempt: 1, ClaimToken: dedupe.NewToken()}))
	waitSettled(t, pool, schema, 5*time.Second)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, runs, "runs of an attempt four times longer than its lease")
}
