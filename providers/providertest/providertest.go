// Package providertest is a conformance suite for webhook providers: the
// bundled ones under providers/ run it, and so can a provider of one's own.
// A provider's test describes the provider in a Harness and calls Run:
//
//	func TestConformance(t *testing.T) {
//		providertest.Run(t, providertest.Harness{
//			New: func(c providertest.Config) (provider.Provider, error) {
//				return acme.New(c.Secrets[0], acme.WithSecrets(c.Secrets[1:]...),
//					acme.WithClock(c.Now), acme.WithTolerance(c.Tolerance))
//			},
//			Sign: func(r *http.Request, body []byte, secret string, now time.Time) error {
//				r.Header.Set("Acme-Signature", acme.Sign(secret, now, body))
//				return nil
//			},
//			Secrets:   []string{"s3cret-one", "s3cret-two", "s3cret-three"},
//			Samples:   []providertest.Sample{{Name: "order", Header: jsonHeader, Body: orderJSON, ID: "ord_1", Type: "order.paid"}},
//			Tolerance: acme.DefaultTolerance,
//			Vectors:   providertest.LoadVectors(t, "testdata/vectors.json", "acme"),
//		})
//	}
//
// The suite checks, each in a subtest of its own:
//
//   - Vectors: every known-answer vector verifies or fails as it expects,
//     failures matching verify.ErrVerification; a vector with an expected
//     response gets exactly that answer from a receiver.
//   - RoundTrip: every sample signed by Sign verifies and Parse reads the
//     sample's ID and type from it.
//   - Receiver: every sample goes end to end through receiver.New over
//     httptest: a signed delivery is answered 2xx and reaches the handler
//     once, with its ID and type; its redelivery is a duplicate (when it has
//     an ID); a tampered copy is answered 401 and reaches nothing.
//   - TamperedBody: a byte flipped at the start, middle and end, a byte
//     appended, the last byte cut and an empty body all fail.
//   - Credentials, instead of TamperedBody for a scheme that authenticates
//     the sender and not the body (Harness.Unsigned: a token, Basic
//     credentials): a delivery without the credential or with a wrong one
//     fails and is answered 401 by a receiver, one with the right
//     credential verifies and is answered 2xx.
//   - TamperedHeaders: every header Sign sets and every header named in
//     SignedHeaders fails when removed, when any one character is changed,
//     when a character is appended or the last one cut, and, for a decimal
//     value such as a timestamp, when it is one more or one less.
//   - Secrets: a wrong secret fails; with two secrets configured (a
//     rotation) a delivery signed with either verifies and one signed with
//     a third fails; an empty secret is refused by New.
//   - Timestamps, when Tolerance is not zero: a delivery signed just inside
//     the window, in the past or the future, verifies, and one just outside
//     fails, for the default window and for one set through Config (see
//     ConfiguredWindow; any default window of 1 s or more can be tested).
//   - SignatureList, when List is set: a header with
//     verify.MaxSignatureEntries entries is read (a valid one among forged
//     ones verifies), one with more, or longer than
//     verify.MaxSignatureHeaderBytes, fails with
//     verify.ErrSignatureHeaderTooLarge, and rejecting a forged list of the
//     maximum length costs about what rejecting a single forged entry does
//     (one MAC per secret, never one per entry).
//   - Handshakes: every handshake gets exactly its documented answer
//     (status, content type, body) from a receiver and reaches no handler.
//   - Malformed: every malformed sample verifies and Parse refuses it with
//     an error matching provider.ErrMalformedEnvelope.
//
// Every verification error the suite provokes is checked to match
// verify.ErrVerification and to contain neither a secret nor the body.
// FuzzHeader and FuzzVerifyHeader fuzz header parsers; their seed corpus
// runs in a normal go test.
//
// The suite verifies with a clock stopped at a fixed instant years away from
// the real time, so a provider that ignores Config.Now fails it.
package providertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/verify"
)

// Config is what the suite asks Harness.New to configure.
type Config struct {
	// Secrets are the secrets to accept: the current one first, more
	// during a rotation.
	Secrets []string
	// PublicKeys are public keys to accept, for vectors that have one.
	PublicKeys []string
	// Now is the provider's clock. The suite always sets it.
	Now func() time.Time
	// Tolerance is the timestamp window; 0 means the provider's default.
	Tolerance time.Duration
}

