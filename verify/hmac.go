package verify

import (
	"bytes"
	"crypto/hmac"
	"hash"
	"sync"
)

// HMAC computes and checks HMACs under one or more secrets. Several secrets
// let an endpoint accept both the old and the new secret while a secret is
// being rotated; Sign always uses the first.
//
// An HMAC is immutable and safe for concurrent use. Its hash states are pooled,
// so checking a signature allocates nothing that grows with the message.
type HMAC struct {
	keys []*hmacKey
	size int
}

type hmacKey struct {
	pool sync.Pool // of *macState keyed with this secret
}

// macState is a keyed hash with room for its sum, pooled together so that
// computing a MAC allocates nothing.
type macState struct {
	h   hash.Hash
	sum [64]byte // large enough for SHA-512
	buf [64]byte // small parts gathered into one Write
}

// NewHMAC returns an HMAC over the hash h (sha256.New, sha1.New, sha512.New)
// for the given secrets. It returns ErrNoSecret when no secret is given or
// when any secret is empty or only white space: a missing secret is a
// configuration error, never a silent pass.
func NewHMAC(h func() hash.Hash, secrets ...[]byte) (*HMAC, error) {
	if h == nil || len(secrets) == 0 {
		return nil, ErrNoSecret
	}
	m := &HMAC{size: h().Size()}
	for _, s := range secrets {
		if len(bytes.TrimSpace(s)) == 0 {
			return nil, ErrNoSecret
		}
		key := bytes.Clone(s)
		k := &hmacKey{}
		k.pool.New = func() any { return &macState{h: hmac.New(h, key)} }
		m.keys = append(m.keys, k)
	}
	return m, nil
}

// Size returns the length in bytes of a MAC.
func (m *HMAC) Size() int { return m.size }

// Sign returns the MAC of the concatenation of parts under the first secret.
// The parts are hashed in place, never concatenated.
func (m *HMAC) Sign(parts ...[]byte) []byte {
	k := m.keys[0]
	st := k.compute(parts)
	out := st.h.Sum(nil)
	k.pool.Put(st)
	return out
}

// Match reports whether mac is the MAC of the concatenation of parts under
// any of the secrets. The comparison is constant-time (hmac.Equal); every
// secret is tried, so timing does not reveal which one matched.
func (m *HMAC) Match(mac []byte, parts ...[]byte) bool {
	if len(mac) != m.size {
		return false
	}
	ok := false
	for _, k := range m.keys {
		st := k.compute(parts)
		if hmac.Equal(st.h.Sum(st.sum[:0]), mac) {
			ok = true
		}
		k.pool.Put(st)
	}
	return ok
}

// compute hashes parts with a pooled state, which the caller puts back.
// Consecutive small parts (a timestamp and its separators) are gathered in
// the state's buffer and written at once: each Write through the HMAC costs
// more than copying a few bytes.
func (k *hmacKey) compute(parts [][]byte) *macState {
	countMAC(parts)
	st := k.pool.Get().(*macState)
	st.h.Reset()
	n := 0
	for _, p := range parts {
		if n+len(p) <= len(st.buf) {
			n += copy(st.buf[n:], p)
			continue
		}
		if n > 0 {
			st.h.Write(st.buf[:n])
			n = 0
		}
		if len(p) <= len(st.buf) {
			n = copy(st.buf[:], p)
			continue
		}
		st.h.Write(p)
	}
	if n > 0 {
		st.h.Write(st.buf[:n])
	}
	return st
}
