package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/hookwise/hookwise/providers/fixtures"
)

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ", ") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// parseParams turns "-param key=value" flags into a map.
func parseParams(ps []string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range ps {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%w: -param wants key=value", errUsage)
		}
		out[k] = v
	}
	return out, nil
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name, help string, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), help)
		fs.PrintDefaults()
	}
	return fs
}

// parseInterleaved parses flags given before or after the positional
// arguments ("send stripe -url …" and "send -url … stripe").
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitWith(exitOK, nil)
			}
			return nil, exitWith(exitUsage, nil)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

const sendHelp = `usage: hookwise send PROVIDER -url URL [-secret S] [-type T] [-id ID] [-data FILE | -set path=value …]
       hookwise sign PROVIDER [-url URL] [same flags] [-format curl|http]

Builds a delivery from the provider's bundled fixture for the event type
(or its most common event), sets a fresh event ID (or -id), the time of
sending and every -set, signs it exactly as the provider signs it, and
sends it (send) or prints it (sign). Without -secret, the provider's
development secret is used (the one "hookwise listen PROVIDER" and the
quickstart accept). Reuse an -id to send a duplicate.

-set path=value: a dotted path into the JSON body ("data.object.amount_paid",
"items[0].id"; a backslash escapes a dot in a key), or a form field's name;
the value is JSON when it parses as JSON (2000, true, null, {"a":1},
"\"quoted\""), else a string.

flags:
`

// sendOptions are the flags of send and sign.
type sendOptions struct {
	url, secret, typ, id, data, format string
	sets, params, headers              multi
}

