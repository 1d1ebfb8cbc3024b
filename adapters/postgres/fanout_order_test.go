package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/adapters/postgres"
	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/receiver/driver"
	"github.com/hookwise/hookwise/receiver/drivertest"
)

func table(schema, name string) string { return pgx.Identifier{schema, name}.Sanitize() }

// The OrderStore passes the ordering conformance suite.
func TestOrderStoreConformance(t *testing.T) {
	pool := shared(t)
	// A schema per subtest, a store of its own as the suite expects: the
	// suite's keys are not unique across its subtests (run, a per-subtest
	// counter and a serial are concatenated, then padded with zeros), and a
	// line left behind by one subtest would hold back another's.
	drivertest.RunOrderStore(t, func(t *testing.T) driver.OrderStore {
		return postgres.NewOrderStore(pool, postgres.Schema(schemaFor(t, pool)))
	})
}

// A database at version 1 migrates to version 2: its events and dead
// letters read back with an empty Target, CheckSchema tells the two
// versions apart, and the upgraded tables take fan-out copies and ordering
// lines.
func TestMigrateFromVersion1(t *testing.T) {
	pool := shared(t)
	ctx := context.Background()
	schema := "t_v1_" + strings.ToLower(dedupe.NewToken()[:10])
	opt := postgres.Schema(schema)
	require.NoError(t, postgres.MigrateTo(ctx, pool, 1, opt))
	assert.ErrorIs(t, postgres.CheckSchema(ctx, pool, opt), postgres.ErrSchemaVersion, "a schema at version 1")
	_, err := pool.Exec(ctx, `INSERT INTO `+table(schema, "events")+` (endpoint, provider, event_id, type, body, claim_token, state)
VALUES ('old', 'pgtest', 'evt_old', 'payment.settled', '{"v":1}', 'tok_old', 'done')`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO `+table(schema, "dead_letters")+` (provider, key, event_id, type, attempt, reason, failed_at)
VALUES ('pgtest', 'evt_dead', 'evt_dead', 'payment.settled', 3, 'boom', now())`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `SELECT 1 FROM `+table(schema, "order_lines"))
	require.Error(t, err, "no order_lines table at version 1")

	require.NoError(t, postgres.Migrate(ctx, pool, opt))
	require.NoError(t, postgres.CheckSchema(ctx, pool, opt))
	assert.Equal(t, 2, count(t, pool, `SELECT count(*) FROM `+table(schema, "schema_migrations")))

	in := postgres.New(pool, opt)
	recs, err := in.Find(ctx, postgres.Filter{ID: "evt_old"})
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, "", recs[0].Event.Target)
	assert.Equal(t, "tok_old", recs[0].Event.ClaimToken)
	assert.Equal(t, `{"v":1}`, string(recs[0].Event.Body))
	assert.Equal(t, postgres.StateDone, recs[0].State)
	dls, err := in.DeadLetters().List(ctx, 0)
	require.NoError(t, err)
	require.Len(t, dls, 1)
	assert.Equal(t, "evt_dead", dls[0].Event.ID)
	assert.Equal(t, "", dls[0].Event.Target)
	assert.Equal(t, "boom", dls[0].Reason)

	q := in.Queue(postgres.Endpoint("old"), postgres.PollOnly())
	require.NoError(t, q.Enqueue(ctx, &driver.Event{Provider: "pgtest", ID: "evt_old", Type: "t", Body: []byte("{}"), ClaimToken: dedupe.NewToken(), Target: "billing"}))
	copies, err := in.Find(ctx, postgres.Filter{ID: "evt_old", Target: "billing"})
	require.NoError(t, err)
	require.Len(t, copies, 1, "a fan-out copy stored in the migrated table")
	assert.Equal(t, "billing", copies[0].Event.Target)
	require.NoError(t, in.OrderStore().Join(ctx, strings.Repeat("a", 64), "tok", time.Minute))
	require.NoError(t, postgres.Migrate(ctx, pool, opt), "Migrate again: nothing to do")
}

// The claiming Enqueue of Inbox.Options claims each fan-out copy under its
// own dedupe key ("provider:ID target"): the original and two copies of one
// event ID are all accepted and stored, a second copy of one target is a
// duplicate while the first is stored and once it is done, and the claim
// statement, the deferred completion and Replay all use the copy's own key.
func TestFanoutCopiesClaimedApart(t *testing.T) {
	pool := shared(t)
	ctx := context.Background()
	schema := newSchema(t, pool)
	in := postgres.New(pool, postgres.Schema(schema), postgres.PollInterval(20*time.Millisecond),
		postgres.ClaimLease(time.Hour), postgres.CleanupInterval(-1))
	q := postgres.ClaimingQueue(in, "fan")
	ev := func(target string) *driver.Event {
		return &driver.Event{Provider: "pgtest", ID: "evt_f", Type: "invoice.paid", Body: []byte(`{}`), Attempt: 1,
			ClaimToken: dedupe.NewToken(), Target: target}
	}
	orig, billing, crm := ev(""), ev("billing"), ev("crm")
	for _, e := range []*driver.Event{orig, billing, crm} {
		require.NoError(t, q.Enqueue(ctx, e), "target %q", e.Target)
	}
	assert.ErrorIs(t, q.Enqueue(ctx, ev("billing")), driver.ErrDuplicate, "a second billing copy while the first is stored")
	assert.ErrorIs(t, q.Enqueue(ctx, ev("")), driver.ErrDuplicate, "a redelivery of the original")
	assert.Equal(t, 3, count(t, pool, `SELECT count(*) FROM `+events(schema)+` WHERE event_id = 'evt_f'`))
	keys := func(state int) []string {
		rows, err := pool.Query(ctx, `SELECT convert_from(key, 'UTF8') FROM `+table(schema, "dedupe")+` WHERE state = $1 ORDER BY 1`, state)
		require.NoError(t, err)
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return out
	}
	want := []string{"pgtest:evt_f", "pgtest:evt_f billing", "pgtest:evt_f crm"}
	assert.Equal(t, want, keys(2), "one confirmed claim per copy")

	// The claim statement confirms each copy's claim for the full lease:
	// shorten them, and see them renewed.
	_, err := pool.Exec(ctx, `UPDATE `+table(schema, "dedupe")+` SET expires_at = now() + interval '1 minute'`)
	require.NoError(t, err)
	// The attempt's completion of its own key is deferred to the statement
	// that records its outcome: the key is not done yet when Complete
	// returns (a completion not recognized as the attempt's would be done
	// at once).
	claims := postgres.Claims(in)
	type seen struct {
		err              error
		renewed, pending bool
	}
	var mu sync.Mutex
	got := map[string]seen{}
	require.NoError(t, q.Start(procOf("fan", func(ctx context.Context, e *driver.Event) driver.Result {
		var s seen
		long := `SELECT expires_at > now() + interval '30 minutes' AND state = 2 FROM ` + table(schema, "dedupe") + ` WHERE key = $1 AND token = $2`
		_ = pool.QueryRow(ctx, long, []byte(e.DedupeKey()), e.ClaimToken).Scan(&s.renewed)
		s.err = claims.Complete(ctx, e.DedupeKey(), e.ClaimToken, 2*time.Hour)
		_ = pool.QueryRow(ctx, long, []byte(e.DedupeKey()), e.ClaimToken).Scan(&s.pending)
		mu.Lock()
		got[e.Target] = s
		mu.Unlock()
		return driver.Result{}
	})))
	t.Cleanup(func() { _ = q.Shutdown(bounded()) })
	waitSettled(t, pool, schema, 5*time.Second)
	mu.Lock()
	ok := seen{renewed: true, pending: true}
	assert.Equal(t, map[string]seen{"": ok, "billing": ok, "crm": ok}, got,
		"each copy's claim renewed for the lease by the claim statement, and its completion deferred")
	mu.Unlock()
	assert.Equal(t, want, keys(3), "each copy's key done")
	assert.Equal(t, 3, count(t, pool, `SELECT count(*) FROM `+table(schema, "dedupe")+
		` WHERE expires_at > now() + interval '90 minutes'`), "kept for the retention")
	assert.ErrorIs(t, q.Enqueue(ctx, ev("billing")), driver.ErrDuplicate, "a second billing copy once the first is done")
	assert.Equal(t, 1, count(t, pool, `SELECT count(*) FROM `+events(schema)+` WHERE target = 'billing'`))

	// Replay of the billing copy: a new row with its target, holding the
	// copy's own key.
	recs, err := in.Find(ctx, postgres.Filter{ID: "evt_f", Target: "billing"})
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, "billing", recs[0].Event.Target)
	assert.Equal(t, billing.ClaimToken, recs[0].Event.ClaimToken)
	require.NoError(t, q.Shutdown(bounded()))
	seq, err := in.Replay(ctx, recs[0].Seq)
	require.NoError(t, err)
	replayed, err := in.Get(ctx, seq)
	require.NoError(t, err)
	assert.Equal(t, "billing", replayed.Event.Target)
	assert.Equal(t, postgres.StateQueued, replayed.State)
	assert.Equal(t, replayed.Event.ClaimToken, holder(t, pool, schema, "pgtest:evt_f billing"), "the replay holds the copy's key")
	assert.Equal(t, orig.ClaimToken, holder(t, pool, schema, "pgtest:evt_f"), "the original's key untouched")
	assert.Equal(t, crm.ClaimToken, holder(t, pool, schema, "pgtest:evt_f crm"), "the other copy's key untouched")
}

// holder returns the token holding a dedupe key.
func holder(t *testing.T, pool *pgxpool.Pool, schema, key string) string {
	t.Helper()
	var tok string
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT token FROM `+table(schema, "dedupe")+` WHERE key = $1`, []byte(key)).Scan(&tok))
	return tok
}

