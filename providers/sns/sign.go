package sns

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SignatureVersion 1 is SHA1withRSA
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// Sign returns body, an SNS message without its signature, signed as SNS
// signs it, for tests and local senders: Timestamp is set to now (unless
// now is zero), SignatureVersion to version ("1" or "2"), SigningCertURL
// to certURL, and Signature to the base64 RSA PKCS #1 v1.5 signature under
// key of the canonical string. Other fields are kept; the object's keys
// come out sorted.
func Sign(body []byte, key *rsa.PrivateKey, certURL, version string, now time.Time) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return nil, fmt.Errorf("sns: Sign: %w", ErrMessage)
	}
	set := func(k, v string) {
		b, _ := json.Marshal(v)
		fields[k] = b
	}
	if !now.IsZero() {
		set("Timestamp", now.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	set("SignatureVersion", version)
	set("SigningCertURL", certURL)
	delete(fields, "Signature")
	unsigned, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("sns: Sign: %w", err)
	}
	m, err := decode(unsigned)
	if err != nil {
		return nil, fmt.Errorf("sns: Sign: %w", err)
	}
	msg, err := canonical(m)
	if err != nil {
		return nil, fmt.Errorf("sns: Sign: %w", err)
	}
	h, ok := hashFor(version)
	if !ok {
		return nil, fmt.Errorf("sns: Sign: %w", ErrMessage)
	}
	var digest []byte
	if h == crypto.SHA1 {
		s := sha1.Sum(msg) //nolint:gosec // SignatureVersion 1
		digest = s[:]
	} else {
		s := sha256.Sum256(msg)
		digest = s[:]
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, h, digest)
	if err != nil {
		return nil, fmt.Errorf("sns: Sign: %w", err)
	}
	set("Signature", base64.StdEncoding.EncodeToString(sig))
	return json.Marshal(fields)
}
