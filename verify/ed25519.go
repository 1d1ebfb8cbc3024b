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
// parts are joined in a pooled buffer. To check several signatures of one
// message, use MatchAny: it joins the parts once.
func (v *Ed25519) Match(sig []byte, parts ...[]byte) bool {
	if len(sig) != ed25519.SignatureSize {
		return false
	}
	bp, msg := join(parts)
	ok := false
	for _, k := range v.keys {
		if verifyEd25519(k, msg, sig) {
			ok = true
		}
	}
	release(bp, msg)
	return ok
}

// MatchAny reports whether any signature of sigs tagged tag is a valid
// signature of the concatenation of parts under any of the keys. The message
// is joined once per call, and each (key, distinct signature) pair is
// verified once (ParseSignatures keeps duplicates once): the work is at most
// keys x MaxEd25519Signatures verifications, each hashing the message. When
// sigs holds no signature of Ed25519's size, or more than
// MaxEd25519Signatures distinct ones (TooManyEd25519 reports it, so that a
// caller can answer ErrSignatureHeaderTooLarge), it returns false without
// joining or verifying anything.
func (v *Ed25519) MatchAny(sigs *Signatures, tag int, parts ...[]byte) bool {
	if n := sigs.Count(tag, ed25519.SignatureSize); n == 0 || n > MaxEd25519Signatures {
		return false
	}
	bp, msg := join(parts)
	ok := false
	for i := 0; i < sigs.n; i++ {
		if int(sigs.tag[i]) != tag || int(sigs.size[i]) != ed25519.SignatureSize {
			continue
		}
		for _, k := range v.keys {
			if verifyEd25519(k, msg, sigs.sig[i][:]) {
				ok = true
			}
		}
	}
	release(bp, msg)
	return ok
}

// TooManyEd25519 reports whether sigs holds more than MaxEd25519Signatures
// distinct Ed25519-sized signatures tagged tag: MatchAny would reject them
// without verifying any.
func TooManyEd25519(sigs *Signatures, tag int) bool {
	return sigs.Count(tag, ed25519.SignatureSize) > MaxEd25519Signatures
}

func verifyEd25519(k ed25519.PublicKey, msg, sig []byte) bool {
	countEd25519(len(msg))
	return ed25519.Verify(k, msg, sig)
}

// join concatenates parts in a pooled buffer, which release returns.
func join(parts [][]byte) (bp *[]byte, msg []byte) {
	countMessage()
	bp = messagePool.Get().(*[]byte)
	msg = (*bp)[:0]
	for _, p := range parts {
		msg = append(msg, p...)
	}
	return bp, msg
}

func release(bp *[]byte, msg []byte) {
	if cap(msg) <= 1<<20 { // do not keep huge buffers alive
		*bp = msg[:0]
		messagePool.Put(bp)
	}
}
