package main

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/hookwise/hookwise/providers"
	"github.com/hookwise/hookwise/providers/bitbucket"
	"github.com/hookwise/hookwise/providers/brex"
	"github.com/hookwise/hookwise/providers/calendly"
	"github.com/hookwise/hookwise/providers/clerk"
	"github.com/hookwise/hookwise/providers/coinbasecommerce"
	"github.com/hookwise/hookwise/providers/discord"
	"github.com/hookwise/hookwise/providers/dropbox"
	"github.com/hookwise/hookwise/providers/gitea"
	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/providers/gitlab"
	"github.com/hookwise/hookwise/providers/gogs"
	"github.com/hookwise/hookwise/providers/hubspot"
	"github.com/hookwise/hookwise/providers/intercom"
	"github.com/hookwise/hookwise/providers/jira"
	"github.com/hookwise/hookwise/providers/lemonsqueezy"
	"github.com/hookwise/hookwise/providers/linear"
	"github.com/hookwise/hookwise/providers/mailgun"
	"github.com/hookwise/hookwise/providers/meta"
	"github.com/hookwise/hookwise/providers/microsoftgraph"
	"github.com/hookwise/hookwise/providers/okta"
	"github.com/hookwise/hookwise/providers/paddle"
	"github.com/hookwise/hookwise/providers/paypal"
	"github.com/hookwise/hookwise/providers/postmark"
	"github.com/hookwise/hookwise/providers/razorpay"
	"github.com/hookwise/hookwise/providers/resend"
	"github.com/hookwise/hookwise/providers/sendgrid"
	"github.com/hookwise/hookwise/providers/sentry"
	"github.com/hookwise/hookwise/providers/shopify"
	"github.com/hookwise/hookwise/providers/slack"
	"github.com/hookwise/hookwise/providers/sns"
	"github.com/hookwise/hookwise/providers/square"
	"github.com/hookwise/hookwise/providers/standardwebhooks"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/providers/twilio"
	"github.com/hookwise/hookwise/providers/twitch"
	"github.com/hookwise/hookwise/providers/typeform"
	"github.com/hookwise/hookwise/providers/vercel"
	"github.com/hookwise/hookwise/providers/zoom"
)

// signFunc has the shape of every provider's SignRequest.
type signFunc func(r *http.Request, body []byte, secret string, now time.Time) error

// scheme is what the tool knows of one provider beyond the catalog: how it
// signs, its development secret, and how the receiving side is configured
// from a secret.
type scheme struct {
	sign signFunc
	// dev is the development signing secret (send, sign) and devVerify
	// the receiving side's (listen, verify), when they differ (a public
	// key, a certificate).
	dev, devVerify string
	// keys: the receiving side takes the secret as Config.PublicKeys.
	keys bool
	// params are the catalog Params used unless -param sets them.
	params map[string]string
	// noSecret: the provider takes no secret (SNS, PayPal IPN).
	noSecret bool
}

