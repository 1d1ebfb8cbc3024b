// Package dedupe remembers which deliveries a receiver has already taken, so
// that a redelivery or a concurrent copy of one event reaches a handler once,
// and so that no delivery is mistaken for a duplicate of itself.
//
// Every delivery attempt draws a random token (NewToken) and goes through
// the store in up to three steps:
//
//  1. Claim admits the key for the token with a short admission lease. The
//     outcome is Claimed (the token holds the key), Pending (another
//     delivery holds it and its outcome is not known yet: answer "retry
//     later") or Duplicate (the event was stored by another delivery).
//     Running the same Claim again answers Claimed, so a client that resends
//     a command after a dropped connection cannot turn a delivery into a
//     duplicate of itself.
//  2. Confirm, once the event is stored (queued), extends the claim to the
//     full lease. An attempt whose outcome is unknown (the reply was lost,
//     the call timed out) therefore holds the key only for the admission
//     lease, after which the sender's retry is admitted.
//  3. Complete turns the claim into a done marker kept for a long retention
//     once the event was handled, and Release forgets it so that the
//     sender's retry is processed. Both act only for the token that holds the
//     key, so a holder whose lease lapsed cannot undo or overwrite the claim
//     of the delivery that took the key after it.
//
// A claim whose lease lapses (its holder crashed) can be taken again.
//
// Memory is the in-process default; Redis shares the keys between replicas,
// on a single server or a Redis Cluster. FailOpen keeps deliveries flowing
// while a store is down, at the risk of duplicates. Package dedupetest is the
// conformance suite every Store passes.
package dedupe

import (
	"context"
	"crypto/rand"
	"errors"
	"strconv"
	"time"
)

// Outcome is what Claim found. The zero Outcome is not a valid outcome: Claim
// returns it with every error.
type Outcome uint8

// The outcomes of Claim.
const (
	// Claimed: the token holds the key now, newly taken (the key was absent,
	// its lease had lapsed, or its retention had), or by a re-run of the
	// token's own claim (admitted or confirmed). The caller processes the
	// delivery.
	Claimed Outcome = iota + 1
	// Pending: another token admitted the key and has not confirmed it, so
	// that delivery's outcome is not known yet (it may still be stored, or
	// it may have failed). The caller answers "retry later" (503), neither
	// processing the delivery nor acknowledging it.
	Pending
	// Duplicate: another token confirmed the key (its event is stored), or
	// the key is done. The caller acknowledges the delivery without
	// processing it.
	Duplicate
)

// String returns "claimed", "pending" or "duplicate", and "Outcome(n)" for
// any other value.
func (o Outcome) String() string {
	switch o {
	case Claimed:
		return "claimed"
	case Pending:
		return "pending"
	case Duplicate:
		return "duplicate"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Store records delivery keys, each held at most by one claim token at a
// time. Implementations are safe for concurrent use. A key is opaque:
// callers build it with Key. A token identifies one delivery attempt: draw a
// new one with NewToken for each attempt, and use it for every call about
// that attempt.
//
// A key is in one of four states: absent (never claimed, released, or its
// lease or retention lapsed), admitted by a token (for the short admission
// lease), confirmed by a token (for the full lease, once its event is
// stored), or done (for the retention). Every call is atomic, and so is its
// effect on the key: running it again with the same arguments (as a client
// that resends a command after a dropped connection does) answers the same
// and changes nothing more.
//
// An error means the store could not answer: the call may or may not have
// taken effect, and the caller must not treat the delivery as new or as a
// duplicate. A context that is already done makes every call return its
// error without doing anything.
type Store interface {
	// Claim admits key for token with a (short) admission lease, which
	// Confirm extends once the delivery's event is stored:
	//   - key absent, or its lease or retention lapsed: admitted by token,
	//     for lease; Claimed.
	//   - key held by token (admitted or confirmed): Claimed; the key's
	//     state and lease are unchanged (never shortened).
	//   - key admitted by another token: Pending.
	//   - key confirmed by another token, or done: Duplicate.
	// An empty token returns ErrInvalidToken, a lease that is not positive
	// ErrInvalidDuration; the call changes nothing then.
	Claim(ctx context.Context, key, token string, lease time.Duration) (Outcome, error)
	// Confirm turns token's claim of key (admitted or confirmed) into a
	// claim confirmed for lease from now: the full lease, given once the
	// delivery's event is stored, so that a redelivery is a Duplicate. It
	// reports false (and a nil error) when token does not hold key (the
	// claim lapsed or was released, the key is done or held by another
	// token); nothing changes then. An empty token returns ErrInvalidToken,
	// a lease that is not positive ErrInvalidDuration.
	Confirm(ctx context.Context, key, token string, lease time.Duration) (bool, error)
	// Complete marks key done for retention when token holds it (admitted
	// or confirmed) or nobody does (absent or lapsed): every Claim within
	// the retention is then a Duplicate. When another token holds key,
	// nothing changes, so a late Complete from a holder whose lease lapsed
	// never overwrites a newer claim. A done key stays done, its retention
	// unchanged. An empty token completes key unconditionally, whatever
	// holds it (for events stored before claims had tokens). A retention
	// that is not positive returns ErrInvalidDuration.
	Complete(ctx context.Context, key, token string, retention time.Duration) error
	// Release forgets key when token holds it (admitted or confirmed), so
	// that a redelivery is processed; a done key, another token's claim, or
	// an absent key is left as it is. An empty token releases key
	// unconditionally, whether claimed or done.
	Release(ctx context.Context, key, token string) error
}

// AdmittedReleaser is a Store that can also release a claim only while it is
// admitted. A receiver whose enqueue failed calls it for the delivery's own
// claim: the failure does not prove the event was not stored (a reply can be
// lost after the write), and a worker that took a stored copy has confirmed
// the claim by then, which must stay so that the sender's retry is a
// Duplicate rather than a second copy. A claim still admitted is released,
// so that the retry is processed at once. With a store that does not
// implement it, the receiver releases nothing there: the claim holds the key
// until its admission lease lapses, and the retry is Pending until then.
// Every store of this module, and FailOpen over one, implements it.
type AdmittedReleaser interface {
	// ReleaseAdmitted forgets key when token holds it admitted (not yet
	// confirmed); a key confirmed by token, another token's claim, a done
	// key or an absent one is left as it is. An empty token returns
	// ErrInvalidToken and changes nothing.
	ReleaseAdmitted(ctx context.Context, key, token string) error
}

// ErrClosed is returned by a Store used after Close.
var ErrClosed = errors.New("dedupe: store closed")

// Key returns the store key of event id from provider: the provider's name,
// a colon, and the id, so that two providers' ids never collide.
func Key(provider, id string) string { return provider + ":" + id }

// NewToken returns a new random claim token: crypto/rand.Text, 26
// characters of the standard base32 alphabet (A to Z, 2 to 7) carrying 130
// random bits, so two tokens are equal with probability below 2^-128. It is
// cheap (one small allocation, no error) and safe for concurrent use.
func NewToken() string { return rand.Text() }
