package redisq

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// ClaimFor agrees only for a dedupe.Redis on the queue's own single-node
// client, with a positive admission lease; it sends nothing.
func TestClaimForAgreesOnlyOnOneServerAndClient(t *testing.T) {
	one := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	other := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	t.Cleanup(func() { _, _, _ = one.Close(), other.Close(), cluster.Close() })

	assert.True(t, New(one).ClaimFor(dedupe.NewRedis(one), time.Second, time.Hour), "store on the queue's client")
	assert.False(t, New(one).ClaimFor(dedupe.NewRedis(other), time.Second, time.Hour), "store on another client")
	assert.False(t, New(one).ClaimFor(storeOnly{dedupe.NewRedis(one)}, time.Second, time.Hour), "a store wrapped in another type")
	assert.False(t, New(one).ClaimFor(dedupe.NewMemory(), time.Second, time.Hour), "a store in memory")
	assert.False(t, New(one).ClaimFor(dedupe.NewRedis(one), 0, time.Hour), "no admission lease")
	assert.False(t, New(cluster).ClaimFor(dedupe.NewRedis(cluster), time.Second, time.Hour), "Redis Cluster: keys in other slots")
}

// Enqueue of a queue that claims admits the event's key in the store's
// format, adds nothing when another delivery holds the key, and is
// idempotent for one delivery.
func TestEnqueueClaimsTheKey(t *testing.T) {
	_, rdb := startRedis(t)
	ctx := context.Background()
	store := dedupe.NewRedis(rdb)
	q := New(rdb, fast()...)
	require.True(t, q.ClaimFor(store, 1500*time.Millisecond, time.Hour))
	ev := func(id, token string) *driver.Event {
		return &driver.Event{Provider: "p", ID: id, Type: "t", ClaimToken: token, Attempt: 1, Body: []byte("{}")}
	}
	length := func() int64 { return rdb.XLen(ctx, DefaultStream).Val() }
	redisKey := func(id string) string { return q.claimKey(ev(id, "x").DedupeKey()) }

	require.NoError(t, q.Enqueue(ctx, ev("e1", "tok1")))
	assert.Equal(t, "a:tok1", rdb.Get(ctx, redisKey("e1")).Val(), "admitted for the delivery's token")
	ttl := rdb.PTTL(ctx, redisKey("e1")).Val()
	assert.True(t, ttl > time.Second && ttl <= 1500*time.Millisecond, "admission lease: %v", ttl)
	assert.EqualValues(t, 1, length())

	require.NoError(t, q.Enqueue(ctx, ev("e1", "tok1")), "the same call again (as go-redis re-sends it)")
	assert.EqualValues(t, 1, length(), "added once")
	assert.Zero(t, rdb.Exists(ctx, q.enqueued+"tok1").Val(), "the claim is the idempotency key: no key of its own")

	err := q.Enqueue(ctx, ev("e1", "tok2"))
	assert.ErrorIs(t, err, driver.ErrPending, "another delivery admitted the key")
	assert.ErrorIs(t, err, receiver.ErrPending)
	assert.EqualValues(t, 1, length(), "nothing added while pending")

	held, err := store.Confirm(ctx, "p:e1", "tok1", time.Minute)
	require.NoError(t, err)
	require.True(t, held)
	require.NoError(t, q.Enqueue(ctx, ev("e1", "tok1")), "the same call re-sent after its entry's reader confirmed it")
	assert.EqualValues(t, 1, length(), "still added once")
	assert.ErrorIs(t, q.Enqueue(ctx, ev("e1", "tok3")), driver.ErrDuplicate, "confirmed by another delivery")
	require.NoError(t, store.Complete(ctx, "p:e1", "tok1", time.Minute))
	assert.ErrorIs(t, q.Enqueue(ctx, ev("e1", "tok4")), driver.ErrDuplicate, "done")
	assert.EqualValues(t, 1, length(), "no duplicate added")

	require.NoError(t, q.Enqueue(ctx, &driver.Event{Provider: "p", Type: "t", ClaimToken: "tok5", Attempt: 1}), "no ID: nothing to claim")
	assert.EqualValues(t, 2, length())

	// After the admission lapses (an enqueue whose outcome was unknown and
	// whose release failed), the sender's retry is claimed and added.
	require.NoError(t, q.Enqueue(ctx, ev("e2", "tok6")))
	rdb.PExpire(ctx, redisKey("e2"), time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	require.NoError(t, q.Enqueue(ctx, ev("e2", "tok7")))
	assert.Equal(t, "a:tok7", rdb.Get(ctx, redisKey("e2")).Val())
}

// A backlog at MaxLen refuses the event without admitting its key, so the
// sender's retry is not answered pending.
func TestEnqueueRefusedByTheBoundClaimsNothing(t *testing.T) {
	_, rdb := startRedis(t)
	ctx := context.Background()
	q := New(rdb, fast(MaxLen(1))...)
	require.True(t, q.ClaimFor(dedupe.NewRedis(rdb), time.Second, time.Hour))
	require.NoError(t, q.Enqueue(ctx, &driver.Event{Provider: "p", ID: "e1", ClaimToken: "t1", Attempt: 1}))
	err := q.Enqueue(ctx, &driver.Event{Provider: "p", ID: "e2", ClaimToken: "t2", Attempt: 1})
	require.ErrorIs(t, err, driver.ErrQueueFull)
	assert.Zero(t, rdb.Exists(ctx, q.claimKey("p:e2")).Val(), "no claim left behind")
}

// An enqueue that Redis refuses (the bound's check or the XADD failing)
// leaves no admission behind, so the sender's retry is claimed, not
// answered pending for the lease.
func TestEnqueueRefusedByRedisLeavesNoClaim(t *testing.T) {
	_, rdb := startRedis(t)
	ctx := context.Background()
	for _, bound := range []int64{0, 10} {
		t.Run(fmt.Sprintf("bound=%d", bound), func(t *testing.T) {
			stream, id := fmt.Sprintf("broken-%d", bound), fmt.Sprintf("e%d", bound)
			q := New(rdb, fast(Stream(stream), MaxLen(bound))...)
			require.True(t, q.ClaimFor(dedupe.NewRedis(rdb), time.Minute, time.Hour))
			require.NoError(t, rdb.Set(ctx, stream, "not a stream", 0).Err(), "XLEN and XADD answer WRONGTYPE")
			err := q.Enqueue(ctx, &driver.Event{Provider: "p", ID: id, ClaimToken: "t1", Attempt: 1})
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrUnavailable)
			assert.Contains(t, err.Error(), "WRONGTYPE", "Redis's error, passed on")
			assert.Zero(t, rdb.Exists(ctx, q.claimKey("p:"+id)).Val(), "no claim left behind")

			require.NoError(t, rdb.Del(ctx, stream).Err())
			require.NoError(t, q.Enqueue(ctx, &driver.Event{Provider: "p", ID: id, ClaimToken: "t2", Attempt: 1}), "the retry is claimed")
			assert.Equal(t, "a:t2", rdb.Get(ctx, q.claimKey("p:"+id)).Val())
			assert.EqualValues(t, 1, rdb.XLen(ctx, stream).Val())
		})
	}
}

