package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/redisq"
)

const dlqHelp = `usage: hookwise dlq list|show|replay|purge [flags] [EVENT-ID …]

Dead letters in Redis, as the redisq backend keeps them (the quickstart's
with REDIS_URL, or any receiver using redisq.NewDeadLetters).

  list              the dead letters, oldest first, filtered
  show ID …         every field of the named events, the payload decoded
  replay ID … | -all-matching
                    queue the events again through the normal path (their
                    dedupe mark released, then handled by the receiver's
                    workers) and delete the dead letters
  purge ID … | -all-matching
                    delete dead letters

-stream names the receiver's stream (redisq.Stream); without it, every
stream with dead letters in the database is used (keys *:dead:order).
Filters: -provider, -type (exact, or a prefix pattern "invoice.*"),
-older-than and -newer-than (a Go duration, or days: 7d). replay and purge
act on the IDs named, or, with -all-matching, on everything the filters
match. Redis Cluster is not supported here.

Exit codes: 0 done; 1 nothing matched; 2 usage; 3 Redis unreachable.

flags:
`

// dlqOptions are the dlq flags.
type dlqOptions struct {
	redisURL, stream, provider, typ, older, newer, dedupePrefix string
	limit                                                       int
	all, json                                                   bool
}

// maxListed bounds the dead letters read per stream (redisq's default
// bound on a store is as many).
const maxListed = redisq.DefaultMaxDeadLetters

func cmdDLQ(ctx context.Context, args []string, e *env) error {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, dlqHelp)
		return exitWith(exitUsage, errors.New("dlq: name a subcommand: list, show, replay or purge"))
	}
	sub := args[0]
	switch sub {
	case "list", "show", "replay", "purge":
	case "-h", "-help", "--help":
		fmt.Fprint(e.stdout, dlqHelp)
		return nil
	default:
		return exitWith(exitUsage, fmt.Errorf("dlq: unknown subcommand %q", sub))
	}
	fs := newFlagSet("dlq "+sub, dlqHelp, e)
	var o dlqOptions
	def := os.Getenv("REDIS_URL")
	if def == "" {
		def = "redis://127.0.0.1:6379/0"
	}
	fs.StringVar(&o.redisURL, "redis", def, "the Redis URL (default $REDIS_URL)")
	fs.StringVar(&o.stream, "stream", "", "the receiver's stream (default: every stream with dead letters)")
	fs.StringVar(&o.provider, "provider", "", "only this provider's dead letters")
	fs.StringVar(&o.typ, "type", "", "only this event type (or a prefix pattern: invoice.*)")
	fs.StringVar(&o.older, "older-than", "", "only dead letters that failed longer ago than this (1h, 7d)")
	fs.StringVar(&o.newer, "newer-than", "", "only dead letters that failed more recently than this")
	fs.IntVar(&o.limit, "limit", 0, "list at most this many (0: all)")
	fs.BoolVar(&o.all, "all-matching", false, "replay or purge every dead letter the filters match")
	fs.BoolVar(&o.json, "json", false, "list and show as JSON lines")
	fs.StringVar(&o.dedupePrefix, "dedupe-prefix", "", "the dedupe store's key prefix, if the receiver sets one (dedupe.WithRedisPrefix)")
	ids, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	if (sub == "show") && len(ids) == 0 {
		return exitWith(exitUsage, errors.New("dlq show: name at least one event ID"))
	}
	if (sub == "replay" || sub == "purge") && len(ids) == 0 && !o.all {
		return exitWith(exitUsage, fmt.Errorf("dlq %s: name event IDs, or pass -all-matching to act on every dead letter the filters match", sub))
	}
	if len(ids) > 0 && o.all {
		return exitWith(exitUsage, errors.New("dlq: event IDs and -all-matching exclude each other"))
	}
	f, err := newFilter(o, ids, e.now())
	if err != nil {
		return err
	}
	opt, err := redis.ParseURL(o.redisURL)
	if err != nil {
		return exitWith(exitUsage, errors.New("dlq: -redis wants a redis:// or rediss:// URL"))
	}
	opt.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	streams := []string{o.stream}
	if o.stream == "" {
		if streams, err = findStreams(ctx, rdb); err != nil {
			return exitWith(exitIO, fmt.Errorf("dlq: %w", err))
		}
	}
	var matched []entry
	for _, s := range streams {
		dl := redisq.NewDeadLetters(rdb, redisq.Stream(s))
		all, err := dl.List(ctx, maxListed)
		if err != nil {
			return exitWith(exitIO, fmt.Errorf("dlq: %w", err))
		}
		for _, d := range all {
			if f.match(d) {
				matched = append(matched, entry{stream: s, d: d})
			}
		}
	}
	sort.SliceStable(matched, func(i, j int) bool { return matched[i].d.FailedAt.Before(matched[j].d.FailedAt) })
	if len(matched) == 0 {
		fmt.Fprintln(e.stderr, "hookwise: no dead letter matches")
		return exitWith(exitNegative, nil)
	}
	switch sub {
	case "list":
		if o.limit > 0 && len(matched) > o.limit {
			matched = matched[:o.limit]
		}
		return listDeadLetters(e.stdout, matched, o.json)
	case "show":
		for _, m := range matched {
			showDeadLetter(e.stdout, m, o.json)
		}
		return nil
	case "replay":
		var store dedupe.Store
		if o.dedupePrefix != "" {
			store = dedupe.NewRedis(rdb, dedupe.WithRedisPrefix(o.dedupePrefix))
		} else {
			store = dedupe.NewRedis(rdb)
		}
		failed := 0
		for _, m := range matched {
			q := redisq.New(rdb, redisq.Stream(m.stream))
			err := replayDeadLetter(ctx, q, store, redisq.NewDeadLetters(rdb, redisq.Stream(m.stream)), m.d)
			if err != nil {
				failed++
				fmt.Fprintf(e.stderr, "hookwise: replay %s %s: %v\n", m.d.Event.Provider, m.d.Key(), err)
				continue
			}
			fmt.Fprintf(e.stdout, "replayed %s %s %s (stream %s)\n", m.d.Event.Provider, m.d.Key(), m.d.Event.Type, m.stream)
		}
		if failed > 0 {
			return exitWith(exitIO, fmt.Errorf("dlq replay: %d of %d failed", failed, len(matched)))
		}
		return nil
	default: // purge
		for _, m := range matched {
			dl := redisq.NewDeadLetters(rdb, redisq.Stream(m.stream))
			if err := dl.Delete(ctx, m.d.Event.Provider, m.d.Key()); err != nil {
				return exitWith(exitIO, fmt.Errorf("dlq purge: %w", err))
			}
			fmt.Fprintf(e.stdout, "purged %s %s %s (stream %s)\n", m.d.Event.Provider, m.d.Key(), m.d.Event.Type, m.stream)
		}
		return nil
	}
}