// Sample is a delivery the sender could send, unsigned: the suite signs it
// with Harness.Sign.
type Sample struct {
	Name string
	// Header holds the request's headers other than those Sign sets:
	// Content-Type and the headers the provider reads the ID or type from.
	Header http.Header
	Body   []byte
	// ID and Type are what Parse must read from the signed delivery.
	ID, Type string
}

// Handshake is a request the receiver must answer itself, without reaching
// a handler: a URL verification, a challenge, an SSL check.
type Handshake struct {
	Name   string
	Method string // "" means POST
	URL    string // "" means DefaultURL
	Header http.Header
	Body   []byte
	// Signed has the request signed by Sign with the first secret, as a
	// delivery would be.
	Signed bool
	// Want is the exact answer: status, Content-Type (empty: none) and body.
	Want Response
}

// SignatureList describes a signature header that carries a list of
// entries (Stripe's "t=…,v1=…,v1=…", Standard Webhooks' "v1,… v1,…").
type SignatureList struct {
	Header string // the header's name
	// Sep separates entries: "," or " " (any run of white space).
	Sep string
	// Entry returns a well-formed signature entry that never verifies
	// (such as "v1=" and the hex of 32 bytes), a different one for each i.
	Entry func(i int) string
}

// ForgedEntry returns a SignatureList.Entry for 32-byte signatures (an
// HMAC-SHA256): its i-th entry is prefix followed by encode of a digest
// distinct for each i, well formed and never valid. For Stripe's list:
//
//	Entry: providertest.ForgedEntry("v1=", hex.EncodeToString)
func ForgedEntry(prefix string, encode func([]byte) string) func(i int) string {
	return func(i int) string {
		sum := sha256.Sum256([]byte("forged " + strconv.Itoa(i)))
		return prefix + encode(sum[:])
	}
}

// Harness describes a provider to the suite. New, Sign, Secrets and Samples
// are required.
type Harness struct {
	// New returns a provider configured as c says.
	New func(c Config) (provider.Provider, error)
	// Sign signs r, whose body is body, as the sender would with secret
	// at now: it sets the signature headers (and the timestamp header,
	// URL parameters, … the scheme has).
	Sign func(r *http.Request, body []byte, secret string, now time.Time) error
	// Secrets are at least three distinct valid secrets. The suite uses
	// the first as the current secret, the second as the other secret of
	// a rotation, and the third as a secret the provider does not know.
	Secrets []string
	// Samples are realistic deliveries, at least one; the first is the
	// one tampered with header by header.
	Samples []Sample
	// SignedHeaders names the headers of the samples, besides those Sign
	// sets, that the signature covers (Standard Webhooks' webhook-id).
	SignedHeaders []string
	// Tolerance is the provider's default timestamp window; 0 when the
	// scheme has no timestamp, which skips the Timestamps checks.
	Tolerance time.Duration
	// List describes the signature header's entries; nil when the header
	// carries a single signature, which skips the SignatureList checks.
	List *SignatureList
	// Handshakes are requests with a documented answer.
	Handshakes []Handshake
	// Malformed are deliveries that verify but whose envelope Parse must
	// refuse.
	Malformed []Sample
	// Vectors are known-answer vectors (see LoadVectors), each verified by
	// a provider New makes from Vector.Config.
	Vectors []Vector
	// Unsigned marks a scheme that authenticates the sender, not the body:
	// a token in a header (GitLab's X-Gitlab-Token, Okta's Authorization
	// header), HTTP Basic credentials, Microsoft Graph's clientState. The
	// TamperedBody checks are then replaced by the Credentials checks: a
	// delivery without the credential (the sample as it is, neither signed
	// nor passed through SignBody) or with a wrong one (signed with the
	// third secret) fails and is answered 401 by a receiver, and one with
	// the right credential verifies and is answered 2xx. The Receiver check
	// sends a delivery signed with a wrong secret where it would send a
	// tampered body, and TamperedHeaders runs only when Sign sets a header.
	Unsigned bool
	// SignBody, when not nil, returns the body of a sample as the sender
	// would send it with secret at now, before Sign signs the request: for
	// schemes whose credential or signature lives in the body (Microsoft
	// Graph's clientState). It must not modify body. nil leaves bodies as
	// the samples give them.
	SignBody func(body []byte, secret string, now time.Time) []byte
}

// now is the instant the suite's clock is stopped at: far from the real
// time, so that a provider reading time.Now instead of Config.Now fails.
var now = time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)

