package kit

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/verify"
)

var testScheme = &Scheme{
	Name:      "acme",
	Algorithm: HMACSHA256,
	Signature: Signature{Header: "Acme-Signature", Prefix: "v1=", Sep: ","},
	Timestamp: &Timestamp{Field: "t="},
	Message:   []Piece{Time, Lit("."), Body},
	Envelope:  Envelope{ID: Field{JSON: []string{"id"}, Required: true}, Type: Field{JSON: []string{"type"}}},
}

var (
	at   = time.Unix(1735689600, 0)
	body = []byte(`{"id":"evt_1","type":"a.b"}`)
)

func signed(t testing.TB, s *Scheme, secret string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, providertest.DefaultURL, bytes.NewReader(body))
	require.NoError(t, err)
	require.NoError(t, s.Sign(r, body, secret, at))
	return r
}

func clock() time.Time { return at }

// staticSource is a SecretSource returning whatever it holds, valid or not.
type staticSource struct {
	mu   sync.Mutex
	list []string
}

func (s *staticSource) Secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.list
}

func (s *staticSource) set(list ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = list
}

// TestSecretSourceRotation: a rotation through a source takes effect on the
// next request, and the keyed state is built once per change of the list,
// never per request.
func TestSecretSourceRotation(t *testing.T) {
	src, err := provider.NewSecrets("old")
	require.NoError(t, err)
	p, err := testScheme.New(ApplySource(src, []func(*Options){WithClock(clock)}))
	require.NoError(t, err)
	require.EqualValues(t, 1, p.keys.builds.Load(), "built at New")

	for range 100 {
		require.NoError(t, p.Verify(signed(t, testScheme, "old"), body))
	}
	assert.ErrorIs(t, p.Verify(signed(t, testScheme, "new"), body), verify.ErrSignatureMismatch)
	assert.EqualValues(t, 1, p.keys.builds.Load(), "rebuilt without a change")

	require.NoError(t, src.Set("new", "old")) // the rotation starts
	for range 100 {
		require.NoError(t, p.Verify(signed(t, testScheme, "new"), body))
		require.NoError(t, p.Verify(signed(t, testScheme, "old"), body))
	}
	assert.EqualValues(t, 2, p.keys.builds.Load())

	require.NoError(t, src.Set("new", "old")) // the same list again
	require.NoError(t, p.Verify(signed(t, testScheme, "new"), body))
	assert.EqualValues(t, 2, p.keys.builds.Load(), "an equal list rebuilt the state")

	require.NoError(t, src.Set("new")) // the rotation ends
	require.NoError(t, p.Verify(signed(t, testScheme, "new"), body))
	assert.ErrorIs(t, p.Verify(signed(t, testScheme, "old"), body), verify.ErrSignatureMismatch)
	assert.EqualValues(t, 3, p.keys.builds.Load())

	assert.ErrorIs(t, src.Set("new", " "), verify.ErrNoSecret)
	require.NoError(t, p.Verify(signed(t, testScheme, "new"), body), "a refused Set keeps the secrets")
}

// TestSecretSourceFailsClosed: a source whose list becomes invalid rejects
// every request (401) instead of letting any through, and recovers when
// the list is valid again.
func TestSecretSourceFailsClosed(t *testing.T) {
	src := &staticSource{list: []string{"s1"}}
	p, err := testScheme.New(ApplySource(src, []func(*Options){WithClock(clock)}))
	require.NoError(t, err)
	for _, bad := range [][]string{nil, {""}, {"s1", "  "}} {
		src.set(bad...)
		err := p.Verify(signed(t, testScheme, "s1"), body)
		assert.ErrorIs(t, err, verify.ErrVerification, "%q", bad)
		assert.ErrorIs(t, err, verify.ErrNoSecret, "%q", bad)
		assert.True(t, strings.HasPrefix(err.Error(), "acme: "), err.Error())
	}
	src.set("s1")
	assert.NoError(t, p.Verify(signed(t, testScheme, "s1"), body))

	for _, bad := range [][]string{nil, {""}, {"s1", "\t"}} {
		src.set(bad...)
		_, err := testScheme.New(ApplySource(src, []func(*Options){}))
		assert.ErrorIs(t, err, verify.ErrNoSecret, "New with %q", bad)
	}
	src.set("s1")
	_, err = testScheme.New(ApplySource(src, []func(*Options){WithSecrets("s2")}))
	assert.ErrorIs(t, err, errSecretsAndSource)
}