// procOf is a driver.Processor of endpoint ep running f.
func procOf(ep string, f func(context.Context, *driver.Event) driver.Result) driver.Processor {
	return funcProc{ep: ep, f: f}
}

type funcProc struct {
	ep string
	f  func(context.Context, *driver.Event) driver.Result
}

func (p funcProc) Endpoint() string                                           { return p.ep }
func (p funcProc) Process(ctx context.Context, e *driver.Event) driver.Result { return p.f(ctx, e) }
func (funcProc) Abandon(context.Context, *driver.Event, error)                {}

// Dead letters of fan-out copies are kept apart and keep their target.
func TestDeadLettersKeepTarget(t *testing.T) {
	pool := shared(t)
	ctx := context.Background()
	dl := postgres.NewDeadLetters(pool, postgres.Schema(newSchema(t, pool)))
	for _, target := range []string{"", "billing", "crm"} {
		require.NoError(t, dl.Put(ctx, driver.DeadLetter{Event: &driver.Event{Provider: "pgtest", ID: "evt_d", Type: "t", Attempt: 2, Target: target},
			Reason: "failed " + target, FailedAt: time.Now()}))
	}
	all, err := dl.List(ctx, 0)
	require.NoError(t, err)
	require.Len(t, all, 3)
	for i, target := range []string{"", "billing", "crm"} {
		assert.Equal(t, target, all[i].Event.Target)
		assert.Equal(t, "failed "+target, all[i].Reason)
	}
	require.NoError(t, dl.Delete(ctx, "pgtest", all[1].Key()))
	rest, err := dl.List(ctx, 0)
	require.NoError(t, err)
	require.Len(t, rest, 2)
	assert.Equal(t, []string{"", "crm"}, []string{rest[0].Event.Target, rest[1].Event.Target}, "only the billing copy's dead letter deleted")
	assert.ErrorIs(t, dl.Put(ctx, driver.DeadLetter{Event: &driver.Event{Provider: "pgtest", ID: "x", Target: "a\x00"}}), postgres.ErrUnstorable)
}

