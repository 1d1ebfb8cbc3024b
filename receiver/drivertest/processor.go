package drivertest

import (
	"context"
	"sync"
	"time"

	"github.com/hookwise/hookwise/receiver/driver"
)

// call is one Process call as the suite's processor saw it.
type call struct {
	e      *driver.Event // a deep copy of the event Process received
	start  time.Time
	end    time.Time // when Process returned; zero while it runs
	ctxErr error     // the context's error when Process was called
}

// processor is the driver.Processor the queue suite starts queues with. It
// records every call and answers with fn (a nil Result when fn is nil).
type processor struct {
	endpoint string
	fn       func(ctx context.Context, e *driver.Event) driver.Result

	mu        sync.Mutex
	calls     []*call
	abandoned []*driver.Event
	changed   chan struct{}
}

var _ driver.Processor = (*processor)(nil)

func newProcessor(fn func(ctx context.Context, e *driver.Event) driver.Result) *processor {
	return &processor{endpoint: "drivertest", fn: fn, changed: make(chan struct{}, 1)}
}

// Endpoint names the suite's receiver ("drivertest" unless a test says
// otherwise).
func (p *processor) Endpoint() string { return p.endpoint }

// Process records the call and answers with p.fn.
func (p *processor) Process(ctx context.Context, e *driver.Event) driver.Result {
	c := &call{e: clone(e), start: time.Now(), ctxErr: ctx.Err()}
	p.mu.Lock()
	p.calls = append(p.calls, c)
	p.mu.Unlock()
	p.notify()
	var res driver.Result
	if p.fn != nil {
		res = p.fn(ctx, e)
	}
	p.mu.Lock()
	c.end = time.Now()
	p.mu.Unlock()
	p.notify()
	return res
}

// Abandon records the event.
func (p *processor) Abandon(_ context.Context, e *driver.Event, _ error) {
	p.mu.Lock()
	p.abandoned = append(p.abandoned, clone(e))
	p.mu.Unlock()
	p.notify()
}

func (p *processor) notify() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// of returns copies of the calls for the event with claim token tok, in the
// order they started.
func (p *processor) of(tok string) []call {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []call
	for _, c := range p.calls {
		if c.e.ClaimToken == tok {
			out = append(out, *c)
		}
	}
	return out
}

// ended returns how many calls for tok have returned.
func (p *processor) ended(tok string) int {
	n := 0
	for _, c := range p.of(tok) {
		if !c.end.IsZero() {
			n++
		}
	}
	return n
}

// count returns the number of calls per claim token.
func (p *processor) count() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.calls))
	for _, c := range p.calls {
		out[c.e.ClaimToken]++
	}
	return out
}

// total returns the number of calls.
func (p *processor) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

// abandons returns the number of events abandoned.
func (p *processor) abandons() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.abandoned)
}

// running returns how many calls have not returned.
func (p *processor) running() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.calls {
		if c.end.IsZero() {
			n++
		}
	}
	return n
}

// gate blocks Process calls until it is opened; the test's cleanup opens it
// so that no call stays blocked.
type gate struct {
	ch   chan struct{}
	once sync.Once
}

func newGate() *gate { return &gate{ch: make(chan struct{})} }

func (g *gate) open() { g.once.Do(func() { close(g.ch) }) }

// wait returns once the gate is open or ctx is done, with ctx's error in the
// second case.
func (g *gate) wait(ctx context.Context) error {
	select {
	case <-g.ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
