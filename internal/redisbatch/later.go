package redisbatch

import (
	"context"
	"sync"

	"github.com/hookwise/hookwise/internal/redisscript"
)

// Later collects the script calls a store defers while a queue's worker
// runs one attempt of an event, so that the queue sends them with the
// entry's acknowledgement, in the same pipeline and before it, instead of
// each in a round trip of its own. The queue creates it for the attempt's
// claim token and its Batcher, passes it down in the attempt's context
// (WithLater), and Seals it once the attempt returned; from then on Defer
// refuses calls, which the store then sends itself. It is safe for concurrent
// use.
type Later struct {
	b     *Batcher
	token string

	mu        sync.Mutex
	sealed    bool
	calls     []redisscript.Call
	confirmed bool // the queue confirmed the token's claim: one Confirm is answered true
}

// NewLater returns a Later for the calls made on b's client for the claim
// token. An empty token takes no call.
func NewLater(b *Batcher, token string) *Later {
	return &Later{b: b, token: token}
}

type laterKey struct{}

// WithLater returns ctx carrying l.
func WithLater(ctx context.Context, l *Later) context.Context {
	return context.WithValue(ctx, laterKey{}, l)
}

// laterOf returns the Later that ctx carries when it is for the Batcher b
// and the non-empty token, else nil.
func laterOf(ctx context.Context, b *Batcher, token string) *Later {
	l, _ := ctx.Value(laterKey{}).(*Later)
	if l == nil || b == nil || l.b != b || token == "" || l.token != token {
		return nil
	}
	return l
}

// Defer adds call to the Later that ctx carries and reports whether it did:
// only when that Later is for the Batcher b (the same client) and the
// non-empty claim token, and not sealed yet. A caller told false runs the
// call itself.
func Defer(ctx context.Context, b *Batcher, token string, call redisscript.Call) bool {
	l := laterOf(ctx, b, token)
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sealed {
		return false
	}
	l.calls = append(l.calls, call)
	return true
}

// SetConfirmed records that the queue confirmed the dedupe claim of l's
// token, for the lease the store's Confirm would set, when it read the
// entry: the attempt's first Confirm of that token is then answered without
// a call (TakeConfirmed).
func (l *Later) SetConfirmed() {
	l.mu.Lock()
	l.confirmed = true
	l.mu.Unlock()
}

// TakeConfirmed reports whether the Later that ctx carries, for the Batcher
// b and the non-empty token, has its claim confirmed already (SetConfirmed),
// and clears that: it answers true at most once, and never once sealed. A
// caller told false confirms the claim itself.
func TakeConfirmed(ctx context.Context, b *Batcher, token string) bool {
	l := laterOf(ctx, b, token)
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ok := l.confirmed && !l.sealed
	l.confirmed = false
	return ok
}

// Seal stops l taking calls and returns those it holds, in the order they
// were deferred.
func (l *Later) Seal() []redisscript.Call {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sealed = true
	return l.calls
}