// TestSecretSourceConcurrent rotates while requests verify (run with -race).
func TestSecretSourceConcurrent(t *testing.T) {
	src, err := provider.NewSecrets("a")
	require.NoError(t, err)
	p, err := testScheme.New(ApplySource(src, []func(*Options){WithClock(clock)}))
	require.NoError(t, err)
	r := signed(t, testScheme, "a")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				assert.NoError(t, p.Verify(r, body)) // "a" stays in every list
			}
		})
	}
	for i := range 50 {
		if i%2 == 0 {
			require.NoError(t, src.Set("b", "a"))
		} else {
			require.NoError(t, src.Set("a"))
		}
	}
	wg.Wait()
}

func TestOptions(t *testing.T) {
	for _, secrets := range [][]string{{""}, {"  "}, {"ok", ""}} {
		_, err := testScheme.New(Apply(secrets[0], []func(*Options){WithSecrets(secrets[1:]...)}))
		assert.ErrorIs(t, err, verify.ErrNoSecret, "%q", secrets)
		if assert.Error(t, err) {
			assert.True(t, strings.HasPrefix(err.Error(), "acme: "), err.Error())
		}
	}
	p, err := testScheme.New(Apply("s", []func(*Options){WithClock(nil), WithTolerance(-1), nil}))
	require.NoError(t, err)
	assert.Equal(t, verify.DefaultTolerance, p.Tolerance(), "the scheme's default")
	assert.NotNil(t, p.o.Now)
	p, err = testScheme.New(Apply("s", []func(*Options){WithTolerance(time.Minute)}))
	require.NoError(t, err)
	assert.Equal(t, time.Minute, p.Tolerance())

	// Keys the scheme cannot use are refused at New, without quoting them.
	for _, tc := range []struct {
		s      *Scheme
		secret string
	}{
		{&Scheme{Name: "ed", Algorithm: Ed25519, Signature: Signature{Header: "S"}}, "not-hex-key-material"},
		{&Scheme{Name: "ed", Algorithm: Ed25519, Signature: Signature{Header: "S"}}, "abcd"},
		{&Scheme{Name: "basic", Algorithm: Basic}, "no-colon-in-this-secret"},
		{&Scheme{Name: "basic", Algorithm: Basic}, ":password-without-user"},
		{&Scheme{Name: "b64", Algorithm: HMACSHA256, Signature: Signature{Header: "S"}, Key: Base64Key}, "***not base64***"},
	} {
		_, err := tc.s.New(Options{Secrets: []string{tc.secret}})
		assert.ErrorIs(t, err, verify.ErrNoSecret, "%s %q", tc.s.Name, tc.secret)
		if assert.Error(t, err) {
			assert.NotContains(t, err.Error(), tc.secret)
		}
	}
}

