package intake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// The providers' published lists.
const (
	// GitHubMetaURL is GitHub's meta endpoint; its "hooks" array holds the
	// CIDR ranges webhook deliveries come from (IPv4 and IPv6).
	GitHubMetaURL = "https://api.github.com/meta"
	// StripeWebhookIPsURL is Stripe's webhook source addresses as JSON:
	// {"WEBHOOKS": ["3.18.12.63", ...]}.
	StripeWebhookIPsURL = "https://stripe.com/files/ips/ips_webhooks.json"
	// StripeWebhookIPsTextURL is the same list as text, one address a line.
	StripeWebhookIPsTextURL = "https://stripe.com/files/ips/ips_webhooks.txt"
)

// DefaultMaxListBytes bounds a list body the loaders read.
const DefaultMaxListBytes = 1 << 20

// maxRedirects bounds the same-host redirects a loader follows.
const maxRedirects = 5

// Errors of the loaders. None carries the body's text.
var (
	// ErrInsecureURL: the URL is not https (see AllowInsecureHTTP) or has no
	// host.
	ErrInsecureURL = errors.New("intake: list URL must be https")
	// ErrRedirect: the server redirected to another host or scheme, or too
	// many times.
	ErrRedirect = errors.New("intake: list redirect refused")
	// ErrFetch: the request failed or the status was not 200.
	ErrFetch = errors.New("intake: list fetch failed")
	// ErrListTooLarge: the body is over its bound (MaxListBytes).
	ErrListTooLarge = errors.New("intake: list body over its bound")
	// ErrListFormat: the body is not the provider's format, or an entry is
	// not an address or prefix.
	ErrListFormat = errors.New("intake: list body malformed")
	// ErrEmptyList: the list parsed but holds no entry; a loader never
	// returns an empty list, so a refresher keeps the last good one.
	ErrEmptyList = errors.New("intake: list is empty")
)

// LoadOption adjusts a loader.
type LoadOption func(*loadOptions)

type loadOptions struct {
	allowHTTP bool
	maxBytes  int64
}

// AllowInsecureHTTP lets a loader fetch an http:// URL (and follow a
// same-host redirect to one). For tests against local servers; a list
// fetched in clear text can be rewritten by anyone on the path.
func AllowInsecureHTTP() LoadOption { return func(o *loadOptions) { o.allowHTTP = true } }

// MaxListBytes bounds the body a loader reads (default
// DefaultMaxListBytes); a longer body fails with ErrListTooLarge.
func MaxListBytes(n int64) LoadOption {
	return func(o *loadOptions) {
		if n > 0 {
			o.maxBytes = n
		}
	}
}

// LoadGitHubMeta fetches GitHub's meta document from rawURL (GitHubMetaURL,
// or a GitHub Enterprise Server's https://HOST/api/v3/meta) and returns its
// "hooks" prefixes. client nil means http.DefaultClient; the deadline is
// ctx's. Errors match ErrInsecureURL, ErrRedirect, ErrFetch,
// ErrListTooLarge, ErrListFormat or ErrEmptyList.
func LoadGitHubMeta(ctx context.Context, client *http.Client, rawURL string, opts ...LoadOption) ([]netip.Prefix, error) {
	body, err := fetchList(ctx, client, rawURL, "application/vnd.github+json", opts)
	if err != nil {
		return nil, err
	}
	return ParseGitHubMeta(body)
}

