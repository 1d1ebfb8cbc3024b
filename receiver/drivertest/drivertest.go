// Package drivertest is a conformance suite for queue and dead-letter store
// drivers (package driver), so that every backend — the in-memory ones of
// package receiver, Redis (package redisq), PostgreSQL — passes the same
// tests. A driver's tests call RunQueue and RunDeadLetters with a
// constructor that returns a new, empty queue or store for each subtest:
//
//	func TestMemoryQueueConformance(t *testing.T) {
//		drivertest.RunQueue(t, func(t *testing.T) driver.Queue {
//			return receiver.NewMemoryQueue(drivertest.DefaultLoad, 8)
//		}, drivertest.QueueBound(drivertest.DefaultLoad))
//	}
//
//	func TestMemoryDeadLettersConformance(t *testing.T) {
//		drivertest.RunDeadLetters(t, func(t *testing.T) driver.DeadLetterStore {
//			return receiver.NewMemoryDeadLetters(20)
//		}, drivertest.EvictsOldest(20))
//	}
//
// A durable queue on a shared server names its storage after the subtest,
// so that the constructor called twice in one subtest returns the same
// queue restarted:
//
//	drivertest.RunQueue(t, func(t *testing.T) driver.Queue {
//		return redisq.New(rdb, redisq.Stream("conformance:{"+t.Name()+"}:stream"))
//	}, drivertest.Durable(), drivertest.IdempotentEnqueue())
//
// The queue suite drives the queue with a Processor of its own and checks
// the contract of driver.Queue: every enqueued event reaches Process with
// every field intact (Provider, ID, Type, Version, ReceivedAt to the
// driver's TimePrecision, Header, Body byte for byte, Attempt, ClaimToken,
// Meta, Target), including events without an ID, binary and large bodies, many
// header values, header and Meta values that are not UTF-8, and Meta at the
// receiver's bounds; a Retry result is run
// again with Attempt+1 (the same Attempt with KeepAttempt), no sooner than
// its Delay, and any other result
// finishes the event for good; a second Start returns driver.ErrStarted;
// Shutdown stops intake (Enqueue returns driver.ErrClosed), waits for the
// Process calls in flight, and on its deadline cancels their context and
// returns an error matching the context's; concurrent Enqueue calls lose
// and duplicate nothing; driver.StatsReader, when the queue implements it,
// counts queued, retrying and running events. Options declare more: a
// bound that refuses new events but takes back retries (QueueBound),
// Enqueue idempotent per claim token (IdempotentEnqueue), and with Durable,
// that events, retries and finished work survive a Shutdown and a new queue
// on the same storage, which refuses to start for another endpoint.
//
// The dead-letter suite checks driver.DeadLetterStore: every field
// round-trips, List returns the oldest first and honours its limit, dead
// letters are kept under (provider, DeadLetter.Key()) — a new one of the same
// key replaces the old, events without IDs do not replace each other —
// Delete removes exactly one and deleting a missing one is not an error,
// fan-out copies of one event (Event.Target) are kept apart from each other
// and from the event, concurrent use, and the store's bound (RefusesBeyond or EvictsOldest).
//
// A queue that claims dedupe keys itself (driver.ClaimingQueue) runs
// RunClaimingQueue too, with the dedupe store it claims in: its Enqueue must
// claim as the store's Claim would, refuse a second delivery (ErrPending
// while admitted, ErrDuplicate once confirmed or done) without storing it,
// and claim each fan-out copy apart.
//
// Subtests run at once, each with a queue or store of its own from the
// constructor: stores on one shared server must keep them apart (a key
// prefix or stream name derived from t.Name(), for example). They mostly
// wait (for events, for time to pass), so they run in goroutines of their
// own rather than as parallel tests, which -parallel would hold to
// GOMAXPROCS at a time; a suite takes a few seconds. Identifiers are
// unique to each run. Events follow the receiver's rules: IDs are printable
// ASCII and do not start with "~", every event has a unique ClaimToken, and
// Attempt starts at 1.
package drivertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/receiver/driver"
)

// Defaults of the options.
const (
	// DefaultMaxBody is the size of the large body the suites enqueue and
	// dead-letter unless MaxBody says otherwise: the receiver's default
	// bound on a delivery's body (receiver.DefaultMaxBodyBytes, 5 MiB).
	DefaultMaxBody = 5 << 20
	// DefaultLoad is how many events the concurrency test enqueues unless
	// Load says otherwise. A bounded queue must take that many at once.
	DefaultLoad = 1000
	// DefaultWait is how long the suite waits for something the driver must
	// do (an event to arrive, a Shutdown to return) before it fails, unless
	// Wait says otherwise.
	DefaultWait = 10 * time.Second
	// DefaultSchedulePrecision is how much earlier than its Delay a retry may
	// start unless SchedulePrecision says otherwise: drivers that schedule on
	// a clock of millisecond resolution may be up to a millisecond early.
	DefaultSchedulePrecision = time.Millisecond
)

