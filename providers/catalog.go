package providers

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/providers/slack"
	"github.com/hookwise/hookwise/providers/standardwebhooks"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/verify"
)

// P is the provider contract receiver.New accepts.
type P = provider.Provider

// Config is the one configuration shape of every provider in the catalog,
// for applications that choose providers by name (from a configuration
// file, the environment or a table-driven test). The per-provider packages
// remain the typed, documented way to build each one; New translates a
// Config into their options.
type Config struct {
	// Secrets are the shared secrets: the current one first, more during a
	// rotation. For token and Basic schemes, the expected tokens.
	Secrets []string
	// PublicKeys are public keys or certificates, in the form the provider
	// publishes them (Ed25519 for Standard Webhooks v1a and Discord, …).
	PublicKeys []string
	// Tolerance is the timestamp window; 0 keeps the provider's default.
	Tolerance time.Duration
	// Now is the clock timestamps are checked against; nil means time.Now.
	Now func() time.Time
	// URL is the public URL the sender posts to, for providers that sign it.
	URL string
	// Params holds provider-specific settings, documented per provider in
	// the README's providers table.
	Params map[string]string
}

// ErrUnknownProvider is returned by New for a name the catalog does not
// have.
var ErrUnknownProvider = errors.New("providers: unknown provider")

// entry is one provider of the catalog: its name, other names it answers
// to, and how to build it from a Config.
type entry struct {
	name    string
	aliases []string
	build   func(c Config) (P, error)
}

// catalog is every provider, a static table: each catalog_*.go file
// contributes one slice of entries. No init() registration.
var catalog = slices.Concat(coreEntries, commerceEntries, githostsEntries, timestampedEntries, platformsEntries, genericEntries, cloudEntries, paymentsEntries)

// New returns the provider called name (see Names), configured by c. It
// returns an error matching ErrUnknownProvider for an unknown name, and the
// provider's own error (matching verify.ErrNoSecret for a missing secret)
// for an invalid configuration.
func New(name string, c Config) (P, error) {
	e, ok := lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownProvider, name)
	}
	return e.build(c)
}

// Names returns every name New accepts, aliases included, sorted.
func Names() []string {
	var out []string
	for _, e := range catalog {
		out = append(out, e.name)
		out = append(out, e.aliases...)
	}
	sort.Strings(out)
	return out
}

func lookup(name string) (entry, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	for _, e := range catalog {
		if e.name == name || slices.Contains(e.aliases, name) {
			return e, true
		}
	}
	return entry{}, false
}

// secrets splits c.Secrets into the current secret and the rest, refusing
// an empty list.
func (c Config) secrets(provider string) (string, []string, error) {
	if len(c.Secrets) == 0 {
		return "", nil, fmt.Errorf("%s: %w", provider, verify.ErrNoSecret)
	}
	return c.Secrets[0], c.Secrets[1:], nil
}

var coreEntries = []entry{
	{name: github.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(github.Name)
		if err != nil {
			return nil, err
		}
		opts := []github.Option{github.WithSecrets(rest...)}
		if c.Params["dedupe"] == "delivery-id" {
			opts = append(opts, github.WithDeliveryIDDedupe())
		}
		if c.Params["sha1"] == "true" {
			opts = append(opts, github.WithSHA1())
		}
		if c.Params["event-check"] == "false" {
			opts = append(opts, github.WithEventCheck(false))
		}
		return github.New(first, opts...)
	}},
	{name: stripe.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(stripe.Name)
		if err != nil {
			return nil, err
		}
		opts := []stripe.Option{stripe.WithSecrets(rest...), stripe.WithTolerance(c.Tolerance)}
		if c.Now != nil {
			opts = append(opts, stripe.WithClock(c.Now))
		}
		return stripe.New(first, opts...)
	}},
	{name: slack.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(slack.Name)
		if err != nil {
			return nil, err
		}
		opts := []slack.Option{slack.WithSecrets(rest...), slack.WithTolerance(c.Tolerance)}
		if c.Now != nil {
			opts = append(opts, slack.WithClock(c.Now))
		}
		return slack.New(first, opts...)
	}},
	{name: standardwebhooks.Name, aliases: []string{"standard-webhooks", "svix"}, build: func(c Config) (P, error) {
		opts := []standardwebhooks.Option{standardwebhooks.WithTolerance(c.Tolerance)}
		if c.Now != nil {
			opts = append(opts, standardwebhooks.WithClock(c.Now))
		}
		if t := c.Params["type-key"]; t != "" {
			opts = append(opts, standardwebhooks.WithTypeKey(t))
		}
		if len(c.Secrets) == 0 && len(c.PublicKeys) > 0 {
			opts = append(opts, standardwebhooks.WithPublicKeys(c.PublicKeys[1:]...))
			return standardwebhooks.NewAsymmetric(c.PublicKeys[0], opts...)
		}
		first, rest, err := c.secrets(standardwebhooks.Name)
		if err != nil {
			return nil, err
		}
		opts = append(opts, standardwebhooks.WithSecrets(rest...))
		if len(c.PublicKeys) > 0 {
			opts = append(opts, standardwebhooks.WithPublicKeys(c.PublicKeys...))
		}
		return standardwebhooks.New(first, opts...)
	}},
}