// TestSchemeValidation: impossible declarations are refused by New and
// Sign with ErrScheme.
func TestSchemeValidation(t *testing.T) {
	ts := &Timestamp{Header: "T"}
	for name, s := range map[string]*Scheme{
		"no name":             {Algorithm: HMACSHA256, Signature: Signature{Header: "S"}},
		"no algorithm":        {Name: "x", Signature: Signature{Header: "S"}},
		"no header":           {Name: "x", Algorithm: HMACSHA256},
		"bad encoding":        {Name: "x", Algorithm: HMACSHA256, Signature: Signature{Header: "S", Encoding: 9}},
		"time without ts":     {Name: "x", Algorithm: HMACSHA256, Signature: Signature{Header: "S"}, Message: []Piece{Time}},
		"zero piece":          {Name: "x", Algorithm: HMACSHA256, Signature: Signature{Header: "S"}, Message: []Piece{{}}},
		"empty header piece":  {Name: "x", Algorithm: HMACSHA256, Signature: Signature{Header: "S"}, Message: []Piece{HeaderPiece("")}},
		"ts two sources":      {Name: "x", Algorithm: HMACSHA256, Signature: Signature{Header: "S", Sep: ","}, Timestamp: &Timestamp{Header: "T", Field: "t="}},
		"ts no source":        {Name: "x", Algorithm: HMACSHA256, Signature: Signature{Header: "S"}, Timestamp: &Timestamp{}},
		"field without list":  {Name: "x", Algorithm: HMACSHA256, Signature: Signature{Header: "S"}, Timestamp: &Timestamp{Field: "t="}},
		"field overlaps":      {Name: "x", Algorithm: HMACSHA256, Signature: Signature{Header: "S", Sep: ",", Prefix: "t="}, Timestamp: &Timestamp{Field: "t="}},
		"bad format":          {Name: "x", Algorithm: HMACSHA256, Signature: Signature{Header: "S"}, Timestamp: &Timestamp{Header: "T", Format: 7}},
		"negative tolerance":  {Name: "x", Algorithm: HMACSHA256, Signature: Signature{Header: "S"}, Timestamp: &Timestamp{Header: "T", Tolerance: -1}},
		"token with ts":       {Name: "x", Algorithm: Token, Signature: Signature{Header: "S"}, Timestamp: ts},
		"token with message":  {Name: "x", Algorithm: Token, Signature: Signature{Header: "S"}, Message: []Piece{Body}},
		"basic with prefix":   {Name: "x", Algorithm: Basic, Signature: Signature{Prefix: "x"}},
		"two field sources":   {Name: "x", Algorithm: HMACSHA256, Signature: Signature{Header: "S"}, Envelope: Envelope{ID: Field{Header: "I", BodyHash: true}}},
		"required no source":  {Name: "x", Algorithm: HMACSHA256, Signature: Signature{Header: "S"}, Envelope: Envelope{ID: Field{Required: true}}},
		"number without json": {Name: "x", Algorithm: HMACSHA256, Signature: Signature{Header: "S"}, Envelope: Envelope{ID: Field{Header: "I", Number: true}}},
		"empty json key":      {Name: "x", Algorithm: HMACSHA256, Signature: Signature{Header: "S"}, Envelope: Envelope{ID: Field{JSON: []string{"a", ""}}}},
	} {
		_, err := s.New(Options{Secrets: []string{"s"}})
		assert.ErrorIs(t, err, ErrScheme, name)
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		assert.ErrorIs(t, s.Sign(r, body, "s", at), ErrScheme, name)
	}
	_, err := testScheme.compile()
	require.NoError(t, err)
}

func TestVerifyErrors(t *testing.T) {
	p, err := testScheme.New(Apply("s", []func(*Options){WithClock(clock)}))
	require.NoError(t, err)
	check := func(h string) error {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		if h != "" {
			r.Header.Set("Acme-Signature", h)
		}
		return p.Verify(r, body)
	}
	good := signed(t, testScheme, "s").Header.Get("Acme-Signature")
	_, v1, _ := strings.Cut(good, ",")
	for h, want := range map[string]error{
		"":                    verify.ErrMissingSignature,
		"t=1735689600":        verify.ErrMalformedSignature,
		v1:                    verify.ErrMissingTimestamp,
		"t=," + v1:            verify.ErrMissingTimestamp,
		"t=1,t=2," + v1:       verify.ErrMalformedTimestamp,
		"t=x," + v1:           verify.ErrMalformedTimestamp,
		"t=1735689000," + v1:  verify.ErrTimestampOutsideWindow,
		"t=1735689601," + v1:  verify.ErrSignatureMismatch,
		good + "," + v1:       nil,
		" " + good + " ,x=1,": nil,
	} {
		err := check(h)
		if want == nil {
			assert.NoError(t, err, h)
			continue
		}
		assert.ErrorIs(t, err, want, h)
		assert.ErrorIs(t, err, verify.ErrVerification, h)
	}
}

