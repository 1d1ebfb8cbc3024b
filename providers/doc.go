// Package providers documents the bundled providers; each lives in its own
// package below this one and implements provider.Provider (which
// receiver.Provider names too). A provider package imports package provider
// for the contract, never package receiver, and links no third-party
// module; a test here holds every package below to that.
//
//	package            Name        signature                                  ID                      Type
//	providers/github   "github"    X-Hub-Signature-256: sha256=<hex>,         sha256:<hex> of body    X-GitHub-Event [+ "." + action]
//	                               HMAC-SHA256 of the body (SHA-1 opt-in),    (X-GitHub-Delivery      (checked against the
//	                               no timestamp                               opt-in)                 payload's keys)
//	providers/stripe   "stripe"    Stripe-Signature: t=…,v1=<hex>,            body id                 body type
//	                               HMAC-SHA256 of t.body, ±5 min
//	providers/slack    "slack"     X-Slack-Signature: v0=<hex>,               event_id / trigger_id   event.type, "command.<name>",
//	                               HMAC-SHA256 of v0:ts:body, ±5 min                                  "interactive.<type>"
//	providers/         "standard"  webhook-signature (or svix-signature):     webhook-id / svix-id    body type
//	standardwebhooks               v1,<b64> HMAC-SHA256 / v1a,<b64> Ed25519
//	                               of id.ts.body, ±5 min
//
// Every constructor takes the secret first and functional options, returns
// an error matching verify.ErrNoSecret for an empty or blank secret, and
// accepts WithSecrets for a rotation (and WithClock and WithTolerance where
// a timestamp is signed). Verify errors match verify.ErrVerification; Parse
// errors match provider.ErrMalformedEnvelope (the same value as
// receiver.ErrMalformedEnvelope). Slack also implements provider.Handshaker,
// answering its unsigned SSL check before verification, in a receiver and
// in verify.Middleware alike. Each package also exports Sign
// and NewRequest to build signed deliveries in tests.
//
// A sender the bundle does not cover is a few lines on verify.NewScheme; see
// the package example.
package providers
