package providers_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/hookwise/hookwise/internal/jsonscan"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/verify"
)

// Acme signs the raw body with HMAC-SHA256, base64-encoded in
// X-Acme-Hmac-Sha256 (like Shopify), names the event in X-Acme-Topic and
// puts its ID in the body.
type Acme struct{ *verify.SchemeVerifier }

var _ receiver.Provider = Acme{}

// NewAcme returns the Acme provider for secret.
func NewAcme(secret string) (Acme, error) {
	v, err := verify.NewScheme(verify.Scheme{
		Hash:     sha256.New,
		Secrets:  [][]byte{[]byte(secret)},
		Header:   "X-Acme-Hmac-Sha256",
		Encoding: verify.Base64,
	})
	return Acme{v}, err
}

// Name returns "acme".
func (Acme) Name() string { return "acme" }

// Parse reads the event ID from the body and the type from X-Acme-Topic.
func (Acme) Parse(r *http.Request, body []byte) (receiver.Envelope, error) {
	raw, _, err := jsonscan.Get(body, "id")
	if err != nil {
		return receiver.Envelope{}, fmt.Errorf("acme: %w", receiver.ErrMalformedEnvelope)
	}
	id, err := jsonscan.String(raw)
	if err != nil || id == "" {
		return receiver.Envelope{}, fmt.Errorf("acme: no id: %w", receiver.ErrMalformedEnvelope)
	}
	return receiver.Envelope{ID: id, Type: r.Header.Get("X-Acme-Topic")}, nil
}

// Example shows a provider of one's own built on verify.NewScheme.
func Example_customProvider() {
	p, err := NewAcme("acme-secret")
	if err != nil {
		panic(err)
	}
	body := []byte(`{"id":"ev_42","order":{"id":7}}`)
	m := hmac.New(sha256.New, []byte("acme-secret"))
	m.Write(body)

	r := httptest.NewRequest(http.MethodPost, "/webhooks/acme", strings.NewReader(string(body)))
	r.Header.Set("X-Acme-Hmac-Sha256", base64.StdEncoding.EncodeToString(m.Sum(nil)))
	r.Header.Set("X-Acme-Topic", "orders/create")

	fmt.Println("verify:", p.Verify(r, body))
	env, err := p.Parse(r, body)
	fmt.Println(env.ID, env.Type, err)
	fmt.Println("tampered:", p.Verify(r, append(body, ' ')))
	// Output:
	// verify: <nil>
	// ev_42 orders/create <nil>
	// tampered: verify: signature mismatch
}
