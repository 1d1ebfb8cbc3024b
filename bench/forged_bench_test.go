package bench

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	hwstandard "github.com/hookwise/hookwise/providers/standardwebhooks"
	hwstripe "github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/verify"
)

// forgedHeaderBytes is how much of net/http's default header limit
// (http.DefaultMaxHeaderBytes, 1 MiB) the forged signature header takes; the
// rest leaves room for the request line and the other headers.
const forgedHeaderBytes = http.DefaultMaxHeaderBytes - 1024

// forgedBodySize is the forged request's body.
const forgedBodySize = 5 << 20

// forgedList returns sep-separated entries prefix+sig(i) filling at most
// max bytes after head, and at most maxEntries entries after head.
func forgedList(head, sep, prefix string, max, maxEntries int, sig func(i int) string) (string, int) {
	var b strings.Builder
	b.WriteString(head)
	n := 0
	for {
		e := prefix + sig(n)
		if b.Len()+len(sep)+len(e) > max || n == maxEntries {
			return b.String(), n
		}
		if b.Len() > 0 {
			b.WriteString(sep)
		}
		b.WriteString(e)
		n++
	}
}

// BenchmarkVerifyWorstForged measures the CPU time to reject the worst
// forged requests, none signed with a valid secret, all with a 5 MiB body
// (receiver.DefaultMaxBodyBytes):
//
//   - header=1MiB: a signature header of nearly 1 MiB (net/http's default
//     limit) packed with distinct signature entries: the worst request a
//     default server lets through. Before the header bounds, one op took
//     minutes; run it with -benchtime=1x.
//   - header=bound: verify.MaxSignatureEntries distinct entries (Stripe's t
//     included; verify.MaxEd25519Signatures for v1a), the most that is
//     verified at all: the worst case now.
func BenchmarkVerifyWorstForged(b *testing.B) {
	now := time.Unix(1_700_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := bytes.Repeat([]byte("x"), forgedBodySize)
	hexSig := func(i int) string {
		return strconv.FormatInt(int64(i), 16) + strings.Repeat("a", 64-len(strconv.FormatInt(int64(i), 16)))
	}
	b64Sig := func(size int) func(i int) string {
		return func(i int) string {
			s := bytes.Repeat([]byte{0x5a}, size)
			s[0], s[1], s[2] = byte(i), byte(i>>8), byte(i>>16)
			// The last byte of an Ed25519 signature is the top of S: keep it
			// zero, so S is canonical and verification hashes the message
			// instead of rejecting the signature at a glance.
			s[size-1] = 0
			return base64.StdEncoding.EncodeToString(s)
		}
	}

	sp, err := hwstripe.New(stripeSecret, hwstripe.WithClock(func() time.Time { return now }))
	if err != nil {
		b.Fatal(err)
	}
	swClock := hwstandard.WithClock(func() time.Time { return now })
	sw, err := hwstandard.New(standardSecret, swClock)
	if err != nil {
		b.Fatal(err)
	}
	pub := hwstandard.PublicKeyPrefix + base64.StdEncoding.EncodeToString(
		ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize)).Public().(ed25519.PublicKey))
	swa, err := hwstandard.NewAsymmetric(pub, swClock)
	if err != nil {
		b.Fatal(err)
	}

	swRequest := func(version string, size, maxEntries int) (*http.Request, int) {
		list, n := forgedList("", " ", version+",", forgedHeaderBytes, maxEntries, b64Sig(size))
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("webhook-id", "msg_forged")
		r.Header.Set("webhook-timestamp", ts)
		r.Header.Set("webhook-signature", list)
		return r, n
	}
	stripeRequest := func(maxEntries int) (*http.Request, int) {
		list, n := forgedList("t="+ts, ",", "v1=", forgedHeaderBytes, maxEntries, hexSig)
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set(hwstripe.HeaderSignature, list)
		return r, n
	}

	type forged struct {
		name    string
		entries int
		r       *http.Request
		verify  func(*http.Request, []byte) error
	}
	var cases []forged
	for _, h := range []struct {
		label      string
		maxEntries int
	}{{"1MiB", -1}, {"bound", verify.MaxSignatureEntries}} {
		stripeReq, stripeN := stripeRequest(h.maxEntries - 1) // t is an entry too
		v1Req, v1N := swRequest("v1", 32, h.maxEntries)
		v1aMax := h.maxEntries
		if v1aMax > 0 {
			v1aMax = verify.MaxEd25519Signatures // the most verified; more are rejected unverified
		}
		v1aReq, v1aN := swRequest("v1a", 64, v1aMax)
		cases = append(cases,
			forged{"stripe/header=" + h.label, stripeN, stripeReq, sp.Verify},
			forged{"standard-v1/header=" + h.label, v1N, v1Req, sw.Verify},
			forged{"standard-v1a/header=" + h.label, v1aN, v1aReq, swa.Verify})
	}
	for _, c := range cases {
		b.Run("provider="+c.name, func(b *testing.B) {
			for b.Loop() {
				if err := c.verify(c.r, body); err == nil {
					b.Fatal("forged request verified")
				}
			}
			b.ReportMetric(float64(c.entries), "entries")
			b.ReportMetric(float64(len(c.r.Header.Get(hwstripe.HeaderSignature)+c.r.Header.Get("webhook-signature"))), "header-bytes")
		})
	}
}
