package redisbatch

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/internal/leakcheck"
	"github.com/hookwise/hookwise/internal/redistest"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// patience bounds waits that succeed at once on an idle machine.
const patience = 10 * time.Second

func newClient(t testing.TB, addr string, opts ...func(*redis.Options)) *redis.Client {
	t.Helper()
	o := &redis.Options{Addr: addr, ContextTimeoutEnabled: true}
	for _, f := range opts {
		f(o)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// gate is a go-redis hook that records the size of every pipeline and can
// hold pipelines until released.
type gate struct {
	mu     sync.Mutex
	sizes  []int
	hold   bool
	held   chan struct{} // receives when a pipeline is held
	open   chan struct{} // closed to release held pipelines
	before func(n int)   // called with the pipeline's number, before it runs
}

func newGate() *gate {
	return &gate{held: make(chan struct{}, 16), open: make(chan struct{})}
}

func (g *gate) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (g *gate) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (g *gate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		switch cmds[0].Name() {
		case "hello", "client", "auth", "select":
			return next(ctx, cmds) // a new connection's set-up
		}
		g.mu.Lock()
		g.sizes = append(g.sizes, len(cmds))
		n, hold, before := len(g.sizes), g.hold, g.before
		g.mu.Unlock()
		if hold {
			g.held <- struct{}{}
			<-g.open
		}
		if before != nil {
			before(n)
		}
		return next(ctx, cmds)
	}
}

func (g *gate) Sizes() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.sizes...)
}

// waitPending waits until b has n calls queued.
func waitPending(t *testing.T, b *Batcher, n int) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		b.mu.Lock()
		got := len(b.pending)
		b.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func waitHeld(t *testing.T, g *gate) {
	t.Helper()
	select {
	case <-g.held:
	case <-time.After(patience):
		t.Fatal("no pipeline held")
	}
}

func TestSingleCaller(t *testing.T) {
	srv := redistest.Start(t)
	client := newClient(t, srv.Addr)
	b := New(client, patience, 0, 1)
	ctx := context.Background()

	set := redis.NewStatusCmd(ctx, "set", "k", "v")
	get := redis.NewStringCmd(ctx, "get", "k")
	require.NoError(t, b.Do(ctx, set, get))
	require.Equal(t, "OK", set.Val(), "SET")
	require.Equal(t, "v", get.Val(), "GET")
	missing := redis.NewStringCmd(ctx, "get", "missing")
	require.ErrorIs(t, b.Do(ctx, missing), redis.Nil, "GET of a missing key")
	require.NoError(t, b.Do(ctx), "Do without commands")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, b.Do(cctx, redis.NewStatusCmd(ctx, "set", "k", "w")), context.Canceled, "Do with a done ctx")
	require.Equal(t, "v", client.Get(ctx, "k").Val(), "k after a Do with a done ctx")
}

// TestBatchesAndHandOff holds the first pipeline until callers have queued,
// then checks that they run as one pipeline, led by one of them, while the
// first caller has already returned.
func TestBatchesAndHandOff(t *testing.T) {
	srv := redistest.Start(t)
	client := newClient(t, srv.Addr)
	g := newGate()
	g.hold = true
	client.AddHook(g)
	b := New(client, patience, 0, 1)
	ctx := context.Background()

	first := make(chan error, 1)
	go func() { first <- b.Do(ctx, redis.NewIntCmd(ctx, "incr", "n")) }()
	waitHeld(t, g)

	const queued = 20
	cmds := make([]*redis.IntCmd, queued)
	errs := make(chan error, queued)
	for i := range cmds {
		cmds[i] = redis.NewIntCmd(ctx, "incr", "n")
		go func() { errs <- b.Do(ctx, cmds[i]) }()
	}
	waitPending(t, b, queued)

	// The second batch is held too: the first caller must return anyway.
	g.open <- struct{}{} // release the first pipeline only
	require.NoError(t, <-first)
	waitHeld(t, g)
	close(g.open)
	seen := map[int64]bool{1: true}
	for range queued {
		require.NoError(t, <-errs)
	}
	for _, c := range cmds {
		require.False(t, seen[c.Val()], "INCR result %d twice", c.Val())
		seen[c.Val()] = true
	}
	require.Len(t, seen, queued+1, "distinct INCR results")
	require.Equal(t, []int{1, queued}, g.Sizes(), "pipeline sizes")
	b.mu.Lock()
	defer b.mu.Unlock()
	assert.Zero(t, b.inFlight, "in flight after the batches")
	assert.Empty(t, b.pending, "pending after the batches")
}

