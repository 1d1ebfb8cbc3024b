package paypal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/verify"
)

// IPNName is the name of the legacy IPN provider (NewIPN).
const IPNName = "paypal-ipn"

// The endpoints IPN messages are posted back to.
const (
	IPNEndpoint        = "https://ipnpb.paypal.com/cgi-bin/webscr"
	IPNSandboxEndpoint = "https://ipnpb.sandbox.paypal.com/cgi-bin/webscr"
)

// DefaultIPNTimeout bounds one post-back to PayPal.
const DefaultIPNTimeout = 10 * time.Second

// maxIPNAnswer bounds the post-back's answer read ("VERIFIED" or "INVALID").
const maxIPNAnswer = 64

// IPN verifies and reads legacy Instant Payment Notifications. An IPN is
// not signed: it is authenticated by posting the raw message back to PayPal
// with "cmd=_notify-validate&" prepended, over https, and accepting only
// the exact answer "VERIFIED" (an answer with status 200, no redirect
// followed, read up to 64 bytes, within the timeout). Every other answer,
// and every network failure, fails verification (401), and PayPal resends
// the message later. Each delivery, forged or not, costs one post-back;
// there is no timestamp, so replays are bounded only by dedupe.
//
// The envelope's ID is ipn_track_id (one per message, the same when PayPal
// resends it), else txn_id + "/" + payment_status: txn_id alone is shared by
// the successive notifications of one transaction (Pending then Completed).
// The type is txn_type, else case_type (disputes), else "ipn" (refunds and
// reversals carry neither; read payment_status). The payload handed to
// handlers is the form as a JSON object of strings.
//
// Source: https://developer.paypal.com/api/nvp-soap/ipn/IPNImplementation/
// (post-back protocol), https://developer.paypal.com/api/nvp-soap/ipn/IPNandPDTVariables/.
//
// It is safe for concurrent use.
type IPN struct {
	endpoint string
	client   *http.Client
	timeout  time.Duration
}

var (
	_ provider.Provider        = (*IPN)(nil)
	_ provider.PayloadProvider = (*IPN)(nil)
)

type ipnOptions struct {
	endpoint string
	client   *http.Client
	timeout  time.Duration
}

// IPNOption configures an IPN provider.
type IPNOption func(*ipnOptions)

// WithIPNEndpoint sets the URL messages are posted back to (default
// IPNEndpoint). It must be an https URL.
func WithIPNEndpoint(u string) IPNOption { return func(o *ipnOptions) { o.endpoint = u } }

// WithIPNSandbox posts messages back to IPNSandboxEndpoint.
func WithIPNSandbox() IPNOption { return WithIPNEndpoint(IPNSandboxEndpoint) }

// WithIPNClient sets the HTTP client of the post-back (default: one with
// DefaultIPNTimeout). Redirects are never followed, whatever the client's
// CheckRedirect.
func WithIPNClient(c *http.Client) IPNOption { return func(o *ipnOptions) { o.client = c } }

// WithIPNTimeout bounds one post-back (default DefaultIPNTimeout).
func WithIPNTimeout(d time.Duration) IPNOption { return func(o *ipnOptions) { o.timeout = d } }

// NewIPN returns an IPN provider. It returns an error for an endpoint that
// is not an absolute https URL.
func NewIPN(opts ...IPNOption) (*IPN, error) {
	o := ipnOptions{endpoint: IPNEndpoint, timeout: DefaultIPNTimeout}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	u, err := url.Parse(o.endpoint)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%s: the endpoint must be an https URL", IPNName)
	}
	if o.timeout <= 0 {
		o.timeout = DefaultIPNTimeout
	}
	c := &http.Client{}
	if o.client != nil {
		*c = *o.client
	}
	c.CheckRedirect = noRedirect
	c.Timeout = o.timeout
	return &IPN{endpoint: o.endpoint, client: c, timeout: o.timeout}, nil
}

// Name returns "paypal-ipn".
func (p *IPN) Name() string { return IPNName }

func ipnFail(err error, what string) error { return fmt.Errorf("%s: %s: %w", IPNName, what, err) }

// Verify posts the message back to PayPal and accepts it only when PayPal
// answers exactly "VERIFIED". A body that is empty or not a form fails
// before any post-back. Errors match verify.ErrVerification.
func (p *IPN) Verify(r *http.Request, body []byte) error {
	if len(body) == 0 {
		return ipnFail(verify.ErrMissingSignature, "empty message")
	}
	if _, err := url.ParseQuery(string(body)); err != nil {
		return ipnFail(verify.ErrMalformedSignature, "the message is not a form")
	}
	ctx := context.Background()
	if r != nil {
		ctx = r.Context()
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	msg := make([]byte, 0, len("cmd=_notify-validate&")+len(body))
	msg = append(append(msg, "cmd=_notify-validate&"...), body...)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint, bytes.NewReader(msg))
	if err != nil {
		return ipnFail(verify.ErrSignatureMismatch, "post-back request")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "hookwise-paypal-ipn")
	resp, err := p.client.Do(req)
	if err != nil {
		return ipnFail(verify.ErrSignatureMismatch, "post-back failed")
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxIPNAnswer))
	if err != nil {
		return ipnFail(verify.ErrSignatureMismatch, "post-back answer unreadable")
	}
	if resp.StatusCode != http.StatusOK {
		return ipnFail(verify.ErrSignatureMismatch, fmt.Sprintf("post-back status %d", resp.StatusCode))
	}
	if string(answer) != "VERIFIED" {
		return ipnFail(verify.ErrSignatureMismatch, "PayPal did not answer VERIFIED")
	}
	return nil
}

// ipnForm decodes an IPN body, refusing a key given more than once.
func ipnForm(body []byte) (url.Values, error) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("%s: the message is not a form: %w", IPNName, provider.ErrMalformedEnvelope)
	}
	for _, vs := range v {
		if len(vs) > 1 {
			return nil, fmt.Errorf("%s: a key given %d times: %w", IPNName, len(vs), provider.ErrMalformedEnvelope)
		}
	}
	return v, nil
}

// Parse reads the envelope (see IPN). Its errors match
// provider.ErrMalformedEnvelope.
func (p *IPN) Parse(_ *http.Request, body []byte) (provider.Envelope, error) {
	v, err := ipnForm(body)
	if err != nil {
		return provider.Envelope{}, err
	}
	var env provider.Envelope
	switch {
	case v.Get("ipn_track_id") != "":
		env.ID = v.Get("ipn_track_id")
	case v.Get("txn_id") != "":
		env.ID = v.Get("txn_id") + "/" + v.Get("payment_status")
	default:
		return provider.Envelope{}, fmt.Errorf("%s: no ipn_track_id or txn_id: %w", IPNName, provider.ErrMalformedEnvelope)
	}
	switch {
	case v.Get("txn_type") != "":
		env.Type = v.Get("txn_type")
	case v.Get("case_type") != "":
		env.Type = v.Get("case_type")
	default:
		env.Type = "ipn"
	}
	env.Version = v.Get("notify_version")
	if strings.TrimSpace(env.ID) == "" {
		return provider.Envelope{}, fmt.Errorf("%s: blank ID: %w", IPNName, provider.ErrMalformedEnvelope)
	}
	return env, nil
}

// Payload returns the form as a JSON object of strings.
func (p *IPN) Payload(_ http.Header, body []byte) (json.RawMessage, error) {
	v, err := ipnForm(body)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(v))
	for k := range v {
		m[k] = v.Get(k)
	}
	return json.Marshal(m)
}
