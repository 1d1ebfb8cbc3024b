package redisq

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// wire is a go-redis hook that records every pipeline sent (each command's
// arguments) and can hold the first pipeline that holds a command matching
// hold until released.
type wire struct {
	mu        sync.Mutex
	pipelines [][][]any
	hold      func(args []any) bool
	held      chan struct{} // closed when a pipeline is held
	release   chan struct{} // closed to let it go
}

func newWire() *wire { return &wire{held: make(chan struct{}), release: make(chan struct{})} }

func (w *wire) DialHook(next redis.DialHook) redis.DialHook { return next }
func (w *wire) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		w.record([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}
func (w *wire) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if w.record(cmds) {
			close(w.held)
			<-w.release
		}
		return next(ctx, cmds)
	}
}

// record adds cmds and reports whether to hold them.
func (w *wire) record(cmds []redis.Cmder) (hold bool) {
	p := make([][]any, len(cmds))
	for i, c := range cmds {
		p[i] = c.Args()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pipelines = append(w.pipelines, p)
	if w.hold != nil {
		for _, args := range p {
			if w.hold(args) {
				w.hold = nil
				return true
			}
		}
	}
	return false
}

// calls returns the arguments of every EVALSHA of script sent, in order.
func (w *wire) calls(script string) [][]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out [][]any
	for _, p := range w.pipelines {
		for _, args := range p {
			if isScript(args, script) {
				out = append(out, args)
			}
		}
	}
	return out
}

func isScript(args []any, hash string) bool {
	return len(args) > 1 && strings.EqualFold(fmt.Sprint(args[0]), "evalsha") && args[1] == hash
}

// ackedIDs counts the entry IDs of ackScript calls (evalsha, hash, 1, stream, group, ids…).
func ackedIDs(calls [][]any) int {
	n := 0
	for _, c := range calls {
		n += len(c) - 5
	}
	return n
}

// TestFinisherBatchesAcks holds the first acknowledgement in flight until
// every entry the queue may hold was handled, and checks that the others
// then go out together: one XACK and XDEL for all of them.
func TestFinisherBatchesAcks(t *testing.T) {
	_, rdb := startRedis(t)
	w := newWire()
	w.hold = func(args []any) bool { return isScript(args, ackScript.Hash()) }
	rdb.AddHook(w)
	const workers, prefetch = 4, 4
	const n = workers + prefetch // all the entries the queue holds before one is acknowledged
	q := New(rdb, fast(Workers(workers), Prefetch(prefetch))...)
	enqueueN(t, q, 0, n)
	rec := newRecorder(nil)
	require.NoError(t, q.Start(rec))
	defer shutdown(t, q)
	select {
	case <-w.held:
	case <-time.After(10 * time.Second):
		t.Fatal("no acknowledgement sent")
	}
	rec.waitFor(t, 10*time.Second, "every entry handled while the first acknowledgement is held", allSeen(ids(n), 1))
	close(w.release)
	require.Eventually(t, func() bool { return rdb.XLen(context.Background(), DefaultStream).Val() == 0 },
		10*time.Second, 10*time.Millisecond, "entries left in the stream")
	acks := w.calls(ackScript.Hash())
	assert.Equal(t, n, ackedIDs(acks), "entries acknowledged")
	assert.LessOrEqual(t, len(acks), 2, "ack calls for %d entries: the held one, then one for the rest", n)
	pending, err := rdb.XPending(context.Background(), DefaultStream, DefaultGroup).Result()
	require.NoError(t, err)
	assert.Zero(t, pending.Count, "entries pending")
}

