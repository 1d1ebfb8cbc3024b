package declare_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"go/parser"
	"go/token"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/declare"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/verify"
)

// This file and example_test.go are what a user writes: they import
// nothing internal (TestUserFilesImportNothingInternal).

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

// newFunc returns a Harness.New for s.
func newFunc(s *declare.Scheme) func(c providertest.Config) (provider.Provider, error) {
	return func(c providertest.Config) (provider.Provider, error) {
		return s.New(c.Secrets[0], declare.WithSecrets(c.Secrets[1:]...),
			declare.WithClock(c.Now), declare.WithTolerance(c.Tolerance))
	}
}

func TestAcmeConformance(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		New:     newFunc(acme),
		Sign:    acme.Sign,
		Secrets: []string{"acme-one", "acme-two", "acme-three"},
		Samples: []providertest.Sample{{
			Name:   "order paid",
			Header: http.Header{"Content-Type": {"application/json"}, "X-Acme-Event": {"order.paid"}},
			Body:   []byte(`{"id":"evt_1","order":{"id":7}}`),
			ID:     "evt_1", Type: "order.paid",
		}},
		Malformed: []providertest.Sample{
			{Name: "no id", Header: http.Header{"X-Acme-Event": {"order.paid"}}, Body: []byte(`{"order":{}}`)},
			{Name: "ambiguous id", Header: http.Header{"X-Acme-Event": {"order.paid"}}, Body: []byte(`{"id":"a","ID":"b"}`)},
			{Name: "no event header", Header: jsonHeader, Body: []byte(`{"id":"evt_1"}`)},
		},
	})
}

func TestPingerConformance(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		New:     newFunc(pinger),
		Sign:    pinger.Sign,
		Secrets: []string{"pinger-one", "pinger-two", "pinger-three"},
		Samples: []providertest.Sample{{
			Name: "check down", Header: jsonHeader, ID: "ev_9", Type: "check.down",
			Body: []byte(`{"event":{"id":"ev_9","type":"check.down"}}`),
		}},
		Tolerance: 5 * time.Minute,
	})
}

// seed returns a hex Ed25519 private key (a seed) for tests.
func seed(label string) string {
	sum := sha256.Sum256([]byte(label))
	return hex.EncodeToString(sum[:])
}

func TestBeaconConformance(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			keys := c.PublicKeys
			for _, s := range c.Secrets { // the suite's secrets are private keys
				pub, err := beacon.Ed25519PublicKey(s)
				if err != nil {
					keys = append(keys, s) // let New refuse it
					continue
				}
				keys = append(keys, hex.EncodeToString(pub))
			}
			if len(keys) == 0 {
				keys = []string{""}
			}
			return beacon.New(keys[0], declare.WithSecrets(keys[1:]...),
				declare.WithClock(c.Now), declare.WithTolerance(c.Tolerance))
		},
		Sign:    beacon.Sign,
		Secrets: []string{seed("one"), seed("two"), seed("three")},
		Samples: []providertest.Sample{{
			Name: "seen", Header: jsonHeader, ID: "b_1", Type: "beacon.seen",
			Body: []byte(`{"id":"b_1","kind":"beacon.seen"}`),
		}},
		Tolerance: verify.DefaultTolerance,
	})
}

// stamped has its timestamp as an entry of a list of signatures, and the
// list is bounded before any MAC is computed.
var stamped = &declare.Scheme{
	Name:      "stamped",
	Algorithm: declare.HMACSHA256,
	Signature: declare.Signature{Header: "Stamped-Signature", Prefix: "v1=", Sep: ","},
	Timestamp: &declare.Timestamp{Field: "t=", Tolerance: 3 * time.Minute},
	Message:   []declare.Piece{declare.Time, declare.Lit("."), declare.Body},
	Envelope: declare.Envelope{
		ID:   declare.Field{BodyHash: true},
		Type: declare.Field{JSON: []string{"type"}, Required: true},
	},
}

func TestStampedListConformance(t *testing.T) {
	body := []byte(`{"type":"thing.done"}`)
	sum := sha256.Sum256(body)
	providertest.Run(t, providertest.Harness{
		New:     newFunc(stamped),
		Sign:    stamped.Sign,
		Secrets: []string{"stamped-one", "stamped-two", "stamped-three"},
		Samples: []providertest.Sample{{
			Name: "done", Header: jsonHeader, Body: body, ID: hex.EncodeToString(sum[:]), Type: "thing.done",
		}},
		Tolerance: 3 * time.Minute,
		List: &providertest.SignatureList{
			Header: "Stamped-Signature", Sep: ",",
			Entry: providertest.ForgedEntry("v1=", hex.EncodeToString),
		},
	})
}