// Run runs the suite against the provider h describes.
func Run(t *testing.T, h Harness) {
	t.Helper()
	require.NotNil(t, h.New, "providertest: Harness.New is required")
	require.NotNil(t, h.Sign, "providertest: Harness.Sign is required")
	require.GreaterOrEqual(t, len(h.Secrets), 3, "providertest: Harness.Secrets needs three secrets")
	require.Len(t, uniq(h.Secrets[:3]), 3, "providertest: the three secrets must differ")
	require.NotEmpty(t, h.Samples, "providertest: Harness.Samples needs a sample")

	e := &env{h: h}
	t.Run("Vectors", e.vectors)
	t.Run("RoundTrip", e.roundTrip)
	t.Run("Receiver", e.receiver)
	if h.Unsigned {
		t.Run("Credentials", e.credentials)
	} else {
		t.Run("TamperedBody", e.tamperedBody)
	}
	t.Run("TamperedHeaders", e.tamperedHeaders)
	t.Run("Secrets", e.secrets)
	if h.Tolerance > 0 {
		t.Run("Timestamps", e.timestamps)
	}
	if h.List != nil {
		t.Run("SignatureList", e.signatureList)
	}
	if len(h.Handshakes) > 0 {
		t.Run("Handshakes", e.handshakes)
	}
	if len(h.Malformed) > 0 {
		t.Run("Malformed", e.malformed)
	}
}

type env struct{ h Harness }

func uniq(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// provider returns a provider for secrets on the suite's clock.
func (e *env) provider(t *testing.T, secrets ...string) provider.Provider {
	t.Helper()
	return e.providerWith(t, Config{Secrets: secrets})
}

func (e *env) providerWith(t *testing.T, c Config) provider.Provider {
	t.Helper()
	if c.Now == nil {
		c.Now = func() time.Time { return now }
	}
	p, err := e.h.New(c)
	require.NoError(t, err, "New")
	require.NotNil(t, p, "New")
	return p
}

// request returns s as an unsigned request.
func request(t testing.TB, method, url string, header http.Header, body []byte) *http.Request {
	t.Helper()
	if method == "" {
		method = http.MethodPost
	}
	if url == "" {
		url = DefaultURL
	}
	r, err := http.NewRequestWithContext(context.Background(), method, url, bytes.NewReader(body))
	require.NoError(t, err)
	for k, vs := range header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return r
}

// signed returns s signed with secret at at.
func (e *env) signed(t testing.TB, s Sample, secret string, at time.Time) (*http.Request, []byte) {
	t.Helper()
	body := e.signBody(s.Body, secret, at)
	r := request(t, "", "", s.Header, body)
	require.NoError(t, e.h.Sign(r, body, secret, at), "Sign")
	return r, body
}

// signBody returns a copy of body as SignBody makes it (body itself
// without SignBody).
func (e *env) signBody(body []byte, secret string, at time.Time) []byte {
	body = bytes.Clone(body)
	if e.h.SignBody != nil {
		body = bytes.Clone(e.h.SignBody(body, secret, at))
	}
	return body
}

// withBody returns a copy of r carrying body.
func withBody(r *http.Request, body []byte) *http.Request {
	c := r.Clone(context.Background())
	c.Body = http.NoBody
	if len(body) > 0 {
		c.Body = readCloser{bytes.NewReader(body)}
	}
	c.ContentLength = int64(len(body))
	return c
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// accept checks that p verifies r.
func accept(t *testing.T, p provider.Provider, r *http.Request, body []byte, msgAndArgs ...any) bool {
	t.Helper()
	return assert.NoError(t, p.Verify(r, body), msgAndArgs...)
}

// reject checks that p refuses r with an error matching
// verify.ErrVerification that contains no secret and not the body.
func (e *env) reject(t *testing.T, p provider.Provider, r *http.Request, body []byte, msgAndArgs ...any) error {
	t.Helper()
	err := p.Verify(r, body)
	if !assert.Error(t, err, msgAndArgs...) {
		return nil
	}
	assert.ErrorIs(t, err, verify.ErrVerification, msgAndArgs...)
	e.noLeak(t, err, body)
	return err
}

// noLeak checks that err names no secret and does not quote body.
func (e *env) noLeak(t *testing.T, err error, body []byte) {
	t.Helper()
	msg := err.Error()
	for _, s := range e.h.Secrets {
		for _, part := range secretParts(s) {
			assert.NotContains(t, msg, part, "the error quotes a secret")
		}
	}
	if len(body) >= 8 {
		assert.NotContains(t, msg, string(body), "the error quotes the body")
	}
}

// secretParts returns the forms of secret an error must not quote: the
// secret, and its part after a "whsec_"-style prefix.
func secretParts(s string) []string {
	parts := []string{s}
	if _, rest, ok := strings.Cut(s, "_"); ok && len(rest) >= 8 {
		parts = append(parts, rest)
	}
	return parts
}

func (e *env) vectors(t *testing.T) {
	for _, v := range e.h.Vectors {
		t.Run(v.ID, func(t *testing.T) {
			p := e.providerWith(t, v.Config())
			r, body := v.Request()
			if v.ExpectResponse != nil && v.Valid() {
				want := *v.ExpectResponse
				got, handled := serve(t, p, r)
				assert.Equal(t, want, got, "the answer")
				assert.Zero(t, handled, "a handshake reached the handler")
				return
			}
			if v.Valid() {
				accept(t, p, r, body)
				return
			}
			err := p.Verify(r, body)
			if assert.Error(t, err) {
				assert.ErrorIs(t, err, verify.ErrVerification)
				if v.Secret != "" {
					assert.NotContains(t, err.Error(), v.Secret, "the error quotes the secret")
				}
			}
		})
	}
}

func (e *env) roundTrip(t *testing.T) {
	p := e.provider(t, e.h.Secrets[0])
	for _, s := range e.h.Samples {
		t.Run(s.Name, func(t *testing.T) {
			r, body := e.signed(t, s, e.h.Secrets[0], now)
			require.NoError(t, p.Verify(r, body), "the signed sample does not verify")
			env, err := p.Parse(r, body)
			require.NoError(t, err, "Parse")
			assert.Equal(t, s.ID, env.ID, "ID")
			assert.Equal(t, s.Type, env.Type, "Type")
			assert.Nil(t, env.Reply, "a delivery got a handshake reply")
		})
	}
}

// recorder is a handler that records the events it gets.
type recorder struct {
	mu     sync.Mutex
	events []receiver.Event
}

func (h *recorder) HandleEvent(_ context.Context, ev *receiver.Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, *ev)
	return nil
}

func (h *recorder) got() []receiver.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.events)
}

