package kit

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/hookwise/hookwise/provider"
)

// SourceCache holds a value built from the secrets of a
// provider.SecretSource (an HMAC, parsed keys), rebuilt only when the
// source's list changes, as a declared Scheme's provider does: for a
// provider whose verification the kit cannot declare (Standard Webhooks'
// mixed HMAC and Ed25519 lists) and that still takes its secrets from a
// source. It is safe for concurrent use.
type SourceCache[T any] struct {
	src   provider.SecretSource
	build func(secrets []string) (T, error)
	cur   atomic.Pointer[cached[T]]
	mu    sync.Mutex // serialises builds
}

type cached[T any] struct {
	secrets []string // the list v was built from (a copy)
	v       T
}

// NewSourceCache returns a cache of build(src.Secrets()). It builds the
// value once, and returns an error, matching verify.ErrNoSecret when the
// list is empty or holds an empty or blank secret, or build's error.
func NewSourceCache[T any](src provider.SecretSource, build func(secrets []string) (T, error)) (*SourceCache[T], error) {
	c := &SourceCache[T]{src: src, build: build}
	if _, err := c.Get(); err != nil {
		return nil, err
	}
	return c, nil
}

// Get returns the value built from the source's current secrets: the
// cached one when the list is the one it was built from (compared as the
// application's secrets, not request input, so not in constant time), else
// a new one. An invalid list fails closed: Get returns an error (matching
// verify.ErrNoSecret for an empty or blank secret) and the caller must
// reject the request.
func (c *SourceCache[T]) Get() (T, error) {
	secrets := c.src.Secrets()
	if v := c.cur.Load(); v != nil && slices.Equal(v.secrets, secrets) {
		return v.v, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v := c.cur.Load(); v != nil && slices.Equal(v.secrets, secrets) {
		return v.v, nil
	}
	var zero T
	if err := provider.CheckSecrets(secrets); err != nil {
		return zero, err
	}
	v, err := c.build(slices.Clone(secrets))
	if err != nil {
		return zero, err
	}
	c.cur.Store(&cached[T]{secrets: slices.Clone(secrets), v: v})
	return v, nil
}
