package dlqcmd

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Listed is the JSON form of a dead letter in list and show -json (one
// object a line).
type Listed struct {
	Stream     string              `json:"stream,omitempty"`   // Redis: the stream whose store holds it
	Endpoint   string              `json:"endpoint,omitempty"` // PostgreSQL: the endpoint a replay goes to, when known
	Provider   string              `json:"provider"`
	ID         string              `json:"id"`
	Key        string              `json:"key"`
	Type       string              `json:"type"`
	Target     string              `json:"target,omitempty"` // a fan-out copy's handler
	Version    string              `json:"version,omitempty"`
	Attempts   int                 `json:"attempts"`
	ReceivedAt time.Time           `json:"received_at"`
	FailedAt   time.Time           `json:"failed_at"`
	Reason     string              `json:"reason"`
	Header     map[string][]string `json:"header,omitempty"`  // show: signatures and credentials redacted
	Payload    json.RawMessage     `json:"payload,omitempty"` // show: a JSON body
	Body       string              `json:"body,omitempty"`    // show: a body that is not JSON, as text or base64
}

// ToListed returns the JSON form of m; full adds the headers (redacted) and
// the payload.
func ToListed(m Entry, full bool) Listed {
	e := m.DeadLetter.Event
	l := Listed{Stream: m.Stream, Endpoint: m.Endpoint, Provider: e.Provider, ID: e.ID, Key: m.DeadLetter.Key(), Type: e.Type, Target: e.Target,
		Version: e.Version, Attempts: e.Attempt, ReceivedAt: e.ReceivedAt, FailedAt: m.DeadLetter.FailedAt, Reason: m.DeadLetter.Reason}
	if full {
		l.Header = RedactHeaders(e.Header)
		doc := e.Payload
		if doc == nil {
			doc = e.Body
		}
		if json.Valid(doc) {
			l.Payload = doc
		} else {
			l.Body = readable(e.Body)
		}
	}
	return l
}

// List writes the table of ms (failure time, provider, ID, type, attempts,
// reason), or one JSON object a line.
func List(w io.Writer, ms []Entry, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, m := range ms {
			if err := enc.Encode(ToListed(m, false)); err != nil {
				return err
			}
		}
		return nil
	}
	fmt.Fprintf(w, "%-20s  %-12s  %-28s  %-28s  %-3s  %s\n", "FAILED", "PROVIDER", "ID", "TYPE", "ATT", "REASON")
	for _, m := range ms {
		e := m.DeadLetter.Event
		fmt.Fprintf(w, "%-20s  %-12s  %-28s  %-28s  %3d  %s\n", m.DeadLetter.FailedAt.UTC().Format("2006-01-02T15:04:05Z"),
			printable(e.Provider), printable(m.DeadLetter.Key()), printable(e.Type), e.Attempt,
			truncate(printable(oneLine(m.DeadLetter.Reason)), 100))
	}
	return nil
}

// Show writes every field of m, the headers redacted and the payload
// decoded for reading: JSON indented, a form as "name = value" lines,
// other bytes as text or base64. Control characters of the event's text
// (which came from the sender) are written escaped, never raw to a
// terminal.
func Show(w io.Writer, m Entry, asJSON bool) {
	l := ToListed(m, true)
	if asJSON {
		b, _ := json.Marshal(l)
		fmt.Fprintln(w, string(b))
		return
	}
	fmt.Fprintf(w, "provider:    %s\nid:          %s\ntype:        %s\n", printable(l.Provider), printable(l.Key), printable(l.Type))
	if l.Version != "" {
		fmt.Fprintf(w, "version:     %s\n", printable(l.Version))
	}
	if l.Target != "" {
		fmt.Fprintf(w, "target:      %s\n", printable(l.Target))
	}
	switch {
	case l.Stream != "":
		fmt.Fprintf(w, "stream:      %s\n", printable(l.Stream))
	case l.Endpoint != "":
		fmt.Fprintf(w, "endpoint:    %s\n", printable(l.Endpoint))
	}
	fmt.Fprintf(w, "attempts:    %d\nreceived at: %s\nfailed at:   %s\nreason:      %s\n",
		l.Attempts, l.ReceivedAt.UTC().Format(time.RFC3339Nano), l.FailedAt.UTC().Format(time.RFC3339Nano), printableText(l.Reason))
	if len(l.Header) > 0 {
		fmt.Fprintln(w, "headers:")
		keys := make([]string, 0, len(l.Header))
		for k := range l.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, v := range l.Header[k] {
				fmt.Fprintf(w, "  %s: %s\n", printable(k), printable(v))
			}
		}
	}
	fmt.Fprintln(w, "payload:")
	body := m.DeadLetter.Event.Body
	switch {
	case l.Payload != nil:
		var b bytes.Buffer
		if json.Indent(&b, l.Payload, "  ", "  ") == nil {
			fmt.Fprintf(w, "  %s\n", printableText(b.String()))
		}
	default:
		if vals, err := url.ParseQuery(string(body)); err == nil && len(vals) > 0 && utf8.Valid(body) {
			keys := make([]string, 0, len(vals))
			for k := range vals {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				for _, v := range vals[k] {
					fmt.Fprintf(w, "  %s = %s\n", printable(k), printable(v))
				}
			}
		} else {
			fmt.Fprintf(w, "  %s\n", printableText(l.Body))
		}
	}
	fmt.Fprintln(w)
}

// readable returns text as is when it is UTF-8, else base64 marked so.
func readable(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return "base64:" + base64.StdEncoding.EncodeToString(b)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// printable returns s with every control character (C0, DEL, C1, and
// invalid UTF-8) written as a \u escape, so that text from a delivery
// cannot drive the terminal it is printed to.
func printable(s string) string { return escapeControls(s, false) }

// printableText is printable keeping newlines and tabs (indented JSON,
// text bodies).
func printableText(s string) string { return escapeControls(s, true) }

func escapeControls(s string, keepLines bool) string {
	clean := utf8.ValidString(s)
	for _, r := range s {
		if isControl(r, keepLines) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case isControl(r, keepLines):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func isControl(r rune, keepLines bool) bool {
	if keepLines && (r == '\n' || r == '\t') {
		return false
	}
	return unicode.IsControl(r)
}

// RedactHeaders returns h with the values of headers that carry
// signatures or credentials replaced by "[redacted]" (the receiver drops
// credentials from the events it keeps; signatures it keeps).
func RedactHeaders(h map[string][]string) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, vs := range h {
		if sensitiveHeader(k) {
			out[k] = []string{"[redacted]"}
			continue
		}
		out[k] = vs
	}
	return out
}

func sensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"signature", "authorization", "token", "secret", "cookie", "hmac", "api-key", "apikey", "x-hub-signature", "transmission-sig"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}
