package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers"
	"github.com/hookwise/hookwise/verify"
)

const verifyHelp = `usage: hookwise verify PROVIDER -secret S (-request FILE | -headers FILE -body FILE)

Verifies a captured delivery with the secret as the receiver would, at the
time of verification (-now), and, when it fails, tries what commonly goes
wrong and names the likely cause: the wrong secret or the wrong kind of
secret (an API key; a missing or extra whsec_ prefix; base64 against raw),
a hex signature where base64 is expected or the reverse, clock skew (with
the measured offset), a body changed on the way (re-serialized JSON, a
trailing newline, a charset conversion, line endings), a different URL
(behind a proxy, for providers that sign the URL), a missing header, or
headers from another provider. The secret is never printed.

-request FILE is a raw HTTP request (as saved by a proxy, by nc, or by
"hookwise sign -format http"); -headers FILE holds "Name: value" lines
(optionally after the request line) and -body FILE the raw body. Files are
limited to 16 MiB.

Exit codes: 0 verified (and the envelope reads); 1 not verified; 2 usage;
3 unreadable capture; 4 verified, but a receiver would refuse the envelope
(400).

flags:
`

// verifyOptions are verify's flags.
type verifyOptions struct {
	secret, request, headers, body, url, now string
	params                                   multi
	json                                     bool
}

// finding is one diagnosis: a stable code and a sentence.
type finding struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// verdict is verify's result.
type verdict struct {
	Provider string    `json:"provider"`
	Verified bool      `json:"verified"`
	Error    string    `json:"error,omitempty"` // the verification error, as the receiver would log it
	ID       string    `json:"id,omitempty"`
	Type     string    `json:"type,omitempty"`
	Envelope string    `json:"envelope_error,omitempty"`
	Causes   []finding `json:"causes,omitempty"`
	Notes    []string  `json:"notes,omitempty"`
	// Checks and CheckedBytes count the verifications the diagnosis ran
	// (bounded by maxChecks and maxCheckedBytes).
	Checks       int `json:"checks,omitempty"`
	CheckedBytes int `json:"checked_bytes,omitempty"`
}

func cmdVerify(_ context.Context, args []string, e *env) error {
	fs := newFlagSet("verify", verifyHelp, e)
	var o verifyOptions
	fs.StringVar(&o.secret, "secret", "", "the receiving side's secret (public key or certificate for Discord, SendGrid, PayPal; @FILE reads a file)")
	fs.StringVar(&o.request, "request", "", "a raw HTTP request file (- for standard input)")
	fs.StringVar(&o.headers, "headers", "", "a file of request headers")
	fs.StringVar(&o.body, "body", "", "a file holding the raw body")
	fs.StringVar(&o.url, "url", "", "the public URL the sender posted to, for providers that sign it (Twilio, Square, HubSpot)")
	fs.StringVar(&o.now, "now", "", "verify at this time (RFC 3339, or a Unix time) instead of now")
	fs.Var(&o.params, "param", "key=value: a provider parameter of the catalog (repeatable)")
	fs.BoolVar(&o.json, "json", false, "print the verdict as JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return exitWith(exitUsage, errors.New("verify: name one provider"))
	}
	name, err := canonicalName(pos[0])
	if err != nil {
		return err
	}
	if (o.request == "") == (o.headers == "" && o.body == "") || (o.request == "" && (o.headers == "" || o.body == "")) {
		return exitWith(exitUsage, errors.New("verify: give -request FILE, or -headers FILE and -body FILE"))
	}
	s := schemes[name]
	secret := ""
	if !s.noSecret {
		if o.secret == "" {
			return exitWith(exitUsage, errors.New("verify: -secret is required"))
		}
		if secret, err = readSecret(o.secret, e.readFile); err != nil {
			return err
		}
	}
	params, err := parseParams(o.params)
	if err != nil {
		return err
	}
	now := e.now()
	if o.now != "" {
		if now, err = parseTime(o.now); err != nil {
			return exitWith(exitUsage, errors.New("verify: -now wants RFC 3339 or a Unix time"))
		}
	}
	c, capturedAt, err := readCapture(o, e)
	if err != nil {
		return err
	}
	v := diagnose(diagnosis{name: name, secret: secret, params: s.mergedParams(params), url: o.url, now: now, capturedAt: capturedAt, cap: c})
	if o.json {
		b, _ := json.MarshalIndent(v, "", "  ")
		fmt.Fprintln(e.stdout, string(b))
	} else {
		printVerdict(e.stdout, v)
	}
	switch {
	case !v.Verified:
		return exitWith(exitNegative, nil)
	case v.Envelope != "":
		return exitWith(exitEnvelope, nil)
	}
	return nil
}