// newReceiver returns a receiver for p whose handler records events, shut
// down (its queue drained) by the returned function.
func newReceiver(t *testing.T, p provider.Provider) (*receiver.Receiver, *recorder, func()) {
	t.Helper()
	h := &recorder{}
	rcv, err := receiver.New(p, h, receiver.Workers(1))
	require.NoError(t, err, "receiver.New")
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			assert.NoError(t, rcv.Shutdown(ctx), "receiver shutdown")
		})
	}
	t.Cleanup(stop)
	return rcv, h, stop
}

// serve sends r to a new receiver for p and returns its answer and the
// number of events its handler got.
func serve(t *testing.T, p provider.Provider, r *http.Request) (Response, int) {
	t.Helper()
	rcv, h, stop := newReceiver(t, p)
	w := httptest.NewRecorder()
	rcv.ServeHTTP(w, r)
	stop()
	return Response{Status: w.Code, ContentType: w.Header().Get("Content-Type"), Body: w.Body.String()}, len(h.got())
}

func (e *env) receiver(t *testing.T) {
	for _, s := range e.h.Samples {
		t.Run(s.Name, func(t *testing.T) {
			p := e.provider(t, e.h.Secrets[0])
			rcv, h, stop := newReceiver(t, p)
			r, body := e.signed(t, s, e.h.Secrets[0], now)
			env, err := p.Parse(r, body)
			require.NoError(t, err, "Parse")

			post := func(r *http.Request, body []byte) int {
				w := httptest.NewRecorder()
				rcv.ServeHTTP(w, withBody(r, body))
				return w.Code
			}
			status := post(r, body)
			assert.True(t, status >= 200 && status < 300, "a signed delivery got %d", status)
			status = post(r, body)
			assert.True(t, status >= 200 && status < 300, "a redelivery got %d", status)
			if e.h.Unsigned {
				forged, forgedBody := e.signed(t, s, e.h.Secrets[2], now)
				assert.Equal(t, http.StatusUnauthorized, post(forged, forgedBody), "a delivery with a wrong credential")
			} else {
				tampered := append(bytes.Clone(body), ' ')
				assert.Equal(t, http.StatusUnauthorized, post(r, tampered), "a tampered delivery")
			}
			stop()

			want := 1
			switch {
			case env.Optional:
				want = 0
			case s.ID == "":
				want = 2 // no ID, no dedupe
			}
			got := h.got()
			require.Len(t, got, want, "events handled")
			for _, ev := range got {
				assert.Equal(t, s.ID, ev.ID, "the event's ID")
				assert.Equal(t, s.Type, ev.Type, "the event's type")
				assert.Equal(t, body, ev.Body, "the event's body")
			}
		})
	}
}

