package postgres

import (
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookwise/hookwise/receiver"
)

// Inbox wires the Store, the Queues, the DeadLetters and the OrderStore of one schema
// together, and serves the event history (Find, Get, Replay, Cleanup).
// Create it with New.
type Inbox struct {
	pool           *pgxpool.Pool
	cfg            config
	opts           []Option
	store          *Store
	dead           *DeadLetters
	order          *OrderStore
	events, dedupe string
}

// New returns an Inbox on pool, which the caller owns and closes after the
// receivers' Shutdown. The options apply to everything it makes. It panics
// for a nil pool or an invalid Schema. The tables must exist: call Migrate
// first (or apply Migrations with your own tool).
func New(pool *pgxpool.Pool, opts ...Option) *Inbox {
	cfg := newPoolConfig(pool, opts)
	s := quote(cfg.schema)
	return &Inbox{
		pool: pool, cfg: cfg, opts: opts,
		store: NewStore(pool, opts...), dead: NewDeadLetters(pool, opts...), order: NewOrderStore(pool, opts...),
		events: s + ".events", dedupe: s + ".dedupe",
	}
}

// Store returns the Inbox's dedupe store (a full dedupe.Store, for use on
// its own; Options wires it differently).
func (in *Inbox) Store() *Store { return in.store }

// DeadLetters returns the Inbox's dead-letter store.
func (in *Inbox) DeadLetters() *DeadLetters { return in.dead }

// OrderStore returns the Inbox's ordering lines, the driver.OrderStore for
// per-key ordering shared by the replicas on the database (pass it to the
// receiver's ordering option). Options does not wire it: ordering is opt-in
// per route.
func (in *Inbox) OrderStore() *OrderStore { return in.order }

// Queue returns a new Queue for one receiver (one endpoint), with the
// Inbox's options followed by opts. Its Enqueue does not claim dedupe keys:
// Options wires a queue that does.
func (in *Inbox) Queue(opts ...Option) *Queue {
	return NewQueue(in.pool, append(append([]Option(nil), in.opts...), opts...)...)
}

// Options returns the receiver options that put one endpoint on the Inbox:
// the endpoint's name (receiver.WithEndpoint), the Inbox's dedupe store, a
// new Queue, and its dead-letter store, wired so that
// the request path is one statement. The receiver's dedupe Claim is
// answered without a round trip, and the queue's Enqueue claims the event's
// key for the delivery's claim token and stores the event in one
// statement, which commits both or neither (see the package
// documentation). Pass the endpoint's name (its events are stored under
// it, and run only by receivers of that name) and any Queue options, after
// the Inbox's. Use each result for one receiver only.
func (in *Inbox) Options(endpoint string, opts ...Option) []receiver.Option {
	return []receiver.Option{
		receiver.WithEndpoint(endpoint),
		receiver.WithStore(enqueueClaims{in.store}),
		receiver.WithQueue(in.claimingQueue(endpoint, opts...)),
		receiver.WithDeadLetters(in.dead),
	}
}

// claimingQueue returns a new Queue for endpoint whose Enqueue claims the
// event's dedupe key in the same statement, as Options wires it.
func (in *Inbox) claimingQueue(endpoint string, opts ...Option) *Queue {
	qopts := append(append([]Option(nil), in.opts...), opts...)
	qopts = append(qopts, Endpoint(endpoint), func(c *config) { c.claimOnEnqueue = true })
	return NewQueue(in.pool, qopts...)
}
