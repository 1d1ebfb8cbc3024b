// Package redisbatch pipelines the Redis commands of concurrent callers, so
// that many commands share one round trip (one write and one read system
// call on each side, and on a server with appendfsync always one fsync).
//
// A Batcher owns no goroutine. Callers take turns leading: a caller that
// finds fewer batches in flight than the Batcher allows runs its own
// commands at once as a pipeline of one; callers that arrive while the
// allowed number of batches is in flight queue up, and when a batch ends its
// leader wakes its callers and makes the first queued caller the leader of
// the next batch, which holds every command queued by then (up to a cap). A
// single caller therefore pays nothing but a pipeline of one, and under load
// the round trips per command fall with the concurrency. Allowing a few
// batches in flight at once keeps a server busy that waits on each reply
// for something else than the CPU (an fsync under appendfsync always).
package redisbatch

import (
	"context"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/redis/go-redis/v9"
)

// Defaults of New.
const (
	DefaultMaxBatch    = 256 // commands in a batch
	DefaultMaxInFlight = 4   // batches in flight at once
)

// SharedMaxInFlight bounds the batches in flight of a Shared Batcher. One
// at a time makes the most of each round trip: every command issued while a
// batch is in flight goes in the next. On the load tool (docs/benchmarks.md,
// "Redis completion batching") it halved the round trips per event against
// DefaultMaxInFlight, with no loss of throughput.
const SharedMaxInFlight = 1

// Client is the part of a go-redis client a Batcher uses: *redis.Client,
// *redis.ClusterClient (which splits a pipeline by hash slot and node),
// *redis.Ring and redis.UniversalClient satisfy it.
type Client interface {
	Pipeline() redis.Pipeliner
}

var (
	_ Client = (*redis.Client)(nil)
	_ Client = (*redis.ClusterClient)(nil)
	_ Client = (*redis.Ring)(nil)
	_ Client = redis.UniversalClient(nil)
)

// Batcher runs the commands given to Do in shared pipelines. It is safe for
// concurrent use and needs no Close. Create it with New.
type Batcher struct {
	client      Client
	timeout     atomic.Int64 // a time.Duration; Shared may raise it
	maxBatch    int
	maxInFlight int

	mu sync.Mutex
	// inFlight counts the leaders running a batch or handed the turn to.
	inFlight int
	// pending holds the calls queued, in arrival order; it is not empty only
	// while inFlight == maxInFlight.
	pending []*call
}

// state is where a call stands; it changes only under Batcher.mu.
type state uint8

const (
	queued  state = iota // in pending
	leading              // first in pending, handed the turn to lead
	batched              // taken into a batch in flight
	done                 // its batch ran: its commands hold their results
	dropped              // its caller gave up while queued: never run
)

type call struct {
	ctx   context.Context
	cmds  []redis.Cmder
	state state
	// wake gets one value when state becomes leading or done. Buffered, so
	// the sender never waits, even for a caller that gave up.
	wake chan struct{}
}

// New returns a Batcher that runs pipelines on client, each bounded by
// timeout, of at most maxBatch commands (DefaultMaxBatch if maxBatch < 1),
// at most maxInFlight at once (DefaultMaxInFlight if maxInFlight < 1). It
// panics if client is nil or timeout is not positive.
func New(client Client, timeout time.Duration, maxBatch, maxInFlight int) *Batcher {
	if client == nil {
		panic("redisbatch: nil client")
	}
	if timeout <= 0 {
		panic("redisbatch: timeout must be positive")
	}
	if maxBatch < 1 {
		maxBatch = DefaultMaxBatch
	}
	if maxInFlight < 1 {
		maxInFlight = DefaultMaxInFlight
	}
	b := &Batcher{client: client, maxBatch: maxBatch, maxInFlight: maxInFlight}
	b.timeout.Store(int64(timeout))
	return b
}

// shared maps the address of a client to a weak pointer to its shared
// Batcher. While that Batcher lives it holds its client, whose address no
// other client can then have; once it is collected its entry is removed.
var shared struct {
	mu sync.Mutex
	m  map[uintptr]weak.Pointer[Batcher]
}

// Shared returns the Batcher of client shared by every caller that asks for
// the same client (a *redis.Client, *redis.ClusterClient or *redis.Ring, or
// any other pointer), so that the commands of a dedupe store and a queue on
// one client share pipelines instead of each running its own. It is created
// with DefaultMaxBatch and DefaultMaxInFlight; its batch timeout is the
// longest timeout asked for so far. A client that is not a pointer gets a
// Batcher of its own. The Batcher is dropped once nobody holds it. It panics
// if client is nil or timeout is not positive.
func Shared(client Client, timeout time.Duration) *Batcher {
	if client == nil {
		panic("redisbatch: nil client")
	}
	if timeout <= 0 {
		panic("redisbatch: timeout must be positive")
	}
	v := reflect.ValueOf(client)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return New(client, timeout, DefaultMaxBatch, DefaultMaxInFlight)
	}
	addr := v.Pointer()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if w, ok := shared.m[addr]; ok {
		if b := w.Value(); b != nil {
			b.raiseTimeout(timeout)
			return b
		}
	}
	b := New(client, timeout, DefaultMaxBatch, SharedMaxInFlight)
	if shared.m == nil {
		shared.m = make(map[uintptr]weak.Pointer[Batcher])
	}
	w := weak.Make(b)
	shared.m[addr] = w
	runtime.AddCleanup(b, func(addr uintptr) {
		shared.mu.Lock()
		defer shared.mu.Unlock()
		if shared.m[addr] == w {
			delete(shared.m, addr)
		}
	}, addr)
	return b
}

