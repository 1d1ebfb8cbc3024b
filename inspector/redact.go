package inspector

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/hookwise/hookwise/internal/textcut"
)

// Redacted replaces every value the inspector does not show: signature
// headers, credentials, and payload fields that hold secrets.
const Redacted = "[redacted]"

// SignatureHeaders are the header names of the catalog's providers that
// carry a signature, a credential or a token, redacted by name in addition
// to the general rule (see Options.RedactHeaders). Most of them also match
// the rule; the list keeps those that would not (PAYPAL-TRANSMISSION-SIG)
// and documents the rest.
var SignatureHeaders = []string{
	"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie",
	"X-Hub-Signature", "X-Hub-Signature-256", // GitHub, Bitbucket, Jira, Intercom, Meta
	"Stripe-Signature", "X-Slack-Signature",
	"Webhook-Signature", "Svix-Signature", // Standard Webhooks, Brex, Clerk, Resend, GitLab signed
	"Calendly-Webhook-Signature", "X-CC-Webhook-Signature", "X-Signature-Ed25519",
	"X-Dropbox-Signature", "X-Gitea-Signature", "X-Forgejo-Signature", "X-Gogs-Signature",
	"X-Gitlab-Token", "X-HubSpot-Signature", "X-HubSpot-Signature-v3", "X-Signature",
	"Linear-Signature", "Paddle-Signature", "PAYPAL-TRANSMISSION-SIG", "X-Razorpay-Signature",
	"X-Twilio-Email-Event-Webhook-Signature", "Sentry-Hook-Signature",
	"X-Shopify-Hmac-Sha256", "Shopify-Hmac-Sha256", "X-Square-Hmacsha256-Signature",
	"X-Twilio-Signature", "Twitch-Eventsub-Message-Signature", "Typeform-Signature",
	"X-Vercel-Signature", "X-Zm-Signature", "X-Okta-Verification-Challenge",
	"X-Api-Key", "X-Auth-Token", "X-Csrf-Token", "X-Xsrf-Token",
}

// headerWords are the parts of a header or query parameter name that make
// its value redacted wherever they appear in the name.
var headerWords = []string{
	"signature", "token", "auth", "secret", "key", "hmac", "password", "passwd",
	"cookie", "credential", "session", "csrf", "xsrf", "verification", "clientstate",
}

// fieldWords are the parts of a JSON or form field name that make its value
// redacted. Narrower than headerWords: payload fields named "author" or
// "keywords" are ordinary data.
var fieldWords = []string{
	"secret", "password", "passwd", "token", "signature", "clientstate", "apikey",
	"privatekey", "authorization", "credential", "cookie", "sessionid", "verifysign",
}

// redactor decides which names are redacted.
type redactor struct {
	headers map[string]bool // canonical header names, exact
	fields  map[string]bool // normalized field names, exact
}

func newRedactor(extraHeaders, extraFields []string) *redactor {
	r := &redactor{headers: make(map[string]bool), fields: make(map[string]bool)}
	for _, h := range SignatureHeaders {
		r.headers[http.CanonicalHeaderKey(h)] = true
	}
	for _, h := range extraHeaders {
		r.headers[http.CanonicalHeaderKey(h)] = true
	}
	for _, f := range extraFields {
		r.fields[normalize(f)] = true
	}
	return r
}

// normalize lower-cases name and drops separators, so that "client_state",
// "clientState" and "Client-State" compare equal.
func normalize(name string) string { return string(appendNormalized(nil, name)) }