// Development secrets. github, stripe, slack and standard are the
// quickstart's, so that "hookwise send" reaches it out of the box.
var schemes = map[string]scheme{
	"github":            {sign: githubSign, dev: "dev-github-secret"},
	"stripe":            {sign: stripe.SignRequest, dev: "whsec_dev_stripe_secret"},
	"slack":             {sign: slack.SignRequest, dev: "dev-slack-signing-secret"},
	"standard":          {sign: standardwebhooks.SignRequest, dev: "whsec_aG9va3dpc2UtZGV2LXNlY3JldC0wMTIzNDU2Nzg5"},
	"bitbucket":         {sign: bitbucket.SignRequest, dev: "dev-bitbucket-secret"},
	"brex":              {sign: brex.SignRequest, dev: "whsec_aG9va3dpc2UtZGV2LWJyZXgtc2VjcmV0"},
	"calendly":          {sign: calendly.SignRequest, dev: "dev-calendly-signing-key"},
	"clerk":             {sign: clerk.SignRequest, dev: "whsec_aG9va3dpc2UtZGV2LWNsZXJrLXNlY3JldA=="},
	"coinbase-commerce": {sign: coinbasecommerce.SignRequest, dev: "dev-coinbase-shared-secret"},
	"discord":           {sign: discord.SignRequest, dev: devDiscordKey, keys: true},
	"dropbox":           {sign: dropbox.SignRequest, dev: "dev-dropbox-app-secret"},
	"gitea":             {sign: gitea.SignRequest, dev: "dev-gitea-secret"},
	"gitlab":            {sign: gitlab.SignRequest, dev: "dev-gitlab-token"},
	"gogs":              {sign: gogs.SignRequest, dev: "dev-gogs-secret"},
	"hubspot":           {sign: hubspot.SignRequest, dev: "dev-hubspot-client-secret"},
	"intercom":          {sign: intercom.SignRequest, dev: "dev-intercom-client-secret"},
	"jira":              {sign: jira.SignRequest, dev: "dev-jira-secret"},
	"lemonsqueezy":      {sign: lemonsqueezy.SignRequest, dev: "dev-lemonsqueezy-secret"},
	"linear":            {sign: linear.SignRequest, dev: "lin_wh_devlinearsigningsecret"},
	"mailgun":           {sign: mailgun.SignRequest, dev: "dev-mailgun-signing-key"},
	"meta":              {sign: meta.SignRequest, dev: "dev-meta-app-secret"},
	"microsoft-graph":   {sign: microsoftgraph.SignRequest, dev: "dev-graph-client-state"},
	"okta":              {sign: okta.SignRequest, dev: "dev-okta-authorization"},
	"paddle":            {sign: paddle.SignRequest, dev: "pdl_ntfset_01hookwisedev_devpaddlesecretkey"},
	"paypal":            {sign: paypalSign, dev: devRSAKey, devVerify: devRSACert, keys: true, params: map[string]string{"webhook-id": "HOOKWISE-DEV-WEBHOOK"}},
	"paypal-ipn":        {sign: noSign, noSecret: true, params: map[string]string{"endpoint": "sandbox"}},
	"postmark":          {sign: postmark.SignRequest, dev: "hookwise:dev-postmark-password"},
	"razorpay":          {sign: razorpay.SignRequest, dev: "dev-razorpay-secret"},
	"resend":            {sign: resend.SignRequest, dev: "whsec_aG9va3dpc2UtZGV2LXJlc2VuZC1zZWNyZXQ="},
	"sendgrid":          {sign: sendgrid.SignRequest, dev: devSendGridKey, keys: true},
	"sentry":            {sign: sentry.SignRequest, dev: "dev-sentry-client-secret"},
	"shopify":           {sign: shopify.SignRequest, dev: "dev-shopify-client-secret"},
	"sns":               {sign: snsSign, dev: devRSAKey, noSecret: true, params: map[string]string{"cert-url": devSNSCertURL, "topics": "arn:aws:sns:us-east-1:123456789012:hookwise-dev"}},
	"square":            {sign: square.SignRequest, dev: "dev-square-signature-key"},
	"twilio":            {sign: twilio.SignRequest, dev: "dev-twilio-auth-token"},
	"twitch":            {sign: twitch.SignRequest, dev: "dev-twitch-eventsub-secret"},
	"typeform":          {sign: typeform.SignRequest, dev: "dev-typeform-secret"},
	"vercel":            {sign: vercel.SignRequest, dev: "dev-vercel-secret"},
	"zoom":              {sign: zoom.SignRequest, dev: "dev-zoom-secret-token"},
	"hmac": {sign: genericSign("hmac"), dev: "dev-hmac-secret",
		params: map[string]string{"header": "X-Webhook-Signature", "prefix": "sha256=", "id-json": "id", "type-json": "type"}},
	"token": {sign: genericSign("token"), dev: "dev-webhook-token",
		params: map[string]string{"header": "X-Webhook-Token", "id-json": "id", "type-json": "type"}},
	"basic": {sign: genericSign("basic"), dev: "hookwise:dev-basic-password",
		params: map[string]string{"id-json": "id", "type-json": "type"}},
}

// devSNSCertURL is where SNS deliveries signed with the development key
// say their certificate is. No SNS host serves it, so only a receiver
// built to trust the development key accepts them.
const devSNSCertURL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-hookwise-dev.pem"

// errUsage matches a command-line mistake (exit code 2).
var errUsage = errors.New("usage")

// canonicalName returns the catalog's canonical name for name (an alias
// or another case), or an error matching errUsage listing the names.
func canonicalName(name string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if a, ok := map[string]string{
		"standard-webhooks": "standard", "svix": "standard", "facebook": "meta", "instagram": "meta",
		"whatsapp": "meta", "forgejo": "gitea", "amazon-sns": "sns", "aws-sns": "sns",
	}[n]; ok {
		n = a
	}
	if _, ok := schemes[n]; !ok {
		return "", fmt.Errorf("%w: unknown provider %q (one of: %s)", errUsage, name, strings.Join(providers.Names(), ", "))
	}
	return n, nil
}

