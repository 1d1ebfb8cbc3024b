package providers

import (
	"github.com/hookwise/hookwise/providers/calendly"
	"github.com/hookwise/hookwise/providers/hubspot"
	"github.com/hookwise/hookwise/providers/mailgun"
	"github.com/hookwise/hookwise/providers/paddle"
	"github.com/hookwise/hookwise/providers/square"
	"github.com/hookwise/hookwise/providers/twitch"
	"github.com/hookwise/hookwise/providers/zoom"
)

// timestampedEntries are the senders that sign a timestamp, a URL or both
// beside the body: Paddle, Calendly, Zoom, Twitch, HubSpot, Mailgun, and
// Square (URL, no timestamp). Config.Secrets are the shared secrets;
// Config.Tolerance and Config.Now apply to every one but Square.
// Config.URL is the public URL Square and HubSpot sign (the subscription's
// notification URL, the app's webhook URL); "" means the URL the request
// arrived at. Provider-specific Params:
//
//   - hubspot: "legacy": "true" also accepts X-HubSpot-Signature v1/v2 when
//     a request carries no v3 signature (hubspot.WithLegacySignatures);
//     they sign no time, see package hubspot.
var timestampedEntries = []entry{
	{name: paddle.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(paddle.Name)
		if err != nil {
			return nil, err
		}
		return paddle.New(first, paddle.WithSecrets(rest...), paddle.WithClock(c.Now), paddle.WithTolerance(c.Tolerance))
	}},
	{name: calendly.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(calendly.Name)
		if err != nil {
			return nil, err
		}
		return calendly.New(first, calendly.WithSecrets(rest...), calendly.WithClock(c.Now), calendly.WithTolerance(c.Tolerance))
	}},
	{name: zoom.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(zoom.Name)
		if err != nil {
			return nil, err
		}
		return zoom.New(first, zoom.WithSecrets(rest...), zoom.WithClock(c.Now), zoom.WithTolerance(c.Tolerance))
	}},
	{name: twitch.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(twitch.Name)
		if err != nil {
			return nil, err
		}
		return twitch.New(first, twitch.WithSecrets(rest...), twitch.WithClock(c.Now), twitch.WithTolerance(c.Tolerance))
	}},
	{name: square.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(square.Name)
		if err != nil {
			return nil, err
		}
		return square.New(first, square.WithSecrets(rest...), square.WithURL(c.URL))
	}},
	{name: hubspot.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(hubspot.Name)
		if err != nil {
			return nil, err
		}
		opts := []hubspot.Option{hubspot.WithSecrets(rest...), hubspot.WithClock(c.Now),
			hubspot.WithTolerance(c.Tolerance), hubspot.WithURL(c.URL)}
		if c.Params["legacy"] == "true" {
			opts = append(opts, hubspot.WithLegacySignatures())
		}
		return hubspot.New(first, opts...)
	}},
	{name: mailgun.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(mailgun.Name)
		if err != nil {
			return nil, err
		}
		return mailgun.New(first, mailgun.WithSecrets(rest...), mailgun.WithClock(c.Now), mailgun.WithTolerance(c.Tolerance))
	}},
}
