package providers

import (
	"fmt"
	"strings"

	"github.com/hookwise/hookwise/providers/paypal"
)

// paymentsEntries are PayPal's REST webhooks and its legacy IPN.
//
//   - paypal: Params["webhook-id"] (required) is the webhook's ID in
//     PayPal's developer dashboard, part of the signed message.
//     Config.PublicKeys, when set, are PEM certificates pinned instead of
//     fetching PAYPAL-CERT-URL (which is otherwise fetched from PayPal's API
//     hosts only, and its chain, name and validity checked);
//     Config.Secrets are not used. Config.Tolerance is the window of
//     PAYPAL-TRANSMISSION-TIME (default 5 minutes).
//   - paypal-ipn: Params["endpoint"] (required) is where messages are
//     posted back: "live" (https://ipnpb.paypal.com/cgi-bin/webscr),
//     "sandbox" or an https URL. Nothing else is configured: an IPN is
//     verified by PayPal's answer.
var paymentsEntries = []entry{
	{name: paypal.Name, build: func(c Config) (P, error) {
		opts := []paypal.Option{paypal.WithWebhookID(c.Params["webhook-id"]), paypal.WithTolerance(c.Tolerance)}
		if c.Now != nil {
			opts = append(opts, paypal.WithClock(c.Now))
		}
		if len(c.PublicKeys) > 0 {
			opts = append(opts, paypal.WithCertificates(c.PublicKeys...))
		}
		return paypal.New(opts...)
	}},
	{name: paypal.IPNName, build: func(c Config) (P, error) {
		switch e := strings.TrimSpace(c.Params["endpoint"]); e {
		case "live":
			return paypal.NewIPN()
		case "sandbox":
			return paypal.NewIPN(paypal.WithIPNSandbox())
		case "":
			return nil, fmt.Errorf("%s: Params[\"endpoint\"] is required (live, sandbox or an https URL)", paypal.IPNName)
		default:
			return paypal.NewIPN(paypal.WithIPNEndpoint(e))
		}
	}},
}