// settle is how long the suite watches for an event that must not come
// (a finished event run again, a duplicate).
const settle = 300 * time.Millisecond

// Option describes the driver under test to a suite. Options that do not
// concern a suite are ignored by it.
type Option func(*config)

type config struct {
	precision time.Duration
	schedule  time.Duration
	maxBody   int
	load      int
	wait      time.Duration
	durable   bool
	refuses   int
	evicts    int
	queueMax  int
	idem      bool
	orderMax  int
}

func newConfig(opts []Option) config {
	c := config{schedule: DefaultSchedulePrecision, maxBody: DefaultMaxBody, load: DefaultLoad, wait: DefaultWait}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// TimePrecision declares the precision to which the driver keeps times
// (Event.ReceivedAt, DeadLetter.FailedAt): a time read back must differ from
// the one stored by less than d (time.Microsecond for PostgreSQL's
// timestamptz). The default, 0, requires the same instant to the
// nanosecond. Time zones are not compared, only instants.
func TimePrecision(d time.Duration) Option { return func(c *config) { c.precision = d } }

// SchedulePrecision declares how much earlier than its Result.Delay a retry
// may start (default DefaultSchedulePrecision).
func SchedulePrecision(d time.Duration) Option { return func(c *config) { c.schedule = d } }

// MaxBody sets the size of the large body the suites store (default
// DefaultMaxBody): the largest body the driver declares it takes, or the
// receiver's bound if it declares none.
func MaxBody(n int) Option { return func(c *config) { c.maxBody = n } }

// Load sets how many events the concurrency test enqueues from many
// goroutines at once (default DefaultLoad).
func Load(n int) Option { return func(c *config) { c.load = max(n, 1) } }

// Wait sets how long the suite waits for something the driver must do
// (default DefaultWait). A durable driver whose new instance takes over work
// left running by a Shutdown only after a lease expires needs more than the
// lease.
func Wait(d time.Duration) Option { return func(c *config) { c.wait = d } }

// Durable declares that the queue keeps its events outside the process:
// within one subtest, every call of the constructor returns a queue on the
// same storage (a restarted instance), so that events enqueued to one are
// delivered by the next, and work finished by one is not run again by the
// next. The in-memory queue is not durable.
func Durable() Option { return func(c *config) { c.durable = true } }

// QueueBound declares that the queue holds at most n events (queued,
// waiting for a retry and running, together) and refuses a new one beyond
// that with an error matching driver.ErrQueueFull, while it always takes
// back its own retries; the constructor must build queues with that bound,
// and n must be at least Load.
func QueueBound(n int) Option { return func(c *config) { c.queueMax = n } }

// IdempotentEnqueue declares that Enqueue is idempotent per claim token: an
// event enqueued twice with one ClaimToken (a client resending a command
// whose reply was lost) is stored, and processed, once.
func IdempotentEnqueue() Option { return func(c *config) { c.idem = true } }

// RefusesBeyond declares that the dead-letter store holds at most n dead
// letters and refuses a new one beyond that with an error matching
// driver.ErrDeadLettersFull (as redisq's does with MaxDeadLetters(n)); the
// constructor must build stores with that bound.
func RefusesBeyond(n int) Option { return func(c *config) { c.refuses = n } }

// EvictsOldest declares that the dead-letter store holds at most n dead
// letters and evicts the oldest to take a new one beyond that (as
// receiver.MemoryDeadLetters does with capacity n); the constructor must
// build stores with that bound.
func EvictsOldest(n int) Option { return func(c *config) { c.evicts = n } }

// runID returns an identifier unique to one run of a suite.
func runID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var serials atomic.Uint64

// serial returns a number unique to the process, for event IDs that differ
// between subtests as well as within one.
func serial() string { return strconv.FormatUint(serials.Add(1), 10) }

// newToken returns a claim token, unique like the receiver's.
func newToken() string { return rand.Text() }

// clone returns a deep copy of e, so that what a driver received or returned
// can be compared with what was given to it even if either side changes it
// later.
func clone(e *driver.Event) *driver.Event {
	if e == nil {
		return nil
	}
	c := *e
	c.Header = e.Header.Clone()
	c.Body = bytes.Clone(e.Body)
	c.Payload = bytes.Clone(e.Payload)
	c.Meta = maps.Clone(e.Meta)
	return &c
}

// sameEvent checks that got carries every field of want. Payload is
// compared only when withPayload is set: queues need not store it (the
// receiver derives it again from Body), dead-letter stores must.
func sameEvent(t *testing.T, c config, want, got *driver.Event, withPayload bool, what string) {
	t.Helper()
	if !assert.NotNil(t, got, "%s: event", what) || want == nil {
		return
	}
	assert.Equal(t, want.Provider, got.Provider, "%s: Provider", what)
	assert.Equal(t, want.ID, got.ID, "%s: ID", what)
	assert.Equal(t, want.Type, got.Type, "%s: Type", what)
	assert.Equal(t, want.Version, got.Version, "%s: Version", what)
	sameTime(t, c, want.ReceivedAt, got.ReceivedAt, what+": ReceivedAt")
	assert.Equal(t, normHeader(want.Header), normHeader(got.Header), "%s: Header", what)
	sameBytes(t, want.Body, got.Body, what+": Body")
	if withPayload {
		sameBytes(t, want.Payload, got.Payload, what+": Payload")
	}
	assert.Equal(t, want.Attempt, got.Attempt, "%s: Attempt", what)
	assert.Equal(t, want.ClaimToken, got.ClaimToken, "%s: ClaimToken", what)
	assert.Equal(t, normMeta(want.Meta), normMeta(got.Meta), "%s: Meta", what)
	assert.Equal(t, want.Target, got.Target, "%s: Target", what)
}

// sameTime checks that got is want to the driver's precision.
func sameTime(t *testing.T, c config, want, got time.Time, what string) {
	t.Helper()
	if c.precision <= 0 {
		assert.True(t, want.Equal(got), "%s: got %s, want %s (the same instant)", what,
			got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
		return
	}
	d := got.Sub(want)
	assert.True(t, d.Abs() < c.precision, "%s: got %s, want %s to %v (off by %v)", what,
		got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano), c.precision, d)
}

// sameBytes checks that got holds the bytes of want (nil and empty are the
// same), without printing large values.
func sameBytes(t *testing.T, want, got []byte, what string) {
	t.Helper()
	if bytes.Equal(want, got) {
		return
	}
	at := 0
	for at < min(len(want), len(got)) && want[at] == got[at] {
		at++
	}
	assert.Fail(t, what+" differs", "got %d bytes, want %d; first difference at byte %d%s",
		len(got), len(want), at, excerpt(want, got, at))
}

func excerpt(want, got []byte, at int) string {
	cut := func(b []byte) []byte { return b[min(at, len(b)):min(at+16, len(b))] }
	return fmt.Sprintf(" (got % x…, want % x…)", cut(got), cut(want))
}

func normHeader(h http.Header) http.Header {
	if len(h) == 0 {
		return nil
	}
	return h
}

func normMeta(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// waitFor polls cond until it holds, or fails the test after c.wait.
func waitFor(t *testing.T, c config, changed <-chan struct{}, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(c.wait)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-changed:
		case <-tick.C:
		case <-deadline.C:
			require.FailNow(t, "timed out", "waited %v for %s", c.wait, what)
		}
	}
}