func (e *env) tamperedBody(t *testing.T) {
	p := e.provider(t, e.h.Secrets[0])
	for _, s := range e.h.Samples {
		t.Run(s.Name, func(t *testing.T) {
			r, body := e.signed(t, s, e.h.Secrets[0], now)
			require.NotEmpty(t, body, "a sample needs a body")
			require.NoError(t, p.Verify(r, body), "the signed sample does not verify")
			for _, i := range uniqInts(0, len(body)/2, len(body)-1) {
				b := bytes.Clone(body)
				b[i] ^= 0x01
				e.reject(t, p, withBody(r, b), b, "byte %d flipped", i)
			}
			b := append(bytes.Clone(body), ' ')
			e.reject(t, p, withBody(r, b), b, "a space appended")
			b = body[:len(body)-1]
			e.reject(t, p, withBody(r, b), b, "the last byte cut")
			e.reject(t, p, withBody(r, nil), nil, "an empty body")
		})
	}
}

// credentials runs for Unsigned schemes instead of tamperedBody: without
// the credential or with a wrong one a delivery fails, and a receiver
// answers it 401 and hands it to no handler; with the right one it
// verifies and is answered 2xx.
func (e *env) credentials(t *testing.T) {
	p := e.provider(t, e.h.Secrets[0])
	for _, s := range e.h.Samples {
		t.Run(s.Name, func(t *testing.T) {
			good, goodBody := e.signed(t, s, e.h.Secrets[0], now)
			wrong, wrongBody := e.signed(t, s, e.h.Secrets[2], now)
			body := bytes.Clone(s.Body)
			bare := request(t, "", "", s.Header, body)
			accept(t, p, good, goodBody, "the right credential")
			e.reject(t, p, wrong, wrongBody, "a wrong credential")
			e.reject(t, p, bare, body, "no credential")
			for _, h := range e.signedHeaders(s.Header, good.Header) {
				c := withBody(good, goodBody)
				c.Header.Del(h)
				e.reject(t, p, c, goodBody, "%s removed", h)
			}

			rcv, h, stop := newReceiver(t, p)
			post := func(r *http.Request, body []byte) int {
				w := httptest.NewRecorder()
				rcv.ServeHTTP(w, withBody(r, body))
				return w.Code
			}
			assert.Equal(t, http.StatusUnauthorized, post(bare, body), "a delivery without the credential")
			assert.Equal(t, http.StatusUnauthorized, post(wrong, wrongBody), "a delivery with a wrong credential")
			status := post(good, goodBody)
			assert.True(t, status >= 200 && status < 300, "a delivery with the right credential got %d", status)
			stop()
			got := h.got()
			assert.LessOrEqual(t, len(got), 1, "events handled")
			for _, ev := range got {
				assert.Equal(t, goodBody, ev.Body, "a delivery without the right credential reached the handler")
			}
		})
	}
}

func uniqInts(xs ...int) []int {
	slices.Sort(xs)
	return slices.Compact(xs)
}

// signedHeaders returns the names of the headers the signature covers in r:
// those Sign set or changed, and Harness.SignedHeaders, sorted.
func (e *env) signedHeaders(before, after http.Header) []string {
	set := map[string]bool{}
	for k, v := range after {
		if !slices.Equal(before[k], v) {
			set[k] = true
		}
	}
	for _, k := range e.h.SignedHeaders {
		set[http.CanonicalHeaderKey(k)] = true
	}
	names := make([]string, 0, len(set))
	for k := range set {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func (e *env) tamperedHeaders(t *testing.T) {
	p := e.provider(t, e.h.Secrets[0])
	s := e.h.Samples[0]
	r, body := e.signed(t, s, e.h.Secrets[0], now)
	require.NoError(t, p.Verify(r, body), "the signed sample does not verify")
	names := e.signedHeaders(s.Header, r.Header)
	if e.h.Unsigned && len(names) == 0 {
		// The credential lives in the body (SignBody); Credentials checks it.
		return
	}
	require.NotEmpty(t, names, "Sign set no header")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			value := r.Header.Get(name)
			require.NotEmpty(t, value, "the signed request has no %s", name)
			c := withBody(r, body)
			c.Header.Del(name)
			e.reject(t, p, c, body, "%s removed", name)
			for _, v := range Tamperings(value) {
				c := withBody(r, body)
				c.Header.Set(name, v)
				e.reject(t, p, c, body, "%s: %q instead of %q", name, v, value)
			}
		})
	}
}

