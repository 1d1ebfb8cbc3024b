package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/verify"
)

// A variant is one alteration of an input of verification, undone: a
// secret in another form, the body as it was before a proxy changed it, the
// URL the sender signed, the clock at the signed time, a signature in its
// other encoding. Index 0 of every dimension is the input as given.
type variant struct {
	code, msg string
	secret    string
	body      []byte
	url       string
	now       time.Time
	header    http.Header
}

// Bounds of one diagnosis: the verifications it runs, the bytes they
// cover together, and the body size up to which the body is re-encoded
// (larger bodies get the cheap variants only).
const (
	maxChecks        = 20000
	maxCheckedBytes  = 1 << 30
	maxVariantedBody = 1 << 20
)

// search tries every variant alone, then pairs, then triples, and returns
// the findings of the first combination that verifies, fewest changes
// first.
// It also returns the verifications it ran and the bytes they covered.
func search(d diagnosis, r *http.Request, p provider.Provider) ([]finding, int, int) {
	dims := [][]variant{
		secretVariants(d),
		bodyVariants(d.cap.body),
		urlVariants(d, r),
		clockVariants(d, r, p),
		headerVariants(r.Header),
	}
	type key struct {
		secret, url string
		now         int64
	}
	built := map[key]provider.Provider{}
	checks, checked := 0, 0
	try := func(pick []int) bool {
		secret, u, now, body, hdr := d.secret, d.url, d.now, d.cap.body, r.Header
		for dim, i := range pick {
			v := dims[dim][i]
			switch dim {
			case 0:
				secret = v.secret
			case 1:
				body = v.body
			case 2:
				u = v.url
			case 3:
				now = v.now
			case 4:
				hdr = v.header
			}
		}
		k := key{secret, u, now.UnixNano()}
		pv, ok := built[k]
		if !ok {
			var err error
			pv, err = d.build(d.name, secret, u, now)
			if err != nil {
				pv = nil
			}
			built[k] = pv
		}
		if pv == nil {
			return false
		}
		checks++
		checked += len(body) + 1024
		rr := r.Clone(r.Context())
		rr.Header = hdr
		return pv.Verify(rr, body) == nil
	}
	pick := make([]int, len(dims))
	var found []int
	var rec func(dim, left int) bool
	rec = func(dim, left int) bool {
		if checks >= maxChecks || checked >= maxCheckedBytes {
			return false
		}
		if dim == len(dims) {
			if left != 0 {
				return false
			}
			if try(pick) {
				found = append([]int(nil), pick...)
				return true
			}
			return false
		}
		pick[dim] = 0
		if rec(dim+1, left) {
			return true
		}
		if left == 0 {
			return false
		}
		for i := 1; i < len(dims[dim]); i++ {
			pick[dim] = i
			if rec(dim+1, left-1) {
				return true
			}
		}
		pick[dim] = 0
		return false
	}
	for changes := 1; changes <= 3; changes++ {
		if rec(0, changes) {
			break
		}
	}
	if found == nil {
		return nil, checks, checked
	}
	var out []finding
	for dim, i := range found {
		if i > 0 {
			v := dims[dim][i]
			out = append(out, finding{v.code, v.msg})
		}
	}
	return out, checks, checked
}