// The Inbox's cleanup deletes the lapsed entries of ordering lines nobody
// asks about again, and keeps live ones.
func TestCleanupDeletesLapsedOrderEntries(t *testing.T) {
	pool := shared(t)
	ctx := context.Background()
	schema := newSchema(t, pool)
	in := postgres.New(pool, postgres.Schema(schema), postgres.CleanupBatch(2))
	lines := in.OrderStore()
	k1, k2 := strings.Repeat("1", 64), strings.Repeat("2", 64)
	for _, tok := range []string{"a", "b", "c"} {
		require.NoError(t, lines.Join(ctx, k1, tok, time.Millisecond))
	}
	require.NoError(t, lines.Join(ctx, k2, "live", time.Hour))
	require.NoError(t, lines.Join(ctx, k2, "lapsing", time.Millisecond))
	time.Sleep(20 * time.Millisecond)
	n, err := in.Cleanup(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 4, n, "the four lapsed entries, in batches of 2")
	assert.Equal(t, 1, count(t, pool, `SELECT count(*) FROM `+table(schema, "order_lines")))
	ok, err := lines.Turn(ctx, k2, "live", time.Hour)
	require.NoError(t, err)
	assert.True(t, ok, "the live entry first in its line")
}

// Joins of one key are serialized until they commit (so that they commit
// in the order of their seq): a Join waits while another transaction holds
// the key's lock, and Joins of other keys do not.
func TestOrderJoinsOfAKeySerialized(t *testing.T) {
	pool := shared(t)
	ctx := context.Background()
	s := postgres.NewOrderStore(pool, postgres.Schema(newSchema(t, pool)), postgres.CallTimeout(300*time.Millisecond))
	key, other := strings.Repeat("b", 64), strings.Repeat("c", 64)
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, postgres.OrderLockKey, key)
	require.NoError(t, err)
	err = s.Join(ctx, key, "waits", time.Minute)
	assert.ErrorIs(t, err, postgres.ErrUnavailable, "Join of the locked key, past its call timeout")
	assert.ErrorIs(t, err, driver.ErrQueueFull, "answered 503 on the request path")
	assert.NoError(t, s.Join(ctx, other, "free", time.Minute), "Join of another key")
	require.NoError(t, tx.Rollback(ctx))
	assert.NoError(t, s.Join(ctx, key, "waits", time.Minute), "Join once the lock is released")
	ok, err := s.Turn(ctx, key, "waits", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok)

	assert.ErrorIs(t, s.Join(ctx, "k\x00", "t", time.Minute), postgres.ErrUnstorable)
	_, err = s.Turn(ctx, key, "\xff", time.Minute)
	assert.ErrorIs(t, err, postgres.ErrUnstorable)
	assert.ErrorIs(t, s.Leave(ctx, key, "\x00"), postgres.ErrUnstorable)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, s.Leave(cctx, key, "waits"), context.Canceled)
}
