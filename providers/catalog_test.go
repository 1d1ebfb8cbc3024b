package providers_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/verify"
)

func TestCatalogNames(t *testing.T) {
	names := providers.Names()
	assert.True(t, slices.IsSorted(names))
	for _, n := range []string{"github", "stripe", "slack", "standard", "standard-webhooks", "svix"} {
		assert.Contains(t, names, n)
	}
	_, err := providers.New("nope", providers.Config{Secrets: []string{"s"}})
	assert.ErrorIs(t, err, providers.ErrUnknownProvider)
	for _, n := range names {
		_, err := providers.New(n, providers.Config{})
		assert.Error(t, err, "%s without a secret or key", n)
	}
	p, err := providers.New(" Stripe ", providers.Config{Secrets: []string{"whsec_x"}})
	require.NoError(t, err)
	assert.Equal(t, "stripe", p.Name())
}

// Every vector of every provider in the catalog, built by name and served by
// a receiver over a real HTTP server: a valid one is answered 2xx and
// reaches the handler once, an invalid one is answered 401 and reaches
// nothing, a challenge gets exactly its documented answer.
func TestCatalogVectorsEndToEnd(t *testing.T) {
	names := providers.Names()
	vectors := providertest.LoadVectors(t, "testdata/vectors.json", names...)
	require.NotEmpty(t, vectors)
	covered := map[string]bool{}
	var handshakes, acknowledged, envelopeRefused, rejected, notPost int
	for _, v := range vectors {
		t.Run(v.ID, func(t *testing.T) {
			c := v.Config()
			if at, ok := vectorClocks[v.ID]; ok {
				c.Now = func() time.Time { return at }
			}
			if len(c.Secrets) == 0 && len(c.PublicKeys) == 0 {
				// An unsigned challenge vector (Dropbox's GET challenge):
				// the provider is still built with its secret, which the
				// challenge does not use.
				c.Secrets = []string{"secret-the-challenge-does-not-use"}
			}
			p, err := providers.New(v.Provider, providers.Config{
				Secrets: c.Secrets, PublicKeys: c.PublicKeys, Now: c.Now, Tolerance: c.Tolerance, URL: v.URL,
				Params: vectorParams[v.ID],
			})
			require.NoError(t, err)
			var mu sync.Mutex
			handled := 0
			rc, err := receiver.New(p, receiver.HandlerFunc(func(context.Context, *receiver.Event) error {
				mu.Lock()
				handled++
				mu.Unlock()
				return nil
			}))
			require.NoError(t, err)
			srv := httptest.NewServer(rc)
			defer srv.Close()

			req, body := v.Request()
			wire, err := http.NewRequest(req.Method, srv.URL+req.URL.RequestURI(), strings.NewReader(string(body)))
			require.NoError(t, err)
			wire.Header = req.Header.Clone()
			resp, err := srv.Client().Do(wire)
			require.NoError(t, err)
			got := readAll(t, resp)

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			require.NoError(t, rc.Shutdown(ctx))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case v.ExpectResponse != nil:
				assert.Equal(t, v.ExpectResponse.Status, resp.StatusCode)
				if v.ExpectResponse.ContentType != "" {
					assert.Equal(t, v.ExpectResponse.ContentType, resp.Header.Get("Content-Type"))
				}
				assert.Equal(t, v.ExpectResponse.Body, got)
				assert.Zero(t, handled, "a handshake reaches no handler")
				handshakes++
			case req.Method != http.MethodPost:
				// A signed request that is not a delivery (HubSpot's v2 GET
				// of a CRM card, a PUT): the receiver serves POST only and
				// answers 405 before verifying; the signature is checked
				// here directly.
				assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
				assert.Zero(t, handled)
				notPost++
				if v.Valid() {
					assert.NoError(t, p.Verify(req, body))
				} else {
					assert.ErrorIs(t, p.Verify(req, body), verify.ErrVerification)
				}
			case v.Valid():
				// The signature verifies. A vector whose body is a whole
				// delivery is then acknowledged and handled once; a bare
				// signature vector ("Hello, World!", no event headers) goes
				// on to the envelope and is refused there (400), never 401.
				require.NoError(t, p.Verify(req, body))
				if _, perr := p.Parse(req, body); perr != nil {
					assert.ErrorIs(t, perr, provider.ErrMalformedEnvelope)
					assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
					assert.Zero(t, handled)
					envelopeRefused++
					break
				}
				assert.Equal(t, 2, resp.StatusCode/100, "status %d", resp.StatusCode)
				assert.Equal(t, 1, handled, "handled once")
				acknowledged++
			default:
				assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				assert.Zero(t, handled)
				assert.ErrorIs(t, p.Verify(req, body), verify.ErrVerification)
				rejected++
			}
			covered[v.Provider] = true
		})
	}
	t.Logf("%d vectors of %d providers run end to end: %d valid deliveries acknowledged and handled once, "+
		"%d invalid answered 401 and handled never, %d handshakes answered exactly, %d valid signatures over a body "+
		"that is not a whole delivery (verified, then 400 at the envelope), %d signed requests that are not POSTs (405)",
		len(vectors), len(covered), acknowledged, rejected, handshakes, envelopeRefused, notPost)
}

// vectorParams are the provider settings some vectors need, as a user
// would set them: GitHub's legacy SHA-1 signatures only with "sha1".
var vectorParams = map[string]map[string]string{
	"github-go-github-sha1-legacy": {"sha1": "true"},
	"github-go-github-form":        {"sha1": "true"},
	// Meta's GET verification: the vector's secret is the verify token.
	"meta-verify-get":             {"verify-token": "my-verify-token"},
	"meta-verify-get-wrong-token": {"verify-token": "my-verify-token"},
	// HubSpot's legacy v1/v2 signatures are accepted only when enabled.
	"hubspot-v1-sdk":     {"legacy": "true"},
	"hubspot-v2-sdk":     {"legacy": "true"},
	"hubspot-v2-get-sdk": {"legacy": "true"},
	// PayPal signs for the webhook's ID, which the receiver configures.
	"paypal-cert-sha256withrsa": {"webhook-id": "1JE4291016473214C"},
}

// vectorClocks are the clocks of timestamped vectors that carry no
// now_unix: PayPal's transmission time is checked against a window.
var vectorClocks = map[string]time.Time{
	"paypal-cert-sha256withrsa": time.Date(2025, 1, 1, 0, 0, 10, 0, time.UTC),
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}