func cmdSend(ctx context.Context, args []string, e *env, signOnly bool) error {
	name := "send"
	if signOnly {
		name = "sign"
	}
	fs := newFlagSet(name, sendHelp, e)
	var o sendOptions
	fs.StringVar(&o.url, "url", "", "the receiver's URL (required for send; sign: the URL signed, where the provider signs one)")
	fs.StringVar(&o.secret, "secret", "", "the signing secret or private key (@FILE reads it from a file); default: the provider's development secret")
	fs.StringVar(&o.typ, "type", "", "the event type (default: the provider's most common event)")
	fs.StringVar(&o.id, "id", "", "the event ID (default: a fresh one); reuse one to send a duplicate")
	fs.StringVar(&o.data, "data", "", "send this file's bytes as the body, unchanged (- for standard input)")
	fs.Var(&o.sets, "set", "path=value: set a body field (repeatable)")
	fs.Var(&o.params, "param", "key=value: a provider parameter of the catalog (repeatable; see docs/cli.md)")
	fs.Var(&o.headers, "header", "\"Name: value\": an extra request header (repeatable)")
	if signOnly {
		fs.StringVar(&o.format, "format", "curl", "curl (a curl command) or http (a raw HTTP request, as verify -request reads)")
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return exitWith(exitUsage, errors.New(name+": name one provider"))
	}
	if !signOnly && o.url == "" {
		return exitWith(exitUsage, errors.New("send: -url is required"))
	}
	if o.data != "" && len(o.sets) > 0 {
		return exitWith(exitUsage, errors.New(name+": -data and -set exclude each other"))
	}
	if signOnly && o.format != "curl" && o.format != "http" {
		return exitWith(exitUsage, errors.New("sign: -format is curl or http"))
	}
	req, body, summary, err := buildDelivery(pos[0], o, e)
	if err != nil {
		return err
	}
	if signOnly {
		if o.format == "http" {
			return writeRaw(e.stdout, req, body)
		}
		return writeCurl(e.stdout, req, body)
	}
	req = req.WithContext(ctx)
	resp, err := e.client.Do(req)
	if err != nil {
		return exitWith(exitIO, fmt.Errorf("send: %w", err))
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	fmt.Fprintf(e.stdout, "%s -> %s\n", summary, resp.Status)
	if a := strings.TrimSpace(string(answer)); a != "" {
		fmt.Fprintln(e.stdout, a)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return exitWith(exitNegative, nil)
	}
	return nil
}

// buildDelivery returns the signed request, its body and a one-line
// summary ("stripe invoice.paid id=evt_… POST http://…").
func buildDelivery(provider string, o sendOptions, e *env) (*http.Request, []byte, string, error) {
	name, err := canonicalName(provider)
	if err != nil {
		return nil, nil, "", err
	}
	s := schemes[name]
	params, err := parseParams(o.params)
	if err != nil {
		return nil, nil, "", err
	}
	params = s.mergedParams(params)
	secret := s.dev
	if o.secret != "" {
		if secret, err = readSecret(o.secret, e.readFile); err != nil {
			return nil, nil, "", err
		}
	} else if !s.noSecret || name == "sns" {
		fmt.Fprintf(e.stderr, "hookwise: no -secret: signing with %s's development secret\n", name)
	}
	fx := fixtures.For(name)
	if len(fx) == 0 {
		return nil, nil, "", fmt.Errorf("%w: no fixture for %s", errUsage, name)
	}
	f := fx[0]
	if o.typ != "" {
		if g, ok := fixtures.Find(name, o.typ); ok {
			f = g
		}
	}
	var sets []fixtures.Set
	for _, a := range o.sets {
		st, err := fixtures.ParseSet(a)
		if err != nil {
			return nil, nil, "", fmt.Errorf("%w: -set: %w", errUsage, err)
		}
		sets = append(sets, st)
	}
	now := e.now()
	d, err := f.Build(fixtures.Options{ID: o.id, Type: o.typ, Now: now, Set: sets})
	if err != nil {
		return nil, nil, "", fmt.Errorf("%w: %w", errUsage, err)
	}
	if o.data != "" {
		b, err := e.readFile(o.data)
		if err != nil {
			return nil, nil, "", exitWith(exitIO, fmt.Errorf("-data: %w", err))
		}
		d.Body = b
	}
	target := o.url
	if target == "" {
		target = "http://127.0.0.1:8080/webhooks/" + name
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, "", fmt.Errorf("%w: -url wants an http or https URL", errUsage)
	}
	req, err := http.NewRequest(http.MethodPost, target, nil)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%w: -url: %w", errUsage, err)
	}
	req.Header = d.Header
	for _, hv := range o.headers {
		k, v, ok := strings.Cut(hv, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, nil, "", fmt.Errorf("%w: -header wants \"Name: value\"", errUsage)
		}
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	body, err := signRequest(name, req, d.Body, secret, now, params)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%w: sign: %w", errUsage, err)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	typ := f.Type
	if o.typ != "" {
		typ = o.typ
	}
	summary := name + " " + typ
	if d.ID != "" {
		summary += " id=" + d.ID
	}
	return req, body, summary + " POST " + req.URL.String(), nil
}

// writeCurl prints a curl command that sends the request; the body is
// passed with --data-binary in single quotes, byte for byte.
func writeCurl(w io.Writer, r *http.Request, body []byte) error {
	var b strings.Builder
	fmt.Fprintf(&b, "curl -sS -X POST %s", shellQuote(r.URL.String()))
	for _, k := range sortedKeys(r.Header) {
		for _, v := range r.Header[k] {
			fmt.Fprintf(&b, " \\\n  -H %s", shellQuote(k+": "+v))
		}
	}
	fmt.Fprintf(&b, " \\\n  --data-binary %s\n", shellQuote(string(body)))
	_, err := io.WriteString(w, b.String())
	return err
}

// writeRaw prints the request as HTTP/1.1 text, as verify -request reads.
func writeRaw(w io.Writer, r *http.Request, body []byte) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\n", r.URL.RequestURI(), r.URL.Host)
	for _, k := range sortedKeys(r.Header) {
		for _, v := range r.Header[k] {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
	b.Write(body)
	_, err := w.Write(b.Bytes())
	return err
}

func sortedKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func cmdProviders(e *env) error {
	names := make([]string, 0, len(schemes))
	for n := range schemes {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		var types []string
		for _, f := range fixtures.For(n) {
			types = append(types, f.Type)
		}
		fmt.Fprintf(e.stdout, "%-18s %s\n", n, strings.Join(types, ", "))
	}
	return nil
}
