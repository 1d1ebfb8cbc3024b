package postgres_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/adapters/postgres"
	"github.com/hookwise/hookwise/flow"
	"github.com/hookwise/hookwise/internal/faulttest"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// fanoutOrderMode, in childModeEnv, makes the child a receiver with one
// fan-out route to two transactional targets and per-key ordering
// (fanoutOrderChildMain).
const fanoutOrderMode = "fanout-order"

// The fan-out targets of the fanout-order child, and the type of its
// events.
var fanoutOrderTargets = []string{"a", "b"}

const fanoutOrderType = "order.changed"

// fanoutOrderHold is the child's Ordering.Hold: longer than the gap
// between two attempts of one event across the kill (the second child's
// start, plus the 1 s visibility before it takes over the events the first
// held), short enough that a line entry left behind by the kill (a Join
// whose enqueue never happened) holds its key back only briefly.
const fanoutOrderHold = 5 * time.Second

// createFanoutEffects creates the table the fanout-order child's targets
// record their runs in, one row per committed run, id in commit order per
// line (a line's next event starts only after the previous committed).
func createFanoutEffects(t testing.TB, pool *pgxpool.Pool, schema string) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `CREATE TABLE `+pgx.Identifier{schema, "fanout_effects"}.Sanitize()+
		` (id bigserial PRIMARY KEY, event_id text NOT NULL, target text NOT NULL, key text NOT NULL, seq int NOT NULL,
  at timestamptz NOT NULL DEFAULT clock_timestamp())`)
	require.NoError(t, err)
}