func readCapture(o verifyOptions, e *env) (*capture, time.Time, error) {
	var at time.Time
	stamp := func(path string) {
		if path != "-" && e.stat != nil {
			if fi, err := e.stat(path); err == nil {
				at = fi.ModTime()
			}
		}
	}
	read := func(path string) ([]byte, error) {
		b, err := e.readFile(path)
		if err != nil {
			return nil, exitWith(exitIO, fmt.Errorf("verify: %w", err))
		}
		return b, nil
	}
	if o.request != "" {
		data, err := read(o.request)
		if err != nil {
			return nil, at, err
		}
		stamp(o.request)
		c, err := parseRequest(data)
		if err != nil {
			return nil, at, exitWith(exitIO, fmt.Errorf("verify: %w", err))
		}
		return c, at, nil
	}
	hdr, err := read(o.headers)
	if err != nil {
		return nil, at, err
	}
	body, err := read(o.body)
	if err != nil {
		return nil, at, err
	}
	stamp(o.body)
	c, err := parseHeaders(hdr, body)
	if err != nil {
		return nil, at, exitWith(exitIO, fmt.Errorf("verify: %w", err))
	}
	return c, at, nil
}

func printVerdict(w io.Writer, v verdict) {
	switch {
	case v.Verified && v.Envelope == "":
		fmt.Fprintf(w, "verified: a %s delivery, event %s, type %s\n", v.Provider, v.ID, v.Type)
	case v.Verified:
		fmt.Fprintf(w, "verified, but a receiver would refuse it (400): %s\n", v.Envelope)
	default:
		fmt.Fprintf(w, "NOT verified as %s: %s\n", v.Provider, v.Error)
	}
	for i, c := range v.Causes {
		label := "likely cause"
		if i > 0 {
			label = "also"
		}
		fmt.Fprintf(w, "%s [%s]: %s\n", label, c.Code, c.Message)
	}
	for _, n := range v.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

// parseTime reads RFC 3339 or Unix seconds.
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	var sec int64
	if _, err := fmt.Sscanf(s, "%d", &sec); err == nil && fmt.Sprint(sec) == s {
		return time.Unix(sec, 0), nil
	}
	return time.Time{}, errors.New("bad time")
}

// diagnosis is one verify run's input.
type diagnosis struct {
	name, secret string
	params       map[string]string
	url          string
	now          time.Time
	capturedAt   time.Time // when the capture was written, if known
	cap          *capture
}

// build returns the provider as the receiver would run it, with the given
// secret, public URL and clock.
func (d diagnosis) build(name, secret, url string, now time.Time) (provider.Provider, error) {
	c := receiverConfig(name, secret, d.params, url)
	if name != d.name {
		c = receiverConfig(name, secret, schemes[name].mergedParams(nil), url)
	}
	c.Now = func() time.Time { return now }
	return providers.New(name, c)
}

// check verifies r and body with a provider built from the other inputs.
func (d diagnosis) check(name, secret, url string, now time.Time, r *http.Request, body []byte) (provider.Provider, error) {
	p, err := d.build(name, secret, url, now)
	if err != nil {
		return nil, err
	}
	return p, p.Verify(r.Clone(context.Background()), body)
}

