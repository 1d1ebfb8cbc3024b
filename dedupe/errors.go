package dedupe

import "errors"

// Sentinel errors of the stores, besides ErrClosed.
var (
	// ErrInvalidDuration is returned by Claim and Confirm for a lease, and
	// by Complete for a retention, that is not positive. The call changes
	// nothing.
	ErrInvalidDuration = errors.New("dedupe: lease or retention not positive")
	// ErrInvalidToken is returned by Claim and Confirm for an empty claim
	// token. The call changes nothing. (Complete and Release take an empty
	// token as "whatever holds the key".)
	ErrInvalidToken = errors.New("dedupe: empty claim token")
	// ErrUnavailable matches every error of a store that could not reach its
	// backend (Redis down, a timeout, an error reply). The caller should
	// answer the sender with a retryable failure (503), or wrap the store in
	// FailOpen.
	ErrUnavailable = errors.New("dedupe: store unavailable")
	// ErrFull is returned by Memory when a Claim or Complete needs a new entry
	// but the store holds its maximum of entries and every one of them is a
	// claim whose lease still holds. It is better to have the sender retry
	// later than to drop a live claim and process its event twice.
	ErrFull = errors.New("dedupe: store full")
)

// StoreError is the error of a store operation that failed in the backend.
// It matches ErrUnavailable and unwraps to the backend's error (for Redis, the
// go-redis error, which names the server address but never a password). The
// key is never included: it comes from untrusted input.
type StoreError struct {
	Op  string // the operation, such as "redis claim"
	Err error  // the backend's error
}

// Error returns "dedupe: " followed by the operation and the backend's error.
func (e *StoreError) Error() string { return "dedupe: " + e.Op + ": " + e.Err.Error() }

// Unwrap returns ErrUnavailable and the backend's error, so that errors.Is
// matches either.
func (e *StoreError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }
