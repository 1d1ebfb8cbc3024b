package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/adapters/postgres"
	"github.com/hookwise/hookwise/internal/faulttest"
	"github.com/hookwise/hookwise/internal/pgfault"
	"github.com/hookwise/hookwise/internal/pgtest"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// The whole pipeline (receiver, the Inbox's one-statement request path,
// its queue and dead letters, and a transactional handler recording one
// effect row per run) over a real HTTP server, with the pgx pool talking
// to a real PostgreSQL through internal/pgfault, a protocol-aware proxy
// that cuts a connection after a statement was applied, holds a reply past
// the call timeout, or cuts every connection at once. A sender delivers
// each event and retries every non-2xx answer, as providers do. Every
// scenario counts deliveries sent (retries included), acknowledged,
// handled (events with an effect row), handled twice (more than one) and
// lost (acknowledged, no effect); docs/reliability.md records the counts
// (go test -C adapters/postgres -race -count=1 -v -run NetFault .).

const nfCallTimeout = 300 * time.Millisecond

// The statements of queue.go and tx.go the faults aim at, by their text.
var (
	// The request path's statement: claims the event's dedupe key and
	// stores the event.
	nfEnqueue = pgfault.Contains("WITH claim AS (")
	// A worker's claim of due events.
	nfClaim = pgfault.Contains("SET state = 'running', lock_id = $3")
	// The attempt's completion, in the transactional handler's transaction.
	nfComplete = pgfault.Contains("WITH done AS (")
	// The commit of that transaction (pgx sends it as a simple query).
	nfCommit = pgfault.Verbs("COMMIT")
	// The finisher's statement recording attempts' outcomes.
	nfFinish = pgfault.Contains("WITH f AS (")
)

// logCounter counts log records by message.
type logCounter struct {
	mu   sync.Mutex
	msgs map[string]int
}

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logCounter) WithGroup(string) slog.Handler            { return l }
func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs[r.Message]++
	l.mu.Unlock()
	return nil
}

func (l *logCounter) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msgs[msg]
}

func (l *logCounter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(l.msgs)) {
		fmt.Fprintf(&b, "\n  %q: %d", k, l.msgs[k])
	}
	return b.String()
}

// netPipeline is a receiver on the Inbox through a fault proxy, with its
// counts.
type netPipeline struct {
	t      *testing.T
	direct *pgxpool.Pool // to PostgreSQL, for checks
	proxy  *pgfault.Proxy
	schema string
	url    string
	client *http.Client
	logs   *logCounter
	in     *postgres.Inbox
	rcv    *receiver.Receiver

	*faulttest.Sender // deliveries, retries included, and their answers
}

// netHandler is the effects handler (see effectsHandler) taking delay
// inside its transaction; with failFirst, each event's first attempt
// fails after its write (rolled back).
func netHandler(schema string, delay time.Duration, failFirst bool) receiver.Handler {
	insert := `INSERT INTO ` + pgx.Identifier{schema, "effects"}.Sanitize() + ` (event_id) VALUES ($1)`
	return postgres.TxHandler(func(ctx context.Context, tx pgx.Tx, e *driver.Event) error {
		if delay > 0 {
			time.Sleep(delay)
		}
		if _, err := tx.Exec(ctx, insert, e.ID); err != nil {
			return err
		}
		if failFirst && e.Attempt == 1 {
			return errors.New("first attempt fails after its write")
		}
		return nil
	})
}