// entry is a dead letter and the stream whose store holds it.
type entry struct {
	stream string
	d      receiver.DeadLetter
}

// findStreams returns the streams whose dead-letter stores exist: the keys
// "<stream>:dead:order" (or "{<stream>}:dead:order").
func findStreams(ctx context.Context, rdb *redis.Client) ([]string, error) {
	var out []string
	var cursor uint64
	for i := 0; i < 1000; i++ {
		keys, next, err := rdb.Scan(ctx, cursor, "*:dead:order", 1000).Result()
		if err != nil {
			return nil, fmt.Errorf("scan for dead-letter stores: %w", err)
		}
		for _, k := range keys {
			s := strings.TrimSuffix(k, ":dead:order")
			if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") && strings.Count(s, "{") == 1 {
				s = s[1 : len(s)-1] // a stream named without a hash tag
			}
			out = append(out, s)
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	sort.Strings(out)
	return out, nil
}

// filter selects dead letters.
type filter struct {
	provider, typ string
	ids           map[string]bool
	before, after time.Time // FailedAt before / after
}

func newFilter(o dlqOptions, ids []string, now time.Time) (filter, error) {
	f := filter{provider: o.provider, typ: o.typ}
	if o.provider != "" {
		if n, err := canonicalName(o.provider); err == nil {
			f.provider = n
		}
	}
	if len(ids) > 0 {
		f.ids = map[string]bool{}
		for _, id := range ids {
			f.ids[id] = true
		}
	}
	if o.older != "" {
		d, err := parseAge(o.older)
		if err != nil {
			return f, err
		}
		f.before = now.Add(-d)
	}
	if o.newer != "" {
		d, err := parseAge(o.newer)
		if err != nil {
			return f, err
		}
		f.after = now.Add(-d)
	}
	return f, nil
}

// parseAge reads a Go duration or a number of days ("7d").
func parseAge(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err == nil && n >= 0 && n < 100_000 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%w: an age is a duration (90m, 12h) or days (7d)", errUsage)
	}
	return d, nil
}

func (f filter) match(d receiver.DeadLetter) bool {
	e := d.Event
	if e == nil {
		return false
	}
	if f.provider != "" && e.Provider != f.provider {
		return false
	}
	if f.typ != "" {
		if p, ok := strings.CutSuffix(f.typ, "*"); ok {
			if !strings.HasPrefix(e.Type, p) {
				return false
			}
		} else if e.Type != f.typ {
			return false
		}
	}
	if f.ids != nil && !f.ids[e.ID] && !f.ids[d.Key()] {
		return false
	}
	if !f.before.IsZero() && !d.FailedAt.Before(f.before) {
		return false
	}
	if !f.after.IsZero() && !d.FailedAt.After(f.after) {
		return false
	}
	return true
}

// listed is the JSON form of a dead letter in list and show.
type listed struct {
	Stream     string              `json:"stream"`
	Provider   string              `json:"provider"`
	ID         string              `json:"id"`
	Key        string              `json:"key"`
	Type       string              `json:"type"`
	Version    string              `json:"version,omitempty"`
	Attempts   int                 `json:"attempts"`
	ReceivedAt time.Time           `json:"received_at"`
	FailedAt   time.Time           `json:"failed_at"`
	Reason     string              `json:"reason"`
	Header     map[string][]string `json:"header,omitempty"`
	Payload    json.RawMessage     `json:"payload,omitempty"`
	Body       string              `json:"body,omitempty"` // a body that is not JSON, as text or base64
}

func toListed(m entry, full bool) listed {
	e := m.d.Event
	l := listed{Stream: m.stream, Provider: e.Provider, ID: e.ID, Key: m.d.Key(), Type: e.Type, Version: e.Version,
		Attempts: e.Attempt, ReceivedAt: e.ReceivedAt, FailedAt: m.d.FailedAt, Reason: m.d.Reason}
	if full {
		l.Header = redactHeaders(e.Header)
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

func listDeadLetters(w io.Writer, ms []entry, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, m := range ms {
			if err := enc.Encode(toListed(m, false)); err != nil {
				return err
			}
		}
		return nil
	}
	fmt.Fprintf(w, "%-20s  %-12s  %-28s  %-28s  %-3s  %s\n", "FAILED", "PROVIDER", "ID", "TYPE", "ATT", "REASON")
	for _, m := range ms {
		e := m.d.Event
		fmt.Fprintf(w, "%-20s  %-12s  %-28s  %-28s  %3d  %s\n", m.d.FailedAt.UTC().Format("2006-01-02T15:04:05Z"),
			e.Provider, m.d.Key(), e.Type, e.Attempt, truncate(oneLine(m.d.Reason), 100))
	}
	return nil
}

func showDeadLetter(w io.Writer, m entry, asJSON bool) {
	l := toListed(m, true)
	if asJSON {
		b, _ := json.Marshal(l)
		fmt.Fprintln(w, string(b))
		return
	}
	fmt.Fprintf(w, "provider:    %s\nid:          %s\ntype:        %s\n", l.Provider, l.Key, l.Type)
	if l.Version != "" {
		fmt.Fprintf(w, "version:     %s\n", l.Version)
	}
	fmt.Fprintf(w, "stream:      %s\nattempts:    %d\nreceived at: %s\nfailed at:   %s\nreason:      %s\n",
		l.Stream, l.Attempts, l.ReceivedAt.UTC().Format(time.RFC3339Nano), l.FailedAt.UTC().Format(time.RFC3339Nano), l.Reason)
	if len(l.Header) > 0 {
		fmt.Fprintln(w, "headers:")
		keys := make([]string, 0, len(l.Header))
		for k := range l.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, v := range l.Header[k] {
				fmt.Fprintf(w, "  %s: %s\n", k, v)
			}
		}
	}
	fmt.Fprintln(w, "payload:")
	switch {
	case l.Payload != nil:
		var b bytes.Buffer
		if json.Indent(&b, l.Payload, "  ", "  ") == nil {
			fmt.Fprintf(w, "  %s\n", b.String())
		}
	default:
		if vals, err := url.ParseQuery(string(m.d.Event.Body)); err == nil && len(vals) > 0 && utf8.Valid(m.d.Event.Body) {
			keys := make([]string, 0, len(vals))
			for k := range vals {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				for _, v := range vals[k] {
					fmt.Fprintf(w, "  %s = %s\n", k, v)
				}
			}
		} else {
			fmt.Fprintf(w, "  %s\n", l.Body)
		}
	}
	fmt.Fprintln(w)
}

// readable returns text as is when it is UTF-8, else base64 marked so.
func readable(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return "base64:" + base64Std(b)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// redactHeaders hides the values of headers that carry signatures or
// credentials (the receiver drops credentials; signatures it keeps).
func redactHeaders(h map[string][]string) map[string][]string {
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
