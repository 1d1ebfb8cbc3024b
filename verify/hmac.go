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
	pool sync.Pool // of hash.Hash keyed with this secret
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
		k.pool.New = func() any { return hmac.New(h, key) }
		m.keys = append(m.keys, k)
	}
	return m, nil
}

// Size returns the length in bytes of a MAC.
func (m *HMAC) Size() int { return m.size }

// Sign returns the MAC of the concatenation of parts under the first secret.
// The parts are hashed in place, never concatenated.
func (m *HMAC) Sign(parts ...[]byte) []byte {
	return m.keys[0].sum(nil, parts)
}

// Match reports whether mac is the MAC of the concatenation of parts under
// any of the secrets. The comparison is constant-time (hmac.Equal); every
// secret is tried, so timing does not reveal which one matched.
func (m *HMAC) Match(mac []byte, parts ...[]byte) bool {
	if len(mac) != m.size {
		return false
	}
	var buf [64]byte // large enough for SHA-512
	ok := false
	for _, k := range m.keys {
		if hmac.Equal(k.sum(buf[:0], parts), mac) {
			ok = true
		}
	}
	return ok
}

func (k *hmacKey) sum(dst []byte, parts [][]byte) []byte {
	h := k.pool.Get().(hash.Hash)
	h.Reset()
	for _, p := range parts {
		h.Write(p)
	}
	dst = h.Sum(dst)
	k.pool.Put(h)
	return dst
}
