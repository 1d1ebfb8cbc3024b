package redisq

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// DefaultStream is the stream name used unless Stream sets another. Its hash
// tag "{events}" puts the stream and every companion key (the delayed set,
// the dead letters) in one Cluster slot.
const DefaultStream = "hookwise:{events}:stream"

// DefaultGroup is the consumer group used unless Group sets another.
const DefaultGroup = "hookwise"

// Option configures a Queue or a DeadLetters store. Options that do not
// apply to the value being built are ignored.
type Option func(*config)

type config struct {
	stream        string
	group         string
	consumer      string
	workers       int
	prefetch      int // -1: the default
	visibility    time.Duration
	claimInterval time.Duration
	callTimeout   time.Duration
	poll          time.Duration
	maxLen        int64
	maxDead       int64
	format        int // of the entries Enqueue writes: 1 or 2
	logger        *slog.Logger
}

func newConfig(opts []Option) config {
	c := config{
		stream:      DefaultStream,
		group:       DefaultGroup,
		workers:     4 * runtime.GOMAXPROCS(0),
		prefetch:    -1,
		visibility:  30 * time.Second,
		callTimeout: time.Second,
		poll:        200 * time.Millisecond,
		maxLen:      DefaultMaxLen,
		maxDead:     DefaultMaxDeadLetters,
		format:      2,
	}
	for _, o := range opts {
		o(&c)
	}
	if c.consumer == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "hookwise"
		}
		c.consumer = host + "-" + strconv.Itoa(os.Getpid())
	}
	if c.claimInterval <= 0 {
		c.claimInterval = c.visibility / 2
	}
	if c.prefetch < 0 {
		c.prefetch = min(defaultPrefetchPerWorker*c.workers, maxDefaultPrefetch)
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Stream sets the stream's key (default DefaultStream). The queue's other keys
// are derived from it and share its hash tag: name+":delayed" for retries and
// name+":dead" for dead letters. A name without a hash tag is given one for
// the derived keys ("orders" → "{orders}:delayed"), which lands them in the
// stream's slot. Stream panics on an empty name or a name whose braces would
// make the derived keys hash elsewhere.
func Stream(name string) Option {
	if name == "" {
		panic("redisq: empty stream name")
	}
	if !hasHashTag(name) && strings.ContainsAny(name, "{}") {
		panic(fmt.Sprintf("redisq: stream name %q has braces but no hash tag", name))
	}
	return func(c *config) { c.stream = name }
}

// Group sets the consumer group (default DefaultGroup). Every instance that
// shares the work of one stream uses the same group.
func Group(name string) Option {
	if name == "" {
		panic("redisq: empty group name")
	}
	return func(c *config) { c.group = name }
}

// Consumer sets this instance's consumer name within the group (default
// hostname-pid). Names must be unique among running instances. An instance
// that restarts should reuse its name (a pod name, not a random one): on
// Start it then takes back the entries it had not finished at once, instead
// of waiting for another instance to reclaim them after the visibility
// timeout.
func Consumer(name string) Option {
	if name == "" {
		panic("redisq: empty consumer name")
	}
	return func(c *config) { c.consumer = name }
}

// Workers sets how many events are processed at once (default
// 4*GOMAXPROCS: handlers mostly wait on I/O). It panics if n < 1.
func Workers(n int) Option {
	if n < 1 {
		panic("redisq: Workers expects n >= 1")
	}
	return func(c *config) { c.workers = n }
}

// The default of Prefetch: defaultPrefetchPerWorker entries per worker, at
// most maxDefaultPrefetch.
const (
	defaultPrefetchPerWorker = 4
	maxDefaultPrefetch       = 256
)

// Prefetch sets how many entries the queue reads ahead of its workers
// (default: four per worker, at most 256). While every worker is busy, the
// next entries are already read from Redis and wait in memory, so a worker
// that finishes starts on the next entry at once, and one XREADGROUP
// fetches many entries instead of one per freed worker (the reader waits
// until it can fetch as many as Prefetch). Entries read ahead are not
// available to other instances meanwhile: with slow handlers and several
// instances, a smaller Prefetch spreads the work more evenly. Entries
// read ahead are delivered to this consumer and kept alive by its heartbeat,
// like those being processed; if Shutdown ends before they start, they stay
// pending and are processed again later, like any entry in flight.
// Prefetch(0) reads only for free workers. It panics if n < 0.
func Prefetch(n int) Option {
	if n < 0 {
		panic("redisq: Prefetch expects n >= 0")
	}
	return func(c *config) { c.prefetch = n }
}

// VisibilityTimeout sets how long an entry delivered to a consumer may go
// without a sign of life before another consumer reclaims it (default 30s).
// A running handler does not need to finish within it: the queue refreshes
// the entries it is processing every third of the timeout. It only bounds
// how soon the work of a crashed instance is taken over.
func VisibilityTimeout(d time.Duration) Option {
	if d <= 0 {
		panic("redisq: VisibilityTimeout expects d > 0")
	}
	return func(c *config) { c.visibility = d }
}

// ClaimInterval sets how often the queue looks for entries pending on other
// consumers for longer than the visibility timeout (default half the
// visibility timeout).
func ClaimInterval(d time.Duration) Option {
	if d <= 0 {
		panic("redisq: ClaimInterval expects d > 0")
	}
	return func(c *config) { c.claimInterval = d }
}

// CallTimeout bounds every Redis call the queue makes, Enqueue's included
// (default 1s). For the bound to hold on a hung connection (not only on a
// refused one) the client needs ContextTimeoutEnabled, or read and write
// timeouts no longer than d.
func CallTimeout(d time.Duration) Option {
	if d <= 0 {
		panic("redisq: CallTimeout expects d > 0")
	}
	return func(c *config) { c.callTimeout = d }
}

// PollInterval sets how long a read waits for new entries (XREADGROUP
// BLOCK) and how often due retries are moved back to the stream (default
// 200ms). Shutdown waits up to about this long for the reader to stop.
func PollInterval(d time.Duration) Option {
	if d <= 0 {
		panic("redisq: PollInterval expects d > 0")
	}
	return func(c *config) { c.poll = d }
}

// DefaultMaxLen is the default bound of a queue's backlog (MaxLen).
const DefaultMaxLen = 1_000_000

// MaxLen bounds the queue's backlog: Enqueue refuses an event (with an error
// matching driver.ErrQueueFull, so the sender is answered 503 and retries)
// while the stream's entries and the retries scheduled in the delayed set
// number n or more (default DefaultMaxLen; 0: no bound). The stream holds
// only entries not yet acknowledged, since the queue deletes an entry when it
// acknowledges it, so this is not trimming: the queue never trims, and no
// unacknowledged entry is ever dropped to make room. Retries of accepted
// events, moved back from the delayed set, are never refused.
func MaxLen(n int64) Option {
	if n < 0 {
		panic("redisq: MaxLen expects n >= 0")
	}
	return func(c *config) { c.maxLen = n }
}

// DefaultMaxDeadLetters is the default bound of a DeadLetters store.
const DefaultMaxDeadLetters = 100_000

// MaxDeadLetters bounds the dead letters a DeadLetters store keeps (default
// DefaultMaxDeadLetters; 0: no bound). A full store refuses a new dead
// letter with an error matching driver.ErrDeadLettersFull, rather than
// drop an older one; the receiver then keeps the event in the queue and
// tries to dead-letter it again later (see driver.ErrDeadLettersFull).
// Replaying or deleting dead letters makes room.
func MaxDeadLetters(n int64) Option {
	if n < 0 {
		panic("redisq: MaxDeadLetters expects n >= 0")
	}
	return func(c *config) { c.maxDead = n }
}

// EntryFormat sets the format of the stream entries Enqueue writes: 2, the
// compact format (the default), or 1, the format of releases before it.
// Every release reads both, but a release before format 2 cannot read a
// format 2 entry: it would dead-letter it as malformed. For a rolling
// upgrade of instances that share a stream, deploy with EntryFormat(1) until
// no older instance runs, then without it. A retry keeps its entry's format.
// It panics on another version.
func EntryFormat(version int) Option {
	if version != 1 && version != 2 {
		panic("redisq: EntryFormat expects 1 or 2")
	}
	return func(c *config) { c.format = version }
}

// Logger sets the logger (default: discard).
func Logger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// hashTag returns the part of key Redis Cluster hashes, and whether key has
// a hash tag: the text between the first '{' and the next '}', if not empty.
func hashTag(key string) (string, bool) {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return key, false
	}
	j := strings.IndexByte(key[i+1:], '}')
	if j <= 0 {
		return key, false
	}
	return key[i+1 : i+1+j], true
}

func hasHashTag(key string) bool { _, ok := hashTag(key); return ok }

// companion returns the key named suffix that belongs with stream and hashes
// to its slot.
func companion(stream, suffix string) string {
	if hasHashTag(stream) {
		return stream + ":" + suffix
	}
	return "{" + stream + "}:" + suffix
}