// mergedParams returns the scheme's default Params overridden by set.
func (s scheme) mergedParams(set map[string]string) map[string]string {
	out := maps.Clone(s.params)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, set)
	return out
}

// catalogParams drops the Params the tool reads itself (sns's cert-url),
// which the catalog would refuse or ignore.
func catalogParams(name string, p map[string]string) map[string]string {
	out := maps.Clone(p)
	if name == "sns" {
		delete(out, "cert-url")
	}
	return out
}

// receiverConfig is the catalog configuration of the receiving side whose
// secret (or public key, or certificate) is secret.
func receiverConfig(name, secret string, params map[string]string, url string) providers.Config {
	c := providers.Config{Params: catalogParams(name, params), URL: url}
	s := schemes[name]
	switch {
	case s.noSecret:
	case s.keys:
		c.PublicKeys = []string{secret}
	default:
		c.Secrets = []string{secret}
	}
	return c
}

// devReceiverSecret is the receiving side's counterpart of the development
// signing secret.
func devReceiverSecret(name string) (string, error) {
	s := schemes[name]
	switch {
	case s.devVerify != "":
		return s.devVerify, nil
	case name == "discord":
		return discord.PublicKey(s.dev)
	case name == "sendgrid":
		return sendgrid.PublicKey(s.dev)
	}
	return s.dev, nil
}

// signRequest signs r, whose body is body, as the provider does, and
// returns the body to send (some providers sign inside the body).
func signRequest(name string, r *http.Request, body []byte, secret string, now time.Time, params map[string]string) ([]byte, error) {
	s := schemes[name]
	switch name {
	case "gitlab":
		if params["signing-token"] == "true" {
			if r.Header.Get("Webhook-Id") == "" {
				r.Header.Set("Webhook-Id", "msg_"+strings.ReplaceAll(r.Header.Get("Idempotency-Key"), "-", ""))
			}
			s.sign = gitlab.SignRequestSigned
		}
	case "paypal":
		s.sign = paypal.NewSigner(params["webhook-id"], "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-hookwise-dev")
	case "sns":
		return snsSignBody(body, secret, params["cert-url"], now)
	case "hmac", "token", "basic":
		p, err := providers.New(name, receiverConfig(name, secret, params, ""))
		if err != nil {
			return nil, err
		}
		signer, ok := p.(interface {
			SignRequest(r *http.Request, body []byte, secret string, now time.Time) error
		})
		if !ok {
			return nil, fmt.Errorf("%s: no signer", name)
		}
		s.sign = signer.SignRequest
	}
	r.Body = nil
	if err := s.sign(r, body, secret, now); err != nil {
		return nil, err
	}
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		body = b
	}
	return body, nil
}

func githubSign(r *http.Request, body []byte, secret string, now time.Time) error {
	if r.Header.Get(github.HeaderDelivery) == "" {
		r.Header.Set(github.HeaderDelivery, github.NewDeliveryID())
	}
	return github.SignRequest(r, body, secret, now)
}

func noSign(*http.Request, []byte, string, time.Time) error { return nil }

// paypalSign is replaced in signRequest by a signer for the webhook ID.
func paypalSign(*http.Request, []byte, string, time.Time) error { return nil }

// snsSign is replaced in signRequest: SNS signs inside the body.
func snsSign(*http.Request, []byte, string, time.Time) error { return nil }

// genericSign is replaced in signRequest by the configured provider's own
// signer.
func genericSign(string) signFunc { return noSign }

func snsSignBody(body []byte, keyPEM, certURL string, now time.Time) ([]byte, error) {
	key, err := rsaKey(keyPEM)
	if err != nil {
		return nil, err
	}
	return sns.Sign(body, key, certURL, "2", now)
}

func rsaKey(keyPEM string) (*rsa.PrivateKey, error) {
	b, _ := pem.Decode([]byte(keyPEM))
	if b == nil {
		return nil, errors.New("the signing key is not PEM")
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		if rk, ok := k.(*rsa.PrivateKey); ok {
			return rk, nil
		}
	}
	return nil, errors.New("the signing key is not an RSA private key")
}

// readSecret returns s, or the contents of the file s names after "@"
// (for PEM keys), trailing newline trimmed unless it is PEM.
func readSecret(s string, readFile func(string) ([]byte, error)) (string, error) {
	path, ok := strings.CutPrefix(s, "@")
	if !ok {
		return s, nil
	}
	b, err := readFile(path)
	if err != nil {
		return "", fmt.Errorf("%w: secret file: %w", errUsage, err)
	}
	if bytes.Contains(b, []byte("-----BEGIN")) {
		return string(b), nil
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
