package verify

import "net/http"

// Reply is a complete HTTP answer sent in place of passing a request on: the
// answer to a handshake (a challenge, an SSL check, a subscription
// confirmation). Package provider names it provider.Reply; it lives here so
// that Middleware, which sits below the provider contract, can send it too.
type Reply struct {
	// Status is the answer's status code; 0 means 200.
	Status int
	// ContentType is the answer's Content-Type. When it is empty and Body is
	// not, "text/plain; charset=utf-8" is sent: a challenge echoed back is
	// chosen by the requester and must never be sniffed as HTML.
	ContentType string
	// Body is the answer's body.
	Body []byte
	// VerifyFirst, in a reply returned by Handshaker.Handshake, sends the
	// reply only to a request that passes the verifier (a signed challenge:
	// Twitch's webhook_callback_verification, Zoom's endpoint.url_validation);
	// a request that fails is rejected as any other (401). When false the
	// reply is sent to an unverified request, so it must carry nothing
	// derived from secrets. It is ignored where the request is already
	// verified (a provider's Envelope.Reply).
	VerifyFirst bool
}

// ServeHTTP writes the reply to w: the status, the Content-Type and the
// body, with X-Content-Type-Options: nosniff.
func (rep *Reply) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	switch {
	case rep.ContentType != "":
		h.Set("Content-Type", rep.ContentType)
	case len(rep.Body) > 0:
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	h.Set("X-Content-Type-Options", "nosniff")
	status := rep.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(rep.Body)
}

// Handshaker is implemented by verifiers and providers whose sender sends
// requests that are not events: GET challenges (Meta's hub.challenge,
// Dropbox, Microsoft Graph's validationToken), unsigned POST checks
// (Slack's ssl_check), signed challenges recognisable before the body is
// parsed (Twitch), subscription confirmations. Package provider names it
// provider.Handshaker.
//
// The handshake stage runs first, before the method check and before
// verification, in a receiver.Receiver and in Middleware alike:
//
//   - a request other than POST is passed with a nil body (its body is not
//     read for the stage); a nil answer then means 405 in a Receiver, while
//     Middleware, which checks no method, goes on to verify the request;
//   - a POST is passed with its body, read through the body limit (an
//     oversized body is answered 413 and never reaches Handshake).
//
// A non-nil Reply is the answer, and the request goes no further: never to
// the dedupe store, the queue, a handler or the next http.Handler. When its
// VerifyFirst is set, the request is verified first and rejected (401) if
// it fails.
type Handshaker interface {
	// Handshake returns the answer to r when r is a handshake, or nil to
	// handle r as usual. It runs on every request, before verification:
	// it must be cheap, read no more of body than it needs, keep no state,
	// and answer an unverified request (VerifyFirst unset) with nothing
	// derived from secrets unless it authenticates the request itself (a
	// verify token compared in constant time). Implementations are safe for
	// concurrent use.
	Handshake(r *http.Request, body []byte) *Reply
}

// WithHandshaker sets the handshake stage Middleware runs before
// verification. By default it is the Verifier given to Middleware when that
// implements Handshaker; use this option when it is wrapped, or to add a
// handshake to a Verifier of one's own. WithHandshaker(nil) turns the
// stage off.
func WithHandshaker(h Handshaker) MiddlewareOption {
	return func(m *middleware) { m.hs, m.hsSet = h, true }
}

// handshake runs the handshake stage; it reports whether it answered r.
// body is nil for a request other than POST.
func (m *middleware) handshake(w http.ResponseWriter, r *http.Request, v Verifier, body []byte) bool {
	if m.hs == nil {
		return false
	}
	rep := m.hs.Handshake(r, body)
	if rep == nil {
		return false
	}
	if rep.VerifyFirst {
		if err := v.Verify(r, body); err != nil {
			m.reject(w, r, http.StatusUnauthorized, err)
			return true
		}
	}
	rep.ServeHTTP(w, r)
	return true
}