// diagnose verifies the capture and, when it fails, finds the likely cause.
func diagnose(d diagnosis) verdict {
	v := verdict{Provider: d.name, Notes: d.cap.notes}
	r, err := d.cap.request()
	if err != nil {
		v.Error = err.Error()
		return v
	}
	p, err := d.check(d.name, d.secret, d.url, d.now, r, d.cap.body)
	if p == nil {
		// The secret (or a parameter) is refused outright: another form of
		// the secret may be accepted and verify.
		v.Error = "the provider refuses this configuration: " + redact(err, d.secret)
		if f := missingHeaders(d, r); len(f) > 0 {
			v.Causes = f
			return v
		}
		f, n, b := search(d, r, nil)
		v.Checks, v.CheckedBytes = n, b
		if len(f) > 0 {
			v.Causes = f
			return v
		}
		v.Causes = secretKind(d.name, d.secret)
		if len(v.Causes) == 0 {
			v.Causes = []finding{{"config", "the provider refuses the configuration: " + redact(err, d.secret) +
				" (see the provider's package documentation for the form of its secret and parameters)"}}
		}
		return v
	}
	if err == nil {
		v.Verified = true
		env, perr := p.Parse(r, d.cap.body)
		if perr != nil {
			v.Envelope = redact(perr, d.secret)
			return v
		}
		v.ID, v.Type = env.ID, env.Type
		return v
	}
	v.Error = redact(err, d.secret)

	// A signature header missing: the request was not signed by this
	// provider, or a proxy dropped the header.
	if f := missingHeaders(d, r); len(f) > 0 {
		v.Causes = f
		return v
	}
	if d.name == "sns" {
		// The signature covers the message's fields, not its bytes, under a
		// fetched certificate: no secret, body or URL to vary.
		v.Causes = []finding{{"sns", "the SNS message does not verify (" + v.Error + "): its TopicArn must be one of -param topics=ARN,…, its SigningCertURL an SNS host's, reachable from here, and its signed fields unchanged"}}
		return v
	}
	if d.name == "paypal-ipn" {
		// Each verification posts the message back to PayPal: no search.
		v.Causes = []finding{{"ipn-invalid", "PayPal did not answer VERIFIED for this message: it was altered, not sent by PayPal, or posted back to the wrong endpoint (live against sandbox: -param endpoint=…)"}}
		return v
	}
	f, n, b := search(d, r, p)
	v.Checks, v.CheckedBytes = n, b
	if len(f) > 0 {
		v.Causes = f
		return v
	}
	v.Causes = append(secretKind(d.name, d.secret), suspicions(d, r, err)...)
	return v
}

// redact returns err's text with the secret, should it appear, replaced.
func redact(err error, secret string) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if secret != "" && len(secret) >= 4 {
		s = strings.ReplaceAll(s, secret, "[secret]")
	}
	return s
}

// sigHeaders caches signatureHeaders.
var sigHeaders sync.Map // name → []string

// signatureHeaders returns the headers name's signer sets on a request
// with its default parameters, found (once) by signing a sample with its
// development secret.
func signatureHeaders(name string) []string {
	if v, ok := sigHeaders.Load(name); ok {
		return v.([]string)
	}
	hs := findSignatureHeaders(name, schemes[name].mergedParams(nil))
	sigHeaders.Store(name, hs)
	return hs
}

// findSignatureHeaders returns the headers name's signer sets with params.
func findSignatureHeaders(name string, params map[string]string) []string {
	s := schemes[name]
	if s.noSecret && name != "sns" {
		return nil
	}
	r, _ := http.NewRequest(http.MethodPost, "https://example.com/hook", http.NoBody)
	r.Header.Set("Webhook-Id", "msg_1")
	r.Header.Set("Svix-Id", "")
	r.Header.Set("Twitch-Eventsub-Message-Id", "m1")
	before := map[string]bool{}
	for k := range r.Header {
		before[k] = true
	}
	body := []byte(`{"id":"evt_1","type":"t","value":[{}],"MessageId":"m","Type":"Notification","TopicArn":"arn:aws:sns:us-east-1:1:t","Message":"m","Timestamp":"2024-01-01T00:00:00.000Z"}`)
	if _, err := signRequest(name, r, body, s.dev, time.Now(), params); err != nil {
		return nil
	}
	var out []string
	for k := range r.Header {
		if !before[k] && k != "X-Github-Delivery" {
			out = append(out, k)
		}
	}
	return out
}