func TestMaxBatch(t *testing.T) {
	srv := redistest.Start(t)
	tests := []struct {
		name  string
		max   int
		calls []int // commands per queued call
		want  []int // pipeline sizes after the first (1)
	}{
		{"split", 4, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, []int{4, 4, 2}},
		{"call larger than the cap runs alone", 2, []int{3, 1, 1}, []int{3, 2}},
		{"calls are never split", 4, []int{3, 2, 2}, []int{3, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := newClient(t, srv.Addr)
			g := newGate()
			g.hold = true
			client.AddHook(g)
			b := New(client, patience, tc.max, 1)
			ctx := context.Background()
			done := make(chan error, len(tc.calls)+1)
			go func() { done <- b.Do(ctx, redis.NewStatusCmd(ctx, "ping")) }()
			waitHeld(t, g)
			for i, n := range tc.calls {
				cmds := make([]redis.Cmder, n)
				for j := range cmds {
					cmds[j] = redis.NewStatusCmd(ctx, "ping")
				}
				go func() { done <- b.Do(ctx, cmds...) }()
				waitPending(t, b, i+1) // queue in order
			}
			g.mu.Lock()
			g.hold = false
			g.mu.Unlock()
			close(g.open)
			for range len(tc.calls) + 1 {
				require.NoError(t, <-done)
			}
			require.Equal(t, append([]int{1}, tc.want...), g.Sizes(), "pipeline sizes")
		})
	}
}

// TestErrorsPerCommand checks that each caller gets its own commands'
// errors from a shared pipeline.
func TestErrorsPerCommand(t *testing.T) {
	srv := redistest.Start(t)
	client := newClient(t, srv.Addr)
	g := newGate()
	g.hold = true
	client.AddHook(g)
	b := New(client, patience, 0, 1)
	ctx := context.Background()
	require.NoError(t, client.Set(ctx, "str", "abc", 0).Err())

	lead := make(chan error, 1)
	go func() { lead <- b.Do(ctx, redis.NewStatusCmd(ctx, "ping")) }()
	waitHeld(t, g)

	tests := []struct {
		name  string
		cmds  func() []redis.Cmder
		check func(t *testing.T, err error, cmds []redis.Cmder)
	}{
		{"ok", func() []redis.Cmder { return []redis.Cmder{redis.NewStatusCmd(ctx, "set", "a", "1")} },
			func(t *testing.T, err error, cmds []redis.Cmder) {
				assert.NoError(t, err)
				assert.Equal(t, "OK", cmds[0].(*redis.StatusCmd).Val(), "SET")
			}},
		{"wrong type", func() []redis.Cmder { return []redis.Cmder{redis.NewIntCmd(ctx, "incr", "str")} },
			func(t *testing.T, err error, _ []redis.Cmder) {
				var re redis.Error
				assert.ErrorAs(t, err, &re, "INCR of a string: want a Redis error reply")
			}},
		{"nil", func() []redis.Cmder { return []redis.Cmder{redis.NewStringCmd(ctx, "get", "nope")} },
			func(t *testing.T, err error, _ []redis.Cmder) {
				assert.ErrorIs(t, err, redis.Nil, "GET of a missing key")
			}},
		{"second of two fails", func() []redis.Cmder {
			return []redis.Cmder{redis.NewStatusCmd(ctx, "set", "b", "2"), redis.NewIntCmd(ctx, "incr", "str")}
		}, func(t *testing.T, err error, cmds []redis.Cmder) {
			assert.NoError(t, cmds[0].Err())
			assert.Error(t, cmds[1].Err())
			assert.True(t, err == cmds[1].Err(), "Do = %v, want the second command's error %v", err, cmds[1].Err())
		}},
	}
	var wg sync.WaitGroup
	for i, tc := range tests {
		cmds := tc.cmds()
		wg.Go(func() {
			err := b.Do(ctx, cmds...)
			t.Run(tc.name, func(t *testing.T) { tc.check(t, err, cmds) })
		})
		waitPending(t, b, i+1)
	}
	g.mu.Lock()
	g.hold = false
	g.mu.Unlock()
	close(g.open)
	require.NoError(t, <-lead)
	wg.Wait()
	got := g.Sizes()
	require.Len(t, got, 2, "pipeline sizes %v, want [1 5]", got)
	require.Equal(t, 5, got[1], "pipeline sizes %v, want [1 5]", got)
}