func newNetPipeline(t *testing.T, h func(schema string) receiver.Handler, opts ...receiver.Option) *netPipeline {
	t.Helper()
	p := &netPipeline{t: t, direct: newPool(t, 10), logs: &logCounter{msgs: map[string]int{}}}
	p.schema = newSchema(t, p.direct)
	createEffects(t, p.direct, p.schema)
	p.proxy = pgfault.New(t, fmt.Sprintf("127.0.0.1:%d", server(t).Port))
	cfg, err := pgxpool.ParseConfig(fmt.Sprintf("postgres://%s@%s/postgres?sslmode=disable&connect_timeout=2", pgtest.User, p.proxy.Addr()))
	require.NoError(t, err)
	cfg.MaxConns = 20
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	log := slog.New(p.logs)
	in := postgres.New(pool, postgres.Schema(p.schema), postgres.PollInterval(50*time.Millisecond),
		postgres.Visibility(time.Second), postgres.CallTimeout(nfCallTimeout), postgres.Logger(log))
	ropts := append(in.Options("pgtest"), receiver.Backoff(10*time.Millisecond, 50*time.Millisecond), receiver.WithLogger(log))
	r, err := receiver.New(testProvider{}, h(p.schema), append(ropts, opts...)...)
	require.NoError(t, err)
	p.in, p.rcv = in, r
	hs := httptest.NewServer(r)
	p.url = hs.URL
	p.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	p.Sender = faulttest.NewSender(t, 200, 20*time.Millisecond, func(id string) int { return deliver(p.client, p.url, id) })
	t.Cleanup(func() {
		hs.Close()
		_ = r.Shutdown(bounded())
		p.client.CloseIdleConnections()
	})
	return p
}

// settle waits until every acknowledged event was handled, then past the
// visibility timeout (an attempt whose outcome was lost would run again),
// until nothing is queued or running, and reports the counts.
func (p *netPipeline) settle(ids []string) (acked, handled, twice, lost int) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		effects := effectCounts(p.t, p.direct, p.schema)
		missing := 0
		for _, id := range ids {
			if p.Acked(id) && effects[id] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			p.t.Errorf("%d acknowledged events not handled after 20s", missing)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // the visibility timeout (1 s) and a poll
	waitSettled(p.t, p.direct, p.schema, 10*time.Second)
	acked, handled, twice, lost = p.Tally(ids, effectCounts(p.t, p.direct, p.schema))
	dead := count(p.t, p.direct, `SELECT count(*) FROM `+events(p.schema)+` WHERE state = 'dead'`)
	assert.Zero(p.t, dead, "events dead-lettered")
	return acked, handled, twice, lost
}

// queuedClaim matches a worker's claim statement while an event of the
// pipeline's schema is queued, so that the claim it matches takes one.
// (The queue's only claimer is its fetch loop, which runs one claim at a
// time.) It holds the statement a moment before it looks: a claim sent by
// the poll while an enqueue's commit is in flight would otherwise find
// nothing queued yet, then take the event, unmatched, and the fault would
// never fire.
func (p *netPipeline) queuedClaim() pgfault.Matcher {
	q := `SELECT count(*) FROM ` + events(p.schema) + ` WHERE state = 'queued'`
	return func(query string) bool {
		if !nfClaim(query) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var n int
		return p.direct.QueryRow(ctx, q).Scan(&n) == nil && n > 0
	}
}

