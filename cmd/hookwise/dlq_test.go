package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/internal/redistest"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/redisq"
)

// failing is a handler that dead-letters the events whose ID it is told
// to fail, and records every event it handles.
type failing struct {
	mu      sync.Mutex
	fail    map[string]bool
	handled map[string]int
}

func (f *failing) HandleEvent(_ context.Context, e *receiver.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail[e.ID] {
		return receiver.Permanent(errors.New("billing service said no"))
	}
	f.handled[e.ID]++
	return nil
}

func (f *failing) count(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.handled[id]
}

func (f *failing) heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = map[string]bool{}
}

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	e, out, errb := testEnv()
	code := run(context.Background(), args, e)
	return code, out.String(), errb.String()
}

// dlq against a real redis-server and a real receiver on the Redis queue:
// deliveries sent with "hookwise send" fail and are dead-lettered; list
// filters them, show decodes one, replay sends one through the receiver's
// normal path (its dedupe mark released, handled by the receiver's worker),
// purge deletes the rest.
func TestDLQAgainstRedisAndAReceiver(t *testing.T) {
	srv := redistest.Start(t)
	redisURL := "redis://" + srv.Addr + "/0"
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	stream := "hookwise:{stripe}:stream"
	h := &failing{fail: map[string]bool{"evt_dlq_1": true, "evt_dlq_2": true}, handled: map[string]int{}}
	q := redisq.New(rdb, redisq.Stream(stream), redisq.Consumer("test"), redisq.PollInterval(20*time.Millisecond))
	rc, err := receiver.New(receivingProvider(t, "stripe"), h,
		receiver.WithQueue(q), receiver.WithStore(dedupe.NewRedis(rdb)),
		receiver.WithDeadLetters(redisq.NewDeadLetters(rdb, redisq.Stream(stream))))
	require.NoError(t, err)
	url := serveReceiver(t, rc)

	for _, a := range [][]string{
		{"send", "stripe", "-url", url, "-id", "evt_dlq_1", "-set", "data.object.amount_paid=4200"},
		{"send", "stripe", "-url", url, "-id", "evt_dlq_2", "-type", "payment_intent.succeeded"},
		{"send", "stripe", "-url", url, "-id", "evt_dlq_ok"},
	} {
		code, out, errOut := runCmd(t, a...)
		require.Equal(t, exitOK, code, out+errOut)
	}
	require.True(t, eventually(t, func() bool { return h.count("evt_dlq_ok") == 1 }))
	dl := redisq.NewDeadLetters(rdb, redisq.Stream(stream))
	require.True(t, eventually(t, func() bool { l, _ := dl.List(context.Background(), 0); return len(l) == 2 }))

	// list: both, oldest first; filtered by type, provider and age.
	code, out, _ := runCmd(t, "dlq", "list", "-redis", redisURL)
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "evt_dlq_1")
	assert.Contains(t, out, "evt_dlq_2")
	assert.Contains(t, out, "billing service said no")
	assert.Less(t, strings.Index(out, "evt_dlq_1"), strings.Index(out, "evt_dlq_2"))
	code, out, _ = runCmd(t, "dlq", "list", "-redis", redisURL, "-stream", stream, "-type", "payment_intent.*", "-json")
	require.Equal(t, exitOK, code)
	var l listed
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(out)), &l))
	assert.Equal(t, "evt_dlq_2", l.ID)
	assert.Equal(t, stream, l.Stream)
	code, _, _ = runCmd(t, "dlq", "list", "-redis", redisURL, "-provider", "github")
	assert.Equal(t, exitNegative, code)
	code, _, _ = runCmd(t, "dlq", "list", "-redis", redisURL, "-older-than", "1h")
	assert.Equal(t, exitNegative, code)
	code, out, _ = runCmd(t, "dlq", "list", "-redis", redisURL, "-newer-than", "1h", "-limit", "1")
	assert.Equal(t, exitOK, code)
	assert.Equal(t, 2, strings.Count(out, "\n"), out) // the heading and one

	// show: the payload decoded and indented, signatures redacted.
	code, out, _ = runCmd(t, "dlq", "show", "-redis", redisURL, "evt_dlq_1")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "reason:      billing service said no")
	assert.Contains(t, out, `"amount_paid": 4200`)
	assert.NotContains(t, out, "v1=")

	// replay: handled by the receiver through its queue and dedupe.
	h.heal()
	code, out, errOut := runCmd(t, "dlq", "replay", "-redis", redisURL, "evt_dlq_1")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "replayed stripe evt_dlq_1")
	assert.True(t, eventually(t, func() bool { return h.count("evt_dlq_1") == 1 }), "the receiver handled the replayed event")
	left, err := dl.List(context.Background(), 0)
	require.NoError(t, err)
	require.Len(t, left, 1)
	assert.Equal(t, "evt_dlq_2", left[0].Event.ID)
	// The replayed event is marked done again: a redelivery is a duplicate.
	code, _, _ = runCmd(t, "send", "stripe", "-url", url, "-id", "evt_dlq_1")
	require.Equal(t, exitOK, code)
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, 1, h.count("evt_dlq_1"), "not handled twice")

	// purge needs IDs or -all-matching; then deletes.
	code, _, _ = runCmd(t, "dlq", "purge", "-redis", redisURL)
	assert.Equal(t, exitUsage, code)
	code, out, _ = runCmd(t, "dlq", "purge", "-redis", redisURL, "-all-matching", "-provider", "stripe")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "purged stripe evt_dlq_2")
	code, _, _ = runCmd(t, "dlq", "list", "-redis", redisURL)
	assert.Equal(t, exitNegative, code)
	assert.Zero(t, h.count("evt_dlq_2"))
}

