// Package providers documents the bundled providers; each lives in its own
// package below this one and implements provider.Provider (which
// receiver.Provider names too). A provider package imports package provider
// for the contract, never package receiver, and links no third-party
// module; a test here holds every package below to that.
//
// The README's providers tables list every provider of the catalog: what
// it signs, where its event ID and type come from, whether replays are
// bounded in time, and its handshakes. New builds any of them by name from
// one Config; Names lists the names.
//
// Every constructor takes the secret first (Discord: a public key) and
// functional options, returns an error matching verify.ErrNoSecret for an
// empty or blank secret, and accepts WithSecrets for a rotation (and
// WithClock and WithTolerance where a timestamp is signed); NewFromSource
// takes the secrets from a provider.SecretSource the application updates.
// Verify errors match verify.ErrVerification; Parse errors match
// provider.ErrMalformedEnvelope (the same value as
// receiver.ErrMalformedEnvelope). Providers whose sender sends challenges
// (Slack, Dropbox, Meta, Okta, Microsoft Graph, Zoom, Twitch, Discord)
// answer them as the sender documents, through provider.Handshaker or a
// signed envelope reply. Each package exports SignRequest(r, body, secret,
// now) to sign deliveries in tests.
//
// A sender the bundle does not cover is a few lines on verify.NewScheme; see
// the package example.
package providers
