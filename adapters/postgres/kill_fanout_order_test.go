package postgres_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/adapters/postgres"
	"github.com/hookwise/hookwise/flow"
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

// orderedPayload is the body of a fanout-order delivery: its ordering key
// and its place in its key's sending order.
type orderedPayload struct {
	Key string `json:"key"`
	Seq int    `json:"seq"`
}

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
		var p orderedPayload
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
	r, err := receiver.New(testProvider{}, mux, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ADDR", ln.Addr().String())
	_ = http.Serve(ln, r)
	return 0
}

// orderedLoad sends, for each of its keys, events one after the other (the
// next only once the previous is acknowledged), the keys concurrently, to
// whatever URL target returns at the time, each delivery retried until
// acknowledged.
type orderedLoad struct {
	target func() string
	client *http.Client

	sent, acked, refused atomic.Int64
	mu                   sync.Mutex
	ackedSeqs            map[string][]int // key → seqs in the order acknowledged
	statuses             map[int]int
}

func newOrderedLoad(target func() string) *orderedLoad {
	return &orderedLoad{
		target:    target,
		client:    &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		ackedSeqs: map[string][]int{},
		statuses:  map[int]int{},
	}
}

// orderedID is the event ID of seq of key.
func orderedID(key string, seq int) string { return "fo_" + key + "_" + strconv.Itoa(seq) }

// run sends perKey events for each of keys, pausing after each
// acknowledgement, and returns the first error.
func (l *orderedLoad) run(ctx context.Context, keys []string, perKey int, pause time.Duration) error {
	errs := make(chan error, len(keys))
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Go(func() {
			for seq := range perKey {
				if err := l.deliverUntilAcked(ctx, k, seq); err != nil {
					errs <- err
					return
				}
				time.Sleep(pause)
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (l *orderedLoad) deliverUntilAcked(ctx context.Context, key string, seq int) error {
	id := orderedID(key, seq)
	body, _ := json.Marshal(orderedPayload{Key: key, Seq: seq})
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		l.sent.Add(1)
		status := l.deliver(id, body)
		l.mu.Lock()
		l.statuses[status]++
		l.mu.Unlock()
		if status >= 200 && status < 300 {
			l.mu.Lock()
			l.ackedSeqs[key] = append(l.ackedSeqs[key], seq)
			l.mu.Unlock()
			l.acked.Add(1)
			return nil
		}
		if status != 0 && status != http.StatusServiceUnavailable {
			return errors.New("unexpected status " + strconv.Itoa(status))
		}
		l.refused.Add(1)
		time.Sleep(20 * time.Millisecond)
	}
}

// deliver sends one signed delivery and returns its status, or 0 when the
// request failed.
func (l *orderedLoad) deliver(id string, body []byte) int {
	req, err := http.NewRequest(http.MethodPost, l.target(), bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Event-Id", id)
	req.Header.Set("X-Event-Type", fanoutOrderType)
	req.Header.Set("X-Signature", hex.EncodeToString(sign(body)))
	resp, err := l.client.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
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
	addr.Store(&first.addr)
	l := newOrderedLoad(func() string { return "http://" + *addr.Load() + "/" })

	// 20 keys of 15 events, each key's next event sent 150 ms after the
	// previous one's acknowledgement: the handlers keep up with the load
	// closely enough that the kill, after a third of the events, finds
	// copies committed, running and waiting their turn.
	const nKeys, perKey, pause = 20, 15, 150 * time.Millisecond
	const total = nKeys * perKey
	keys := make([]string, nKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%02d", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.run(ctx, keys, perKey, pause) }()
	for l.acked.Load() < total/3 {
		require.NoError(t, ctx.Err(), "a third of the events acknowledged")
		time.Sleep(5 * time.Millisecond)
	}
	first.kill()
	killedAt := time.Since(start)
	ackedAtKill := l.acked.Load()
	var queued, running, copies int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE state = 'queued'),
  count(*) FILTER (WHERE state = 'running'), count(*) FILTER (WHERE target <> '') FROM `+
		pgx.Identifier{schema, "events"}.Sanitize()).Scan(&queued, &running, &copies))
	committedAtKill := len(fanoutEffects(t, pool, schema))

	second := startChild(t, schema)
	addr.Store(&second.addr)
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
	l.mu.Lock()
	defer l.mu.Unlock()
	lost, twice, outOfOrder := map[string]int{}, map[string]int{}, 0
	for _, k := range keys {
		for _, seq := range l.ackedSeqs[k] {
			for _, target := range fanoutOrderTargets {
				if runs[copyOf{orderedID(k, seq), target}] == 0 {
					lost[target]++
				}
			}
		}
		for _, target := range fanoutOrderTargets {
			if !assert.Equal(t, l.ackedSeqs[k], order[line{k, target}], "key %s, target %s: committed order", k, target) {
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
		l.sent.Load(), l.refused.Load(), l.statuses, l.acked.Load(), total, rows, len(effects))
	t.Logf("killed at %v after %d acknowledged: events queued %d, running %d, copies stored %d, runs committed %d",
		killedAt.Round(time.Millisecond), ackedAtKill, queued, running, copies, committedAtKill)
	t.Logf("per target: lost %v, committed twice %v; lines out of order %d; dead letters %d; live line entries left %d",
		lost, twice, outOfOrder, dead, liveEntries)
	t.Logf("load done at %v, settled at %v; longest wait between two commits of a line %v (key %s, target %s; ordering hold %v)",
		loadDone.Round(time.Millisecond), settled.Round(time.Millisecond), gap.Round(time.Millisecond), gapLine.key, gapLine.target, fanoutOrderHold)

	assert.Positive(t, committedAtKill, "runs committed before the kill")
	assert.Positive(t, queued+running, "events left queued or running by the killed process")

	assert.EqualValues(t, total, l.acked.Load(), "events acknowledged")
	for _, target := range fanoutOrderTargets {
		assert.Zero(t, lost[target], "acknowledged events lost for target %s", target)
		assert.Zero(t, twice[target], "events committed twice for target %s", target)
	}
	assert.Len(t, effects, len(fanoutOrderTargets)*total, "one committed run per event and target")
	assert.Zero(t, outOfOrder, "lines whose committed order differs from the acknowledged order")
	assert.Zero(t, dead, "dead letters")
}
