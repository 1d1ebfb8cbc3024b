package providers_test

import (
	"bytes"
	"fmt"
	"net/http"
	"time"

	"github.com/hookwise/hookwise/providers/declare"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/verify"
)

// acme signs the raw body with HMAC-SHA256, base64-encoded in
// X-Acme-Hmac-Sha256 (like Shopify), names the event in X-Acme-Topic and
// puts its ID in the body.
var acme = &declare.Scheme{
	Name:      "acme",
	Algorithm: declare.HMACSHA256,
	Signature: declare.Signature{Header: "X-Acme-Hmac-Sha256", Encoding: verify.Base64},
	Envelope: declare.Envelope{
		ID:   declare.Field{JSON: []string{"id"}, Required: true},
		Type: declare.Field{Header: "X-Acme-Topic"},
	},
}

var _ receiver.Provider = (*declare.Provider)(nil)

// Example shows a provider of one's own, declared with package declare
// (which has more examples: a timestamped message, Ed25519, the
// conformance suite).
func Example_customProvider() {
	p, err := acme.New("acme-secret")
	if err != nil {
		panic(err)
	}
	body := []byte(`{"id":"ev_42","order":{"id":7}}`)
	r, _ := http.NewRequest(http.MethodPost, "https://example.com/webhooks/acme", bytes.NewReader(body))
	r.Header.Set("X-Acme-Topic", "orders/create")
	if err := acme.Sign(r, body, "acme-secret", time.Now()); err != nil { // as Acme signs, for tests
		panic(err)
	}

	fmt.Println("verify:", p.Verify(r, body))
	env, err := p.Parse(r, body)
	fmt.Println(env.ID, env.Type, err)
	fmt.Println("tampered:", p.Verify(r, append(body, ' ')))
	// Output:
	// verify: <nil>
	// ev_42 orders/create <nil>
	// tampered: acme: verify: signature mismatch
}