func missingHeaders(d diagnosis, r *http.Request) []finding {
	want := findSignatureHeaders(d.name, d.params) // with the parameters given (a generic scheme's header)
	if len(want) == 0 {
		return nil
	}
	var missing []string
	for _, h := range want {
		if r.Header.Get(h) == "" {
			missing = append(missing, h)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var out []finding
	if len(missing) == len(want) {
		// None of ours: whose are these? The providers whose signature
		// headers the request carries, those it verifies as first.
		type cand struct {
			name     string
			headers  []string
			verifies bool
		}
		var cands []cand
		for _, other := range sortedSchemeNames() {
			if other == d.name || (d.name == "standard" && (other == "clerk" || other == "resend" || other == "brex")) {
				continue
			}
			theirs := signatureHeaders(other)
			if len(theirs) == 0 || !hasAll(r.Header, theirs) || sameSet(theirs, want) {
				continue
			}
			_, err := d.check(other, d.secret, d.url, d.now, r, d.cap.body)
			cands = append(cands, cand{other, theirs, err == nil})
		}
		best := 0
		for _, c := range cands {
			score := len(c.headers)
			if c.verifies {
				score += 100
			}
			best = max(best, score)
		}
		for _, c := range cands {
			score := len(c.headers)
			if c.verifies {
				score += 100
			}
			if score < best {
				continue
			}
			msg := fmt.Sprintf("the request carries %s, which %s sends, and none of %s's signature headers (%s): it looks like a delivery from %s, sent to the %s endpoint or verified with the wrong provider",
				strings.Join(sortedStrings(c.headers), ", "), c.name, d.name, strings.Join(sortedStrings(want), ", "), c.name, d.name)
			if c.verifies {
				msg += fmt.Sprintf("; it verifies as %s with this secret", c.name)
			}
			out = append(out, finding{"other-provider", msg})
		}
	}
	out = append(out, finding{"missing-header", fmt.Sprintf("the request has no %s header: %s signs every delivery with it. A proxy or load balancer may strip it, or the request did not come from %s",
		strings.Join(sortedStrings(missing), ", "), d.name, d.name)})
	return out
}

func hasAll(h http.Header, names []string) bool {
	for _, n := range names {
		if h.Get(n) == "" {
			return false
		}
	}
	return true
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		found := false
		for _, y := range b {
			if strings.EqualFold(x, y) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// suspicions are the findings when no variation verifies: the wrong
// secret, most likely, and what the capture itself suggests.
func suspicions(d diagnosis, r *http.Request, err error) []finding {
	var out []finding
	switch {
	case errors.Is(err, verify.ErrTimestampOutsideWindow):
		out = append(out, finding{"clock-skew", "the signed timestamp is outside the provider's window, and no clock verifies it with this secret either: the secret is wrong too, or the timestamp was altered"})
	case errors.Is(err, verify.ErrMalformedSignature), errors.Is(err, verify.ErrMalformedTimestamp):
		out = append(out, finding{"malformed-header", "a signature or timestamp header is malformed (" + redact(err, d.secret) + "): it was altered on the way, or the request was not signed by " + d.name})
	}
	out = append(out, finding{"wrong-secret", "the signature does not match with this secret, and no common alteration of the body, the URL, the clock or the secret's form makes it match: the secret is most likely not the one this endpoint's deliveries are signed with (another endpoint's, another environment's such as test against live, or a rotated one)"})
	if looksReserialized(d.cap.body) {
		out = append(out, finding{"body-reserialized", "the body is indented JSON, which providers do not send: it was probably re-serialized on the way, and the original bytes cannot be recovered from it"})
	}
	return out
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func sortedSchemeNames() []string {
	names := make([]string, 0, len(schemes))
	for n := range schemes {
		names = append(names, n)
	}
	return sortedStrings(names)
}