// TestQueuedCallerGivesUp checks that a queued caller whose ctx ends returns
// at once and that its command is dropped.
func TestQueuedCallerGivesUp(t *testing.T) {
	srv := redistest.Start(t)
	client := newClient(t, srv.Addr)
	g := newGate()
	g.hold = true
	client.AddHook(g)
	b := New(client, patience, 0, 1)
	ctx := context.Background()

	lead := make(chan error, 1)
	go func() { lead <- b.Do(ctx, redis.NewStatusCmd(ctx, "ping")) }()
	waitHeld(t, g)

	cctx, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- b.Do(cctx, redis.NewStatusCmd(ctx, "set", "dropped", "1")) }()
	waitPending(t, b, 1)
	kept := make(chan error, 1)
	go func() { kept <- b.Do(ctx, redis.NewStatusCmd(ctx, "set", "kept", "1")) }()
	waitPending(t, b, 2)
	cancel()
	select {
	case err := <-gaveUp:
		require.ErrorIs(t, err, context.Canceled, "Do after cancel")
	case <-time.After(patience):
		t.Fatal("a cancelled caller still waits")
	}
	waitPending(t, b, 1)
	g.mu.Lock()
	g.hold = false
	g.mu.Unlock()
	close(g.open)
	require.NoError(t, <-lead)
	require.NoError(t, <-kept)
	require.Zero(t, client.Exists(ctx, "dropped").Val(), "the command of a caller that gave up while queued ran")
	require.EqualValues(t, 1, client.Exists(ctx, "kept").Val(), "the command queued after it did not run")
}

// TestLeadingCallerGivesUp checks a caller handed the turn whose ctx ended
// before it took it: the turn passes to the next caller, or ends.
func TestLeadingCallerGivesUp(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name         string
		others       int
		wantInFlight int
	}{
		{"passes the turn on", 2, 1},
		{"ends the turn", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := New(newClient(t, "127.0.0.1:1"), time.Second, 0, 1)
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			c := &call{ctx: cctx, cmds: []redis.Cmder{redis.NewStatusCmd(ctx, "ping")}, wake: make(chan struct{}, 1)}
			b.inFlight = 1
			b.pending = []*call{c}
			for range tc.others {
				b.pending = append(b.pending, &call{ctx: ctx, wake: make(chan struct{}, 1)})
			}
			c.state, c.wake = leading, make(chan struct{}, 1)
			c.wake <- struct{}{}
			require.ErrorIs(t, b.giveUp(c), context.Canceled, "giveUp")
			require.Equal(t, tc.wantInFlight, b.inFlight, "in flight")
			require.Len(t, b.pending, tc.others, "pending")
			require.Equal(t, dropped, c.state, "state")
			if tc.others > 0 {
				next := b.pending[0]
				require.Equal(t, leading, next.state, "next call's state")
				require.Len(t, next.wake, 1, "next call's wake-ups")
			}
		})
	}
}