func TestUserFilesImportNothingInternal(t *testing.T) {
	for _, name := range []string{"example_test.go", "conformance_test.go"} {
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		require.NoError(t, err)
		require.NotEmpty(t, f.Imports)
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			require.NoError(t, err)
			assert.NotContains(t, path, "internal", "%s imports %s", name, path)
		}
	}
}

func TestNewRefusesBadDeclarationsAndSecrets(t *testing.T) {
	for name, s := range map[string]*declare.Scheme{
		"no name":               {Algorithm: declare.HMACSHA256, Signature: declare.Signature{Header: "X-Sig"}},
		"no algorithm":          {Name: "x", Signature: declare.Signature{Header: "X-Sig"}},
		"no header":             {Name: "x", Algorithm: declare.HMACSHA256},
		"time without stamp":    {Name: "x", Algorithm: declare.HMACSHA256, Signature: declare.Signature{Header: "X-Sig"}, Message: []declare.Piece{declare.Time, declare.Body}},
		"zero piece":            {Name: "x", Algorithm: declare.HMACSHA256, Signature: declare.Signature{Header: "X-Sig"}, Message: []declare.Piece{{}}},
		"field without list":    {Name: "x", Algorithm: declare.HMACSHA256, Signature: declare.Signature{Header: "X-Sig"}, Timestamp: &declare.Timestamp{Field: "t="}},
		"token with a message":  {Name: "x", Algorithm: declare.Token, Signature: declare.Signature{Header: "X-Tok"}, Message: []declare.Piece{declare.Body}},
		"two sources for an ID": {Name: "x", Algorithm: declare.HMACSHA256, Signature: declare.Signature{Header: "X-Sig"}, Envelope: declare.Envelope{ID: declare.Field{Header: "X-Id", BodyHash: true}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.New("secret")
			assert.ErrorIs(t, err, declare.ErrScheme)
			r, _ := http.NewRequest(http.MethodPost, "https://example.com/", nil)
			assert.ErrorIs(t, s.Sign(r, nil, "secret", time.Now()), declare.ErrScheme)
		})
	}
	for _, secret := range []string{"", "   "} {
		_, err := acme.New(secret)
		assert.ErrorIs(t, err, verify.ErrNoSecret)
		_, err = acme.New("good", declare.WithSecrets(secret))
		assert.ErrorIs(t, err, verify.ErrNoSecret)
	}
	_, err := beacon.New("abcd") // not a 32-byte public key
	assert.ErrorIs(t, err, verify.ErrNoSecret)
	assert.NotContains(t, err.Error(), "abcd")
}

func TestNewFromSourceRotates(t *testing.T) {
	src, err := provider.NewSecrets("old-secret")
	require.NoError(t, err)
	p, err := acme.NewFromSource(src)
	require.NoError(t, err)
	body := []byte(`{"id":"evt_2"}`)
	signed := func(secret string) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "https://example.com/", nil)
		r.Header.Set("X-Acme-Event", "order.paid")
		require.NoError(t, acme.Sign(r, body, secret, time.Now()))
		return r
	}
	require.NoError(t, p.Verify(signed("old-secret"), body))
	require.ErrorIs(t, p.Verify(signed("new-secret"), body), verify.ErrVerification)
	require.NoError(t, src.Set("new-secret", "old-secret"))
	assert.NoError(t, p.Verify(signed("new-secret"), body))
	assert.NoError(t, p.Verify(signed("old-secret"), body))
	require.NoError(t, src.Set("new-secret"))
	assert.ErrorIs(t, p.Verify(signed("old-secret"), body), verify.ErrSignatureMismatch)
}

// svixLike accepts its headers under a second spelling, and a Standard
// Webhooks secret; Respell signs as a sender using the other spelling.
var svixLike = &declare.Scheme{
	Name:      "svixlike",
	Algorithm: declare.HMACSHA256,
	Signature: declare.Signature{Header: "Webhook-Signature", Prefix: "v1,", Sep: " ", Encoding: verify.Base64},
	Timestamp: &declare.Timestamp{Header: "Webhook-Timestamp"},
	Message:   []declare.Piece{declare.HeaderPiece("Webhook-Id"), declare.Lit("."), declare.Time, declare.Lit("."), declare.Body},
	Key:       declare.WhsecKey,
	Envelope: declare.Envelope{
		ID:   declare.Field{Header: "Webhook-Id", Required: true},
		Type: declare.Field{JSON: []string{"type"}, Required: true},
	},
	Families: []declare.HeaderFamily{{"Webhook-Id": "Svix-Id", "Webhook-Timestamp": "Svix-Timestamp", "Webhook-Signature": "Svix-Signature"}},
}

