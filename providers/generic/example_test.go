package generic_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/hookwise/hookwise/providers/generic"
)

// A sender that signs "X-Signature: sha256=<hex>" over the body, with the
// event ID in X-Event-Id and the type in the body's "type".
func ExampleNewHMAC() {
	p, err := generic.NewHMAC("acme", generic.HMACConfig{
		Secrets: []string{"acme-secret"},
		Header:  "X-Signature",
		Prefix:  "sha256=",
		Envelope: generic.Envelope{
			ID:   generic.Field{Header: "X-Event-Id"},
			Type: generic.Field{JSON: []string{"type"}},
		},
	})
	if err != nil {
		panic(err)
	}
	body := []byte(`{"type":"order.paid","order":{"id":7}}`)
	r, _ := http.NewRequest(http.MethodPost, "https://example.com/webhooks/acme", bytes.NewReader(body))
	r.Header.Set("X-Event-Id", "evt_42")
	if err := p.SignRequest(r, body, "acme-secret", time.Now()); err != nil { // as the sender signs, for tests
		panic(err)
	}
	env, err := p.Parse(r, body)
	fmt.Println(p.Verify(r, body), env.ID, env.Type, err)
	// Output: <nil> evt_42 order.paid <nil>
}

// A sender that authenticates with a client certificate (mutual TLS): the
// server requires and verifies it, so the receiver only ever sees
// authenticated connections; a token the sender also sends is checked by
// the provider.
func Example_mutualTLS() {
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile("sender-ca.pem") // the CA that issues the sender's client certificates
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		return
	}
	p, err := generic.NewToken("builds", "X-Build-Token", os.Getenv("BUILD_TOKEN"))
	if err != nil {
		return
	}
	_ = p // receiver.New(p, handler) serves the mux below
	srv := &http.Server{
		Addr:              ":8443",
		Handler:           http.NewServeMux(),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{
			MinVersion: tls.VersionTLS12,
			ClientAuth: tls.RequireAndVerifyClientCert,
			ClientCAs:  pool,
		},
	}
	_ = srv.ListenAndServeTLS("server.pem", "server-key.pem")
}
