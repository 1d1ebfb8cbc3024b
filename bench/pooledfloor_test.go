package bench

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"strings"
	"sync"
	"time"

	hwstripe "github.com/hookwise/hookwise/providers/stripe"
)

// stripePooledFloor is the cheapest correct Stripe check, the floor of
// issue 14's verification target: everything Stripe's Verify must do and
// nothing else, with a keyed HMAC state taken from a sync.Pool (no
// hmac.New, no key schedule per call) and no allocation.
//
// It reads Stripe-Signature from the request; walks its comma-separated
// elements once, keeping the single t= (a second one is rejected, as
// Hookwise does) and counting the v1= elements; checks the timestamp
// (decimal digits, at most 12) against the clock within ±tolerance; then
// hashes t, "." and the body with a pooled state (t and "." copied into the
// state's scratch, so nothing is converted to a []byte on the heap), sums
// into the state, and compares the sum with every v1= element, each decoded
// from hex into a stack buffer, with hmac.Equal (constant-time, no early
// exit). It bounds the header's length and element count as Hookwise does
// (verify.MaxSignatureHeaderBytes, verify.MaxSignatureEntries), so that a
// forged header costs no more than a real one.
//
// What it leaves out of Hookwise's Verify: several secrets (a rotation),
// white space around elements, duplicate v1 values kept once, the error
// values' wrapping, secrets from a provider.SecretSource and the scheme's
// declaration being interpreted (Hookwise's kit reads a Scheme; this is
// Stripe's check written by hand).
type stripePooledFloor struct {
	pool      sync.Pool // of *floorState keyed with the secret
	now       func() time.Time
	tolerance time.Duration
}

// floorState is a pooled keyed HMAC-SHA256 with room for its sum and for
// the signed timestamp and its ".".
type floorState struct {
	h       hash.Hash
	sum     [sha256.Size]byte
	scratch [16]byte // t (at most 12 digits) and "."
}

func newStripePooledFloor(secret string) *stripePooledFloor {
	key := []byte(secret)
	f := &stripePooledFloor{now: time.Now, tolerance: hwstripe.DefaultTolerance}
	f.pool.New = func() any { return &floorState{h: hmac.New(sha256.New, key)} }
	return f
}

var errPooledFloor = errors.New("bench: pooled floor rejects the delivery")

// The bounds Hookwise applies to the header (verify.MaxSignatureHeaderBytes,
// verify.MaxSignatureEntries), repeated so the floor reads as one function.
const (
	floorMaxHeader  = 4 << 10
	floorMaxEntries = 16
)

// verify checks r's Stripe-Signature over body.
func (f *stripePooledFloor) verify(r *http.Request, body []byte) error {
	header := r.Header.Get(hwstripe.HeaderSignature)
	if header == "" || len(header) > floorMaxHeader {
		return errPooledFloor
	}
	var ts string
	entries, v1s := 0, 0
	for rest := header; rest != ""; {
		var e string
		e, rest, _ = strings.Cut(rest, ",")
		if e == "" {
			continue
		}
		if entries++; entries > floorMaxEntries {
			return errPooledFloor
		}
		switch {
		case strings.HasPrefix(e, "t="):
			if ts != "" {
				return errPooledFloor
			}
			ts = e[2:]
		case strings.HasPrefix(e, "v1="):
			v1s++
		}
	}
	if v1s == 0 || ts == "" || len(ts) > 12 {
		return errPooledFloor
	}
	var sec int64
	for i := 0; i < len(ts); i++ {
		c := ts[i]
		if c < '0' || c > '9' {
			return errPooledFloor
		}
		sec = sec*10 + int64(c-'0')
	}
	if d := f.now().Sub(time.Unix(sec, 0)); d > f.tolerance || d < -f.tolerance {
		return errPooledFloor
	}

	st := f.pool.Get().(*floorState)
	defer f.pool.Put(st)
	st.h.Reset()
	n := copy(st.scratch[:], ts)
	st.scratch[n] = '.'
	st.h.Write(st.scratch[:n+1])
	st.h.Write(body)
	sum := st.h.Sum(st.sum[:0])

	ok := false
	var enc [2 * sha256.Size]byte
	var sig [sha256.Size]byte
	for rest := header; rest != ""; {
		var e string
		e, rest, _ = strings.Cut(rest, ",")
		v, found := strings.CutPrefix(e, "v1=")
		if !found || len(v) != 2*sha256.Size {
			continue
		}
		copy(enc[:], v)
		if _, err := hex.Decode(sig[:], enc[:]); err != nil {
			continue
		}
		if hmac.Equal(sum, sig[:]) {
			ok = true
		}
	}
	if !ok {
		return errPooledFloor
	}
	return nil
}

// pooledFloorImpl is stripePooledFloor on a pre-built request, as
// hookwiseImpl runs Verify.
var pooledFloorImpl = impl{name: "pooled-floor", note: "the cheapest correct Stripe check: a pooled keyed HMAC state, header parsing and the timestamp window", new: func(d delivery) func() error {
	f := newStripePooledFloor(stripeSecret)
	r, _ := d.request()
	return func() error { return f.verify(r, d.body) }
}}
