package declare_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/hookwise/hookwise/providers/declare"
	"github.com/hookwise/hookwise/verify"
)

// acme signs the raw body with HMAC-SHA256, hex after "sha256=" in
// X-Acme-Signature; the event ID is in the body, its type in a header.
var acme = &declare.Scheme{
	Name:      "acme",
	Algorithm: declare.HMACSHA256,
	Signature: declare.Signature{Header: "X-Acme-Signature", Prefix: "sha256="},
	Envelope: declare.Envelope{
		ID:   declare.Field{JSON: []string{"id"}, Required: true},
		Type: declare.Field{Header: "X-Acme-Event", Required: true},
	},
}

// An HMAC-SHA256 of the body, hex, after a prefix.
func Example() {
	p, err := acme.New("acme-secret")
	if err != nil {
		panic(err)
	}

	// A delivery as Acme sends it (Sign is for tests; the sender signs).
	body := []byte(`{"id":"evt_1","order":{"id":7}}`)
	r, _ := http.NewRequest(http.MethodPost, "https://example.com/hooks/acme", bytes.NewReader(body))
	r.Header.Set("X-Acme-Event", "order.paid")
	if err := acme.Sign(r, body, "acme-secret", time.Now()); err != nil {
		panic(err)
	}
	fmt.Println(r.Header.Get("X-Acme-Signature"))

	fmt.Println("verify:", p.Verify(r, body))
	env, err := p.Parse(r, body)
	fmt.Println(env.ID, env.Type, err)
	fmt.Println("tampered:", p.Verify(r, append(body, ' ')))
	// Output:
	// sha256=6416dd14961880143366a9aa16202846c4d40ccc3cdb49d3d387ce83aab0c22b
	// verify: <nil>
	// evt_1 order.paid <nil>
	// tampered: acme: verify: signature mismatch
}

// pinger signs "v1:" + a timestamp header + ":" + the body with
// HMAC-SHA256, base64, and has a 5-minute window; the ID and type are in
// the body.
var pinger = &declare.Scheme{
	Name:      "pinger",
	Algorithm: declare.HMACSHA256,
	Signature: declare.Signature{Header: "X-Pinger-Signature", Prefix: "v1=", Encoding: verify.Base64},
	Timestamp: &declare.Timestamp{Header: "X-Pinger-Timestamp", Tolerance: 5 * time.Minute},
	Message:   []declare.Piece{declare.Lit("v1:"), declare.Time, declare.Lit(":"), declare.Body},
	Envelope: declare.Envelope{
		ID:   declare.Field{JSON: []string{"event", "id"}, Required: true},
		Type: declare.Field{JSON: []string{"event", "type"}, Required: true},
	},
}

// A timestamped, composed message: "v1:" + timestamp + ":" + body, the
// timestamp in a header and checked against a window.
func Example_timestamped() {
	signedAt := time.Unix(1735689600, 0)
	clock := signedAt.Add(time.Minute) // the receiver's clock
	p, err := pinger.New("pinger-secret", declare.WithClock(func() time.Time { return clock }))
	if err != nil {
		panic(err)
	}

	body := []byte(`{"event":{"id":"ev_9","type":"check.down"}}`)
	r, _ := http.NewRequest(http.MethodPost, "https://example.com/hooks/pinger", bytes.NewReader(body))
	if err := pinger.Sign(r, body, "pinger-secret", signedAt); err != nil {
		panic(err)
	}
	fmt.Println(r.Header.Get("X-Pinger-Timestamp"), r.Header.Get("X-Pinger-Signature"))

	fmt.Println("verify:", p.Verify(r, body))
	env, err := p.Parse(r, body)
	fmt.Println(env.ID, env.Type, err)

	clock = signedAt.Add(time.Hour) // a replay an hour later
	fmt.Println("replayed:", p.Verify(r, body))
	// Output:
	// 1735689600 v1=BdGyMdSDgGiNbwuekbFdlFibZFX2lqVejEx6hlrpyLI=
	// verify: <nil>
	// ev_9 check.down <nil>
	// replayed: pinger: verify: timestamp outside tolerance: -1h0m0s from now, tolerance 5m0s
}

// beacon signs the timestamp and the body with Ed25519; the secrets given
// to New are its public keys, in hex.
var beacon = &declare.Scheme{
	Name:      "beacon",
	Algorithm: declare.Ed25519,
	Signature: declare.Signature{Header: "X-Beacon-Signature-Ed25519"},
	Timestamp: &declare.Timestamp{Header: "X-Beacon-Timestamp"},
	Message:   []declare.Piece{declare.Time, declare.Body},
	Envelope: declare.Envelope{
		ID:   declare.Field{JSON: []string{"id"}, Required: true},
		Type: declare.Field{JSON: []string{"kind"}, Required: true},
	},
}

// An Ed25519 signature over the timestamp and the body: the provider is
// configured with the sender's public key, the sender (here Sign, in a
// test) signs with the private key.
func Example_ed25519() {
	seed := sha256.Sum256([]byte("beacon example")) // a test key: a 32-byte seed
	privateKey := hex.EncodeToString(seed[:])
	pub, err := beacon.Ed25519PublicKey(privateKey)
	if err != nil {
		panic(err)
	}
	publicKey := hex.EncodeToString(pub) // what the sender publishes

	signedAt := time.Unix(1735689600, 0)
	p, err := beacon.New(publicKey, declare.WithClock(func() time.Time { return signedAt }))
	if err != nil {
		panic(err)
	}

	body := []byte(`{"id":"b_1","kind":"beacon.seen"}`)
	r, _ := http.NewRequest(http.MethodPost, "https://example.com/hooks/beacon", bytes.NewReader(body))
	if err := beacon.Sign(r, body, privateKey, signedAt); err != nil {
		panic(err)
	}
	fmt.Println("signature bytes:", len(r.Header.Get("X-Beacon-Signature-Ed25519"))/2)
	fmt.Println("verify:", p.Verify(r, body))
	env, err := p.Parse(r, body)
	fmt.Println(env.ID, env.Type, err)
	fmt.Println("tampered:", p.Verify(r, append(body, ' ')))
	// Output:
	// signature bytes: 64
	// verify: <nil>
	// b_1 beacon.seen <nil>
	// tampered: beacon: verify: signature mismatch
}