// ParseGitHubMeta returns the "hooks" prefixes of a GitHub meta document.
// A missing or non-array "hooks" or an entry that is not a prefix or an
// address is ErrListFormat; an empty array is ErrEmptyList.
func ParseGitHubMeta(body []byte) ([]netip.Prefix, error) {
	var doc struct {
		Hooks *[]string `json:"hooks"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object with a hooks array", ErrListFormat)
	}
	if doc.Hooks == nil {
		return nil, fmt.Errorf("%w: no hooks array", ErrListFormat)
	}
	return parseEntries(*doc.Hooks, "hooks")
}

// LoadStripeIPs fetches Stripe's webhook source addresses from rawURL
// (StripeWebhookIPsURL or StripeWebhookIPsTextURL) and returns them as /32
// (or /128) prefixes. client nil means http.DefaultClient; the deadline is
// ctx's. Errors are those of LoadGitHubMeta.
func LoadStripeIPs(ctx context.Context, client *http.Client, rawURL string, opts ...LoadOption) ([]netip.Prefix, error) {
	body, err := fetchList(ctx, client, rawURL, "application/json, text/plain;q=0.9", opts)
	if err != nil {
		return nil, err
	}
	return ParseStripeIPs(body)
}

// ParseStripeIPs parses Stripe's webhook address list in either published
// form: the JSON object {"WEBHOOKS": [...]} (recognised by its leading '{')
// or text with one address a line (blank lines skipped). An entry that is not
// an address or prefix is ErrListFormat; no entry is ErrEmptyList.
func ParseStripeIPs(body []byte) ([]netip.Prefix, error) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var doc struct {
			Webhooks *[]string `json:"WEBHOOKS"`
		}
		if err := json.Unmarshal(trimmed, &doc); err != nil {
			return nil, fmt.Errorf("%w: not a JSON object with a WEBHOOKS array", ErrListFormat)
		}
		if doc.Webhooks == nil {
			return nil, fmt.Errorf("%w: no WEBHOOKS array", ErrListFormat)
		}
		return parseEntries(*doc.Webhooks, "WEBHOOKS")
	}
	var entries []string
	for _, line := range strings.Split(string(body), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			entries = append(entries, line)
		}
	}
	return parseEntries(entries, "line")
}

// parseEntries parses each entry as a prefix or a single address. Errors
// name the entry's position, never its text.
func parseEntries(entries []string, what string) ([]netip.Prefix, error) {
	if len(entries) == 0 {
		return nil, ErrEmptyList
	}
	out := make([]netip.Prefix, 0, len(entries))
	for i, e := range entries {
		p, ok := parseEntry(e)
		if !ok {
			return nil, fmt.Errorf("%w: %s entry %d is not an address or prefix", ErrListFormat, what, i)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseEntry(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p, err == nil && p.Addr().Zone() == ""
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

// fetchList GETs rawURL with the loaders' rules: https only unless allowed,
// redirects only to the same host and scheme class, status 200, body bounded.
func fetchList(ctx context.Context, client *http.Client, rawURL, accept string, opts []LoadOption) ([]byte, error) {
	o := loadOptions{maxBytes: DefaultMaxListBytes}
	for _, opt := range opts {
		opt(&o)
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || !schemeOK(u.Scheme, o.allowHTTP) {
		return nil, ErrInsecureURL
	}
	if client == nil {
		client = http.DefaultClient
	}
	c := *client
	userCheck := client.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return fmt.Errorf("%w: more than %d redirects", ErrRedirect, maxRedirects)
		}
		if !strings.EqualFold(req.URL.Host, via[0].URL.Host) {
			return fmt.Errorf("%w: to another host", ErrRedirect)
		}
		if !schemeOK(req.URL.Scheme, o.allowHTTP) || (via[0].URL.Scheme == "https" && req.URL.Scheme != "https") {
			return fmt.Errorf("%w: to another scheme", ErrRedirect)
		}
		if userCheck != nil {
			return userCheck(req, via)
		}
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "hookwise-intake")
	resp, err := c.Do(req)
	if err != nil {
		if errors.Is(err, ErrRedirect) {
			return nil, fmt.Errorf("%w: %w", ErrFetch, unwrapRedirect(err))
		}
		return nil, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: status %d", ErrFetch, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, o.maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading body: %w", ErrFetch, err)
	}
	if int64(len(body)) > o.maxBytes {
		return nil, ErrListTooLarge
	}
	return body, nil
}

// unwrapRedirect returns the ErrRedirect error inside err, dropping the
// *url.Error around it.
func unwrapRedirect(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func schemeOK(scheme string, allowHTTP bool) bool {
	return scheme == "https" || (allowHTTP && scheme == "http")
}