// TestLeaderCancelledMidBatch checks that a batch runs to the end when its
// leader's ctx ends, since it holds other callers' commands.
func TestLeaderCancelledMidBatch(t *testing.T) {
	srv := redistest.Start(t)
	client := newClient(t, srv.Addr)
	g := newGate()
	g.hold = true
	client.AddHook(g)
	b := New(client, patience, 0, 1)
	ctx := context.Background()

	first := make(chan error, 1)
	go func() { first <- b.Do(ctx, redis.NewStatusCmd(ctx, "ping")) }()
	waitHeld(t, g)

	// The next batch's leader is the first queued caller; cancel it once its
	// batch has started.
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g.mu.Lock()
	g.hold = false
	g.before = func(n int) {
		if n == 2 {
			cancel()
		}
	}
	g.mu.Unlock()
	lcmd := redis.NewStatusCmd(ctx, "set", "leader", "1")
	lerr := make(chan error, 1)
	go func() { lerr <- b.Do(lctx, lcmd) }()
	waitPending(t, b, 1)
	fcmd := redis.NewStatusCmd(ctx, "set", "follower", "1")
	ferr := make(chan error, 1)
	go func() { ferr <- b.Do(ctx, fcmd) }()
	waitPending(t, b, 2)
	close(g.open)
	require.NoError(t, <-first)
	require.NoError(t, <-ferr, "follower's Do after the leader's ctx ended mid-batch")
	require.NoError(t, <-lerr, "leader's Do; its batch ran")
	require.EqualValues(t, 2, client.Exists(ctx, "leader", "follower").Val(), "batch's keys set")
	require.Error(t, lctx.Err(), "the leader's ctx was not cancelled: the test did not test")
}

// TestOutageMidBatch stops Redis while a batch is on its way: every caller
// gets an error within the timeout, and the batcher works again once Redis
// is back.
func TestOutageMidBatch(t *testing.T) {
	srv := redistest.Start(t)
	client := newClient(t, srv.Addr, func(o *redis.Options) {
		o.DialTimeout = 200 * time.Millisecond
		o.MaxRetries = -1
	})
	g := newGate()
	g.hold = true
	client.AddHook(g)
	b := New(client, 2*time.Second, 0, 1)
	ctx := context.Background()
	require.NoError(t, client.Ping(ctx).Err()) // open a connection

	const callers = 8
	errs := make(chan error, callers)
	go func() { errs <- b.Do(ctx, redis.NewIntCmd(ctx, "incr", "n")) }()
	waitHeld(t, g)
	for range callers - 1 {
		go func() { errs <- b.Do(ctx, redis.NewIntCmd(ctx, "incr", "n")) }()
	}
	waitPending(t, b, callers-1)
	srv.Stop()
	start := time.Now()
	g.mu.Lock()
	g.hold = false
	g.mu.Unlock()
	close(g.open)
	for range callers {
		require.Error(t, <-errs, "Do succeeded with Redis down")
	}
	require.LessOrEqual(t, time.Since(start), 3*2*time.Second, "failing calls took too long")

	srv.Restart(t)
	deadline := time.Now().Add(patience)
	for {
		err := b.Do(ctx, redis.NewStatusCmd(ctx, "ping"))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Do after restart = %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	assert.Zero(t, b.inFlight, "in flight")
	assert.Empty(t, b.pending, "pending")
}

// TestTimeout checks the batcher's timeout against a server that never
// answers, for a leader and the callers queued behind it.
func TestTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var conns sync.WaitGroup
	accepted := make(chan net.Conn, 64)
	conns.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	})
	t.Cleanup(func() {
		_ = l.Close()
		conns.Wait()
		close(accepted)
		for c := range accepted {
			_ = c.Close()
		}
	})
	client := newClient(t, l.Addr().String(), func(o *redis.Options) {
		o.ReadTimeout = time.Minute
		o.MaxRetries = -1
		o.Protocol = 2
		o.DisableIdentity = true
	})
	const timeout = 200 * time.Millisecond
	b := New(client, timeout, 0, 1)
	ctx := context.Background()
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 10 {
		wg.Go(func() {
			if err := b.Do(ctx, redis.NewStatusCmd(ctx, "ping")); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 10, failed.Load(), "calls failed, want all")
	// At most two batches run in turn: the first and the rest.
	require.LessOrEqual(t, time.Since(start), 5*time.Second, "calls took too long with a %v timeout", timeout)

	// A caller whose own deadline is shorter gets it for a batch of its own.
	dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	require.Error(t, b.Do(dctx, redis.NewStatusCmd(ctx, "ping")), "Do succeeded against a server that never answers")
}

// TestConcurrent runs many callers at once: every command runs once, and
// fewer pipelines than calls are sent.
func TestConcurrent(t *testing.T) {
	srv := redistest.Start(t)
	client := newClient(t, srv.Addr, func(o *redis.Options) { o.PoolSize = 8 })
	g := newGate()
	client.AddHook(g)
	b := New(client, patience, 16, 0)
	ctx := context.Background()
	const callers, each = 32, 50
	results := make(chan int64, callers*each)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			for j := range each {
				incr := redis.NewIntCmd(ctx, "incr", "n")
				set := redis.NewStatusCmd(ctx, "set", "k:"+strconv.Itoa(i)+":"+strconv.Itoa(j), "v")
				if !assert.NoError(t, b.Do(ctx, incr, set)) {
					return
				}
				results <- incr.Val()
			}
		})
	}
	wg.Wait()
	close(results)
	seen := map[int64]bool{}
	for v := range results {
		require.False(t, seen[v], "INCR result %d twice", v)
		seen[v] = true
	}
	require.Len(t, seen, callers*each, "distinct INCR results")
	require.True(t, seen[1] && seen[callers*each], "INCR results are not 1..%d", callers*each)
	require.EqualValues(t, callers*each+1, client.DBSize(ctx).Val(), "keys")
	sizes := g.Sizes()
	total := 0
	for _, s := range sizes {
		require.True(t, s <= 16 && s%2 == 0, "pipeline of %d commands (cap 16, calls of 2)", s)
		total += s
	}
	require.Equal(t, 2*callers*each, total, "commands in pipelines")
	require.Less(t, len(sizes), callers*each, "pipelines for %d calls: nothing was batched", callers*each)
	t.Logf("%d calls in %d pipelines", callers*each, len(sizes))
}

