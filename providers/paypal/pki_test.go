package paypal_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testPKI is a throw-away certificate authority standing in for the public
// CA that issues PayPal's signing certificates, and signing keys whose
// certificates it issues.
type testPKI struct {
	root     *x509.Certificate
	rootKey  *rsa.PrivateKey
	rootPEM  string
	pool     *x509.CertPool
	keys     map[string]*rsa.PrivateKey // by label
	keyPEM   map[string]string
	leafPEM  map[string]string
	serial   atomic.Int64
	initOnce sync.Once
}

var pki testPKI

var (
	notBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	notAfter  = time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
)

func encodePEM(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// get returns the PKI, with a key and a certificate named
// messageverificationcerts.sandbox.paypal.com for each label.
func (p *testPKI) get(t testing.TB, labels ...string) *testPKI {
	t.Helper()
	p.initOnce.Do(func() {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Hookwise Test Root CA"},
			NotBefore: notBefore, NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		require.NoError(t, err)
		p.root, err = x509.ParseCertificate(der)
		require.NoError(t, err)
		p.rootKey, p.rootPEM = key, encodePEM("CERTIFICATE", der)
		p.pool = x509.NewCertPool()
		p.pool.AddCert(p.root)
		p.serial.Store(100)
		p.keys, p.keyPEM, p.leafPEM = map[string]*rsa.PrivateKey{}, map[string]string{}, map[string]string{}
		for _, l := range signingLabels {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			require.NoError(t, err)
			p.keys[l], p.keyPEM[l] = k, encodePEM("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k))
			p.leafPEM[l] = p.issue(t, k, leafSpec{cn: "messageverificationcerts.sandbox.paypal.com"})
		}
	})
	return p
}

var signingLabels = []string{"paypal-key-one", "paypal-key-two", "paypal-key-three"}

type leafSpec struct {
	cn        string
	dns       []string
	from, to  time.Time
	selfSign  bool
	issuerKey *rsa.PrivateKey
}

// issue returns the PEM of a certificate for k as spec says, issued by the
// root unless selfSign.
func (p *testPKI) issue(t testing.TB, k *rsa.PrivateKey, spec leafSpec) string {
	t.Helper()
	if spec.from.IsZero() {
		spec.from, spec.to = notBefore.Add(time.Hour), notAfter.Add(-time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial.Add(1)), Subject: pkix.Name{CommonName: spec.cn}, DNSNames: spec.dns,
		NotBefore: spec.from, NotAfter: spec.to, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	parent, signer := p.root, p.rootKey
	if spec.selfSign {
		parent, signer = tmpl, k
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &k.PublicKey, signer)
	require.NoError(t, err)
	return encodePEM("CERTIFICATE", der)
}

// certURL is the PAYPAL-CERT-URL of a label's certificate.
func certURL(label string) string {
	return "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-" + label
}

var errNotFound = errors.New("not found")

// mapFetcher serves PEM documents by URL and counts its calls.
type mapFetcher struct {
	docs  map[string]string
	calls atomic.Int64
}

func (f *mapFetcher) Fetch(_ context.Context, u string) ([]byte, error) {
	f.calls.Add(1)
	d, ok := f.docs[u]
	if !ok {
		return nil, errNotFound
	}
	return []byte(d), nil
}

func encodePEMKey(k *rsa.PrivateKey) string {
	return encodePEM("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k))
}