// A receiver with a Redis store and queue on one client sends one script
// per delivery on the request path (the claiming enqueue), answers a
// duplicate 2xx and a concurrent delivery 503, and runs the event once.
func TestReceiverWithClaimingQueue(t *testing.T) {
	_, rdb := startRedis(t)
	w := newWire()
	rdb.AddHook(w)
	var runs atomic.Int32
	release := make(chan struct{})
	q := New(rdb, fast()...)
	rc, err := receiver.New(headerProvider{}, receiver.HandlerFunc(func(context.Context, *receiver.Event) error {
		runs.Add(1)
		<-release
		return nil
	}), receiver.WithStore(dedupe.NewRedis(rdb)), receiver.WithQueue(q), receiver.WithDeadLetters(NewDeadLetters(rdb)))
	require.NoError(t, err)
	hs := httptest.NewServer(rc)
	t.Cleanup(hs.Close)
	t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })
	deliver := func(id string) int {
		req, err := http.NewRequest(http.MethodPost, hs.URL, strings.NewReader(`{}`))
		require.NoError(t, err)
		req.Header.Set("X-Id", id)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, deliver("evt_1"))
	assert.Len(t, w.calls(enqueueClaimScript.Hash()), 1, "claimed and added in one script")
	assert.Empty(t, w.calls(enqueueScript.Hash()))
	require.Eventually(t, func() bool { return runs.Load() == 1 }, 10*time.Second, 5*time.Millisecond)
	assert.Len(t, w.calls(confirmAheadScript.Hash()), 1, "the reader confirmed the claim")
	assert.Zero(t, storeCalls(w), "the attempt's Confirm was answered without a call")
	assert.Equal(t, http.StatusOK, deliver("evt_1"), "a duplicate while the event runs (its claim confirmed)")
	close(release)
	require.NoError(t, rc.Drain(context.Background()))
	require.Eventually(t, func() bool { return storeCalls(w) == 1 }, 5*time.Second, 5*time.Millisecond,
		"one store call in all: the Complete, sent with the acknowledgement")
	assert.Equal(t, http.StatusOK, deliver("evt_1"), "a duplicate once done")
	assert.EqualValues(t, 1, runs.Load(), "handled once")
	assert.EqualValues(t, 0, rdb.XLen(context.Background(), DefaultStream).Val(), "the duplicates added no entry")
}