func secretVariants(d diagnosis) []variant {
	s := d.secret
	out := []variant{{secret: s}}
	if s == "" || schemes[d.name].noSecret {
		return out
	}
	add := func(code, msg, v string) {
		if v == "" || v == s {
			return
		}
		for _, o := range out {
			if o.secret == v {
				return
			}
		}
		out = append(out, variant{code: code, msg: msg, secret: v})
	}
	if t := strings.Trim(s, " \t\r\n\"'"); t != s {
		add("secret-whitespace", "the secret carries surrounding whitespace, a newline or quotes (copied from a file or a .env line): remove them", t)
	}
	if schemes[d.name].keys {
		return out
	}
	const prefix = "whsec_"
	if rest, ok := strings.CutPrefix(s, prefix); ok {
		add("whsec-extra", fmt.Sprintf("the secret's whsec_ prefix is not part of the key the sender signs with: %s verifies with the part after whsec_", d.name), rest)
		if k, ok := decodeBase64(rest); ok {
			add("secret-base64", fmt.Sprintf("the sender signs with the decoded key of this whsec_ secret (base64 decoded), where %s uses the secret as text: the sender and %s disagree on the secret's form", d.name, d.name), string(k))
		}
	} else {
		add("whsec-missing", fmt.Sprintf("the secret lacks its whsec_ prefix: %s expects the signing secret exactly as the dashboard shows it, whsec_ included", d.name), prefix+s)
		if k, ok := decodeBase64(s); ok && len(k) >= 8 {
			add("secret-base64", "the secret given is base64: the sender signs with the key it encodes (decode it), or gave you the key base64-encoded where the raw text is expected", string(k))
		}
		enc := base64.StdEncoding.EncodeToString([]byte(s))
		add("secret-raw", "the secret given is the raw key, and the sender uses its base64 encoding as the secret", enc)
		add("secret-raw", fmt.Sprintf("the secret given is the raw key: %s expects it base64-encoded with the whsec_ prefix (whsec_ + base64 of the key)", d.name), prefix+enc)
		if k, err := hex.DecodeString(s); err == nil && len(k) >= 16 {
			add("secret-hex", "the secret given is hex: the sender signs with the bytes it encodes", string(k))
		}
	}
	return out
}

func decodeBase64(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) > 0 {
			return b, true
		}
	}
	return nil, false
}

func bodyVariants(body []byte) []variant {
	out := []variant{{body: body}}
	add := func(code, msg string, b []byte) {
		if b == nil || bytes.Equal(b, body) {
			return
		}
		for _, o := range out {
			if bytes.Equal(o.body, b) {
				return
			}
		}
		out = append(out, variant{code: code, msg: msg, body: b})
	}
	const nl = "the body ends with a newline the sender did not sign: something on the way (a proxy, a logging middleware, an editor saving the capture) appended it. The signature covers the exact bytes: pass the raw body unchanged"
	add("body-trailing-newline", nl, bytes.TrimSuffix(body, []byte("\n")))
	add("body-trailing-newline", nl, bytes.TrimSuffix(body, []byte("\r\n")))
	add("body-trailing-newline", nl, bytes.TrimRight(body, " \t\r\n"))
	if len(body) > maxVariantedBody {
		return out
	}
	add("body-newline-removed", "the sender's body ended with a newline, which was removed on the way (trimmed by a framework or proxy): pass the raw body unchanged", append(bytes.Clone(body), '\n'))
	add("body-line-endings", "the body's line endings were converted on the way (CRLF to LF): pass the raw body unchanged", bytes.ReplaceAll(body, []byte("\n"), []byte("\r\n")))
	add("body-line-endings", "the body's line endings were converted on the way (LF to CRLF): pass the raw body unchanged", bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n")))
	add("body-charset", "the body starts with a byte-order mark the sender did not send: something on the way re-encoded it", bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	const conv = "the body's charset was converted on the way (%s): the signature covers the UTF-8 bytes the sender sent, so read the raw bytes, not decoded text"
	if !utf8.Valid(body) {
		add("body-charset", fmt.Sprintf(conv, "UTF-8 to Latin-1"), latin1ToUTF8(body))
	} else if l, ok := utf8ToLatin1(body); ok {
		add("body-charset", fmt.Sprintf(conv, "Latin-1 read as UTF-8 and re-encoded"), l)
	}
	const reser = "the body was re-serialized on the way (%s): a proxy, a framework or a logging middleware parsed the JSON and wrote it again. The signature covers the exact bytes the sender sent: verify the raw body, before any JSON parsing"
	if json.Valid(body) {
		var c bytes.Buffer
		if json.Compact(&c, body) == nil {
			add("body-reserialized", fmt.Sprintf(reser, "the sender sent it compact; it arrived indented"), c.Bytes())
			for _, ind := range []string{"  ", "    ", "\t"} {
				var b bytes.Buffer
				if json.Indent(&b, c.Bytes(), "", ind) == nil {
					add("body-reserialized", fmt.Sprintf(reser, "the sender sent it indented; it arrived reformatted"), b.Bytes())
				}
			}
			add("body-reserialized", fmt.Sprintf(reser, "the sender sent it with spaces after commas and colons, as Python's json.dumps writes"), pythonStyle(c.Bytes()))
		}
		var doc any
		if json.Unmarshal(body, &doc) == nil {
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			if enc.Encode(doc) == nil {
				add("body-reserialized", fmt.Sprintf(reser, "its keys re-ordered"), bytes.TrimSuffix(b.Bytes(), []byte("\n")))
			}
			if m, err := json.Marshal(doc); err == nil {
				add("body-reserialized", fmt.Sprintf(reser, "its keys re-ordered and <, >, & escaped"), m)
			}
		}
	}
	return out
}

// pythonStyle inserts ", " and ": " separators into compact JSON, outside
// strings.
func pythonStyle(compact []byte) []byte {
	var out []byte
	in := false
	for i := 0; i < len(compact); i++ {
		c := compact[i]
		out = append(out, c)
		switch {
		case in && c == '\\' && i+1 < len(compact):
			i++
			out = append(out, compact[i])
		case c == '"':
			in = !in
		case !in && (c == ',' || c == ':'):
			out = append(out, ' ')
		}
	}
	return out
}

func latin1ToUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/4)
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return out
}

