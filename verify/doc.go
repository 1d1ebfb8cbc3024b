// Package verify holds the signature-scheme primitives every provider is
// built from: HMAC over SHA-1, SHA-256 or SHA-512 with any number of secrets
// (for rotation), hex and base64 signature encodings, signed-timestamp
// windows checked in both directions, and Ed25519. It knows no provider.
//
// Every comparison is constant-time. Errors are sentinels matched with
// errors.Is (all request failures match ErrVerification) and never carry
// secret-derived bytes.
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
