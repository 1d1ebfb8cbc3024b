package receiver

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hookwise/hookwise/verify"
)

// ErrUnreadableBody matches the error of a request whose body could not be
// read whole (the connection broke, or the body ended before its
// Content-Length): 400.
var ErrUnreadableBody = errors.New("receiver: request body unreadable")

// errMethod is the reason of a 405.
var errMethod = errors.New("receiver: method not allowed")

// The reasons Classify returns: a bounded set, usable as a metric label.
const (
	ReasonMethod      = "method"      // 405: a method other than POST, not a handshake
	ReasonTooLarge    = "too_large"   // 413: the body exceeds MaxBodyBytes
	ReasonUnreadable  = "unreadable"  // 400: the body could not be read
	ReasonSignature   = "signature"   // 401: missing, malformed or wrong signature, or no usable key
	ReasonTimestamp   = "timestamp"   // 401: missing, malformed or stale signed timestamp
	ReasonMalformed   = "malformed"   // 400: the envelope (ID, type) cannot be read or is out of bounds
	ReasonInvalid     = "invalid"     // 422: the payload fails validation (RejectInvalid)
	ReasonUnavailable = "unavailable" // 503: the dedupe store or the queue cannot take the event now
	ReasonOverloaded  = "overloaded"  // 503: the receiver's body budget is spent
	ReasonPending     = "pending"     // 503: another delivery of the event is being accepted
	ReasonClosed      = "closed"      // 503: the receiver is shutting down
	ReasonInternal    = "internal"    // 500: anything else
)

// Classify is the receiver's status table: the HTTP status it answers for
// err, an error of the request path, and the reason class of that answer.
// ServeHTTP, StatusCode and error renderers all read it, and the README's
// table of answers lists the same rows.
//
//	401 signature, timestamp   verification failed (errors.Is verify.ErrVerification)
//	400 malformed              ErrMalformedEnvelope
//	400 unreadable             ErrUnreadableBody
//	413 too_large              *http.MaxBytesError
//	405 method                 a method other than POST that is not a handshake
//	422 invalid                ErrInvalidPayload
//	503 unavailable            ErrStore, ErrQueueFull
//	503 overloaded             ErrOverloaded
//	503 pending                ErrPending
//	503 closed                 ErrClosed
//	500 internal               anything else
//
// A nil err is 200 with reason "".
func Classify(err error) (status int, reason string) {
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return http.StatusOK, ""
	case errors.Is(err, verify.ErrMissingTimestamp), errors.Is(err, verify.ErrMalformedTimestamp),
		errors.Is(err, verify.ErrTimestampOutsideWindow):
		return http.StatusUnauthorized, ReasonTimestamp
	case errors.Is(err, verify.ErrVerification):
		return http.StatusUnauthorized, ReasonSignature
	case errors.Is(err, ErrMalformedEnvelope):
		return http.StatusBadRequest, ReasonMalformed
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, ReasonTooLarge
	case errors.Is(err, ErrUnreadableBody):
		return http.StatusBadRequest, ReasonUnreadable
	case errors.Is(err, errMethod):
		return http.StatusMethodNotAllowed, ReasonMethod
	case errors.Is(err, ErrInvalidPayload):
		return http.StatusUnprocessableEntity, ReasonInvalid
	case errors.Is(err, ErrOverloaded):
		return http.StatusServiceUnavailable, ReasonOverloaded
	case errors.Is(err, ErrPending):
		return http.StatusServiceUnavailable, ReasonPending
	case errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable, ReasonClosed
	case errors.Is(err, ErrQueueFull), errors.Is(err, ErrStore):
		return http.StatusServiceUnavailable, ReasonUnavailable
	}
	return http.StatusInternalServerError, ReasonInternal
}

// StatusCode returns the HTTP status the receiver answers for err, an error
// of the request path: Classify's status.
func StatusCode(err error) int {
	s, _ := Classify(err)
	return s
}

// Refusal is a request the receiver answers with an error status: what an
// error renderer (WithErrorRenderer) receives.
type Refusal struct {
	Status int    // from Classify
	Reason string // from Classify: a bounded class, never the sender's text
	// Err is the cause, for logs; its text may quote the request (bounded and
	// escaped in the receiver's own logs). Never send it to the client: a 401
	// must not say which check failed.
	Err error
	// RetryAfter is the delay a 503 asks the sender to wait (the Retry-After
	// header, in whole seconds, at least 1); 0 for other statuses.
	RetryAfter time.Duration
	// Problem is the application/problem+json body of a 422, nil otherwise.
	Problem []byte
	// Allow is the Allow header of a 405 ("POST"), "" otherwise.
	Allow string
}

// WriteRefusal writes rf the receiver's default way: the Allow and
// Retry-After headers when set, then the status with its status text as a
// plain-text body, or Problem as application/problem+json. Error renderers
// may call it for the answers they do not render themselves.
func WriteRefusal(w http.ResponseWriter, rf Refusal) {
	h := w.Header()
	if rf.Allow != "" {
		h.Set("Allow", rf.Allow)
	}
	if rf.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(RetryAfterSeconds(rf.RetryAfter)))
	}
	if rf.Problem != nil {
		h.Set("Content-Type", "application/problem+json")
		w.WriteHeader(rf.Status)
		_, _ = w.Write(rf.Problem)
		return
	}
	http.Error(w, http.StatusText(rf.Status), rf.Status)
}

// RetryAfterSeconds rounds d up to whole seconds for a Retry-After header,
// at least 1.
func RetryAfterSeconds(d time.Duration) int {
	return max(int((d+time.Second-1)/time.Second), 1)
}

// refusal builds the Refusal of err for this receiver's configuration.
func (r *Receiver) refusal(err error) Refusal {
	status, reason := Classify(err)
	rf := Refusal{Status: status, Reason: reason, Err: err}
	switch status {
	case http.StatusServiceUnavailable:
		rf.RetryAfter = r.cfg.retryAfter
	case http.StatusMethodNotAllowed:
		rf.Allow = http.MethodPost
	case http.StatusUnprocessableEntity:
		if p, ok := errors.AsType[ProblemError](err); ok {
			rf.Problem = p.ProblemJSON()
		} else {
			rf.Problem = fmt.Appendf(nil, `{"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":%q}`, err.Error())
		}
	}
	return rf
}

// ProblemError is implemented by validation errors that render themselves
// as an RFC 9457 problem body (package schema's errors do): the receiver
// answers a 422 with it.
type ProblemError interface {
	error
	ProblemJSON() []byte
}

// verifyError marks an error a provider's Verify returned that does not
// say it is a verification failure itself (a key that could not be
// fetched, say): the request is not verified, so it is answered 401 all
// the same.
type verifyError struct{ err error }

func (e *verifyError) Error() string        { return e.err.Error() }
func (e *verifyError) Unwrap() error        { return e.err }
func (e *verifyError) Is(target error) bool { return target == verify.ErrVerification }

// parseError does the same for Provider.Parse: 400.
type parseError struct{ err error }

func (e *parseError) Error() string        { return e.err.Error() }
func (e *parseError) Unwrap() error        { return e.err }
func (e *parseError) Is(target error) bool { return target == ErrMalformedEnvelope }