func appendNormalized[S ~string | ~[]byte](dst []byte, name S) []byte {
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z':
			dst = append(dst, c+'a'-'A')
		case c == '-' || c == '_' || c == '.' || c == ' ':
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// header reports whether the value of header name is redacted: a name in
// SignatureHeaders or Options.RedactHeaders, a name containing one of
// headerWords, or one with a part "sig".
func (r *redactor) header(name string) bool {
	if r.headers[http.CanonicalHeaderKey(name)] {
		return true
	}
	if containsAny(normalize(name), headerWords) {
		return true
	}
	for _, part := range strings.FieldsFunc(strings.ToLower(name), func(c rune) bool { return c == '-' || c == '_' || c == '.' }) {
		if part == "sig" || part == "sign" {
			return true
		}
	}
	return false
}

// field reports whether the value of a payload field is redacted.
func (r *redactor) field(name string) bool { return r.fieldBytes([]byte(name)) }

// fieldBytes is field without allocating for names up to 64 bytes.
func (r *redactor) fieldBytes(name []byte) bool {
	var buf [64]byte
	n := appendNormalized(buf[:0], name)
	if r.fields[string(n)] {
		return true
	}
	for _, w := range fieldWords {
		if bytes.Contains(n, []byte(w)) {
			return true
		}
	}
	return false
}

// Bounds of the headers kept with an entry.
const (
	maxHeaders         = 64
	maxHeaderNameBytes = 128
	maxHeaderValBytes  = 512
	maxQueryBytes      = 2048
	maxPathBytes       = 512
)

// headerLine is one header as shown: its value, or Redacted.
type headerLine struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Redacted bool   `json:"redacted,omitempty"`
}

// renderHeaders renders h with sensitive values redacted, sorted by name,
// at most maxHeaders lines, each name and value cut to its bound; never nil
// (the page gets [], not null). It reports how many values were left out.
func (r *redactor) renderHeaders(h http.Header) (lines []headerLine, omitted int) {
	lines = []headerLine{}
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range h[k] {
			if len(lines) == maxHeaders {
				omitted++
				continue
			}
			line := headerLine{Name: textcut.Cut(k, maxHeaderNameBytes)}
			if r.header(k) {
				line.Value, line.Redacted = Redacted, true
			} else {
				line.Value = textcut.Cut(v, maxHeaderValBytes)
			}
			lines = append(lines, line)
		}
	}
	return lines, omitted
}

// query renders a raw query string with sensitive parameters redacted
// (Microsoft Graph's validationToken, Meta's hub.verify_token), in the
// order given, cut to maxQueryBytes.
func (r *redactor) query(raw string) string {
	if raw == "" {
		return ""
	}
	var b strings.Builder
	for i, pair := range strings.Split(textcut.Cut(raw, maxQueryBytes), "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		k, v, hasValue := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		b.WriteString(k)
		if !hasValue {
			continue
		}
		b.WriteByte('=')
		if r.header(name) {
			b.WriteString(Redacted)
		} else {
			b.WriteString(v)
		}
	}
	return b.String()
}

// Payload kinds.
const (
	kindNone   = "none"
	kindJSON   = "json"
	kindForm   = "form"
	kindOpaque = "opaque"
)

// rendered is a payload as shown.
type rendered struct {
	Text      string
	Kind      string
	Truncated bool
}

// renderPayload renders doc for display, at most limit bytes of text, with
// sensitive fields redacted: JSON pretty-printed, a form one field a line;
// anything else is not shown (it could hold secrets the inspector cannot
// find). The work done is bounded by 4×limit bytes of input, whatever
// len(doc).
func (r *redactor) renderPayload(doc []byte, contentType string, limit int) rendered {
	if len(bytes.TrimSpace(doc)) == 0 {
		return rendered{Kind: kindNone}
	}
	maxInput := int64(4 * limit)
	if text, truncated, ok := r.renderJSON(doc, limit, maxInput); ok {
		return rendered{Text: text, Kind: kindJSON, Truncated: truncated}
	}
	if ct := strings.ToLower(contentType); strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		text, truncated := r.renderForm(doc, limit, maxInput)
		return rendered{Text: text, Kind: kindForm, Truncated: truncated}
	}
	return rendered{Text: "(" + strconv.Itoa(len(doc)) + " bytes, neither JSON nor a form: not shown)", Kind: kindOpaque}
}

// errBound stops rendering at a bound.
var errBound = errors.New("inspector: bound reached")

// maxDepth bounds the nesting of a JSON document the inspector renders.
const maxDepth = 256

// jsonRenderer re-writes a JSON document indented, in one pass over its
// bytes, with the values of sensitive fields replaced by Redacted, stopping
// at its output and input bounds. Strings and numbers are copied as sent
// (escapes included); keys are decoded to be matched.
type jsonRenderer struct {
	r        *redactor
	in       []byte
	pos      int
	out      []byte
	limit    int
	maxInput int
}

var (
	errSyntax   = errors.New("inspector: invalid JSON")
	errTooDeep  = errors.New("inspector: JSON nested too deep")
	errTrailing = errors.New("inspector: data after the JSON value")
)