// raiseTimeout sets the batch timeout to d if d is longer.
func (b *Batcher) raiseTimeout(d time.Duration) {
	for {
		old := b.timeout.Load()
		if int64(d) <= old || b.timeout.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

// Do runs cmds, in order and in one batch, in a pipeline shared with the
// commands of concurrent callers, and returns the first of their errors
// (redis.Nil included); each command holds its own result and error, as after
// a pipeline's Exec. The caller must not use the commands elsewhere.
//
// If ctx ends while the commands wait their turn, Do returns ctx.Err() at
// once: commands still queued are dropped, and those already sent may run, as
// with any call cut short. A caller that leads a batch waits for it to end
// and returns its commands' result. The batch is bounded by the Batcher's
// timeout; it runs within the leader's ctx when it holds only the leader's
// commands, and otherwise detached from ctx's cancellation (keeping its
// values), since the other callers' commands must not fail with it.
func (b *Batcher) Do(ctx context.Context, cmds ...redis.Cmder) error {
	if len(cmds) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c := &call{ctx: ctx, cmds: cmds}
	b.mu.Lock()
	if b.inFlight < b.maxInFlight {
		b.inFlight++
		c.state = batched
		b.mu.Unlock()
		b.lead([]*call{c})
		return c.result()
	}
	c.wake = make(chan struct{}, 1)
	b.pending = append(b.pending, c)
	b.mu.Unlock()

	select {
	case <-c.wake:
	case <-ctx.Done():
		return b.giveUp(c)
	}
	b.mu.Lock()
	if c.state == done {
		b.mu.Unlock()
		return c.result()
	}
	// c.state == leading: run the queue, c first.
	batch := b.take(c)
	b.mu.Unlock()
	b.lead(batch)
	return c.result()
}

// giveUp handles a waiting caller whose ctx ended.
func (b *Batcher) giveUp(c *call) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch c.state {
	case done:
		return c.result()
	case queued:
		b.remove(c)
		c.state = dropped
	case leading:
		// c held a turn: pass it on, or give it back.
		b.remove(c)
		c.state = dropped
		b.passTurn()
	}
	// batched: the leader runs its commands; their result is not awaited.
	return c.ctx.Err()
}

// take removes from pending the leading call c and the queued calls that
// fit with it in maxBatch commands, in order (calls handed a turn of their
// own stay), marks them batched, and returns them, c first. It holds mu.
func (b *Batcher) take(c *call) []*call {
	b.remove(c)
	c.state = batched
	batch := []*call{c}
	size := len(c.cmds)
	kept := b.pending[:0]
	for i, p := range b.pending {
		if p.state == queued && size+len(p.cmds) <= b.maxBatch {
			p.state = batched
			batch = append(batch, p)
			size += len(p.cmds)
			continue
		}
		kept = append(kept, p)
		if p.state == queued {
			// Full: keep the rest in order.
			kept = append(kept, b.pending[i+1:]...)
			break
		}
	}
	clear(b.pending[len(kept):])
	b.pending = kept
	return batch
}

// remove deletes c from pending. It holds mu.
func (b *Batcher) remove(c *call) {
	for i, p := range b.pending {
		if p == c {
			copy(b.pending[i:], b.pending[i+1:])
			b.pending[len(b.pending)-1] = nil
			b.pending = b.pending[:len(b.pending)-1]
			return
		}
	}
}

// passTurn hands the turn of a leader that is done with it to the first
// queued call, or gives it back if none is queued. It holds mu.
func (b *Batcher) passTurn() {
	for _, p := range b.pending {
		if p.state == queued {
			p.state = leading
			p.wake <- struct{}{}
			return
		}
	}
	b.inFlight--
}

// lead runs batch, whose first call is the caller's, then wakes its callers
// and passes the turn on.
func (b *Batcher) lead(batch []*call) {
	b.exec(batch)
	b.mu.Lock()
	for _, c := range batch {
		c.state = done
		if c.wake != nil && c != batch[0] {
			c.wake <- struct{}{}
		}
	}
	b.passTurn()
	b.mu.Unlock()
}

// exec runs the batch's commands as one pipeline.
func (b *Batcher) exec(batch []*call) {
	leader := batch[0].ctx
	timeout := time.Duration(b.timeout.Load())
	var ctx context.Context
	var cancel context.CancelFunc
	if len(batch) == 1 {
		if dl, ok := leader.Deadline(); ok && time.Until(dl) <= timeout {
			ctx, cancel = leader, func() {}
		} else {
			ctx, cancel = context.WithTimeout(leader, timeout)
		}
	} else {
		ctx, cancel = context.WithTimeout(context.WithoutCancel(leader), timeout)
	}
	defer cancel()
	p := b.client.Pipeline()
	for _, c := range batch {
		_ = p.BatchProcess(ctx, c.cmds...)
	}
	// Exec sets every command's error, the first of which it returns.
	_, _ = p.Exec(ctx)
}

// result returns the first error of c's commands.
func (c *call) result() error {
	for _, cmd := range c.cmds {
		if err := cmd.Err(); err != nil {
			return err
		}
	}
	return nil
}