// TestCluster checks that a batch spread over the slots of a cluster's
// masters returns each command's own result.
func TestCluster(t *testing.T) {
	cluster := redistest.StartCluster(t)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cluster.Addrs, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	b := New(client, patience, 0, 0)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			key := "key:" + strconv.Itoa(i)
			set := redis.NewStatusCmd(ctx, "set", key, i)
			get := redis.NewStringCmd(ctx, "get", key)
			miss := redis.NewStringCmd(ctx, "get", "missing:"+strconv.Itoa(i))
			assert.ErrorIs(t, b.Do(ctx, set, get, miss), redis.Nil, key)
			assert.NoError(t, set.Err(), key)
			assert.Equal(t, strconv.Itoa(i), get.Val(), key)
		})
	}
	wg.Wait()
}

func TestNewPanics(t *testing.T) {
	tests := []struct {
		name string
		f    func()
	}{
		{"nil client", func() { New(nil, time.Second, 0, 1) }},
		{"zero timeout", func() { New(newClient(t, "127.0.0.1:1"), 0, 0, 1) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { assert.Panics(t, tc.f) })
	}
}

// TestBatchesInFlight checks that up to maxInFlight batches run at once,
// and that callers queue only beyond that.
func TestBatchesInFlight(t *testing.T) {
	srv := redistest.Start(t)
	client := newClient(t, srv.Addr)
	g := newGate()
	g.hold = true
	client.AddHook(g)
	b := New(client, patience, 0, 2)
	ctx := context.Background()
	errs := make(chan error, 4)
	for range 2 {
		go func() { errs <- b.Do(ctx, redis.NewStatusCmd(ctx, "ping")) }()
		waitHeld(t, g) // each leads a batch of its own, both held at once
	}
	for i := range 2 {
		go func() { errs <- b.Do(ctx, redis.NewStatusCmd(ctx, "ping")) }()
		waitPending(t, b, i+1)
	}
	g.mu.Lock()
	g.hold = false
	g.mu.Unlock()
	close(g.open)
	for range 4 {
		require.NoError(t, <-errs)
	}
	sizes := g.Sizes()
	require.True(t, len(sizes) >= 3 && len(sizes) <= 4, "pipeline sizes %v, want two of 1, then the queued 2 in one or two", sizes)
	require.Equal(t, []int{1, 1}, sizes[:2], "pipeline sizes")
	b.mu.Lock()
	defer b.mu.Unlock()
	assert.Zero(t, b.inFlight, "in flight")
	assert.Empty(t, b.pending, "pending")
}