// bigBody returns n random bytes.
func bigBody(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// binaryBody holds every byte value, NULs, and invalid UTF-8.
func binaryBody() []byte {
	b := make([]byte, 0, 300)
	for i := range 256 {
		b = append(b, byte(i))
	}
	return append(b, "\x00\x00\xff\xfe\xc3\x28{\"a\":1}\r\n\x00"...)
}

// manyHeader returns headers with many names and one with many values, with
// the characters HTTP allows in values.
func manyHeader() http.Header {
	h := http.Header{
		"Content-Type": {"application/json; charset=utf-8"},
		"X-Signature":  {"t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"},
		"X-Empty":      {""},
		"X-Unicode":    {"café ☕ 日本"},
		"X-Punct":      {`a "quoted", list; with=params, \backslash\ and	tab`},
	}
	for i := range 40 {
		h["X-Hw-"+strconv.Itoa(i)] = []string{"value-" + strconv.Itoa(i)}
	}
	vals := make([]string, 100)
	for i := range vals {
		vals[i] = "value " + strconv.Itoa(i) + ", with, commas"
	}
	h["X-Multi"] = vals
	return h
}

// notUTF8 returns headers and Meta whose values are not UTF-8: bytes
// 0x80-0xff, which net/http accepts in header values (obs-text).
func notUTF8() (http.Header, map[string]string) {
	return http.Header{"X-Latin1": {"caf\xe9"}, "X-Bytes": {"\x80\xfe\xff", "ok"}},
		map[string]string{"baggage": "k=caf\xe9", "tracestate": "\xff"}
}

// fullMeta returns Meta at the receiver's bounds: 8 entries, keys of 64
// bytes, values of 512.
func fullMeta() map[string]string {
	m := make(map[string]string, 8)
	for i := range 8 {
		k := fmt.Sprintf("k%d-", i) + strings.Repeat("k", 64)
		v := fmt.Sprintf("v%d=\"x\",y:z;", i) + strings.Repeat("v", 512)
		m[k[:64]] = v[:512]
	}
	return m
}

var bg = context.Background()
