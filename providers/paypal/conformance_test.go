package paypal_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/paypal"
	"github.com/hookwise/hookwise/providers/providertest"
)

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

// testWebhookID is the webhook ID the harness's deliveries are signed for;
// vectorWebhookID the one the shared vector was signed for.
const (
	testWebhookID   = "8PT597110X687430LKGECATA"
	vectorWebhookID = "1JE4291016473214C"
)

// newProvider builds a provider from the suite's configuration. Vectors
// give pinned certificates (PublicKeys). The suite's secrets are labels of
// signing keys: the provider then fetches PAYPAL-CERT-URL through a fetcher
// that serves the certificates of the configured labels only, issued by a
// test root the provider trusts, so that a delivery signed with a key the
// provider was not configured with names a certificate it cannot get.
func newProvider(t testing.TB) func(c providertest.Config) (provider.Provider, error) {
	return func(c providertest.Config) (provider.Provider, error) {
		opts := []paypal.Option{paypal.WithClock(c.Now), paypal.WithTolerance(c.Tolerance)}
		if len(c.PublicKeys) > 0 {
			return paypal.New(append(opts, paypal.WithWebhookID(vectorWebhookID), paypal.WithCertificates(c.PublicKeys...))...)
		}
		k := pki.get(t)
		f := &mapFetcher{docs: map[string]string{}}
		for _, label := range c.Secrets {
			leaf, ok := k.leafPEM[label]
			if !ok {
				// An empty or unknown secret: a pinned certificate New refuses.
				return paypal.New(append(opts, paypal.WithWebhookID(testWebhookID), paypal.WithCertificates(label))...)
			}
			f.docs[certURL(label)] = leaf
		}
		return paypal.New(append(opts, paypal.WithWebhookID(testWebhookID),
			paypal.WithFetcher(f), paypal.WithRoots(k.pool))...)
	}
}

// sign signs as PayPal does with the labelled key, naming its certificate's
// URL.
func sign(t testing.TB) func(r *http.Request, body []byte, secret string, now time.Time) error {
	return func(r *http.Request, body []byte, secret string, now time.Time) error {
		k := pki.get(t)
		return paypal.NewSigner(testWebhookID, certURL(secret))(r, body, k.keyPEM[secret], now)
	}
}

const captureCompleted = `{"id":"WH-58D329510W468432D-8HN650336L201105X","event_version":"1.0","create_time":"2025-01-01T00:00:00.000Z",` +
	`"resource_type":"capture","resource_version":"2.0","event_type":"PAYMENT.CAPTURE.COMPLETED","summary":"Payment completed for $ 10.0 USD",` +
	`"resource":{"id":"42311647XV020574X","status":"COMPLETED","amount":{"currency_code":"USD","value":"10.00"},"final_capture":true,` +
	`"seller_protection":{"status":"ELIGIBLE","dispute_categories":["ITEM_NOT_RECEIVED","UNAUTHORIZED_TRANSACTION"]},` +
	`"create_time":"2025-01-01T00:00:00Z","update_time":"2025-01-01T00:00:00Z",` +
	`"links":[{"href":"https://api.sandbox.paypal.com/v2/payments/captures/42311647XV020574X","rel":"self","method":"GET"}]},` +
	`"links":[{"href":"https://api.sandbox.paypal.com/v1/notifications/webhooks-events/WH-58D329510W468432D-8HN650336L201105X","rel":"self","method":"GET"}]}`

const orderApproved = `{"id":"WH-COC11055RA711503B-4YM959094A144403T","create_time":"2018-04-16T21:21:49.000Z","event_type":"CHECKOUT.ORDER.APPROVED",` +
	`"resource_type":"checkout-order","resource_version":"2.0","summary":"An order has been approved by buyer",` +
	`"resource":{"id":"5O190127TN364715T","intent":"CAPTURE","status":"APPROVED","payer":{"name":{"given_name":"John","surname":"Doe"},` +
	`"email_address":"buyer@example.com","payer_id":"QYR5Z8XDVJNXQ"},` +
	`"purchase_units":[{"reference_id":"d9f80740-38f0-11e8-b467-0ed5f89f718b","amount":{"currency_code":"USD","value":"100.00"}}]}}`