func TestFamiliesAndRespell(t *testing.T) {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("a key of sixteen"))
	now := time.Unix(1735689600, 0)
	p, err := svixLike.New(secret, declare.WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	body := []byte(`{"type":"user.created"}`)

	other := svixLike.Respell(svixLike.Families[0])
	assert.Equal(t, "Svix-Signature", other.Signature.Header)
	assert.Empty(t, other.Families)
	assert.Equal(t, "Webhook-Signature", svixLike.Signature.Header, "Respell leaves s alone")

	for _, s := range []*declare.Scheme{svixLike, other} {
		r, _ := http.NewRequest(http.MethodPost, "https://example.com/", nil)
		r.Header.Set(s.Envelope.ID.Header, "msg_1")
		require.NoError(t, s.Sign(r, body, secret, now))
		require.NoError(t, p.Verify(r, body), s.Signature.Header)
		env, err := p.Parse(r, body)
		require.NoError(t, err)
		assert.Equal(t, provider.Envelope{ID: "msg_1", Type: "user.created"}, env)
	}
	assert.Equal(t, "svixlike", p.Name())
	assert.Equal(t, verify.DefaultTolerance, p.Tolerance())
}

func TestTokenAndBasic(t *testing.T) {
	token := &declare.Scheme{
		Name: "tok", Algorithm: declare.Token,
		Signature: declare.Signature{Header: "Authorization", Prefix: "Bearer "},
		Envelope:  declare.Envelope{ID: declare.Field{BodyHash: true}},
	}
	basic := &declare.Scheme{Name: "basic", Algorithm: declare.Basic}
	for s, secrets := range map[*declare.Scheme][3]string{
		token: {"token-one", "token-two", "token-three"},
		basic: {"user:one", "user:two", "user:three"},
	} {
		p, err := s.New(secrets[0], declare.WithSecrets(secrets[1]))
		require.NoError(t, err)
		for i, secret := range secrets {
			r, _ := http.NewRequest(http.MethodPost, "https://example.com/", nil)
			require.NoError(t, s.Sign(r, nil, secret, time.Now()))
			err := p.Verify(r, nil)
			if i < 2 {
				assert.NoError(t, err, s.Name)
				continue
			}
			assert.ErrorIs(t, err, verify.ErrSignatureMismatch, s.Name)
			assert.False(t, strings.Contains(err.Error(), secret))
		}
		r, _ := http.NewRequest(http.MethodPost, "https://example.com/", nil)
		assert.ErrorIs(t, p.Verify(r, nil), verify.ErrMissingSignature)
	}
}

func TestAlgorithmNames(t *testing.T) {
	for a, want := range map[declare.Algorithm]string{
		declare.HMACSHA256: "HMAC-SHA256", declare.HMACSHA1: "HMAC-SHA1", declare.HMACSHA512: "HMAC-SHA512",
		declare.Ed25519: "Ed25519", declare.Token: "token", declare.Basic: "Basic",
	} {
		assert.Equal(t, want, a.String())
	}
}

// pingingAcme is acme with a handshake: a signed POST whose X-Acme-Event is
// "ping" is answered 200 "pong" without reaching a handler. Handshakes are
// added by embedding the declared provider in a type of one's own.
type pingingAcme struct{ *declare.Provider }

func (pingingAcme) Handshake(r *http.Request, _ []byte) *provider.Reply {
	if r.Method == http.MethodPost && r.Header.Get("X-Acme-Event") == "ping" {
		return &provider.Reply{ContentType: "text/plain", Body: []byte("pong"), VerifyFirst: true}
	}
	return nil
}

var _ provider.Handshaker = pingingAcme{}

func TestHandshakeByEmbedding(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			p, err := newFunc(acme)(c)
			if err != nil {
				return nil, err
			}
			return pingingAcme{p.(*declare.Provider)}, nil
		},
		Sign:    acme.Sign,
		Secrets: []string{"acme-one", "acme-two", "acme-three"},
		Samples: []providertest.Sample{{
			Name:   "order paid",
			Header: http.Header{"Content-Type": {"application/json"}, "X-Acme-Event": {"order.paid"}},
			Body:   []byte(`{"id":"evt_1"}`),
			ID:     "evt_1", Type: "order.paid",
		}},
		Handshakes: []providertest.Handshake{{
			Name: "ping", Signed: true,
			Header: http.Header{"Content-Type": {"application/json"}, "X-Acme-Event": {"ping"}},
			Body:   []byte(`{"id":"ping_1"}`),
			Want:   providertest.Response{Status: http.StatusOK, ContentType: "text/plain", Body: "pong"},
		}},
	})
}