// Tamperings returns the changed forms of a signed header's value the suite
// tries: each character changed in turn (to one that differs in hex, where
// case does not count, and in the bits base64 decodes), a character
// appended, the last one cut, and every number in it that looks like a
// Unix timestamp (a decimal value, or a run of nine digits or more, as in
// "t=1735689600,v1=…") plus and minus one: a change the timestamp window
// lets through, which only the signature can catch.
func Tamperings(value string) []string {
	var out []string
	for i := 0; i < len(value); i++ {
		out = append(out, value[:i]+string(changed(value[i]))+value[i+1:])
	}
	out = append(out, value+"A")
	if len(value) > 0 {
		out = append(out, value[:len(value)-1])
	}
	for i := 0; i < len(value); {
		j := i
		for j < len(value) && '0' <= value[j] && value[j] <= '9' {
			j++
		}
		if j == i {
			i++
			continue
		}
		if n := value[i:j]; len(n) <= 18 && (len(n) >= 9 || len(n) == len(value)) {
			out = append(out, value[:i]+addOne(n, 1)+value[j:], value[:i]+addOne(n, -1)+value[j:])
		}
		i = j
	}
	return slices.DeleteFunc(uniq(out), func(v string) bool { return v == value })
}

// changed returns a character that stands for another value than c in hex
// (in either case) and in base64 (its value differs by 16 or more, so that
// even the bits of a final base64 character that follow a one-byte
// remainder change).
func changed(c byte) byte {
	switch {
	case '0' <= c && c <= '9': // base64 52..61 → 26..35
		return 'a' + (c - '0')
	case 'A' <= c && c <= 'Z': // base64 0..25 → 52..61
		return '0' + (c-'A')%10
	case 'a' <= c && c <= 'z': // base64 26..51 → a value 16 or 42 lower
		return 'A' + (c-'a'+10)%26
	}
	return 'A'
}

// addOne returns the decimal s plus d (±1), keeping its width when it can.
func addOne(s string, d int64) string {
	var n int64
	for i := 0; i < len(s); i++ {
		n = n*10 + int64(s[i]-'0')
	}
	if n+d < 0 {
		return s + "0"
	}
	return fmt.Sprintf("%0*d", len(s), n+d)
}

func (e *env) secrets(t *testing.T) {
	s := e.h.Samples[0]
	s0, s1, s2 := e.h.Secrets[0], e.h.Secrets[1], e.h.Secrets[2]
	signed := func(secret string) (*http.Request, []byte) { return e.signed(t, s, secret, now) }

	t.Run("wrong", func(t *testing.T) {
		p := e.provider(t, s0)
		r, body := signed(s2)
		e.reject(t, p, r, body, "signed with an unknown secret")
		r, body = signed(s1)
		e.reject(t, p, r, body, "signed with a secret not configured")
	})
	t.Run("rotation", func(t *testing.T) {
		for _, p := range []provider.Provider{e.provider(t, s0, s1), e.provider(t, s1, s0)} {
			r, body := signed(s0)
			accept(t, p, r, body, "signed with the first secret of two")
			r, body = signed(s1)
			accept(t, p, r, body, "signed with the second secret of two")
			r, body = signed(s2)
			e.reject(t, p, r, body, "signed with a third secret")
		}
	})
	t.Run("empty", func(t *testing.T) {
		for _, secrets := range [][]string{{""}, {s0, ""}} {
			p, err := e.h.New(Config{Secrets: secrets, Now: func() time.Time { return now }})
			assert.Error(t, err, "New accepts an empty secret in %q", secrets)
			assert.Nil(t, p, "New returns a provider with an error")
		}
	})
}

