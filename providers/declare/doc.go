// Package declare builds a provider of one's own from a declaration: a
// sender that signs with an HMAC (SHA-1, SHA-256, SHA-512) over the body or
// a composed string, with an Ed25519 signature, or that sends a static
// token or HTTP Basic credentials, is a Scheme value, not code. The
// Scheme's New builds the verifier and envelope parser (a provider the
// receiver and verify's middleware accept); its Sign signs requests as the
// sender does, for tests.
//
// It is the machinery the bundled providers under providers/ are declared
// with, so the same rules hold: the signature header is bounded
// (verify.MaxSignatureHeaderBytes, verify.MaxSignatureEntries) before any
// signature is checked, one MAC is computed per secret whatever the number
// of signatures in the header, comparisons are constant-time, the timestamp
// is checked before the MAC, several secrets are accepted at once for a
// rotation (WithSecrets, or NewFromSource for secrets changed at run time),
// and errors match verify.ErrVerification and quote neither secrets nor
// header values. Envelope errors match provider.ErrMalformedEnvelope; JSON
// values are read by a parser that refuses ambiguous keys.
//
// # A provider of one's own
//
// A sender that signs the raw body with HMAC-SHA256, hex, after "sha256="
// in X-Acme-Signature, with the event ID in the body and its type in a
// header:
//
//	var acme = &declare.Scheme{
//		Name:      "acme",
//		Algorithm: declare.HMACSHA256,
//		Signature: declare.Signature{Header: "X-Acme-Signature", Prefix: "sha256="},
//		Envelope: declare.Envelope{
//			ID:   declare.Field{JSON: []string{"id"}, Required: true},
//			Type: declare.Field{Header: "X-Acme-Event", Required: true},
//		},
//	}
//
//	p, err := acme.New(os.Getenv("ACME_SECRET")) // a provider.Provider
//	…
//	rc, err := receiver.New(p, mux)
//
// Other senders, as declarations:
//
//	// "t=…,v1=…" over t + "." + body, the timestamp an entry of the list.
//	Signature: declare.Signature{Header: "Acme-Signature", Prefix: "v1=", Sep: ","},
//	Timestamp: &declare.Timestamp{Field: "t=", Tolerance: 5 * time.Minute},
//	Message:   []declare.Piece{declare.Time, declare.Lit("."), declare.Body},
//
//	// "v0=<hex>" over "v0:" + ts + ":" + body, the timestamp in a header.
//	Signature: declare.Signature{Header: "X-Acme-Signature", Prefix: "v0="},
//	Timestamp: &declare.Timestamp{Header: "X-Acme-Timestamp"},
//	Message:   []declare.Piece{declare.Lit("v0:"), declare.Time, declare.Lit(":"), declare.Body},
//
//	// Base64 HMAC-SHA256 of the method, the URL and the body (use WithURL
//	// behind a proxy that rewrites the URL).
//	Signature: declare.Signature{Header: "X-Acme-Signature", Encoding: verify.Base64},
//	Message:   []declare.Piece{declare.Method, declare.URL, declare.Body},
//
//	// Ed25519 (the sender's hex public key is the secret) over timestamp + body.
//	Algorithm: declare.Ed25519,
//	Signature: declare.Signature{Header: "X-Acme-Signature-Ed25519"},
//	Timestamp: &declare.Timestamp{Header: "X-Acme-Timestamp"},
//	Message:   []declare.Piece{declare.Time, declare.Body},
//
//	// A static token, or Basic credentials ("user:password" secrets).
//	Algorithm: declare.Token, Signature: declare.Signature{Header: "X-Acme-Token"},
//	Algorithm: declare.Basic,
//
// A sender that needs more than a declaration (a handshake such as a
// challenge or a ping) is a type of one's own embedding *Provider and
// adding a Handshake method (provider.Handshaker). A scheme the
// declarations cannot express is a provider.Provider written by hand on
// the primitives of package verify (verify.NewHMAC, verify.ParseSignatures,
// verify.CheckTimestamp).
//
// # Testing it
//
// The conformance suite the bundled providers run, package
// providers/providertest, runs against a declared provider too: New and
// Sign are all it needs.
//
//	func TestAcme(t *testing.T) {
//		providertest.Run(t, providertest.Harness{
//			New: func(c providertest.Config) (provider.Provider, error) {
//				return acme.New(c.Secrets[0], declare.WithSecrets(c.Secrets[1:]...),
//					declare.WithClock(c.Now), declare.WithTolerance(c.Tolerance))
//			},
//			Sign:    acme.Sign,
//			Secrets: []string{"secret-one", "secret-two", "secret-three"},
//			Samples: []providertest.Sample{{
//				Name:   "order paid",
//				Header: http.Header{"Content-Type": {"application/json"}, "X-Acme-Event": {"order.paid"}},
//				Body:   []byte(`{"id":"evt_1"}`),
//				ID:     "evt_1", Type: "order.paid",
//			}},
//		})
//	}
package declare
