package redisbatch

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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
	if err := b.Do(ctx, set, get); err != nil {
		t.Fatal(err)
	}
	if set.Val() != "OK" || get.Val() != "v" {
		t.Fatalf("SET = %q, GET = %q", set.Val(), get.Val())
	}
	missing := redis.NewStringCmd(ctx, "get", "missing")
	if err := b.Do(ctx, missing); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET of a missing key = %v, want redis.Nil", err)
	}
	if err := b.Do(ctx); err != nil {
		t.Fatalf("Do without commands = %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Do(cctx, redis.NewStatusCmd(ctx, "set", "k", "w")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Do with a done ctx = %v", err)
	}
	if v := client.Get(ctx, "k").Val(); v != "v" {
		t.Fatalf("k = %q after a Do with a done ctx, want v", v)
	}
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
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	waitHeld(t, g)
	close(g.open)
	seen := map[int64]bool{1: true}
	for range queued {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cmds {
		if seen[c.Val()] {
			t.Fatalf("INCR result %d twice", c.Val())
		}
		seen[c.Val()] = true
	}
	if len(seen) != queued+1 {
		t.Fatalf("%d distinct INCR results, want %d", len(seen), queued+1)
	}
	if got := g.Sizes(); len(got) != 2 || got[0] != 1 || got[1] != queued {
		t.Fatalf("pipeline sizes %v, want [1 %d]", got, queued)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inFlight != 0 || len(b.pending) != 0 {
		t.Fatalf("after the batches: %d in flight, %d pending", b.inFlight, len(b.pending))
	}
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
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
			want := append([]int{1}, tc.want...)
			got := g.Sizes()
			if len(got) != len(want) {
				t.Fatalf("pipeline sizes %v, want %v", got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("pipeline sizes %v, want %v", got, want)
				}
			}
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
	if err := client.Set(ctx, "str", "abc", 0).Err(); err != nil {
		t.Fatal(err)
	}

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
				if err != nil || cmds[0].(*redis.StatusCmd).Val() != "OK" {
					t.Errorf("SET = %v, %v", cmds[0], err)
				}
			}},
		{"wrong type", func() []redis.Cmder { return []redis.Cmder{redis.NewIntCmd(ctx, "incr", "str")} },
			func(t *testing.T, err error, _ []redis.Cmder) {
				var re redis.Error
				if !errors.As(err, &re) {
					t.Errorf("INCR of a string = %v, want a Redis error reply", err)
				}
			}},
		{"nil", func() []redis.Cmder { return []redis.Cmder{redis.NewStringCmd(ctx, "get", "nope")} },
			func(t *testing.T, err error, _ []redis.Cmder) {
				if !errors.Is(err, redis.Nil) {
					t.Errorf("GET of a missing key = %v, want redis.Nil", err)
				}
			}},
		{"second of two fails", func() []redis.Cmder {
			return []redis.Cmder{redis.NewStatusCmd(ctx, "set", "b", "2"), redis.NewIntCmd(ctx, "incr", "str")}
		}, func(t *testing.T, err error, cmds []redis.Cmder) {
			if cmds[0].Err() != nil || cmds[1].Err() == nil || err != cmds[1].Err() {
				t.Errorf("errors %v, %v; Do = %v", cmds[0].Err(), cmds[1].Err(), err)
			}
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
	if err := <-lead; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if got := g.Sizes(); len(got) != 2 || got[1] != 5 {
		t.Fatalf("pipeline sizes %v, want [1 5]", got)
	}
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
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Do after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(patience):
		t.Fatal("a cancelled caller still waits")
	}
	waitPending(t, b, 1)
	g.mu.Lock()
	g.hold = false
	g.mu.Unlock()
	close(g.open)
	if err := <-lead; err != nil {
		t.Fatal(err)
	}
	if err := <-kept; err != nil {
		t.Fatal(err)
	}
	if n := client.Exists(ctx, "dropped").Val(); n != 0 {
		t.Fatal("the command of a caller that gave up while queued ran")
	}
	if n := client.Exists(ctx, "kept").Val(); n != 1 {
		t.Fatal("the command queued after it did not run")
	}
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
			if err := b.giveUp(c); !errors.Is(err, context.Canceled) {
				t.Fatalf("giveUp = %v", err)
			}
			if b.inFlight != tc.wantInFlight || len(b.pending) != tc.others || c.state != dropped {
				t.Fatalf("%d in flight, %d pending, state %v", b.inFlight, len(b.pending), c.state)
			}
			if tc.others > 0 {
				next := b.pending[0]
				if next.state != leading || len(next.wake) != 1 {
					t.Fatalf("next call: state %v, %d wake-ups", next.state, len(next.wake))
				}
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
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-ferr; err != nil {
		t.Fatalf("follower's Do = %v after the leader's ctx ended mid-batch", err)
	}
	if err := <-lerr; err != nil {
		t.Fatalf("leader's Do = %v; its batch ran", err)
	}
	if n := client.Exists(ctx, "leader", "follower").Val(); n != 2 {
		t.Fatalf("%d of the batch's keys set, want 2", n)
	}
	if lctx.Err() == nil {
		t.Fatal("the leader's ctx was not cancelled: the test did not test")
	}
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
	if err := client.Ping(ctx).Err(); err != nil { // open a connection
		t.Fatal(err)
	}

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
		if err := <-errs; err == nil {
			t.Fatal("Do succeeded with Redis down")
		}
	}
	if d := time.Since(start); d > 3*2*time.Second {
		t.Fatalf("failing calls took %v", d)
	}

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
	if b.inFlight != 0 || len(b.pending) != 0 {
		t.Fatalf("%d in flight, %d pending", b.inFlight, len(b.pending))
	}
}

