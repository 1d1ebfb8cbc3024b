package bench

import (
	"errors"

	playground "github.com/go-playground/webhooks/v6/github"
	gogithub "github.com/google/go-github/v75/github"
	"github.com/slack-go/slack"
	stdwh "github.com/standard-webhooks/standard-webhooks/libraries/go"
	stripewebhook "github.com/stripe/stripe-go/v82/webhook"
	svix "github.com/svix/svix-webhooks/go"

	hwgithub "github.com/hookwise/hookwise/providers/github"
	hwstripe "github.com/hookwise/hookwise/providers/stripe"
)

// impl is one implementation of a provider's verification, set up for one
// delivery: check verifies it once and returns nil when it is accepted.
type impl struct {
	name string
	note string // what the implementation does besides verifying, if anything
	new  func(d delivery) (check func() error)
}

var errFloor = errors.New("bench: floor rejects the delivery")

// floorImpl is the crypto/hmac floor of every provider.
var floorImpl = impl{name: "floor", new: func(d delivery) func() error {
	f := newFloor(d)
	return func() error {
		if !f.verify(d.body) {
			return errFloor
		}
		return nil
	}
}}

// hookwiseImpl is the provider's Verify on a pre-built request.
var hookwiseImpl = impl{name: "hookwise", new: func(d delivery) func() error {
	p := newProvider(d.provider)
	r, _ := d.request()
	return func() error { return p.Verify(r, d.body) }
}}

// impls lists, per provider, the implementations BenchmarkVerify compares:
// Hookwise, the floor, then the peers.
var impls = map[string][]impl{
	"github": {
		hookwiseImpl, floorImpl,
		{name: "go-github", new: func(d delivery) func() error {
			sig, secret := d.header.Get(hwgithub.HeaderSignature256), []byte(githubSecret)
			return func() error { return gogithub.ValidateSignature(sig, d.body, secret) }
		}},
		{name: "go-playground", note: "reads the body from the request and decodes the payload into a struct too", new: func(d delivery) func() error {
			hook, err := playground.New(playground.Options.Secret(githubSecret))
			if err != nil {
				panic(err)
			}
			r, rb := d.request()
			return func() error {
				rb.Reset(d.body)
				_, err := hook.Parse(r, playground.IssuesEvent)
				return err
			}
		}},
	},
	"stripe": {
		hookwiseImpl, floorImpl, pooledFloorImpl,
		{name: "stripe-go", new: func(d delivery) func() error {
			header := d.header.Get(hwstripe.HeaderSignature)
			return func() error { return stripewebhook.ValidatePayload(d.body, header, stripeSecret) }
		}},
	},
	"slack": {
		hookwiseImpl, floorImpl,
		{name: "slack-go", new: func(d delivery) func() error {
			return func() error {
				sv, err := slack.NewSecretsVerifier(d.header, slackSecret)
				if err != nil {
					return err
				}
				if _, err := sv.Write(d.body); err != nil {
					return err
				}
				return sv.Ensure()
			}
		}},
	},
	"standard": {
		hookwiseImpl, floorImpl,
		{name: "svix", new: func(d delivery) func() error {
			wh, err := svix.NewWebhook(standardSecret)
			if err != nil {
				panic(err)
			}
			return func() error { return wh.Verify(d.body, d.header) }
		}},
		{name: "standard-webhooks", new: func(d delivery) func() error {
			wh, err := stdwh.NewWebhook(standardSecret)
			if err != nil {
				panic(err)
			}
			return func() error { return wh.Verify(d.body, d.header) }
		}},
	},
}