const subscriptionActivated = `{"id":"WH-77687562XN25889J8-8Y6T55435R66168T6","create_time":"2018-19-12T22:20:32.000Z","resource_type":"subscription",` +
	`"event_type":"BILLING.SUBSCRIPTION.ACTIVATED","summary":"A billing agreement was activated.","event_version":"1.0",` +
	`"resource":{"quantity":"20","subscriber":{"name":{"given_name":"John","surname":"Doe"},"email_address":"customer@example.com"},` +
	`"create_time":"2018-12-10T21:20:49Z","plan_id":"P-5ML4271244454362WXNWU5NQ","status":"ACTIVE","id":"I-BW452GLLEP1G"}}`

func harness(t testing.TB) providertest.Harness {
	vectors := providertest.LoadVectors(t, "../testdata/vectors.json", paypal.Name)
	for i := range vectors {
		// The shared vector carries no now_unix: verify it at the moment it
		// was signed (its PAYPAL-TRANSMISSION-TIME), within the window.
		if vectors[i].NowUnix == 0 {
			at, err := time.Parse(time.RFC3339, vectors[i].Headers["PAYPAL-TRANSMISSION-TIME"])
			if err == nil {
				vectors[i].NowUnix = at.Add(10 * time.Second).Unix()
			}
		}
	}
	return providertest.Harness{
		New:     newProvider(t),
		Sign:    sign(t),
		Secrets: signingLabels,
		Samples: []providertest.Sample{
			{Name: "PAYMENT.CAPTURE.COMPLETED", Header: jsonHeader, Body: []byte(captureCompleted),
				ID: "WH-58D329510W468432D-8HN650336L201105X", Type: "PAYMENT.CAPTURE.COMPLETED"},
			{Name: "CHECKOUT.ORDER.APPROVED", Header: jsonHeader, Body: []byte(orderApproved),
				ID: "WH-COC11055RA711503B-4YM959094A144403T", Type: "CHECKOUT.ORDER.APPROVED"},
			{Name: "BILLING.SUBSCRIPTION.ACTIVATED", Header: jsonHeader, Body: []byte(subscriptionActivated),
				ID: "WH-77687562XN25889J8-8Y6T55435R66168T6", Type: "BILLING.SUBSCRIPTION.ACTIVATED"},
		},
		Tolerance: paypal.DefaultTolerance,
		Malformed: []providertest.Sample{
			{Name: "no id", Header: jsonHeader, Body: []byte(`{"event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{}}`)},
			{Name: "no event_type", Header: jsonHeader, Body: []byte(`{"id":"WH-1","resource":{}}`)},
			{Name: "id a number", Header: jsonHeader, Body: []byte(`{"id":12,"event_type":"PAYMENT.CAPTURE.COMPLETED"}`)},
			{Name: "ambiguous id", Header: jsonHeader, Body: []byte(`{"id":"WH-1","ID":"WH-2","event_type":"X"}`)},
			{Name: "duplicated event_type", Header: jsonHeader, Body: []byte(`{"id":"WH-1","event_type":"A","event_type":"B"}`)},
			{Name: "not JSON", Header: jsonHeader, Body: []byte(`id=WH-1&event_type=X`)},
		},
		Vectors: vectors,
	}
}

func TestConformance(t *testing.T) { providertest.Run(t, harness(t)) }

func FuzzConformanceTransmissionSig(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), paypal.HeaderTransmissionSig)
}

func FuzzConformanceTransmissionTime(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), paypal.HeaderTransmissionTime)
}

func FuzzConformanceCertURL(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), paypal.HeaderCertURL)
}

func FuzzConformanceTransmissionID(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), paypal.HeaderTransmissionID)
}
