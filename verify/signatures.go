package verify

import (
	"bytes"
	"crypto/hmac"
	"strings"
	"sync/atomic"
	"unicode"
)

// Bounds on a signature header. A header beyond either is rejected with
// ErrSignatureHeaderTooLarge before any MAC or signature is computed, so the
// cost of rejecting a forged request does not grow with what the attacker
// puts in the header. ParseSignatures applies them, and through it
// MatchList, Scheme and every provider built on them.
//
// Real senders stay far below: Stripe sends a t element, one v1 per active
// endpoint secret (one, or two while a secret is rolled) and in test mode a
// v0, about 80 bytes each; Standard Webhooks senders (Svix and the services
// built on it) send one "v1," or "v1a," entry per active secret or key, 50
// to 92 bytes; GitHub and Slack send a single signature. 16 entries is
// several times the most any of them sends during a rotation, and 16
// Ed25519 entries of 92 bytes plus separators fit in 1.5 KiB, well within 4 KiB.
const (
	// MaxSignatureEntries is the most entries a signature header may carry:
	// every non-empty element between separators counts, whatever its
	// prefix (a Stripe header's t= element included), duplicates too.
	MaxSignatureEntries = 16
	// MaxSignatureHeaderBytes is the longest signature header accepted, in
	// bytes.
	MaxSignatureHeaderBytes = 4 << 10
	// MaxEd25519Signatures is the most distinct Ed25519 signatures a request
	// may carry. Unlike a MAC, which is computed once per secret and compared
	// with every entry, each Ed25519 signature is verified on its own, hashing
	// the whole message (SHA-512 over a 5 MiB body takes tens of
	// milliseconds): this bound keeps the work to at most keys x 4
	// verifications. Standard Webhooks senders send one signature per active
	// key, two during a key rotation.
	MaxEd25519Signatures = 4
)

// maxSignatureSize is the largest signature an entry can usefully carry:
// HMAC-SHA-512 and Ed25519 signatures are both 64 bytes. An entry that
// decodes to more cannot match and is skipped as malformed.
const maxSignatureSize = 64

// maxEncodedSize is the longest encoded entry decoded: 64 bytes are 128 hex
// digits or 88 base64 characters.
const maxEncodedSize = 2 * maxSignatureSize

// Signatures is a signature header parsed by ParseSignatures: the distinct
// signatures it carries, each decoded and tagged with the index of the prefix
// it was written with. It has a fixed size (no pointers, no allocation) and
// its zero value is empty.
type Signatures struct {
	n    int
	tag  [MaxSignatureEntries]uint8
	size [MaxSignatureEntries]uint8
	sig  [MaxSignatureEntries][maxSignatureSize]byte
}

// Len returns the number of distinct readable signatures.
func (s *Signatures) Len() int { return s.n }

// At returns the i-th distinct signature and the index of its prefix. The
// slice aliases s.
func (s *Signatures) At(i int) (sig []byte, tag int) {
	return s.sig[i][:s.size[i]], int(s.tag[i])
}

// Count returns the number of distinct signatures tagged tag that are size
// bytes long.
func (s *Signatures) Count(tag, size int) int {
	n := 0
	for i := 0; i < s.n; i++ {
		if int(s.tag[i]) == tag && int(s.size[i]) == size {
			n++
		}
	}
	return n
}

// candidates reports whether s holds a signature of the given tag and size.
func (s *Signatures) candidates(tag, size int) bool { return s.Count(tag, size) > 0 }

// add stores sig under tag unless an identical one is already held.
func (s *Signatures) add(tag int, sig []byte) {
	for i := 0; i < s.n; i++ {
		if int(s.tag[i]) == tag && bytes.Equal(s.sig[i][:s.size[i]], sig) {
			return
		}
	}
	s.tag[s.n] = uint8(tag)
	s.size[s.n] = uint8(copy(s.sig[s.n][:], sig))
	s.n++
}

// ParseSignatures parses a signature header into dst, checking its bounds and
// syntax only: it computes no MAC. The header holds one entry, or several
// separated by sep when sep is not empty (sep " " splits on any run of white
// space, as strings.Fields does); each entry is trimmed of white space, and
// one written as prefixes[i] + a signature in enc is kept with tag i (the
// first prefix that fits). Entries without a known prefix, with a signature
// that does not decode or decodes to more than 64 bytes are skipped, so a
// malformed entry never hides a valid one; duplicates are kept once.
//
// It returns ErrSignatureHeaderTooLarge when the header is longer than
// MaxSignatureHeaderBytes or has more than MaxSignatureEntries entries,
// ErrMalformedSignature when no entry is readable, and nil otherwise. At most
// 256 prefixes are supported.
func ParseSignatures(dst *Signatures, header, sep string, enc Encoding, prefixes ...string) error {
	_, _, err := parseSignatures(dst, header, sep, "", enc, prefixes)
	return err
}

