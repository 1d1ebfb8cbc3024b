package providers

import (
	"fmt"

	"github.com/hookwise/hookwise/providers/brex"
	"github.com/hookwise/hookwise/providers/clerk"
	"github.com/hookwise/hookwise/providers/discord"
	"github.com/hookwise/hookwise/providers/microsoftgraph"
	"github.com/hookwise/hookwise/providers/okta"
	"github.com/hookwise/hookwise/providers/postmark"
	"github.com/hookwise/hookwise/providers/resend"
	"github.com/hookwise/hookwise/providers/twilio"
	"github.com/hookwise/hookwise/verify"
)

// platformsEntries are Twilio, Discord, Postmark, Okta, Microsoft Graph and
// the Standard Webhooks presets Clerk, Resend and Brex.
//
//   - twilio: Config.Secrets are Auth Tokens (primary first); Config.URL is
//     the public URL Twilio calls (scheme, host, port, path; the request's
//     query is signed), needed behind a proxy.
//   - discord: Config.PublicKeys are the application's hex Ed25519 public
//     keys (Config.Secrets are read when PublicKeys is empty);
//     Config.Tolerance > 0 checks the signed timestamp, which Discord leaves
//     unchecked by default.
//   - postmark: Config.Secrets are "user:password" Basic credentials.
//   - okta: Config.Secrets are the authentication header's values. Params:
//     "header" names the header when it is not Authorization
//     (okta.WithHeader).
//   - microsoft-graph: Config.Secrets are the subscriptions' clientState
//     values.
//   - clerk, resend, brex: Config.Secrets are the signing secrets
//     ("whsec_…"; Brex's may come without the prefix); Config.Tolerance and
//     Config.Now as for every timestamped provider.
var platformsEntries = []entry{
	{name: twilio.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(twilio.Name)
		if err != nil {
			return nil, err
		}
		opts := []twilio.Option{twilio.WithSecrets(rest...)}
		if c.URL != "" {
			opts = append(opts, twilio.WithURL(c.URL))
		}
		return twilio.New(first, opts...)
	}},
	{name: discord.Name, build: func(c Config) (P, error) {
		keys := c.PublicKeys
		if len(keys) == 0 {
			keys = c.Secrets
		}
		if len(keys) == 0 {
			return nil, fmt.Errorf("%s: %w", discord.Name, verify.ErrNoSecret)
		}
		opts := []discord.Option{discord.WithPublicKeys(keys[1:]...), discord.WithTolerance(c.Tolerance)}
		if c.Now != nil {
			opts = append(opts, discord.WithClock(c.Now))
		}
		return discord.New(keys[0], opts...)
	}},
	{name: postmark.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(postmark.Name)
		if err != nil {
			return nil, err
		}
		return postmark.New(first, postmark.WithSecrets(rest...))
	}},
	{name: okta.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(okta.Name)
		if err != nil {
			return nil, err
		}
		opts := []okta.Option{okta.WithSecrets(rest...)}
		if h := c.Params["header"]; h != "" {
			opts = append(opts, okta.WithHeader(h))
		}
		return okta.New(first, opts...)
	}},
	{name: microsoftgraph.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(microsoftgraph.Name)
		if err != nil {
			return nil, err
		}
		return microsoftgraph.New(first, microsoftgraph.WithSecrets(rest...))
	}},
	{name: clerk.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(clerk.Name)
		if err != nil {
			return nil, err
		}
		opts := []clerk.Option{clerk.WithSecrets(rest...), clerk.WithTolerance(c.Tolerance)}
		if c.Now != nil {
			opts = append(opts, clerk.WithClock(c.Now))
		}
		return clerk.New(first, opts...)
	}},
	{name: resend.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(resend.Name)
		if err != nil {
			return nil, err
		}
		opts := []resend.Option{resend.WithSecrets(rest...), resend.WithTolerance(c.Tolerance)}
		if c.Now != nil {
			opts = append(opts, resend.WithClock(c.Now))
		}
		return resend.New(first, opts...)
	}},
	{name: brex.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(brex.Name)
		if err != nil {
			return nil, err
		}
		opts := []brex.Option{brex.WithSecrets(rest...), brex.WithTolerance(c.Tolerance)}
		if c.Now != nil {
			opts = append(opts, brex.WithClock(c.Now))
		}
		return brex.New(first, opts...)
	}},
}