// utf8ToLatin1 returns b's runes as Latin-1 bytes, when b has a non-ASCII
// rune and every rune fits.
func utf8ToLatin1(b []byte) ([]byte, bool) {
	out := make([]byte, 0, len(b))
	wide := false
	for _, r := range string(b) {
		if r > 0xff {
			return nil, false
		}
		if r > 0x7f {
			wide = true
		}
		out = append(out, byte(r))
	}
	return out, wide
}

// urlSigners are the providers whose signature covers the URL.
var urlSigners = map[string]bool{"twilio": true, "square": true, "hubspot": true}

func urlVariants(d diagnosis, r *http.Request) []variant {
	out := []variant{{url: d.url}}
	if !urlSigners[d.name] {
		return out
	}
	arrived := "http://" + r.Host + r.URL.Path
	if r.URL.IsAbs() {
		arrived = r.URL.Scheme + "://" + r.URL.Host + r.URL.Path
	}
	query := ""
	if r.URL.RawQuery != "" {
		query = "?" + r.URL.RawQuery
	}
	h := r.Header
	var bases []string
	host := firstNonEmpty(h.Get("X-Forwarded-Host"), r.Host)
	proto := firstNonEmpty(h.Get("X-Forwarded-Proto"), "https")
	for _, f := range strings.Split(h.Get("Forwarded"), ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		v = strings.Trim(v, `"`)
		switch strings.ToLower(k) {
		case "host":
			host = v
		case "proto":
			proto = v
		}
	}
	host = strings.TrimSpace(strings.Split(host, ",")[0])
	proto = strings.TrimSpace(strings.Split(proto, ",")[0])
	path := r.URL.Path
	if p := firstNonEmpty(h.Get("X-Original-URL"), h.Get("X-Forwarded-Uri"), h.Get("X-Original-Uri")); p != "" {
		if u, err := url.Parse(p); err == nil {
			path = u.Path
		}
	}
	if pre := h.Get("X-Forwarded-Prefix"); pre != "" {
		path = strings.TrimSuffix(pre, "/") + path
	}
	hostNoPort := host
	if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.Contains(host[i:], "]") {
		hostNoPort = host[:i]
	}
	for _, pr := range []string{proto, "https", "http"} {
		for _, hs := range []string{host, hostNoPort, hostNoPort + ":443", r.Host} {
			for _, pa := range []string{path, r.URL.Path, strings.TrimSuffix(path, "/"), path + "/"} {
				if hs != "" && pa != "" {
					bases = append(bases, pr+"://"+hs+pa)
				}
			}
		}
	}
	seen := map[string]bool{d.url: true}
	for _, b := range bases {
		for _, u := range []string{b, b + query} {
			if seen[u] || u == arrived+query && d.url == "" {
				continue
			}
			seen[u] = true
			out = append(out, variant{code: "url-mismatch", url: u, msg: fmt.Sprintf(
				"the signature covers the URL %s, but the request arrived as %s: behind a proxy or load balancer the URL the receiver sees is not the one %s called. Configure the provider with the public URL (providers.Config.URL, %s.WithURL, or verify -url)",
				u, arrived+query, d.name, d.name)})
		}
	}
	return out
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

var (
	reUnix    = regexp.MustCompile(`\b1[0-9]{9}(?:[0-9]{3})?\b`)
	reRFC3339 = regexp.MustCompile(`\b[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})`)
)

// sentAter is the optional provider.Timestamper: the signed time of a
// delivery.
type sentAter interface {
	SentAt(r *http.Request) (time.Time, bool)
}

// clockVariants are the clock set to each time the delivery may have been
// signed at: the provider's own reading when it has one, else the
// timestamps found in the headers and the start of the body.
func clockVariants(d diagnosis, r *http.Request, p provider.Provider) []variant {
	out := []variant{{now: d.now}}
	var cands []time.Time
	if ts, ok := p.(sentAter); ok && p != nil {
		if t, ok := ts.SentAt(r); ok {
			cands = append(cands, t)
		}
	}
	var texts []string
	for _, k := range sortedKeys(r.Header) {
		texts = append(texts, r.Header[k]...)
	}
	head := d.cap.body
	if len(head) > 64<<10 {
		head = head[:64<<10]
	}
	texts = append(texts, string(head))
	for _, s := range texts {
		for _, m := range reUnix.FindAllString(s, 4) {
			n, _ := strconv.ParseInt(m, 10, 64)
			if len(m) == 13 {
				cands = append(cands, time.UnixMilli(n))
			} else {
				cands = append(cands, time.Unix(n, 0))
			}
		}
		for _, m := range reRFC3339.FindAllString(s, 4) {
			if t, err := time.Parse(time.RFC3339Nano, m); err == nil {
				cands = append(cands, t)
			}
		}
		if len(cands) > maxClockCandidates {
			cands = cands[:maxClockCandidates]
			break
		}
	}
	tol := ""
	if tp, ok := p.(interface{ Tolerance() time.Duration }); ok && p != nil && tp.Tolerance() > 0 {
		tol = " (±" + tp.Tolerance().String() + ")"
	}
	seen := map[int64]bool{d.now.UnixNano(): true}
	for _, t := range cands {
		if seen[t.UnixNano()] {
			continue
		}
		seen[t.UnixNano()] = true
		off := d.now.Sub(t)
		dir := "after"
		if off < 0 {
			dir, off = "before", -off
		}
		msg := fmt.Sprintf("clock skew: the delivery was signed at %s, and it is verified %s %s that, outside %s's timestamp window%s. Measured offset: %s.",
			t.UTC().Format(time.RFC3339), off.Round(time.Millisecond), dir, d.name, tol, d.now.Sub(t).Round(time.Millisecond))
		if !d.capturedAt.IsZero() {
			msg += fmt.Sprintf(" The capture was written %s after the signed time (the sender's and the capturing host's clocks differ by about that, if it was saved on arrival).",
				d.capturedAt.Sub(t).Round(time.Millisecond))
		}
		msg += fmt.Sprintf(" If the capture is old, verify it as of then (-now %s); if it failed on arrival, sync the receiver's clock (NTP) or the sender's.", t.UTC().Format(time.RFC3339))
		out = append(out, variant{code: "clock-skew", msg: msg, now: t})
	}
	return out
}

var (
	reHex = regexp.MustCompile(`\b[0-9a-fA-F]{32,128}\b`)
	reB64 = regexp.MustCompile(`[A-Za-z0-9+/_-]{22,}={0,2}`)
)

// maxClockCandidates and maxHeaderVariants bound the clocks and
// re-encoded headers one diagnosis tries.
const (
	maxClockCandidates = 16
	maxHeaderVariants  = 32
)

// headerVariants re-encode each signature-like value of the headers (of
// at most verify.MaxSignatureHeaderBytes): hex to base64, base64 to hex.
func headerVariants(h http.Header) []variant {
	out := []variant{{header: h}}
	for _, k := range sortedKeys(h) {
		for i, v := range h[k] {
			if len(v) > verify.MaxSignatureHeaderBytes || len(out) > maxHeaderVariants {
				continue
			}
			for _, m := range reHex.FindAllStringIndex(v, 4) {
				b, err := hex.DecodeString(v[m[0]:m[1]])
				if err != nil {
					continue
				}
				for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
					nh := h.Clone()
					nh[k][i] = v[:m[0]] + enc.EncodeToString(b) + v[m[1]:]
					out = append(out, variant{code: "encoding-hex", header: nh, msg: fmt.Sprintf(
						"the signature in %s is hex-encoded where base64 is expected: the sender's signer (or a proxy) encodes it differently from the provider's", k)})
				}
			}
			for _, m := range reB64.FindAllStringIndex(v, 4) {
				tok := v[m[0]:m[1]]
				if reHex.MatchString(tok) && len(tok)%2 == 0 {
					continue
				}
				b, ok := decodeBase64(tok)
				if !ok || (len(b) != 20 && len(b) != 32 && len(b) != 48 && len(b) != 64) {
					continue
				}
				nh := h.Clone()
				nh[k][i] = v[:m[0]] + hex.EncodeToString(b) + v[m[1]:]
				out = append(out, variant{code: "encoding-base64", header: nh, msg: fmt.Sprintf(
					"the signature in %s is base64-encoded where hex is expected: the sender's signer (or a proxy) encodes it differently from the provider's", k)})
			}
		}
	}
	return out
}

