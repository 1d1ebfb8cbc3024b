package receiver

import (
	"fmt"
	"net/http"
	"strings"
)

// Bounds of the envelope fields a provider reads from a delivery. They come
// from the sender, through signed material at best, so the receiver bounds
// them before they reach a store key, a log line or a metric label.
const (
	// MaxIDBytes is the longest event ID accepted.
	MaxIDBytes = 256
	// MaxTypeBytes is the longest event type accepted.
	MaxTypeBytes = 256
	// MaxVersionBytes is the longest payload version accepted.
	MaxVersionBytes = 64
)

// checkEnvelope refuses (400) an envelope whose ID, type or version is too
// long or holds a byte outside printable ASCII (controls, spaces, non-ASCII).
// An ID may not start with "~", which dead-letter keys of events without an
// ID use. The offending value is never quoted in the error.
func checkEnvelope(env Envelope) error {
	switch {
	case !fieldOK(env.ID, MaxIDBytes):
		return fmt.Errorf("%w: event ID longer than %d bytes or not printable ASCII", ErrMalformedEnvelope, MaxIDBytes)
	case strings.HasPrefix(env.ID, "~"):
		return fmt.Errorf("%w: event ID starts with ~", ErrMalformedEnvelope)
	case !fieldOK(env.Type, MaxTypeBytes):
		return fmt.Errorf("%w: event type longer than %d bytes or not printable ASCII", ErrMalformedEnvelope, MaxTypeBytes)
	case !fieldOK(env.Version, MaxVersionBytes):
		return fmt.Errorf("%w: version longer than %d bytes or not printable ASCII", ErrMalformedEnvelope, MaxVersionBytes)
	}
	return nil
}

// fieldOK reports whether s has at most max bytes, each printable ASCII
// other than space (0x21 to 0x7e).
func fieldOK(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// DefaultDroppedHeaders are the request headers a receiver does not keep with
// an event, unless WithHeaders says otherwise: credentials meant for proxies
// and the receiving server (no handler or replay needs them, and they would
// sit in the queue and the dead-letter store, in Redis with Redis), and
// hop-by-hop headers that describe one connection.
var DefaultDroppedHeaders = []string{
	"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie",
	"X-Api-Key", "X-Auth-Token", "X-Csrf-Token", "X-Xsrf-Token",
	"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

var defaultDropped = func() map[string]bool {
	m := make(map[string]bool, len(DefaultDroppedHeaders))
	for _, h := range DefaultDroppedHeaders {
		m[http.CanonicalHeaderKey(h)] = true
	}
	return m
}()

// keepDefault is the default header policy: every header except
// DefaultDroppedHeaders.
func keepDefault(name string) bool { return !defaultDropped[name] }

// keptHeader copies the headers the receiver's policy keeps.
func (r *Receiver) keptHeader(h http.Header) http.Header {
	n := 0
	for _, v := range h {
		n += len(v)
	}
	out := make(http.Header, len(h))
	vals := make([]string, 0, n) // one backing array for every value
	for k, v := range h {
		if r.cfg.keepHeader(k) {
			i := len(vals)
			vals = append(vals, v...)
			out[k] = vals[i:len(vals):len(vals)] // capped: an append to one never writes into the next
		}
	}
	return out
}