// ParseSignaturesField is ParseSignatures for a header that also carries a
// value that is not a signature in an entry written as field + value, such
// as the timestamp of Stripe's "t=1735689600,v1=…": in the same pass over
// the header, it returns the value of the last such entry and how many there
// were, and leaves what a missing or repeated one means to the caller. An
// entry is read as the field's when it starts with field (after the
// white-space trim), whether or not it also starts with a prefix. The
// bounds, the errors and dst are as ParseSignatures has them; value and
// count are meaningful only when err is nil. field must not be empty.
func ParseSignaturesField(dst *Signatures, header, sep, field string, enc Encoding, prefixes ...string) (value string, count int, err error) {
	if field == "" {
		return "", 0, ErrMalformedSignature
	}
	return parseSignatures(dst, header, sep, field, enc, prefixes)
}

func parseSignatures(dst *Signatures, header, sep, field string, enc Encoding, prefixes []string) (value string, count int, err error) {
	dst.n = 0
	if len(header) > MaxSignatureHeaderBytes || len(prefixes) > 256 {
		return "", 0, ErrSignatureHeaderTooLarge
	}
	var buf [maxEncodedSize]byte
	entries := 0
	for header != "" {
		var entry string
		entry, header = nextEntry(header, sep)
		entry = trimSpace(entry)
		if entry == "" {
			continue
		}
		if entries++; entries > MaxSignatureEntries {
			dst.n = 0
			return "", 0, ErrSignatureHeaderTooLarge
		}
		if field != "" {
			if v, ok := strings.CutPrefix(entry, field); ok {
				value = v
				count++
			}
		}
		for tag, prefix := range prefixes {
			enc64, ok := strings.CutPrefix(entry, prefix)
			if !ok {
				continue
			}
			if enc64 != "" && len(enc64) <= maxEncodedSize {
				if sig, err := enc.Decode(buf[:0], enc64); err == nil && len(sig) <= maxSignatureSize {
					dst.add(tag, sig)
				}
			}
			break
		}
	}
	if dst.n == 0 {
		return "", 0, ErrMalformedSignature
	}
	return value, count, nil
}

// nextEntry splits the first entry off s.
func nextEntry(s, sep string) (entry, rest string) {
	switch {
	case sep == "":
		return s, ""
	case sep == " ":
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
			return s[:i], s[i:]
		}
		return s, ""
	case len(sep) == 1: // "," or ";": the usual case, without strings.Index's dispatch
		if i := strings.IndexByte(s, sep[0]); i >= 0 {
			return s[:i], s[i+1:]
		}
		return s, ""
	}
	entry, rest, _ = strings.Cut(s, sep)
	return entry, rest
}

// trimSpace is strings.TrimSpace with a fast path for the usual entry,
// which starts and ends with a printable ASCII byte.
func trimSpace(s string) string {
	if s == "" || (isPrint(s[0]) && isPrint(s[len(s)-1])) {
		return s
	}
	return strings.TrimSpace(s)
}

// isPrint reports whether c is a printable ASCII byte other than a space:
// neither white space nor the start or the end of a multi-byte rune.
func isPrint(c byte) bool { return c > ' ' && c < 0x7f }

// MatchAny reports whether any signature of sigs tagged tag is the MAC of the
// concatenation of parts under any of the secrets. Each secret's MAC is
// computed once, whatever the number of signatures, and compared with every
// signature in constant time (hmac.Equal); no comparison stops early, so
// timing does not reveal which secret or entry matched. When sigs holds no
// signature of the MAC's size, no MAC is computed at all.
func (m *HMAC) MatchAny(sigs *Signatures, tag int, parts ...[]byte) bool {
	if !sigs.candidates(tag, m.size) {
		return false
	}
	ok := false
	for _, k := range m.keys {
		st := k.compute(parts)
		sum := st.h.Sum(st.sum[:0])
		for i := 0; i < sigs.n; i++ {
			if int(sigs.tag[i]) == tag && hmac.Equal(sum, sigs.sig[i][:sigs.size[i]]) {
				ok = true
			}
		}
		k.pool.Put(st)
	}
	return ok
}

// costCounter counts the expensive operations of verification, for the cost
// guards in this package's tests (export_test.go installs one). In
// production costHook is nil and the price is one atomic load per operation.
type costCounter struct {
	macs, macBytes         atomic.Int64 // MACs computed, bytes they hashed
	ed25519s, ed25519Bytes atomic.Int64 // Ed25519 verifications, message bytes
	messages               atomic.Int64 // Ed25519 messages assembled
}

var costHook atomic.Pointer[costCounter]

func countMAC(parts [][]byte) {
	if c := costHook.Load(); c != nil {
		c.macs.Add(1)
		for _, p := range parts {
			c.macBytes.Add(int64(len(p)))
		}
	}
}

func countEd25519(msgLen int) {
	if c := costHook.Load(); c != nil {
		c.ed25519s.Add(1)
		c.ed25519Bytes.Add(int64(msgLen))
	}
}

func countMessage() {
	if c := costHook.Load(); c != nil {
		c.messages.Add(1)
	}
}