// TestLoneEntryFinishedPromptly checks that batching adds no wait when load
// is low: a lone entry is acknowledged as soon as its attempt returned, not
// when more entries come or a timer fires.
func TestLoneEntryFinishedPromptly(t *testing.T) {
	_, rdb := startRedis(t)
	w := newWire()
	rdb.AddHook(w)
	returned := make(chan time.Time, 1)
	q := New(rdb, fast(PollInterval(3*time.Second), VisibilityTimeout(time.Hour))...)
	require.NoError(t, q.Start(procFunc(func(context.Context, *driver.Event) driver.Result {
		returned <- time.Now()
		return driver.Result{}
	})))
	defer shutdown(t, q)
	require.NoError(t, q.Enqueue(context.Background(), testEvent(1)))
	var at time.Time
	select {
	case at = <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("entry not handled")
	}
	require.Eventually(t, func() bool { return len(w.calls(ackScript.Hash())) == 1 }, 10*time.Second, time.Millisecond,
		"the lone entry was not acknowledged")
	took := time.Since(at)
	t.Logf("acknowledged %v after its attempt returned", took)
	// Generous for a loaded machine, and below the poll interval, the only
	// timer of a queue at work.
	assert.Less(t, took, 2*time.Second)
	assert.Eventually(t, func() bool { return rdb.XLen(context.Background(), DefaultStream).Val() == 0 },
		10*time.Second, time.Millisecond, "entries left")
}

// TestFlushSplitsAcks checks the bound on the IDs of one acknowledging
// script call.
func TestFlushSplitsAcks(t *testing.T) {
	_, rdb := startRedis(t)
	w := newWire()
	rdb.AddHook(w)
	q := New(rdb, fast()...)
	q.procCtx = context.Background()
	batch := make([]done, 2*maxAckIDs+1)
	for i := range batch {
		batch[i] = q.newDone(fmt.Sprintf("1-%d", i), nil, nil)
	}
	assert.Empty(t, q.flush(batch), "failed")
	acks := w.calls(ackScript.Hash())
	require.Len(t, acks, 3)
	for _, a := range acks {
		assert.LessOrEqual(t, len(a)-5, maxAckIDs)
	}
	assert.Equal(t, len(batch), ackedIDs(acks))
}

// TestCompleteGoesWithTheAck runs a receiver with a Redis dedupe store and
// queue on one client: the dedupe completion of an event is sent in the
// pipeline of its acknowledgement, before it, and the key ends done.
func TestCompleteGoesWithTheAck(t *testing.T) {
	_, rdb := startRedis(t)
	w := newWire()
	rdb.AddHook(w)
	handled := make(chan string, 4)
	q := New(rdb, fast()...)
	rc, err := receiver.New(headerProvider{}, receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
		handled <- e.ID
		return nil
	}), receiver.WithStore(dedupe.NewRedis(rdb)), receiver.WithQueue(q), receiver.WithDeadLetters(NewDeadLetters(rdb)))
	require.NoError(t, err)
	hs := httptest.NewServer(rc)
	defer hs.Close()
	defer func() { _ = rc.Shutdown(context.Background()) }()

	req, err := http.NewRequest(http.MethodPost, hs.URL, strings.NewReader(`{}`))
	require.NoError(t, err)
	req.Header.Set("X-Id", "evt_1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode/100*100)
	select {
	case id := <-handled:
		require.Equal(t, "evt_1", id)
	case <-time.After(10 * time.Second):
		t.Fatal("event not handled")
	}
	require.Eventually(t, func() bool { return rdb.XLen(context.Background(), DefaultStream).Val() == 0 },
		10*time.Second, 10*time.Millisecond, "entry not acknowledged")

	w.mu.Lock()
	pipelines := w.pipelines
	w.mu.Unlock()
	found := false
	for _, p := range pipelines {
		for i, args := range p {
			if !isScript(args, ackScript.Hash()) {
				continue
			}
			found = true
			require.Positive(t, i, "the ack pipeline holds no command before the ack: %v", p)
			prev := p[i-1]
			assert.Equal(t, "evalsha", fmt.Sprint(prev[0]))
			key := fmt.Sprint(prev[3])
			assert.True(t, strings.HasPrefix(key, dedupe.DefaultRedisPrefix), "command before the ack: %v", prev)
			assert.Equal(t, "d", rdb.Get(context.Background(), key).Val(), "dedupe key after the ack")
		}
	}
	assert.True(t, found, "no ack sent")
}