func (e *env) timestamps(t *testing.T) {
	s := e.h.Samples[0]
	check := func(t *testing.T, p provider.Provider, window time.Duration) {
		for _, tc := range []struct {
			offset time.Duration
			ok     bool
		}{
			{0, true},
			{-window + time.Second, true},
			{window - time.Second, true},
			{-window - time.Second, false},
			{window + time.Second, false},
			{-100 * window, false},
			{100 * window, false},
		} {
			r, body := e.signed(t, s, e.h.Secrets[0], now.Add(tc.offset))
			if tc.ok {
				accept(t, p, r, body, "signed %v from now, window %v", tc.offset, window)
			} else {
				e.reject(t, p, r, body, "signed %v from now, window %v", tc.offset, window)
			}
		}
	}
	t.Run("default", func(t *testing.T) {
		check(t, e.provider(t, e.h.Secrets[0]), e.h.Tolerance)
	})
	t.Run("configured", func(t *testing.T) {
		window := ConfiguredWindow(e.h.Tolerance)
		check(t, e.providerWith(t, Config{Secrets: e.h.Secrets[:1], Tolerance: window}), window)
	})
}

// ConfiguredWindow returns the window the Timestamps checks configure
// through Config.Tolerance for a provider whose default window is def: a
// whole number of seconds, at least 2 s, that differs from def by more than
// the checks' one-second margins, so that a provider ignoring
// Config.Tolerance fails them. It is 30 s when def exceeds 31 s, half of
// def (truncated to seconds) when that is 2 s or more, and for a shorter
// def twice def or def plus 2 s, whichever is longer, rounded up to
// seconds.
func ConfiguredWindow(def time.Duration) time.Duration {
	switch {
	case def > 31*time.Second:
		return 30 * time.Second
	case (def / 2).Truncate(time.Second) >= 2*time.Second:
		return (def / 2).Truncate(time.Second)
	}
	up := func(d time.Duration) time.Duration { return (d + time.Second - 1).Truncate(time.Second) }
	return max(up(2*def), up(def)+2*time.Second)
}

// countEntries counts the entries of a signature header as
// verify.ParseSignatures does: the non-empty elements between separators.
func countEntries(header, sep string) int {
	if sep == " " {
		return len(strings.Fields(header))
	}
	n := 0
	for _, e := range strings.Split(header, sep) {
		if strings.TrimSpace(e) != "" {
			n++
		}
	}
	return n
}

// pad returns header with forged entries appended up to n entries.
func (l *SignatureList) pad(header string, n int) string {
	var b strings.Builder
	b.WriteString(header)
	for i, have := 0, countEntries(header, l.Sep); have < n; i, have = i+1, have+1 {
		b.WriteString(l.Sep)
		b.WriteString(l.Entry(i))
	}
	return b.String()
}

// CostRatio is the most the suite lets rejecting a forged signature list
// of verify.MaxSignatureEntries entries cost, relative to rejecting a list
// with the signed header's own entries, over a 1 MiB body. Computing a MAC
// per entry would cost about MaxSignatureEntries times as much.
const CostRatio = 4

