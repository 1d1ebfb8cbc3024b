package providers

import (
	"github.com/hookwise/hookwise/providers/dropbox"
	"github.com/hookwise/hookwise/providers/intercom"
	"github.com/hookwise/hookwise/providers/linear"
	"github.com/hookwise/hookwise/providers/meta"
	"github.com/hookwise/hookwise/providers/sentry"
	"github.com/hookwise/hookwise/providers/shopify"
	"github.com/hookwise/hookwise/providers/typeform"
	"github.com/hookwise/hookwise/providers/vercel"
)

// commerceEntries are Shopify and the SaaS senders that sign the body with
// an HMAC: Typeform, Intercom, Vercel, Sentry, Linear, Dropbox and Meta.
// Config.Secrets are the shared secrets (client, app or signing secrets).
// Provider-specific Params:
//
//   - shopify: "dedupe": "webhook-id" keys dedupe on X-Shopify-Webhook-Id
//     (one subscription's delivery) instead of X-Shopify-Event-Id
//     (shopify.WithWebhookIDDedupe).
//   - meta: "verify-token": the verify token of the GET subscription
//     verification (meta.WithVerifyToken); without it every verification
//     request is answered 403.
//
// Linear is the only one with a timestamp (Config.Tolerance, Config.Now).
// Meta also answers to "facebook", "instagram" and "whatsapp".
var commerceEntries = []entry{
	{name: shopify.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(shopify.Name)
		if err != nil {
			return nil, err
		}
		opts := []shopify.Option{shopify.WithSecrets(rest...)}
		if c.Params["dedupe"] == "webhook-id" {
			opts = append(opts, shopify.WithWebhookIDDedupe())
		}
		return shopify.New(first, opts...)
	}},
	{name: typeform.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(typeform.Name)
		if err != nil {
			return nil, err
		}
		return typeform.New(first, typeform.WithSecrets(rest...))
	}},
	{name: intercom.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(intercom.Name)
		if err != nil {
			return nil, err
		}
		return intercom.New(first, intercom.WithSecrets(rest...))
	}},
	{name: vercel.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(vercel.Name)
		if err != nil {
			return nil, err
		}
		return vercel.New(first, vercel.WithSecrets(rest...))
	}},
	{name: sentry.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(sentry.Name)
		if err != nil {
			return nil, err
		}
		return sentry.New(first, sentry.WithSecrets(rest...))
	}},
	{name: linear.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(linear.Name)
		if err != nil {
			return nil, err
		}
		opts := []linear.Option{linear.WithSecrets(rest...), linear.WithTolerance(c.Tolerance)}
		if c.Now != nil {
			opts = append(opts, linear.WithClock(c.Now))
		}
		return linear.New(first, opts...)
	}},
	{name: dropbox.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(dropbox.Name)
		if err != nil {
			return nil, err
		}
		return dropbox.New(first, dropbox.WithSecrets(rest...))
	}},
	{name: meta.Name, aliases: []string{"facebook", "instagram", "whatsapp"}, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(meta.Name)
		if err != nil {
			return nil, err
		}
		opts := []meta.Option{meta.WithSecrets(rest...)}
		if t, ok := c.Params["verify-token"]; ok {
			opts = append(opts, meta.WithVerifyToken(t))
		}
		return meta.New(first, opts...)
	}},
}