// A delivery that finds another's admission of the key is answered 503
// (pending) and stores nothing.
func TestReceiverClaimingQueueAnswersPending(t *testing.T) {
	_, rdb := startRedis(t)
	q := New(rdb, fast()...)
	store := dedupe.NewRedis(rdb)
	var reason atomic.Value
	rc, err := receiver.New(headerProvider{}, receiver.HandlerFunc(func(context.Context, *receiver.Event) error { return nil }),
		receiver.WithStore(store), receiver.WithQueue(q), receiver.WithDeadLetters(NewDeadLetters(rdb)),
		receiver.WithObserver(receiver.ObserverFunc(func(_ context.Context, o receiver.Observation) {
			if o.Stage == receiver.StageRejected {
				reason.Store(o.Reason)
			}
		})))
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })
	_, err = store.Claim(context.Background(), "fp:evt_9", "someone-else", time.Minute)
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`))
	req.Header.Set("X-Id", "evt_9")
	rw := httptest.NewRecorder()
	rc.ServeHTTP(rw, req)
	assert.Equal(t, http.StatusServiceUnavailable, rw.Code)
	assert.Equal(t, receiver.ReasonPending, reason.Load())
	assert.EqualValues(t, 0, rdb.XLen(context.Background(), DefaultStream).Val())
}

// storeCalls counts the script calls w saw that are not the queue's: those
// of the dedupe store (Claim, Confirm, Complete, Release).
func storeCalls(w *wire) int {
	queue := map[string]bool{}
	for _, sc := range []interface{ Hash() string }{enqueueScript, enqueueClaimScript, confirmAheadScript, ackScript, retryScript, moveScript} {
		queue[sc.Hash()] = true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, p := range w.pipelines {
		for _, args := range p {
			if len(args) > 1 && fmt.Sprint(args[0]) == "evalsha" && !queue[fmt.Sprint(args[1])] {
				n++
			}
		}
	}
	return n
}

// An ID of any length makes a dedupe key of one length in Redis (the
// store's hash of it): a sender choosing huge IDs cannot make huge keys.
func TestEnqueueClaimKeyBoundedWhateverTheID(t *testing.T) {
	_, rdb := startRedis(t)
	ctx := context.Background()
	q := New(rdb, fast()...)
	require.True(t, q.ClaimFor(dedupe.NewRedis(rdb), time.Minute, time.Hour))
	var lengths []int
	for _, n := range []int{1, 64, 64 << 10} {
		e := &driver.Event{Provider: "p", ID: strings.Repeat("i", n), Type: "t", ClaimToken: "tok" + strconv.Itoa(n), Attempt: 1}
		require.NoError(t, q.Enqueue(ctx, e))
		keys, err := rdb.Keys(ctx, dedupe.DefaultRedisPrefix+"*").Result()
		require.NoError(t, err)
		require.Len(t, keys, len(lengths)+1, "one dedupe key per event")
		lengths = append(lengths, len(q.claimKey(e.DedupeKey())))
		assert.Equal(t, "a:"+e.ClaimToken, rdb.Get(ctx, q.claimKey(e.DedupeKey())).Val())
	}
	assert.Equal(t, []int{lengths[0], lengths[0], lengths[0]}, lengths, "key lengths for IDs of 1 B, 64 B and 64 KiB")
	assert.Equal(t, len(dedupe.DefaultRedisPrefix)+32, lengths[0])
}
