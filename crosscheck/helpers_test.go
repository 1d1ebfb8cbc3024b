package crosscheck

import (
	"bytes"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"
)

// iterations is how many random cases each cross-check runs.
const iterations = 200

// newRand returns a deterministic source for one test, so a failure
// reproduces byte for byte.
func newRand(t testing.TB) *rand.Rand {
	t.Helper()
	var seed uint64
	for _, c := range t.Name() {
		seed = seed*31 + uint64(c)
	}
	return rand.New(rand.NewPCG(seed, 0x5eed_c0ffee))
}

// fixedBodies are the edge cases every cross-check starts with, before the
// random ones.
var fixedBodies = [][]byte{
	{},
	[]byte("Hello, World!"),
	[]byte(`{"id":"evt_1","type":"invoice.paid"}`),
	[]byte("payload=%7B%22zen%22%3A%22Keep+it+logically+awesome.%22%7D"),
	[]byte("emoji 🚀🔥 ünïcödé \u2028 \x00 nul"),
	{0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0xed, 0xa0, 0x80}, // invalid UTF-8
	bytes.Repeat([]byte{'a'}, 70_000),                      // bigger than any pooled buffer
}

// randomBody returns a body of a random kind: empty, random bytes (mostly
// invalid UTF-8), text with emoji, or JSON-looking text.
func randomBody(r *rand.Rand, i int) []byte {
	if i < len(fixedBodies) {
		return bytes.Clone(fixedBodies[i])
	}
	switch r.IntN(5) {
	case 0:
		return []byte{}
	case 1:
		b := make([]byte, r.IntN(2048))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		return b
	case 2:
		runes := []rune("aZ09 .,:;=&%+\"'\\\n\t🚀🔥✅ßüé中文\u200b")
		var sb strings.Builder
		for n := r.IntN(300); n > 0; n-- {
			sb.WriteRune(runes[r.IntN(len(runes))])
		}
		return []byte(sb.String())
	case 3:
		var sb strings.Builder
		sb.WriteString(`{"id":"evt_`)
		sb.WriteString(randomToken(r, 24))
		sb.WriteString(`","type":"charge.succeeded","data":{"n":`)
		sb.WriteString(randomToken(r, 8))
		sb.WriteString(`,"note":"🚀 \u00e9"}}`)
		return []byte(sb.String())
	default:
		b := make([]byte, 1+r.IntN(64))
		for j := range b {
			b[j] = byte(0x80 + r.IntN(0x80)) // high bytes only
		}
		return b
	}
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// randomToken returns n random alphanumeric characters.
func randomToken(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[r.IntN(len(alnum))]
	}
	return string(b)
}

// randomRawSecret returns a secret for providers that use the secret's UTF-8
// bytes as the key (GitHub, Slack): printable ASCII, sometimes with
// non-ASCII runes, never blank (Hookwise refuses blank secrets by design).
func randomRawSecret(r *rand.Rand) string {
	var sb strings.Builder
	sb.WriteString(randomToken(r, 1))
	for n := r.IntN(64); n > 0; n-- {
		switch r.IntN(10) {
		case 0:
			sb.WriteString([]string{"é", "🔑", "ß", " ", "中"}[r.IntN(5)])
		default:
			sb.WriteByte(byte(0x21 + r.IntN(0x7e-0x21)))
		}
	}
	return sb.String()
}

// randomHexSecret returns a Slack-style signing secret: 32 hex digits.
func randomHexSecret(r *rand.Rand) string {
	const hexdigits = "0123456789abcdef"
	b := make([]byte, 32)
	for i := range b {
		b[i] = hexdigits[r.IntN(16)]
	}
	return string(b)
}

// randomStripeSecret returns a "whsec_…" endpoint secret; Stripe uses the
// whole string as the key.
func randomStripeSecret(r *rand.Rand) string { return "whsec_" + randomToken(r, 8+r.IntN(40)) }

// randomWhsec returns a Standard Webhooks secret: "whsec_" + base64 of 24 to
// 64 random bytes.
func randomWhsec(r *rand.Rand) string {
	key := make([]byte, 24+r.IntN(41))
	for i := range key {
		key[i] = byte(r.Uint32())
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// randomPast returns a time between 0 and 240 s before now: inside every
// SDK's and Hookwise's window with a minute of slack for a slow machine,
// because the SDKs read the real clock.
func randomPast(r *rand.Rand, now time.Time) time.Time {
	return now.Add(-time.Duration(r.IntN(241)) * time.Second)
}

// tamper returns a copy of body that differs from it: a flipped bit, an
// appended byte, or (for a non-empty body) a dropped last byte.
func tamper(r *rand.Rand, body []byte) []byte {
	b := bytes.Clone(body)
	if len(b) == 0 {
		return []byte{byte(r.Uint32())}
	}
	switch r.IntN(3) {
	case 0:
		i := r.IntN(len(b))
		b[i] ^= 1 << r.IntN(8)
		return b
	case 1:
		return append(b, byte(r.Uint32()))
	default:
		return b[:len(b)-1]
	}
}

// cloneRequest returns a copy of r with its own header map, so a mutation
// of one case never leaks into another.
func cloneRequest(r *http.Request) *http.Request {
	c := r.Clone(r.Context())
	c.Header = r.Header.Clone()
	return c
}

// verdict names an accept/reject decision in failure messages.
func verdict(err error) string {
	if err == nil {
		return "accept"
	}
	return "reject (" + err.Error() + ")"
}

// readBody reads and restores a request's body.
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(b))
	return b, err
}