func TestNetFault(t *testing.T) {
	scenarios := []struct {
		name      string
		failFirst bool          // each event's first attempt fails (after its write)
		delay     time.Duration // each attempt's handler takes this long
		arm       func(p *netPipeline)
		check     func(t *testing.T, p *netPipeline)
	}{
		{
			// The request path's statement commits the event and its key;
			// the reply is cut. Enqueue fails (503), the receiver releases
			// its own claim, and the sender's retry stores a second copy:
			// the worker runs one and finds the other held by it.
			name: "enqueue applied, connection cut before the reply",
			arm:  func(p *netPipeline) { p.proxy.CutAfterApply(nfEnqueue, 1) },
		},
		{
			// The same, the reply held past the call timeout (pgx gives up
			// and closes the connection).
			name: "enqueue applied, reply held past the call timeout",
			arm:  func(p *netPipeline) { p.proxy.HoldReply(nfEnqueue, 2*nfCallTimeout, 1) },
		},
		{
			// The same, and a worker takes the stored copy before the call
			// timeout and is still running it when Enqueue gives up: the
			// claim the enqueue wrote is then confirmed, the event stored
			// and taken, so the receiver leaves it (it releases only a
			// claim still admitted) and the sender's retry is acknowledged
			// as a duplicate instead of storing a second copy.
			name:  "enqueue applied, reply held past the call timeout while a worker runs the stored copy",
			delay: 3 * nfCallTimeout,
			arm:   func(p *netPipeline) { p.proxy.HoldReply(nfEnqueue, 2*nfCallTimeout, 1) },
		},
		{
			// A worker's claim marks events running and is cut: nobody runs
			// them until their lease lapses and they are queued again.
			name: "claim of due events applied, connection cut before the reply",
			arm:  func(p *netPipeline) { p.proxy.CutAfterApply(p.queuedClaim(), 1) },
			check: func(t *testing.T, p *netPipeline) {
				assert.Positive(t, p.logs.count("events whose lease lapsed queued again"), "the claimed events were queued again")
			},
		},
		{
			// The completion inside the handler's transaction is cut: the
			// transaction (the effect with it) rolls back, and the attempt
			// is retried.
			name: "completion in the handler's transaction applied, connection cut before the reply",
			arm:  func(p *netPipeline) { p.proxy.CutAfterApply(nfComplete, 1) },
		},
		{
			// The handler's transaction commits (effect and completion) and
			// the reply to COMMIT is cut: the handler fails, and the retry
			// the receiver asks for is recorded nowhere (the event is done).
			name: "commit of the handler's transaction applied, connection cut before the reply",
			arm:  func(p *netPipeline) { p.proxy.CutAfterApply(nfCommit, 1) },
		},
		{
			// The first attempt fails; the finisher's statement recording
			// the retry is applied and cut, and re-sent on a new
			// connection, where it finds the attempt's lock gone.
			name:      "outcome of a failed attempt recorded, connection cut before the reply",
			failFirst: true,
			arm:       func(p *netPipeline) { p.proxy.CutAfterApply(nfFinish, 1) },
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			p := newNetPipeline(t, func(schema string) receiver.Handler { return netHandler(schema, sc.delay, sc.failFirst) })
			sc.arm(p)
			ids := []string{"evt_1", "evt_2", "evt_3"}
			for _, id := range ids {
				p.Deliver(id)
			}
			acked, handled, twice, lost := p.settle(ids)
			assert.Equal(t, len(ids), acked, "acknowledged")
			assert.Equal(t, len(ids), handled, "handled")
			assert.Zero(t, twice, "handled twice")
			assert.Zero(t, lost, "lost")
			st := p.proxy.Stats()
			for _, r := range st.Rules {
				assert.Positive(t, r.Fired, "fault %s fired", r.Kind)
			}
			if sc.check != nil {
				sc.check(t, p)
			}
			t.Logf("proxy: %d statements, %d connections, %d cut; log messages:%s", st.Statements, st.Connections, st.Cuts, p.logs)
		})
	}
}

// Every connection to PostgreSQL cut at once, three times, while events
// are delivered by concurrent senders and handled in transactions that take
// a moment: nothing acknowledged is lost, no effect commits twice.
func TestNetFaultCutAllMidLoad(t *testing.T) {
	p := newNetPipeline(t, func(schema string) receiver.Handler { return netHandler(schema, 2*time.Millisecond, false) })
	const n = 400
	evs := ids("cutall", n)
	var cuts []int
	var outages sync.WaitGroup
	outages.Go(func() {
		for _, at := range []int{n / 4, n / 2, 3 * n / 4} {
			deadline := time.Now().Add(30 * time.Second)
			for p.AckedCount() < at && time.Now().Before(deadline) {
				time.Sleep(2 * time.Millisecond)
			}
			cuts = append(cuts, p.proxy.CutAll())
		}
	})
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, id := range evs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			p.Deliver(id)
		})
	}
	wg.Wait()
	outages.Wait()
	took := time.Since(start)
	acked, handled, twice, lost := p.settle(evs)
	t.Logf("connections cut: %v; delivered in %v; log messages:%s", cuts, took.Round(time.Millisecond), p.logs)
	require.Len(t, cuts, 3)
	for _, c := range cuts {
		assert.Positive(t, c, "connections cut")
	}
	assert.Equal(t, n, acked, "acknowledged")
	assert.Equal(t, n, handled, "handled")
	assert.Zero(t, twice, "handled twice")
	assert.Zero(t, lost, "lost")
}