func (e *env) signatureList(t *testing.T) {
	l := e.h.List
	require.NotEmpty(t, l.Header, "List.Header")
	require.NotNil(t, l.Entry, "List.Entry")
	entries := make([]string, verify.MaxSignatureEntries+1)
	for i := range entries {
		entries[i] = l.Entry(i)
	}
	require.Len(t, uniq(entries), len(entries), "List.Entry repeats itself")

	s := e.h.Samples[0]
	p := e.provider(t, e.h.Secrets[0], e.h.Secrets[1])
	with := func(r *http.Request, body []byte, value string) *http.Request {
		c := withBody(r, body)
		c.Header.Set(l.Header, value)
		return c
	}
	good, body := e.signed(t, s, e.h.Secrets[0], now)
	forged, _ := e.signed(t, s, e.h.Secrets[2], now)
	goodValue, forgedValue := good.Header.Get(l.Header), forged.Header.Get(l.Header)
	require.NotEmpty(t, goodValue, "Sign did not set %s", l.Header)
	require.LessOrEqual(t, countEntries(goodValue, l.Sep), verify.MaxSignatureEntries)

	t.Run("entries", func(t *testing.T) {
		for i, entry := range entries[:3] {
			e.reject(t, p, with(good, body, forgedValue+l.Sep+entry), body, "forged entry %d", i)
		}
		accept(t, p, with(good, body, l.pad(goodValue, verify.MaxSignatureEntries)), body,
			"a valid signature among %d entries", verify.MaxSignatureEntries)
		err := e.reject(t, p, with(good, body, l.pad(forgedValue, verify.MaxSignatureEntries)), body,
			"%d forged entries", verify.MaxSignatureEntries)
		assert.NotErrorIs(t, err, verify.ErrSignatureHeaderTooLarge, "a list at the bound is refused for its size")
		err = e.reject(t, p, with(good, body, l.pad(goodValue, verify.MaxSignatureEntries+1)), body,
			"a valid signature among %d entries", verify.MaxSignatureEntries+1)
		assert.ErrorIs(t, err, verify.ErrSignatureHeaderTooLarge)
	})
	t.Run("bytes", func(t *testing.T) {
		long := goodValue + l.Sep + strings.Repeat("x", verify.MaxSignatureHeaderBytes-len(goodValue))
		require.Greater(t, len(long), verify.MaxSignatureHeaderBytes)
		err := e.reject(t, p, with(good, body, long), body, "a valid signature in a %d-byte header", len(long))
		assert.ErrorIs(t, err, verify.ErrSignatureHeaderTooLarge)
	})
	t.Run("cost", func(t *testing.T) {
		big := Sample{Name: s.Name, Header: s.Header, Body: bytes.Repeat([]byte("0123456789abcdef"), 1<<16)}
		one, bigBody := e.signed(t, big, e.h.Secrets[2], now)
		many := with(one, bigBody, l.pad(one.Header.Get(l.Header), verify.MaxSignatureEntries))
		e.reject(t, p, one, bigBody)
		e.reject(t, p, many, bigBody)
		ratio := costRatio(func() { _ = p.Verify(one, bigBody) }, func() { _ = p.Verify(many, bigBody) })
		t.Logf("rejecting %d forged entries costs %.2f times rejecting %d", verify.MaxSignatureEntries, ratio, countEntries(one.Header.Get(l.Header), l.Sep))
		assert.Less(t, ratio, float64(CostRatio),
			"rejecting a forged list of %d entries costs %.1f times rejecting one: a MAC per entry?", verify.MaxSignatureEntries, ratio)
	})
}

// costRatio returns the median over rounds of the time b takes divided by
// the time a takes, timed alternately so that both see the same load.
func costRatio(a, b func()) float64 {
	const rounds, iters = 9, 4
	a()
	b()
	ratios := make([]float64, rounds)
	for i := range ratios {
		ta := timeOf(a, iters)
		tb := timeOf(b, iters)
		ratios[i] = float64(tb) / float64(max(ta, 1))
	}
	slices.Sort(ratios)
	return ratios[rounds/2]
}

func timeOf(f func(), n int) time.Duration {
	start := time.Now()
	for range n {
		f()
	}
	return time.Since(start)
}

func (e *env) handshakes(t *testing.T) {
	for _, hs := range e.h.Handshakes {
		t.Run(hs.Name, func(t *testing.T) {
			p := e.provider(t, e.h.Secrets[0])
			body := bytes.Clone(hs.Body)
			if hs.Signed {
				body = e.signBody(hs.Body, e.h.Secrets[0], now)
			}
			r := request(t, hs.Method, hs.URL, hs.Header, body)
			if hs.Signed {
				require.NoError(t, e.h.Sign(r, body, e.h.Secrets[0], now), "Sign")
			}
			got, handled := serve(t, p, r)
			assert.Equal(t, hs.Want, got, "the answer")
			assert.Zero(t, handled, "a handshake reached the handler")
		})
	}
}

func (e *env) malformed(t *testing.T) {
	p := e.provider(t, e.h.Secrets[0])
	for _, s := range e.h.Malformed {
		t.Run(s.Name, func(t *testing.T) {
			r, body := e.signed(t, s, e.h.Secrets[0], now)
			require.NoError(t, p.Verify(r, body), "the signed sample does not verify")
			_, err := p.Parse(r, body)
			require.Error(t, err, "Parse accepts a malformed envelope")
			assert.ErrorIs(t, err, provider.ErrMalformedEnvelope)
			e.noLeak(t, err, body)
			got, handled := serve(t, p, withBody(r, body))
			assert.Equal(t, http.StatusBadRequest, got.Status, "the receiver's answer")
			assert.Zero(t, handled, "a malformed delivery reached the handler")
		})
	}
}