// fanoutOrderChildMain serves a receiver whose one route fans events out
// to the targets "a" and "b", each a TxHandler recording (event ID,
// target, key, seq) in fanout_effects, with events ordered by their "key"
// field through the Inbox's OrderStore; it prints its address and serves
// until killed.
func fanoutOrderChildMain() int {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(os.Getenv("PG_URL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg.MaxConns = 24
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	schema := os.Getenv("PG_SCHEMA")
	in := postgres.New(pool, postgres.Schema(schema), postgres.PollInterval(50*time.Millisecond),
		postgres.Visibility(time.Second), postgres.Workers(8))
	insert := `INSERT INTO ` + pgx.Identifier{schema, "fanout_effects"}.Sanitize() + ` (event_id, target, key, seq) VALUES ($1, $2, $3, $4)`
	record := postgres.TxHandler(func(ctx context.Context, tx pgx.Tx, e *driver.Event) error {
		var p faulttest.OrderedPayload
		if err := json.Unmarshal(e.Body, &p); err != nil {
			return receiver.Permanent(err)
		}
		_, err := tx.Exec(ctx, insert, e.ID, e.Target, p.Key, p.Seq)
		return err
	})
	mux := receiver.NewMux()
	targets := map[string]receiver.Handler{}
	for _, name := range fanoutOrderTargets {
		targets[name] = record
	}
	mux.Fanout(fanoutOrderType, targets)
	opts := append(in.Options("pgtest"),
		receiver.WithOrdering(receiver.Ordering{Key: flow.FieldKey("key"), Store: in.OrderStore(), Hold: fanoutOrderHold}),
		receiver.Backoff(50*time.Millisecond, 200*time.Millisecond)) // waits for a key's turn of 200 ms at most
	return faulttest.ServeChild(receiver.New(testProvider{}, mux, opts...))
}

// fanoutEffect is one row of fanout_effects.
type fanoutEffect struct {
	id, target, key string
	seq             int
	at              time.Time
}

// fanoutEffects returns the rows of fanout_effects in commit order.
func fanoutEffects(t testing.TB, pool *pgxpool.Pool, schema string) []fanoutEffect {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT event_id, target, key, seq, at FROM `+
		pgx.Identifier{schema, "fanout_effects"}.Sanitize()+` ORDER BY id`)
	require.NoError(t, err)
	var out []fanoutEffect
	for rows.Next() {
		var f fanoutEffect
		require.NoError(t, rows.Scan(&f.id, &f.target, &f.key, &f.seq, &f.at))
		out = append(out, f)
	}
	require.NoError(t, rows.Err())
	return out
}

// A receiver process with fan-out to two transactional targets and per-key
// ordering, killed with SIGKILL mid-load and replaced: every acknowledged
// event has exactly one committed run per target (the attempts the dead
// process held roll back and run again in the next one), and each target
// ran each key's events in the order they were sent and acknowledged
// (an attempt cut short keeps its place at the head of its line until it
// runs again).
func TestKill9FanoutKeepsOrderAndCommitsEachCopyOnce(t *testing.T) {
	pool := newPool(t, 10)
	schema := newSchema(t, pool)
	createFanoutEffects(t, pool, schema)
	t.Setenv(childModeEnv, fanoutOrderMode)
	start := time.Now()
	first := startChild(t, schema)
	var addr atomic.Pointer[string]
	addr.Store(&first.Addr)
	l := faulttest.NewOrderedLoad(func() string { return "http://" + *addr.Load() + "/" },
		func(h http.Header, id string, body []byte) {
			h.Set("X-Event-Id", id)
			h.Set("X-Event-Type", fanoutOrderType)
			h.Set("X-Signature", hex.EncodeToString(sign(body)))
		})

	// 20 keys of 15 events, each key's next event sent 150 ms after the
	// previous one's acknowledgement: the handlers keep up with the load
	// closely enough that the kill, after a third of the events, finds
	// copies committed, running and waiting their turn.
	const nKeys, perKey, pause = 20, 15, 150 * time.Millisecond
	const total = nKeys * perKey
	keys := faulttest.Keys(nKeys)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx, keys, perKey, pause) }()
	for l.Acked.Load() < total/3 {
		require.NoError(t, ctx.Err(), "a third of the events acknowledged")
		time.Sleep(5 * time.Millisecond)
	}
	first.Kill()
	killedAt := time.Since(start)
	ackedAtKill := l.Acked.Load()
	var queued, running, copies int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE state = 'queued'),
  count(*) FILTER (WHERE state = 'running'), count(*) FILTER (WHERE target <> '') FROM `+
		pgx.Identifier{schema, "events"}.Sanitize()).Scan(&queued, &running, &copies))
	committedAtKill := len(fanoutEffects(t, pool, schema))

	second := startChild(t, schema)
	addr.Store(&second.Addr)
	require.NoError(t, <-done)
	loadDone := time.Since(start)
	waitSettled(t, pool, schema, 30*time.Second)
	settled := time.Since(start)

	effects := fanoutEffects(t, pool, schema)
	type line struct{ key, target string }
	type copyOf struct{ id, target string }
	runs := map[copyOf]int{}  // committed runs per event copy
	order := map[line][]int{} // seqs per line, in commit order
	last := map[line]time.Time{}
	var gap time.Duration // the longest wait between two commits of a line
	var gapLine line
	for _, f := range effects {
		ln := line{f.key, f.target}
		runs[copyOf{f.id, f.target}]++
		order[ln] = append(order[ln], f.seq)
		if prev, ok := last[ln]; ok && f.at.Sub(prev) > gap {
			gap, gapLine = f.at.Sub(prev), ln
		}
		last[ln] = f.at
	}
	lost, twice, outOfOrder := map[string]int{}, map[string]int{}, 0
	for _, k := range keys {
		ackedSeqs := l.AckedSeqs(k)
		for _, seq := range ackedSeqs {
			for _, target := range fanoutOrderTargets {
				if runs[copyOf{faulttest.OrderedID(k, seq), target}] == 0 {
					lost[target]++
				}
			}
		}
		for _, target := range fanoutOrderTargets {
			if !assert.Equal(t, ackedSeqs, order[line{k, target}], "key %s, target %s: committed order", k, target) {
				outOfOrder++
			}
		}
	}
	for c, n := range runs {
		if n > 1 {
			twice[c.target]++
		}
	}
	var dead, liveEntries, rows int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM `+
		pgx.Identifier{schema, "dead_letters"}.Sanitize()).Scan(&dead))
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM `+
		pgx.Identifier{schema, "order_lines"}.Sanitize()+` WHERE expires_at > now()`).Scan(&liveEntries))
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM `+
		pgx.Identifier{schema, "events"}.Sanitize()+` WHERE target <> ''`).Scan(&rows))

	t.Logf("sent %d requests (refused %d, statuses %v), acknowledged %d events of %d; copies stored %d, committed runs %d",
		l.Sent.Load(), l.Refused.Load(), l.Statuses(), l.Acked.Load(), total, rows, len(effects))
	t.Logf("killed at %v after %d acknowledged: events queued %d, running %d, copies stored %d, runs committed %d",
		killedAt.Round(time.Millisecond), ackedAtKill, queued, running, copies, committedAtKill)
	t.Logf("per target: lost %v, committed twice %v; lines out of order %d; dead letters %d; live line entries left %d",
		lost, twice, outOfOrder, dead, liveEntries)
	t.Logf("load done at %v, settled at %v; longest wait between two commits of a line %v (key %s, target %s; ordering hold %v)",
		loadDone.Round(time.Millisecond), settled.Round(time.Millisecond), gap.Round(time.Millisecond), gapLine.key, gapLine.target, fanoutOrderHold)

	assert.Positive(t, committedAtKill, "runs committed before the kill")
	assert.Positive(t, queued+running, "events left queued or running by the killed process")

	assert.EqualValues(t, total, l.Acked.Load(), "events acknowledged")
	for _, target := range fanoutOrderTargets {
		assert.Zero(t, lost[target], "acknowledged events lost for target %s", target)
		assert.Zero(t, twice[target], "events committed twice for target %s", target)
	}
	assert.Len(t, effects, len(fanoutOrderTargets)*total, "one committed run per event and target")
	assert.Zero(t, outOfOrder, "lines whose committed order differs from the acknowledged order")
	assert.Zero(t, dead, "dead letters")
}