func TestDLQErrors(t *testing.T) {
	code, _, _ := runCmd(t, "dlq")
	assert.Equal(t, exitUsage, code)
	code, _, _ = runCmd(t, "dlq", "nope")
	assert.Equal(t, exitUsage, code)
	code, _, _ = runCmd(t, "dlq", "show", "-redis", "redis://127.0.0.1:1/0")
	assert.Equal(t, exitUsage, code)
	code, _, _ = runCmd(t, "dlq", "list", "-redis", "notaurl")
	assert.Equal(t, exitUsage, code)
	code, _, _ = runCmd(t, "dlq", "list", "-older-than", "soon")
	assert.Equal(t, exitUsage, code)
	// Redis unreachable: exit 3.
	port := redistest.FreePort(t)
	code, _, _ = runCmd(t, "dlq", "list", "-redis", "redis://127.0.0.1:"+itoa(port)+"/0")
	assert.Equal(t, exitIO, code)
	d, err := parseAge("7d")
	require.NoError(t, err)
	assert.Equal(t, 7*24*time.Hour, d)
}

// Pointed at PostgreSQL, dlq says in one line to use hookwise-pg.
func TestDLQPostgresHint(t *testing.T) {
	for _, args := range [][]string{
		{"dlq", "list", "-redis", "postgres://u@127.0.0.1:5432/app"},
		{"dlq", "show", "-redis", "PostgreSQL://127.0.0.1/app", "evt_1"},
		{"dlq", "list", "-database", "postgres://127.0.0.1/app"},
	} {
		code, out, errOut := runCmd(t, args...)
		assert.Equal(t, exitUsage, code, args)
		assert.Empty(t, out)
		assert.Equal(t, 1, strings.Count(errOut, "\n"), errOut)
		assert.Contains(t, errOut, "go install github.com/hookwise/hookwise/adapters/postgres/cmd/hookwise-pg@latest")
		assert.Contains(t, errOut, "hookwise-pg dlq list -database URL")
	}
}

// -h never prints $REDIS_URL (a password it may hold); it is still the
// default of -redis.
func TestDLQRedisURLFromEnvironment(t *testing.T) {
	srv := redistest.Start(t)
	t.Setenv("REDIS_URL", "redis://:s3cret@127.0.0.1:1/0")
	code, _, errOut := runCmd(t, "dlq", "list", "-h")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, errOut, "-redis")
	assert.NotContains(t, errOut, "s3cret")
	t.Setenv("REDIS_URL", "redis://"+srv.Addr+"/0")
	code, _, errOut = runCmd(t, "dlq", "list")
	assert.Equal(t, exitNegative, code, errOut) // reached the empty database
	assert.Contains(t, errOut, "no dead letter matches")
}