func TestDefaultPrefetch(t *testing.T) {
	for workers, want := range map[int]int{1: 4, 8: 32, 64: 256, 1000: 256} {
		assert.Equal(t, want, newConfig([]Option{Workers(workers)}).prefetch, "workers %d", workers)
	}
	assert.Equal(t, 3, newConfig([]Option{Workers(8), Prefetch(3)}).prefetch, "Prefetch set")
	assert.Zero(t, newConfig([]Option{Workers(8), Prefetch(0)}).prefetch, "Prefetch(0)")
}

// TestFinisherOutlastsOutage stops Redis after a handler started, and
// keeps it down for several visibility timeouts after the handler returned:
// once Redis is back, the entry is acknowledged and its dedupe key done, and
// the event is not handled again (giving up on the acknowledgement would
// have left the key confirmed by the entry's own token, and the reclaimed
// entry would have run again).
func TestFinisherOutlastsOutage(t *testing.T) {
	srv, direct := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true,
		DialTimeout: 200 * time.Millisecond, MaxRetryBackoff: 50 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	const visibility = 300 * time.Millisecond
	started, proceed := make(chan struct{}, 4), make(chan struct{})
	var mu sync.Mutex
	handled := 0
	q := New(rdb, fast(VisibilityTimeout(visibility), ClaimInterval(50*time.Millisecond), CallTimeout(300*time.Millisecond))...)
	rc, err := receiver.New(headerProvider{}, receiver.HandlerFunc(func(context.Context, *receiver.Event) error {
		started <- struct{}{}
		<-proceed
		mu.Lock()
		handled++
		mu.Unlock()
		return nil
	}), receiver.WithStore(dedupe.NewRedis(rdb, dedupe.WithRedisTimeout(300*time.Millisecond))), receiver.WithQueue(q),
		receiver.WithDeadLetters(NewDeadLetters(rdb)), receiver.StoreTimeout(300*time.Millisecond))
	require.NoError(t, err)
	hs := httptest.NewServer(rc)
	defer hs.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = rc.Shutdown(ctx)
	}()

	req, err := http.NewRequest(http.MethodPost, hs.URL, strings.NewReader(`{}`))
	require.NoError(t, err)
	req.Header.Set("X-Id", "evt_outage")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode/100*100)
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("handler not started")
	}
	srv.Stop()
	close(proceed)
	time.Sleep(5 * visibility) // down well past the visibility timeout
	srv.Restart(t)

	ctx := context.Background()
	require.Eventually(t, func() bool { return direct.XLen(ctx, DefaultStream).Val() == 0 }, 15*time.Second, 10*time.Millisecond,
		"entry not acknowledged after Redis came back")
	time.Sleep(3 * visibility) // a reclaimed copy would run by now
	mu.Lock()
	assert.Equal(t, 1, handled, "handled")
	mu.Unlock()
	assert.Empty(t, started, "the handler started again")
	keys, err := direct.Keys(ctx, dedupe.DefaultRedisPrefix+"*").Result()
	require.NoError(t, err)
	require.Len(t, keys, 1)
	assert.Equal(t, "d", direct.Get(ctx, keys[0]).Val(), "dedupe key")
}

type replyErr string

func (e replyErr) Error() string { return string(e) }
func (replyErr) RedisError()     {}

func TestTransient(t *testing.T) {
	_, rdb := startRedis(t)
	ctx := context.Background()
	require.NoError(t, rdb.Set(ctx, "s", "x", 0).Err())
	refused := rdb.Incr(ctx, "s").Err()
	require.Error(t, refused)
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer down.Close()
	unreachable := down.Ping(ctx).Err()
	require.Error(t, unreachable)

	assert.True(t, transient(unreachable), "connection refused")
	assert.True(t, transient(context.DeadlineExceeded), "timeout")
	assert.True(t, transient(fmt.Errorf("wrapped: %w", context.Canceled)), "wrapped")
	assert.True(t, transient(replyErr("LOADING Redis is loading the dataset in memory")), "LOADING")
	assert.True(t, transient(replyErr("NOSCRIPT No matching script")), "NOSCRIPT")
	assert.True(t, transient(replyErr("READONLY You can't write against a read only replica.")), "READONLY")
	assert.False(t, transient(refused), "a command Redis refuses: %v", refused)
	assert.False(t, transient(replyErr("NOGROUP No such key or consumer group")), "NOGROUP")
}
