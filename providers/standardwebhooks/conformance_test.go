package standardwebhooks_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/providers/standardwebhooks"
)

// header returns the headers of a delivery with message ID id, under the
// webhook-* names or, branded, the svix-* ones.
func header(id string, svix bool) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	if svix {
		h.Set("svix-id", id)
	} else {
		h.Set("webhook-id", id)
	}
	return h
}

// harness describes the provider; svix selects the svix-* header names.
func harness(t testing.TB, svix bool) providertest.Harness {
	idHeader, tsHeader, sigHeader := "webhook-id", "webhook-timestamp", "webhook-signature"
	if svix {
		idHeader, tsHeader, sigHeader = "svix-id", "svix-timestamp", "svix-signature"
	}
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			opts := []standardwebhooks.Option{standardwebhooks.WithClock(c.Now), standardwebhooks.WithTolerance(c.Tolerance),
				standardwebhooks.WithPublicKeys(c.PublicKeys...)}
			if len(c.Secrets) == 0 {
				return standardwebhooks.NewAsymmetric(c.PublicKeys[0], opts...)
			}
			return standardwebhooks.New(c.Secrets[0], append(opts, standardwebhooks.WithSecrets(c.Secrets[1:]...))...)
		},
		Sign: func(r *http.Request, body []byte, secret string, now time.Time) error {
			sig, err := standardwebhooks.Sign(secret, r.Header.Get(idHeader), now, body)
			r.Header.Set(tsHeader, strconv.FormatInt(now.Unix(), 10))
			r.Header.Set(sigHeader, sig)
			return err
		},
		Secrets: []string{
			"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			"whsec_YW5vdGhlci1zZWNyZXQtb2YtMjQtYnl0ZXMh",
			"whsec_dKNmfNibe8Nkb87i4JhxlVfAyGZSWZ7BCbuJ0hRmuHY=",
		},
		SignedHeaders: []string{idHeader},
		Samples: []providertest.Sample{
			{
				Name: "user.created", Header: header("msg_p5jXN8AQM9LWM0D4loKWxJek", svix),
				ID: "msg_p5jXN8AQM9LWM0D4loKWxJek", Type: "user.created",
				Body: []byte(`{"data":{"id":"user_29w83sxmDNGwOuEthce5gg56FcC","object":"user","first_name":"Zoë"},` +
					`"object":"event","type":"user.created","timestamp":1654012591835}`),
			},
			{
				Name: "no type", Header: header("msg_2", svix), ID: "msg_2", Type: "",
				Body: []byte(`{"test": 2432232314}`),
			},
		},
		Malformed: []providertest.Sample{
			{Name: "not JSON", Header: header("msg_3", svix), Body: []byte("type=user.created")},
			{Name: "type not a string", Header: header("msg_4", svix), Body: []byte(`{"type":1}`)},
		},
		Tolerance: standardwebhooks.DefaultTolerance,
		List: &providertest.SignatureList{
			Header: sigHeader,
			Sep:    " ",
			Entry:  providertest.ForgedEntry("v1,", base64.StdEncoding.EncodeToString),
		},
		Vectors: providertest.LoadVectors(t, "../testdata/vectors.json", "standard-webhooks", "svix"),
	}
}

// Ed25519 keys for the asymmetric ("v1a") run: the suite's secrets are
// seeds, the provider gets their public keys.
func edKey(secret string) (ed25519.PrivateKey, error) {
	if secret == "" {
		return nil, errors.New("empty seed")
	}
	seed := sha256.Sum256([]byte(secret))
	return ed25519.NewKeyFromSeed(seed[:]), nil
}

func asymmetric(t testing.TB) providertest.Harness {
	h := harness(t, false)
	h.Secrets = []string{"seed one", "seed two", "seed three"}
	h.New = func(c providertest.Config) (provider.Provider, error) {
		keys := make([]string, len(c.Secrets))
		for i, s := range c.Secrets {
			k, err := edKey(s)
			if err != nil {
				return nil, err
			}
			keys[i] = standardwebhooks.PublicKeyPrefix + base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey))
		}
		return standardwebhooks.NewAsymmetric(keys[0], standardwebhooks.WithPublicKeys(keys[1:]...),
			standardwebhooks.WithClock(c.Now), standardwebhooks.WithTolerance(c.Tolerance))
	}
	h.Sign = func(r *http.Request, body []byte, secret string, now time.Time) error {
		k, err := edKey(secret)
		if err != nil {
			return err
		}
		r.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		r.Header.Set("webhook-signature", standardwebhooks.SignEd25519(k, r.Header.Get("webhook-id"), now, body))
		return nil
	}
	// The forged entries stay "v1," (skipped: no secret is configured):
	// distinct v1a entries are bounded by verify.MaxEd25519Signatures
	// instead, whose cost TestVerifyBounds and the verify package guard.
	h.Vectors = nil
	return h
}

func TestConformance(t *testing.T) {
	t.Run("webhook", func(t *testing.T) { providertest.Run(t, harness(t, false)) })
	t.Run("svix", func(t *testing.T) { providertest.Run(t, harness(t, true)) })
	t.Run("v1a", func(t *testing.T) { providertest.Run(t, asymmetric(t)) })
}

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f, false), "webhook-signature")
}

func FuzzConformanceTimestampHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f, false), "webhook-timestamp")
}

func FuzzConformanceIDHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f, false), "webhook-id")
}

func FuzzConformanceAsymmetricSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, asymmetric(f), "webhook-signature")
}