func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		raw    string
		format TimeFormat
		want   time.Time
		err    error
	}{
		{"1735689600", Unix, at, nil},
		{"1735689600000", UnixMilli, at, nil},
		{"1735689600123", UnixMilli, at.Add(123 * time.Millisecond), nil},
		{"2025-01-01T00:00:00Z", RFC3339, at, nil},
		{"2025-01-01T00:00:00.123456789Z", RFC3339, at.Add(123456789), nil},
		{"2025-01-01T01:00:00+01:00", RFC3339, at, nil},
		{"", UnixMilli, time.Time{}, verify.ErrMissingTimestamp},
		{"", RFC3339, time.Time{}, verify.ErrMissingTimestamp},
		{"-1", UnixMilli, time.Time{}, verify.ErrMalformedTimestamp},
		{"1234567890123456", UnixMilli, time.Time{}, verify.ErrMalformedTimestamp},
		{"2025-01-01", RFC3339, time.Time{}, verify.ErrMalformedTimestamp},
		{"2025-01-01T00:00:00.0000000000000000000000000000Z", RFC3339, time.Time{}, verify.ErrMalformedTimestamp},
	} {
		got, err := parseTime(tc.raw, tc.format)
		if tc.err != nil {
			assert.ErrorIs(t, err, tc.err, tc.raw)
			continue
		}
		require.NoError(t, err, tc.raw)
		assert.True(t, tc.want.Equal(got), "%s: %v", tc.raw, got)
		back, err := parseTime(formatTime(got, tc.format), tc.format)
		require.NoError(t, err)
		assert.True(t, got.Equal(back), tc.raw)
	}
}

var tokenScheme = &Scheme{Name: "tok", Algorithm: Token, Signature: Signature{Header: "Authorization", Prefix: "Bearer "}}

var basicScheme = &Scheme{Name: "basic", Algorithm: Basic}

func TestTokenAndBasic(t *testing.T) {
	tok, err := tokenScheme.New(Options{Secrets: []string{"tok-new", "tok-old"}})
	require.NoError(t, err)
	basic, err := basicScheme.New(Options{Secrets: []string{"user:pass", "user:old"}})
	require.NoError(t, err)
	check := func(p *Provider, h string) error {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		if h != "" {
			r.Header.Set("Authorization", h)
		}
		return p.Verify(r, body)
	}
	for h, want := range map[string]error{
		"Bearer tok-new":  nil,
		"Bearer tok-old":  nil,
		"Bearer tok-ne":   verify.ErrSignatureMismatch,
		"Bearer tok-new ": verify.ErrSignatureMismatch,
		"tok-new":         verify.ErrMalformedSignature,
		"Bearer ":         verify.ErrMalformedSignature,
		"":                verify.ErrMissingSignature,
		"Bearer " + strings.Repeat("x", verify.MaxSignatureHeaderBytes): verify.ErrSignatureHeaderTooLarge,
	} {
		if err := check(tok, h); want == nil {
			assert.NoError(t, err, h)
		} else {
			assert.ErrorIs(t, err, want, h)
			assert.ErrorIs(t, err, verify.ErrVerification, h)
		}
	}
	for h, want := range map[string]error{
		"Basic dXNlcjpwYXNz":  nil, // user:pass
		"basic dXNlcjpvbGQ=":  nil, // user:old
		"Basic dXNlcjpwYXN6":  verify.ErrSignatureMismatch,
		"Basic dXNlcnBhc3M=":  verify.ErrMalformedSignature, // no colon
		"Basic !!!":           verify.ErrMalformedSignature,
		"Bearer dXNlcjpwYXNz": verify.ErrMalformedSignature,
		"Basic":               verify.ErrMalformedSignature,
		"Basic " + strings.Repeat("A", verify.MaxSignatureHeaderBytes): verify.ErrSignatureHeaderTooLarge,
	} {
		if err := check(basic, h); want == nil {
			assert.NoError(t, err, h)
		} else {
			assert.ErrorIs(t, err, want, h)
		}
	}
	// Sign round trips.
	for _, tc := range []struct {
		p      *Provider
		s      *Scheme
		secret string
	}{{tok, tokenScheme, "tok-old"}, {basic, basicScheme, "user:old"}} {
		assert.NoError(t, tc.p.Verify(signed(t, tc.s, tc.secret), body))
		assert.Error(t, tc.p.Verify(signed(t, tc.s, tc.secret+"x"), body))
	}
	r, _ := http.NewRequest(http.MethodPost, "/", nil)
	assert.ErrorIs(t, basicScheme.Sign(r, body, "nocolon", at), verify.ErrNoSecret)
}

