package kit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/hookwise/hookwise/verify"
)

// maxECDSASignature is the longest DER ECDSA P-256 signature: a SEQUENCE
// (2 bytes) of two INTEGERs of at most 33 bytes each (2 + 33 bytes). A
// header whose signature decodes to more is refused before any
// verification.
const maxECDSASignature = 72

// maxECDSAEncoded bounds the encoded signature read from the header: 72
// bytes are 144 hex digits or 96 base64 characters.
const maxECDSAEncoded = 2 * maxECDSASignature

// DERKey decodes a DER key given as standard base64 (padded or not; as
// SendGrid shows its verification key) or as a PEM block (any type): the
// default Scheme.Key of ECDSAP256SHA256.
func DERKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-----BEGIN") {
		b, _ := pem.Decode([]byte(s))
		if b == nil {
			return nil, fmt.Errorf("not a PEM block")
		}
		return b.Bytes, nil
	}
	b, err := Base64Key(s)
	if err != nil {
		return WhsecKey(s) // unpadded base64
	}
	return b, nil
}

// ecdsaPublicKey decodes a P-256 public key (a DER SubjectPublicKeyInfo
// once decoded by s.Key).
func (s *Scheme) ecdsaPublicKey(secret string) (*ecdsa.PublicKey, error) {
	b, err := s.key(secret)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(b)
	if err != nil {
		return nil, verify.ErrNoSecret
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, verify.ErrNoSecret
	}
	return pub, nil
}

// ecdsaPrivateKey decodes a P-256 private key (PKCS #8 or SEC 1 DER once
// decoded by s.Key).
func (s *Scheme) ecdsaPrivateKey(secret string) (*ecdsa.PrivateKey, error) {
	b, err := s.key(secret)
	if err != nil {
		return nil, fmt.Errorf("%s: private key does not decode: %w", s.Name, verify.ErrNoSecret)
	}
	var priv *ecdsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(b); err == nil {
		priv, _ = k.(*ecdsa.PrivateKey)
	} else if k, err := x509.ParseECPrivateKey(b); err == nil {
		priv = k
	}
	if priv == nil || priv.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s: not an ECDSA P-256 private key: %w", s.Name, verify.ErrNoSecret)
	}
	return priv, nil
}

// ECDSAPublicKey returns the public key of an ECDSA P-256 private key
// (PKCS #8 or SEC 1 DER, in the form Key decodes), for tests that sign with
// the private key and verify with the public one.
func (s *Scheme) ECDSAPublicKey(private string) (*ecdsa.PublicKey, error) {
	c, err := s.compile()
	if err != nil {
		return nil, err
	}
	priv, err := c.ecdsaPrivateKey(private)
	if err != nil {
		return nil, err
	}
	return &priv.PublicKey, nil
}

// parseECDSA reads the single signature of an ECDSA header into dst: its
// bounds first (verify.MaxSignatureHeaderBytes, then maxECDSAEncoded
// characters after the prefix and maxECDSASignature bytes decoded), with
// no verification. Its errors match verify.ErrVerification.
func parseECDSA(dst []byte, header string, sig Signature) ([]byte, error) {
	if len(header) > verify.MaxSignatureHeaderBytes {
		return nil, verify.ErrSignatureHeaderTooLarge
	}
	enc, ok := strings.CutPrefix(strings.TrimSpace(header), sig.Prefix)
	if !ok || enc == "" {
		return nil, verify.ErrMalformedSignature
	}
	if len(enc) > maxECDSAEncoded {
		return nil, verify.ErrSignatureHeaderTooLarge
	}
	b, err := sig.Encoding.Decode(dst, enc)
	if err != nil || len(b) > maxECDSASignature {
		return nil, verify.ErrMalformedSignature
	}
	return b, nil
}

// matchECDSA reports whether sig is a valid DER signature of the SHA-256
// of the concatenated parts under any of the keys. The digest is computed
// once; each key costs one verification, and every key is tried, so the
// timing does not reveal which one matched. Signatures that are not strict
// DER (trailing bytes included) fail.
func matchECDSA(keys []*ecdsa.PublicKey, sig []byte, parts [][]byte) bool {
	if len(sig) == 0 {
		return false
	}
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	var sum [sha256.Size]byte
	digest := h.Sum(sum[:0])
	ok := false
	for _, k := range keys {
		if ecdsaVerify(k, digest, sig) {
			ok = true
		}
	}
	return ok
}

// ecdsaVerifications counts verifications, for the cost tests.
var ecdsaVerifications atomic.Int64

func ecdsaVerify(k *ecdsa.PublicKey, digest, sig []byte) bool {
	ecdsaVerifications.Add(1)
	return ecdsa.VerifyASN1(k, digest, sig)
}

// signECDSA signs the concatenated parts with the private key secret: a
// DER signature, randomised (two signatures of one message differ).
func (s *Scheme) signECDSA(secret string, parts [][]byte) ([]byte, error) {
	priv, err := s.ecdsaPrivateKey(secret)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	sig, err := ecdsa.SignASN1(rand.Reader, priv, h.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("%s: signing: %w", s.Name, err)
	}
	return sig, nil
}