// apiKeys are forms of credentials that are not webhook signing secrets,
// by provider ("" for every provider): a prefix and what it is.
var apiKeys = []struct{ provider, prefix, what, want string }{
	{"stripe", "sk_live_", "a Stripe secret API key", "the endpoint's signing secret (whsec_…, under Developers → Webhooks)"},
	{"stripe", "sk_test_", "a Stripe secret API key", "the endpoint's signing secret (whsec_…, under Developers → Webhooks)"},
	{"stripe", "rk_", "a Stripe restricted API key", "the endpoint's signing secret (whsec_…)"},
	{"stripe", "pk_", "a Stripe publishable key", "the endpoint's signing secret (whsec_…)"},
	{"clerk", "sk_", "a Clerk secret key", "the endpoint's signing secret (whsec_…)"},
	{"slack", "xox", "a Slack OAuth token", "the app's Signing Secret (Basic Information → App Credentials)"},
	{"slack", "xapp-", "a Slack app-level token", "the app's Signing Secret"},
	{"github", "ghp_", "a GitHub personal access token", "the webhook's secret"},
	{"github", "github_pat_", "a GitHub personal access token", "the webhook's secret"},
	{"github", "ghs_", "a GitHub App installation token", "the webhook's secret"},
	{"sendgrid", "SG.", "a SendGrid API key", "the Event Webhook's verification key"},
	{"shopify", "shpat_", "a Shopify Admin API access token", "the app's client secret"},
	{"shopify", "shpss_", "a Shopify shared secret of a legacy app", "the app's client secret (API secret key)"},
	{"resend", "re_", "a Resend API key", "the webhook's signing secret (whsec_…)"},
	{"linear", "lin_api_", "a Linear API key", "the webhook's signing secret"},
	{"linear", "lin_oauth_", "a Linear OAuth token", "the webhook's signing secret"},
	{"paddle", "pdl_live_apikey_", "a Paddle API key", "the notification destination's secret key (pdl_ntfset_…)"},
	{"paddle", "pdl_sdbx_apikey_", "a Paddle API key", "the notification destination's secret key (pdl_ntfset_…)"},
	{"hubspot", "pat-", "a HubSpot private app access token", "the app's client secret"},
	{"mailgun", "key-", "a Mailgun private API key", "the HTTP webhook signing key (Sending → Webhooks)"},
	{"twilio", "SK", "a Twilio API key SID", "the account's Auth Token"},
	{"twilio", "AC", "a Twilio Account SID", "the account's Auth Token"},
	{"square", "EAAA", "a Square access token", "the webhook subscription's signature key"},
	{"typeform", "tfp_", "a Typeform personal access token", "the webhook's secret"},
	{"", "eyJ", "a JWT (an API or access token)", "the webhook's signing secret"},
}

// secretKind names what the secret looks like when it is not a webhook
// secret. It never quotes the secret.
func secretKind(name, secret string) []finding {
	for _, k := range apiKeys {
		if (k.provider == name || k.provider == "") && strings.HasPrefix(secret, k.prefix) {
			if name == "twilio" && len(secret) != 34 {
				continue
			}
			return []finding{{"api-key", fmt.Sprintf("the secret looks like %s (it starts with %q), not a webhook signing secret: use %s", k.what, k.prefix, k.want)}}
		}
	}
	return nil
}

// looksReserialized reports a body that is indented JSON.
func looksReserialized(body []byte) bool {
	t := bytes.TrimSpace(body)
	return len(t) > 2 && (t[0] == '{' || t[0] == '[') && json.Valid(t) && bytes.Contains(t, []byte("\n  "))
}
