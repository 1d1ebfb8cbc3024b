package receiver

// Memory bounds of a Receiver and of the in-memory queue and dead-letter
// store. Every byte a sender can make the process hold is counted against
// one of them: body bytes being read (the body budget), events accepted and
// not yet finished (the queue's count and byte bounds), and dead letters
// (the dead-letter store's count and byte bounds).
const (
	// DefaultBodyBudget is the default budget of body bytes being read at
	// once by one Receiver, over all its requests: 64 MiB, or 4 ×
	// MaxBodyBytes when that is larger. See WithBodyBudget.
	DefaultBodyBudget = 64 << 20
	// DefaultQueueMaxBytes bounds the approximate size of the events held by
	// the default in-memory queue (queued, waiting for a retry or being
	// handled): 256 MiB. See QueueMaxBytes.
	DefaultQueueMaxBytes = 256 << 20
	// DefaultDeadLetterMaxBytes bounds the approximate size of the dead
	// letters a MemoryDeadLetters keeps when no bound is given: 64 MiB.
	DefaultDeadLetterMaxBytes = 64 << 20
)

// WithBodyBudget bounds the body bytes the receiver holds for requests whose
// body is being read, over all requests at once (default DefaultBodyBudget,
// or 4 × MaxBodyBytes when that is larger; a budget below MaxBodyBytes is
// raised to it, n ≤ 0 selects the default). Buffers grow with the bytes
// that actually arrive, not with the Content-Length a sender declares, and
// each growth is reserved from the budget; a reservation that does not fit
// is answered 503 with Retry-After (ErrOverloaded). The reservation is
// returned once the request is answered: the bodies of accepted events then
// count against the queue's byte bound (QueueMaxBytes) instead.
func WithBodyBudget(n int64) Option { return func(c *config) { c.bodyBudget = n } }

// QueueMaxBytes bounds the approximate size (bodies, payloads and headers)
// of all events the default in-memory queue holds: queued, waiting for a
// retry, or being handled (default DefaultQueueMaxBytes; n ≤ 0 selects the
// default). Beyond it new deliveries get 503 and the sender retries later;
// retries of accepted events are always taken back. An event larger than
// the whole bound is accepted only into an empty queue.
// New refuses it beside WithQueue, which it would not apply to.
func QueueMaxBytes(n int64) Option {
	return func(c *config) { c.queueBytes = n; c.queueOpts = append(c.queueOpts, "QueueMaxBytes") }
}

// eventOverhead approximates the fixed cost of an event and its bookkeeping.
const eventOverhead = 256

// eventSize approximates the memory an event holds: its bodies, headers and
// strings, plus a fixed overhead.
func eventSize(e *Event) int64 {
	n := int64(eventOverhead + len(e.Body) + len(e.Payload) + len(e.Provider) + len(e.ID) +
		len(e.Type) + len(e.Version) + len(e.ClaimToken))
	for k, vs := range e.Header {
		n += int64(len(k)) + 16
		for _, v := range vs {
			n += int64(len(v)) + 16
		}
	}
	return n
}
