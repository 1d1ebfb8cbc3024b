package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookwise/hookwise/receiver"
)

// Conn is what Migrate and CheckSchema need of a database handle:
// *pgxpool.Pool, *pgx.Conn and pgx.Tx implement it.
type Conn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Defaults of the options.
const (
	DefaultSchema          = "hookwise"
	DefaultCallTimeout     = 2 * time.Second  // per statement on the request path and per store call
	DefaultVisibility      = 30 * time.Second // lease of a running attempt; heartbeats renew it every third of it
	DefaultPollInterval    = time.Second      // the polling backstop (or the polling period with PollOnly)
	DefaultHistory         = 7 * 24 * time.Hour
	DefaultCleanupInterval = time.Minute
	DefaultCleanupBatch    = 1000
	DefaultMaxBacklog      = 1_000_000
	DefaultMaxDeadLetters  = 100_000
	// MaxErrorBytes bounds the last error kept with an event or a dead
	// letter's reason.
	MaxErrorBytes = 2048
)

// Option configures an Inbox, a Store, a Queue or a DeadLetters; each
// ignores the options that do not concern it.
type Option func(*config)

type config struct {
	schema         string
	callTimeout    time.Duration
	workers        int
	batch          int
	visibility     time.Duration
	pollInterval   time.Duration
	pollOnly       bool
	endpoint       string
	claimLease     time.Duration
	retention      time.Duration
	history        time.Duration
	cleanupEvery   time.Duration
	cleanupBatch   int
	maxBacklog     int
	maxDeadLetters int
	logger         *slog.Logger
	instance       string
	claimOnEnqueue bool
}

// newPoolConfig is newConfig for a constructor on pool: it panics for a nil
// pool or an invalid Schema.
func newPoolConfig(pool *pgxpool.Pool, opts []Option) config {
	if pool == nil {
		panic("postgres: nil pool")
	}
	cfg := newConfig(opts)
	checkSchemaName(cfg.schema)
	return cfg
}

func newConfig(opts []Option) config {
	host, _ := os.Hostname()
	c := config{
		schema: DefaultSchema, callTimeout: DefaultCallTimeout, workers: 8,
		visibility: DefaultVisibility, pollInterval: DefaultPollInterval,
		claimLease: receiver.DefaultLease, retention: receiver.DefaultRetention,
		history: DefaultHistory, cleanupEvery: DefaultCleanupInterval, cleanupBatch: DefaultCleanupBatch,
		maxBacklog: DefaultMaxBacklog, maxDeadLetters: DefaultMaxDeadLetters,
		instance: host + ":" + strconv.Itoa(os.Getpid()),
	}
	for _, o := range opts {
		o(&c)
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.batch <= 0 {
		c.batch = c.workers
	}
	return c
}

// Schema sets the PostgreSQL schema of the tables (default DefaultSchema).
// It must be a plain identifier of at most 48 bytes; New and NewQueue panic
// otherwise.
func Schema(name string) Option { return func(c *config) { c.schema = name } }

// CallTimeout bounds each statement of Enqueue, of the store and of the
// dead-letter store (default DefaultCallTimeout). A statement that does not
// finish in time fails: on the request path the receiver answers 503 with
// Retry-After.
func CallTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.callTimeout = d
		}
	}
}

// Workers sets how many events a Queue handles at once (default 8). Each
// running attempt may hold a pool connection (a transactional handler holds
// one for its transaction), so size the pool for Workers plus the request
// path, plus one for LISTEN.
func Workers(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.workers = n
		}
	}
}

// Batch sets the most events one claim statement takes (default: Workers).
func Batch(n int) Option { return func(c *config) { c.batch = n } }

// Visibility sets the lease of a running attempt (default
// DefaultVisibility): heartbeats renew it every third of it while the
// handler runs, and an attempt whose instance died is run again once it
// lapses.
func Visibility(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.visibility = d
		}
	}
}

// PollInterval sets how often idle workers look for due events without a
// notification (default DefaultPollInterval): the backstop for lost
// notifications and the clock of scheduled retries.
func PollInterval(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.pollInterval = d
		}
	}
}

// PollOnly turns LISTEN/NOTIFY off: Enqueue sends no notification, and
// workers find events by polling every PollInterval. Use it behind a pooler
// in transaction mode (PgBouncer), where LISTEN does not work.
func PollOnly() Option { return func(c *config) { c.pollOnly = true } }

// Endpoint names the receiver endpoint whose events a Queue stores and
// runs. By default a Queue takes the name its processor reports when it is
// started (receiver.WithEndpoint, default the provider's name). Queues of
// different endpoints share the tables and never run each other's events.
func Endpoint(name string) Option { return func(c *config) { c.endpoint = name } }

// ClaimLease sets the lease of the dedupe claim Enqueue takes with the
// Inbox's wiring (default receiver.DefaultLease; keep it equal to the
// receiver's WithLease).
func ClaimLease(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.claimLease = d
		}
	}
}

// Retention sets how long a transactional handler's completion keeps the
// event's dedupe mark (default receiver.DefaultRetention; keep it equal to
// the receiver's WithRetention).
func Retention(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.retention = d
		}
	}
}

// History sets how long handled and dead events stay in the events table
// (default DefaultHistory). A started Queue deletes older ones, and expired
// dedupe marks, every CleanupInterval.
func History(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.history = d
		}
	}
}

// CleanupInterval sets how often a started Queue runs the cleanup (default
// DefaultCleanupInterval); a negative value turns it off (run
// Inbox.Cleanup yourself then).
func CleanupInterval(d time.Duration) Option { return func(c *config) { c.cleanupEvery = d } }

// CleanupBatch sets the most rows one cleanup statement deletes (default
// DefaultCleanupBatch).
func CleanupBatch(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.cleanupBatch = n
		}
	}
}

// MaxBacklog bounds the events of one endpoint queued or running (default
// DefaultMaxBacklog): beyond it Enqueue refuses new events with an error
// matching receiver.ErrQueueFull (503). The count is refreshed every
// PollInterval by a started Queue, so the bound is approximate.
func MaxBacklog(n int) Option { return func(c *config) { c.maxBacklog = n } }

// MaxDeadLetters bounds the dead letters stored (default
// DefaultMaxDeadLetters; 0: no bound). A full store refuses a new dead
// letter with receiver.ErrDeadLettersFull.
func MaxDeadLetters(n int) Option { return func(c *config) { c.maxDeadLetters = n } }

// Logger sets the logger of a Queue (default: discard).
func Logger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// Instance names this process in the locked_by column of the events it runs
// (default hostname:pid). The name must be unique among the running
// instances: a Queue that starts takes back at once the events left
// running under its name (by an earlier run of the same instance, killed),
// instead of waiting for their lease to lapse; a name stable across restarts
// (host and port, a pod name) makes use of that.
func Instance(name string) Option { return func(c *config) { c.instance = name } }

// checkSchemaName panics for a schema name that is not a plain identifier.
func checkSchemaName(s string) {
	if s == "" || len(s) > 48 {
		panic(fmt.Sprintf("postgres: schema name must have 1 to 48 bytes, got %d", len(s)))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			panic("postgres: schema name must be letters, digits and underscores, not starting with a digit")
		}
	}
}

// quote returns the schema name as a quoted identifier.
func quote(s string) string { return pgx.Identifier{s}.Sanitize() }

// micros returns d in whole microseconds, rounded up, for SQL intervals.
func micros(d time.Duration) int64 { return int64((d + time.Microsecond - 1) / time.Microsecond) }
