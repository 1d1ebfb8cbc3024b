package providers

import (
	"github.com/hookwise/hookwise/providers/bitbucket"
	"github.com/hookwise/hookwise/providers/coinbasecommerce"
	"github.com/hookwise/hookwise/providers/gitea"
	"github.com/hookwise/hookwise/providers/gitlab"
	"github.com/hookwise/hookwise/providers/gogs"
	"github.com/hookwise/hookwise/providers/jira"
	"github.com/hookwise/hookwise/providers/lemonsqueezy"
	"github.com/hookwise/hookwise/providers/razorpay"
)

// githostsEntries are the git hosts (GitLab, Bitbucket Cloud and Data
// Center, Gitea and Forgejo, Gogs), Jira, and the payment senders Coinbase
// Commerce, Razorpay and Lemon Squeezy. Config.Secrets are the webhook
// secrets; for GitLab, the secret tokens (X-Gitlab-Token). Provider-specific
// Params:
//
//   - gitlab: "signing-token": "true" makes Config.Secrets GitLab signing
//     tokens ("whsec_…") whose Standard Webhooks signature is verified
//     (gitlab.NewSigned), with Config.Tolerance and Config.Now, instead of
//     secret tokens.
//
// Gitea also answers to "forgejo".
var githostsEntries = []entry{
	{name: gitlab.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(gitlab.Name)
		if err != nil {
			return nil, err
		}
		opts := []gitlab.Option{gitlab.WithSecrets(rest...)}
		if c.Params["signing-token"] == "true" {
			opts = append(opts, gitlab.WithTolerance(c.Tolerance))
			if c.Now != nil {
				opts = append(opts, gitlab.WithClock(c.Now))
			}
			return gitlab.NewSigned(first, opts...)
		}
		return gitlab.New(first, opts...)
	}},
	{name: bitbucket.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(bitbucket.Name)
		if err != nil {
			return nil, err
		}
		return bitbucket.New(first, bitbucket.WithSecrets(rest...))
	}},
	{name: gitea.Name, aliases: []string{"forgejo"}, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(gitea.Name)
		if err != nil {
			return nil, err
		}
		return gitea.New(first, gitea.WithSecrets(rest...))
	}},
	{name: gogs.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(gogs.Name)
		if err != nil {
			return nil, err
		}
		return gogs.New(first, gogs.WithSecrets(rest...))
	}},
	{name: jira.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(jira.Name)
		if err != nil {
			return nil, err
		}
		return jira.New(first, jira.WithSecrets(rest...))
	}},
	{name: coinbasecommerce.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(coinbasecommerce.Name)
		if err != nil {
			return nil, err
		}
		return coinbasecommerce.New(first, coinbasecommerce.WithSecrets(rest...))
	}},
	{name: razorpay.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(razorpay.Name)
		if err != nil {
			return nil, err
		}
		return razorpay.New(first, razorpay.WithSecrets(rest...))
	}},
	{name: lemonsqueezy.Name, build: func(c Config) (P, error) {
		first, rest, err := c.secrets(lemonsqueezy.Name)
		if err != nil {
			return nil, err
		}
		return lemonsqueezy.New(first, lemonsqueezy.WithSecrets(rest...))
	}},
}