// The last attempt's commit applied, its reply cut: the handler fails
// with its attempts spent, and the receiver dead-letters the event,
// whose effect committed (its row is done). Replaying that dead letter, as
// an operator would, runs the event again: its effect commits twice.
func TestNetFaultCommitCutOnLastAttempt(t *testing.T) {
	p := newNetPipeline(t, func(schema string) receiver.Handler { return netHandler(schema, 0, false) }, receiver.MaxAttempts(1))
	p.proxy.CutAfterApply(nfCommit, 1)
	ids := []string{"evt_1", "evt_2", "evt_3"}
	for _, id := range ids {
		p.Deliver(id)
	}
	acked, handled, twice, lost := p.settle(ids)
	assert.Equal(t, len(ids), acked, "acknowledged")
	assert.Equal(t, len(ids), handled, "handled")
	assert.Zero(t, twice, "handled twice")
	assert.Zero(t, lost, "lost")
	for _, r := range p.proxy.Stats().Rules {
		assert.Positive(t, r.Fired, "fault %s fired", r.Kind)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dls, err := p.in.DeadLetters().List(ctx, 0)
	require.NoError(t, err)
	var dead []string
	for _, d := range dls {
		dead = append(dead, d.Event.ID)
	}
	effects := effectCounts(t, p.direct, p.schema)
	t.Logf("dead letters %v (their effect rows: %v); log messages:%s", dead, effects, p.logs)
	assert.Empty(t, dead, "dead letters of events whose effect committed")

	// What an operator does with a dead letter.
	for _, d := range dls {
		require.NoError(t, p.rcv.Replay(ctx, d))
	}
	_, _, twice, _ = p.settle(ids)
	assert.Zero(t, twice, "handled twice after replaying the dead letters")
}

// What pgx sees through the proxy, as internal/pgfault documents it: a
// connection with sslmode=prefer goes on in plaintext; a statement cut
// after it was applied fails with the connection's end, committed; a reply
// held past the context's deadline fails with the deadline, committed.
func TestNetFaultProxyWithPgx(t *testing.T) {
	direct := newPool(t, 2)
	schema := newSchema(t, direct)
	createEffects(t, direct, schema)
	proxy := pgfault.New(t, fmt.Sprintf("127.0.0.1:%d", server(t).Port))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s@%s/postgres?sslmode=prefer", pgtest.User, proxy.Addr()))
	require.NoError(t, err)
	insert := `INSERT INTO ` + table(schema, "effects") + ` (event_id) VALUES ($1)`
	_, err = conn.Exec(ctx, insert, "plain")
	require.NoError(t, err)

	cut := proxy.CutAfterApply(pgfault.Contains(insert), 1)
	_, err = conn.Exec(ctx, insert, "cut")
	require.Error(t, err)
	t.Logf("cut: %v", err)
	assert.True(t, conn.IsClosed(), "pgx closed the connection")
	assert.Equal(t, 1, cut.Fired())

	conn, err = pgx.Connect(ctx, fmt.Sprintf("postgres://%s@%s/postgres?sslmode=disable", pgtest.User, proxy.Addr()))
	require.NoError(t, err)
	defer conn.Close(context.Background())
	held := proxy.HoldReply(pgfault.Contains(insert), time.Second, 1)
	hctx, hcancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer hcancel()
	_, err = conn.Exec(hctx, insert, "held")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, 1, held.Fired())
	assert.Equal(t, map[string]int{"plain": 1, "cut": 1, "held": 1}, effectCounts(t, direct, schema), "all three committed")
}
