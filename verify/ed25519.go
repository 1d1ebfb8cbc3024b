package verify

import (
	"crypto/ed25519"
	"sync"
)

// Ed25519 checks Ed25519 signatures under one or more public keys (several
// during a key rotation). It is immutable and safe for concurrent use.
type Ed25519 struct {
	keys []ed25519.PublicKey
}

// NewEd25519 returns a checker for the given public keys. It returns
// ErrNoSecret when no key is given or a key is not 32 bytes long.
func NewEd25519(keys ...ed25519.PublicKey) (*Ed25519, error) {
	if len(keys) == 0 {
		return nil, ErrNoSecret
	}
	v := &Ed25519{}
	for _, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			return nil, ErrNoSecret
		}
		v.keys = append(v.keys, append(ed25519.PublicKey(nil), k...))
	}
	return v, nil
}

var messagePool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// Match reports whether sig is a valid signature of the concatenation of
// parts under any of the keys. Ed25519 needs the message in one piece, so the
// parts are joined in a pooled buffer.
func (v *Ed25519) Match(sig []byte, parts ...[]byte) bool {
	if len(sig) != ed25519.SignatureSize {
		return false
	}
	bp := messagePool.Get().(*[]byte)
	msg := (*bp)[:0]
	for _, p := range parts {
		msg = append(msg, p...)
	}
	ok := false
	for _, k := range v.keys {
		if ed25519.Verify(k, msg, sig) {
			ok = true
		}
	}
	if cap(msg) <= 1<<20 { // do not keep huge buffers alive
		*bp = msg[:0]
		messagePool.Put(bp)
	}
	return ok
}
