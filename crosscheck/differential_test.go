package crosscheck

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/hookwise/hookwise/verify"
)

// A delivery is one signed request as a verifier sees it.
type delivery struct {
	req    *http.Request
	body   []byte
	secret string // the secret the receiving side is configured with
}

// A checker answers accept (nil) or reject for one delivery.
type checker func(d delivery) error

// A mutation changes a valid delivery. It reports false when it does not
// apply to this delivery (the case is then drawn again).
type mutation struct {
	name  string
	apply func(r *rand.Rand, d *delivery) bool
}

// bodyMutations change the body only: every verifier must reject them.
var bodyMutations = []mutation{
	{"flip-bit", func(r *rand.Rand, d *delivery) bool {
		if len(d.body) == 0 {
			return false
		}
		d.body = bytes.Clone(d.body)
		d.body[r.IntN(len(d.body))] ^= 1 << r.IntN(8)
		return true
	}},
	{"insert-byte", func(r *rand.Rand, d *delivery) bool {
		i := r.IntN(len(d.body) + 1)
		d.body = append(append(append([]byte{}, d.body[:i]...), byte(r.Uint32())), d.body[i:]...)
		return true
	}},
	{"delete-byte", func(r *rand.Rand, d *delivery) bool {
		if len(d.body) == 0 {
			return false
		}
		i := r.IntN(len(d.body))
		d.body = append(append([]byte{}, d.body[:i]...), d.body[i+1:]...)
		return true
	}},
	{"truncate", func(r *rand.Rand, d *delivery) bool {
		if len(d.body) == 0 {
			return false
		}
		d.body = bytes.Clone(d.body[:r.IntN(len(d.body))])
		return true
	}},
	{"trailing-newline", func(_ *rand.Rand, d *delivery) bool {
		d.body = append(bytes.Clone(d.body), '\n')
		return true
	}},
}

// headerCharMutation replaces one character of the header name's value with
// a random printable ASCII character (possibly the same letter in the other
// case, which a hex-decoding verifier still accepts).
func headerCharMutation(name string) mutation {
	return mutation{"char-in-" + name, func(r *rand.Rand, d *delivery) bool {
		v := d.req.Header.Get(name)
		if v == "" {
			return false
		}
		b := []byte(v)
		b[r.IntN(len(b))] = byte(0x21 + r.IntN(0x7f-0x21))
		d.req.Header.Set(name, string(b))
		return true
	}}
}

// dropHeader removes a header.
func dropHeader(name string) mutation {
	return mutation{"drop-" + name, func(_ *rand.Rand, d *delivery) bool {
		if d.req.Header.Get(name) == "" {
			return false
		}
		d.req.Header.Del(name)
		return true
	}}
}

// otherSecret has the receiver configured with a different secret.
func otherSecret(gen func(*rand.Rand) string) mutation {
	return mutation{"other-secret", func(r *rand.Rand, d *delivery) bool {
		s := gen(r)
		if s == d.secret {
			return false
		}
		d.secret = s
		return true
	}}
}

// identity leaves the delivery valid: both sides must accept it.
var identity = mutation{"none", func(*rand.Rand, *delivery) bool { return true }}

// differential runs n random cases: a valid delivery from gen, one mutation
// drawn from muts, and asserts that Hookwise and the SDK agree on
// accept/reject, but for the documented syntax differences known reports
// (the same rules as the fuzz targets'; nil means none). Hookwise's
// rejections must match verify.ErrVerification.
// It fails when a mutation was never drawn or the unmutated case is not
// accepted, so agreement cannot come from both sides rejecting everything.
func differential(t *testing.T, n int, gen func(r *rand.Rand, i int) delivery, hookwise, sdk checker, muts []mutation, known func(delivery) leniency) {
	t.Helper()
	r := newRand(t)
	type tally struct{ accepted, rejected int }
	seen := make(map[string]*tally)
	for i := 0; i < n; i++ {
		d := gen(r, i)
		d.req = cloneRequest(d.req)
		m := muts[i%len(muts)]
		for tries := 0; !m.apply(r, &d); tries++ {
			if tries > 20 {
				t.Fatalf("mutation %s never applies", m.name)
			}
			d = gen(r, i)
			d.req = cloneRequest(d.req)
		}
		hErr, sErr := hookwise(d), sdk(d)
		var l leniency
		if known != nil {
			l = known(d)
		}
		if (hErr == nil) != (sErr == nil) && !(hErr == nil && l&hookwiseLenient != 0) && !(sErr == nil && l&sdkLenient != 0) {
			t.Errorf("case %d, mutation %s: Hookwise %s, SDK %s\nheaders: %v\nbody: %q",
				i, m.name, verdict(hErr), verdict(sErr), d.req.Header, d.body)
			continue
		}
		if hErr != nil && !errors.Is(hErr, verify.ErrVerification) {
			t.Errorf("case %d, mutation %s: Hookwise error %v does not match verify.ErrVerification", i, m.name, hErr)
		}
		tl := seen[m.name]
		if tl == nil {
			tl = &tally{}
			seen[m.name] = tl
		}
		if hErr == nil {
			tl.accepted++
		} else {
			tl.rejected++
		}
	}
	for _, m := range muts {
		tl := seen[m.name]
		if tl == nil {
			t.Errorf("mutation %s was never exercised", m.name)
			continue
		}
		if m.name == identity.name && tl.rejected > 0 {
			t.Errorf("unmutated deliveries rejected %d times", tl.rejected)
		}
		t.Logf("%-28s accepted %3d rejected %3d", m.name, tl.accepted, tl.rejected)
	}
}
