// Package verify holds the signature-scheme primitives every provider is
// built from: HMAC over SHA-1, SHA-256 or SHA-512 with any number of secrets
// (for rotation), hex and base64 signature encodings, signed-timestamp
// windows checked in both directions, and Ed25519. It knows no provider.
//
// Every comparison is constant-time. Errors are sentinels matched with
// errors.Is (all request failures match ErrVerification) and never carry
// secret-derived bytes.
//
// The cost of rejecting a forged request does not grow with what the sender
// chooses to put in its headers. A signature header is parsed first
// (ParseSignatures) and rejected with ErrSignatureHeaderTooLarge, before any
// MAC, when it is longer than MaxSignatureHeaderBytes (4 KiB) or carries
// more than MaxSignatureEntries (16) entries; the timestamp and its window
// are checked next; only then is each secret's MAC computed, once per
// request, and compared with every entry (HMAC.MatchAny). Ed25519 joins the
// signed message once and verifies each (key, distinct signature) pair once,
// for at most MaxEd25519Signatures (4) distinct signatures
// (Ed25519.MatchAny). Scheme, MatchList and the providers built on them get
// all of this without code of their own; a provider parsing its own header
// should use ParseSignatures and MatchAny the same way.
//
// A provider of one's own is a Scheme:
//
//	v, err := verify.NewScheme(verify.Scheme{
//		Hash:            sha256.New,
//		Secrets:         [][]byte{[]byte(os.Getenv("ACME_SECRET"))},
//		Header:          "X-Acme-Signature",
//		Prefix:          "v1=",
//		TimestampHeader: "X-Acme-Timestamp",
//		Content:         verify.TimestampBody("", "."),
//	})
//	if err != nil { ... }
//	err = v.Verify(r, body) // nil, or errors.Is(err, verify.ErrVerification)
package verify
