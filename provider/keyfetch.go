package provider

import "context"

// KeyFetcher fetches the public key material (a PEM certificate) a sender
// names in its deliveries, as Amazon SNS's SigningCertURL or PayPal's
// PAYPAL-CERT-URL. Providers that verify with fetched keys take one as an
// option, so that tests run offline and an application can supply its own
// (pinned certificates, a proxy, a shared cache). Fetch returns the
// document at url or an error; it must refuse any URL whose host the
// provider does not own. Package providers/keyfetch has the default
// implementation (https only, host allow-list, no redirects, a size cap, a
// timeout, a bounded cache, concurrent requests coalesced). Implementations
// are safe for concurrent use.
type KeyFetcher interface {
	Fetch(ctx context.Context, url string) ([]byte, error)
}