// FuzzTokenAndBasic: arbitrary Authorization headers never panic, fail
// with ErrVerification and never quote the header, and verify only when
// they carry a configured credential.
func FuzzTokenAndBasic(f *testing.F) {
	tok, _ := tokenScheme.New(Options{Secrets: []string{"tok-new"}})
	basic, _ := basicScheme.New(Options{Secrets: []string{"user:pass"}})
	isBasic := func(v string) bool {
		if len(v) < 6 || !strings.EqualFold(v[:6], "basic ") {
			return false
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v[6:]))
		return err == nil && string(b) == "user:pass"
	}
	fuzzHeader(f, func(v string) error {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Authorization", v)
		for _, p := range []*Provider{tok, basic} {
			err := p.Verify(r, body)
			valid := (p == tok && v == "Bearer tok-new") || (p == basic && isBasic(v))
			if valid != (err == nil) {
				return fmt.Errorf("%s: valid %v, got %w", p.Name(), valid, err)
			}
			if err != nil && !errors.Is(err, verify.ErrVerification) {
				return fmt.Errorf("%w does not match ErrVerification", err)
			}
		}
		return nil
	}, "Bearer tok-new", "Basic dXNlcjpwYXNz", "Basic ", "Bearer")
}

// FuzzTimestampField fuzzes the signature header of a list scheme with a
// timestamp field: never a panic, always ErrVerification.
func FuzzTimestampField(f *testing.F) {
	p, _ := testScheme.New(Apply("s", []func(*Options){WithClock(clock)}))
	good := signed(f, testScheme, "s").Header.Get("Acme-Signature")
	fuzzHeader(f, func(v string) error {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Acme-Signature", v)
		err := p.Verify(r, body)
		if err != nil && !errors.Is(err, verify.ErrVerification) {
			return fmt.Errorf("%w does not match ErrVerification", err)
		}
		return nil
	}, good, "t=1,t=2,v1=00", "t=,v1=", ",,,", "t=99999999999999999999,v1=00")
}

// fuzzHeader runs check on seeds, providertest.HostileHeaders and fuzzed
// values; an error fails the test.
func fuzzHeader(f *testing.F, check func(v string) error, seeds ...string) {
	for _, s := range append(seeds, providertest.HostileHeaders...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if err := check(v); err != nil {
			t.Fatal(err)
		}
	})
}

// TestParse covers the envelope sources and their errors.
func TestParse(t *testing.T) {
	s := &Scheme{
		Name: "env", Algorithm: HMACSHA256, Signature: Signature{Header: "S"},
		Envelope: Envelope{
			ID:      Field{JSON: []string{"event", "id"}, Number: true, Required: true},
			Type:    Field{Header: "X-Type", Required: true},
			Version: Field{JSON: []string{"v"}},
		},
	}
	p, err := s.New(Options{Secrets: []string{"k"}})
	require.NoError(t, err)
	parse := func(b string, typ ...string) (provider.Envelope, error) {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		for _, v := range typ {
			r.Header.Add("X-Type", v)
		}
		return p.Parse(r, []byte(b))
	}
	env, err := parse(`{"event":{"id":"e1"},"v":"2"}`, "t")
	require.NoError(t, err)
	assert.Equal(t, provider.Envelope{ID: "e1", Type: "t", Version: "2"}, env)
	env, err = parse(`{"event":{"id":-42}}`, "t")
	require.NoError(t, err)
	assert.Equal(t, "-42", env.ID)
	for b, typ := range map[string][]string{
		`{"event":{"id":"e1"}}`:                 {},
		`{"event":{"id":"e1","ID":"e2"}}`:       {"t"},
		`{"event":{"id":""}}`:                   {"t"},
		`{"event":{"id":1.5}}`:                  {"t"},
		`{"event":{"id":"e1"},"v":1}`:           {"t"},
		`{"event":{"id":"e1"}`:                  {"t"},
		`{"event":{"id":"secret-payload"}}`:     {"a", "b"},
		`{"event":{"id":"e1"},"v":"2","V":"3"}`: {"t"},
	} {
		_, err := parse(b, typ...)
		assert.ErrorIs(t, err, provider.ErrMalformedEnvelope, b)
		if assert.Error(t, err) {
			assert.NotContains(t, err.Error(), "secret-payload")
			assert.NotContains(t, err.Error(), "e2")
		}
	}
}