// renderJSON reports ok false when doc does not start as JSON (nothing
// rendered). A document invalid further on is shown up to the error, with
// a note.
func (r *redactor) renderJSON(doc []byte, limit int, maxInput int64) (text string, truncated, ok bool) {
	j := &jsonRenderer{r: r, in: doc, limit: limit, maxInput: int(min(maxInput, int64(len(doc))))}
	j.out = make([]byte, 0, min(limit+64, 2*len(doc)+64))
	j.ws()
	err := j.value(0, true)
	if err == nil {
		j.ws()
		if j.pos < len(j.in) {
			err = errTrailing
		}
	}
	switch {
	case err == nil:
		return j.text(), false, true
	case errors.Is(err, errBound):
		return j.text() + "\n… (truncated)", true, true
	case len(j.out) == 0:
		return "", false, false
	default:
		return j.text() + "\n… (not valid JSON beyond this point)", false, true
	}
}

// text returns the output within the limit, on a rune boundary, as valid
// UTF-8.
func (j *jsonRenderer) text() string {
	s := string(j.out)
	if len(s) > j.limit {
		s = textcut.Cut(s, j.limit)
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func (j *jsonRenderer) ws() {
	for j.pos < len(j.in) {
		switch j.in[j.pos] {
		case ' ', '\t', '\n', '\r':
			j.pos++
		default:
			return
		}
	}
}

func (j *jsonRenderer) newline(depth int) {
	j.out = append(j.out, '\n')
	for range depth {
		j.out = append(j.out, ' ', ' ')
	}
}

// value renders (emit) or skips one value at the position.
func (j *jsonRenderer) value(depth int, emit bool) error {
	if emit && len(j.out) > j.limit || j.pos > j.maxInput {
		return errBound
	}
	if depth > maxDepth {
		return errTooDeep
	}
	if j.pos >= len(j.in) {
		return errSyntax
	}
	switch c := j.in[j.pos]; {
	case c == '{':
		return j.object(depth, emit)
	case c == '[':
		return j.array(depth, emit)
	case c == '"':
		raw, err := j.str()
		if err != nil {
			return err
		}
		if emit {
			j.emitRaw(raw)
		}
		return nil
	case c == '-' || c >= '0' && c <= '9':
		start := j.pos
		if !j.number() {
			return errSyntax
		}
		if emit {
			j.emitRaw(j.in[start:j.pos])
		}
		return nil
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(j.in[j.pos:], []byte(lit)) {
				j.pos += len(lit)
				if emit {
					j.out = append(j.out, lit...)
				}
				return nil
			}
		}
		return errSyntax
	}
}

// number consumes a number as RFC 8259 spells it.
func (j *jsonRenderer) number() bool {
	digits := func() int {
		n := 0
		for j.pos < len(j.in) && j.in[j.pos] >= '0' && j.in[j.pos] <= '9' {
			j.pos++
			n++
		}
		return n
	}
	if j.in[j.pos] == '-' {
		j.pos++
	}
	if j.pos < len(j.in) && j.in[j.pos] == '0' {
		j.pos++
	} else if digits() == 0 {
		return false
	}
	if j.pos < len(j.in) && j.in[j.pos] == '.' {
		j.pos++
		if digits() == 0 {
			return false
		}
	}
	if j.pos < len(j.in) && (j.in[j.pos] == 'e' || j.in[j.pos] == 'E') {
		j.pos++
		if j.pos < len(j.in) && (j.in[j.pos] == '+' || j.in[j.pos] == '-') {
			j.pos++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// emitRaw copies raw, cut to what the output bound leaves.
func (j *jsonRenderer) emitRaw(raw []byte) {
	if room := j.limit + 1 - len(j.out); len(raw) > room {
		raw = raw[:max(room, 0)]
	}
	j.out = append(j.out, raw...)
}

// str consumes a string and returns it raw, quotes included.
func (j *jsonRenderer) str() ([]byte, error) {
	start := j.pos
	j.pos++
	for j.pos < len(j.in) {
		switch c := j.in[j.pos]; {
		case c == '"':
			j.pos++
			return j.in[start:j.pos], nil
		case c == '\\':
			if j.pos+1 >= len(j.in) {
				return nil, errSyntax
			}
			switch j.in[j.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j.pos += 2
			case 'u':
				if j.pos+6 > len(j.in) {
					return nil, errSyntax
				}
				for _, h := range j.in[j.pos+2 : j.pos+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return nil, errSyntax
					}
				}
				j.pos += 6
			default:
				return nil, errSyntax
			}
		case c < 0x20:
			return nil, errSyntax
		default:
			j.pos++
		}
	}
	return nil, errSyntax
}

func (j *jsonRenderer) object(depth int, emit bool) error {
	j.pos++ // {
	if emit {
		j.out = append(j.out, '{')
	}
	j.ws()
	if j.pos < len(j.in) && j.in[j.pos] == '}' {
		j.pos++
		if emit {
			j.out = append(j.out, '}')
		}
		return nil
	}
	for n := 0; ; n++ {
		if emit && len(j.out) > j.limit || j.pos > j.maxInput {
			return errBound
		}
		if j.pos >= len(j.in) || j.in[j.pos] != '"' {
			return errSyntax
		}
		raw, err := j.str()
		if err != nil {
			return err
		}
		j.ws()
		if j.pos >= len(j.in) || j.in[j.pos] != ':' {
			return errSyntax
		}
		j.pos++
		j.ws()
		secret := j.r.fieldBytes(decodeKey(raw))
		if emit {
			if n > 0 {
				j.out = append(j.out, ',')
			}
			j.newline(depth + 1)
			j.emitRaw(raw)
			j.out = append(j.out, ':', ' ')
			if secret {
				j.out = append(j.out, `"`+Redacted+`"`...)
			}
		}
		if err := j.value(depth+1, emit && !secret); err != nil {
			return err
		}
		j.ws()
		if j.pos >= len(j.in) {
			return errSyntax
		}
		switch j.in[j.pos] {
		case ',':
			j.pos++
			j.ws()
		case '}':
			j.pos++
			if emit {
				j.newline(depth)
				j.out = append(j.out, '}')
			}
			return nil
		default:
			return errSyntax
		}
	}
}

func (j *jsonRenderer) array(depth int, emit bool) error {
	j.pos++ // [
	if emit {
		j.out = append(j.out, '[')
	}
	j.ws()
	if j.pos < len(j.in) && j.in[j.pos] == ']' {
		j.pos++
		if emit {
			j.out = append(j.out, ']')
		}
		return nil
	}
	for n := 0; ; n++ {
		if emit {
			if n > 0 {
				j.out = append(j.out, ',')
			}
			j.newline(depth + 1)
		}
		if err := j.value(depth+1, emit); err != nil {
			return err
		}
		j.ws()
		if j.pos >= len(j.in) {
			return errSyntax
		}
		switch j.in[j.pos] {
		case ',':
			j.pos++
			j.ws()
		case ']':
			j.pos++
			if emit {
				j.newline(depth)
				j.out = append(j.out, ']')
			}
			return nil
		default:
			return errSyntax
		}
	}
}

// decodeKey returns a raw JSON string's value, as encoding/json decodes it
// (escapes resolved), so that "\u0074oken" is matched as "token".
func decodeKey(raw []byte) []byte {
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1]
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return raw
	}
	return []byte(s)
}

// renderForm renders a form body one "name: value" line per field, in the
// order sent, sensitive values redacted (Slack's token, PayPal IPN's
// verify_sign), a value that is JSON (Slack's payload) rendered as JSON.
func (r *redactor) renderForm(doc []byte, limit int, maxInput int64) (string, bool) {
	truncated := false
	if int64(len(doc)) > maxInput {
		doc, truncated = doc[:maxInput], true
	}
	var b strings.Builder
	for _, pair := range strings.Split(string(doc), "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			value = v
		}
		b.WriteString(name)
		b.WriteString(": ")
		switch {
		case r.field(name):
			b.WriteString(Redacted)
		case strings.HasPrefix(strings.TrimSpace(value), "{") || strings.HasPrefix(strings.TrimSpace(value), "["):
			if text, _, ok := r.renderJSON([]byte(value), limit, maxInput); ok {
				b.WriteString(text)
			} else {
				b.WriteString(value)
			}
		default:
			b.WriteString(value)
		}
		b.WriteByte('\n')
		if b.Len() > limit {
			truncated = true
			break
		}
	}
	s := b.String()
	if truncated {
		return textcut.Cut(s, limit) + "\n… (truncated)", true
	}
	return s, false
}