// TestTimeout checks the batcher's timeout against a server that never
// answers, for a leader and the callers queued behind it.
func TestTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
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
	if failed.Load() != 10 {
		t.Fatalf("%d of 10 calls failed, want all", failed.Load())
	}
	// At most two batches run in turn: the first and the rest.
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("calls took %v with a %v timeout", d, timeout)
	}

	// A caller whose own deadline is shorter gets it for a batch of its own.
	dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := b.Do(dctx, redis.NewStatusCmd(ctx, "ping")); err == nil {
		t.Fatal("Do succeeded against a server that never answers")
	}
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
				if err := b.Do(ctx, incr, set); err != nil {
					t.Error(err)
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
		if seen[v] {
			t.Fatalf("INCR result %d twice", v)
		}
		seen[v] = true
	}
	if len(seen) != callers*each || !seen[1] || !seen[callers*each] {
		t.Fatalf("%d distinct INCR results, want 1..%d", len(seen), callers*each)
	}
	if n := client.DBSize(ctx).Val(); n != callers*each+1 {
		t.Fatalf("%d keys, want %d", n, callers*each+1)
	}
	sizes := g.Sizes()
	total := 0
	for _, s := range sizes {
		if s > 16 || s%2 != 0 {
			t.Fatalf("pipeline of %d commands (cap 16, calls of 2)", s)
		}
		total += s
	}
	if total != 2*callers*each {
		t.Fatalf("%d commands in pipelines, want %d", total, 2*callers*each)
	}
	if len(sizes) >= callers*each {
		t.Fatalf("%d pipelines for %d calls: nothing was batched", len(sizes), callers*each)
	}
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
			err := b.Do(ctx, set, get, miss)
			if !errors.Is(err, redis.Nil) || set.Err() != nil || get.Val() != strconv.Itoa(i) {
				t.Errorf("%s: Do = %v; SET %v, GET %q", key, err, set.Err(), get.Val())
			}
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
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			tc.f()
		})
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
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	sizes := g.Sizes()
	if len(sizes) < 3 || len(sizes) > 4 || sizes[0] != 1 || sizes[1] != 1 {
		t.Fatalf("pipeline sizes %v, want two of 1, then the queued 2 in one or two", sizes)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inFlight != 0 || len(b.pending) != 0 {
		t.Fatalf("%d in flight, %d pending", b.inFlight, len(b.pending))
	}
}
