// Package dlqcmd is the "dlq" command of Hookwise's command-line tools,
// independent of where the dead letters are kept: its flags and filters
// (provider, type, age), the list table, show with the payload decoded,
// replay through receiver.Replayer (the normal path: the event's dedupe
// mark released, the event queued for the receiver's workers), and purge.
//
// A Backend says where the dead letters are: the hookwise tool passes one
// for Redis (redisq), hookwise-pg (in the PostgreSQL adapter's module, so
// that pgx stays out of the library's go.mod) one for PostgreSQL. Both
// print the same output and exit with the same codes.
package dlqcmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hookwise/hookwise/receiver"
)

// Exit codes of Run (carried by *ExitError), the same as every hookwise
// command's.
const (
	ExitOK       = 0
	ExitNegative = 1 // nothing matched
	ExitUsage    = 2 // a command-line mistake
	ExitIO       = 3 // the backend cannot be reached, or an operation failed
)

// ErrUsage matches the errors of command-line mistakes (ParseAge's, say).
var ErrUsage = errors.New("usage")

// ErrNoLocation matches a Backend's Replayer error for a dead letter whose
// queue it cannot tell (PostgreSQL: an endpoint unknown).
var ErrNoLocation = errors.New("dlqcmd: the queue to replay into is unknown")

// ExitError is Run's error: the exit code, and the message to print (Err,
// nil when everything was printed already).
type ExitError struct {
	Code int
	Err  error
}

// Error returns Err's message, or the exit code when Err is nil.
func (x *ExitError) Error() string {
	if x.Err == nil {
		return fmt.Sprintf("exit %d", x.Code)
	}
	return x.Err.Error()
}

// Unwrap returns Err.
func (x *ExitError) Unwrap() error { return x.Err }

// Exit returns an *ExitError with code and err (err may be nil).
func Exit(code int, err error) error { return &ExitError{Code: code, Err: err} }

// Entry is a dead letter and where it is kept.
type Entry struct {
	DeadLetter receiver.DeadLetter
	// Stream is the Redis stream whose store holds it (Redis only).
	Stream string
	// Endpoint is the receiver endpoint whose queue takes it on replay
	// (PostgreSQL only), "" while unknown.
	Endpoint string
}

// where names the entry's location for messages: "stream S",
// "endpoint E", or "".
func (m Entry) where() string {
	switch {
	case m.Stream != "":
		return "stream " + m.Stream
	case m.Endpoint != "":
		return "endpoint " + m.Endpoint
	}
	return ""
}

// Backend is where dead letters are kept.
type Backend interface {
	// List returns every dead letter, up to the backend's bound, in any
	// order (Run sorts them by failure time).
	List(ctx context.Context) ([]Entry, error)
	// Delete removes the dead letter of e.
	Delete(ctx context.Context, e Entry) error
	// Replayer returns the receiver.Replayer whose Replay puts e's event on
	// the queue its receiver consumes: that queue (not started), the
	// receiver's dedupe store, and the dead-letter store holding e. An
	// error matching ErrNoLocation says the queue is unknown.
	Replayer(ctx context.Context, e Entry) (receiver.Replayer, error)
}

// Locator is implemented by a Backend that fills in where an entry goes on
// replay only when asked (PostgreSQL: the endpoint, from the event
// history). Run asks for the entries it shows or replays.
type Locator interface {
	Locate(ctx context.Context, e Entry) (Entry, error)
}

// Command is one run of "dlq" for a backend.
type Command struct {
	// Name is the program's name, the prefix of its messages ("hookwise").
	Name string
	// Help is the usage text, printed for -h and before the flags' list.
	Help string
	// Flags registers the backend's flags (the database URL, say) on fs,
	// before Run parses the arguments.
	Flags func(fs *flag.FlagSet)
	// Open connects to the backend once the arguments are checked. An
	// *ExitError it returns gives the exit code; any other error exits 3.
	// The function returned, when not nil, is called when Run ends.
	Open func(ctx context.Context) (Backend, func(), error)
	// Canonical, when set, maps a -provider value to the provider name
	// events carry (an alias to its catalog name); otherwise the value is
	// lowercased.
	Canonical func(provider string) string
	// Stdout and Stderr receive the output and the per-event errors.
	Stdout, Stderr io.Writer
	// Now is the clock of the age filters (time.Now when nil).
	Now func() time.Time
}

// options are the backend-independent flags.
type options struct {
	provider, typ, older, newer string
	target                      string
	limit                       int
	all, json                   bool
}

// Run runs "dlq" with args (the subcommand first). Its error is an
// *ExitError (nil: exit 0).
func (c *Command) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(c.Stderr, c.Help)
		return Exit(ExitUsage, errors.New("dlq: name a subcommand: list, show, replay or purge"))
	}
	sub := args[0]
	switch sub {
	case "list", "show", "replay", "purge":
	case "-h", "-help", "--help":
		fmt.Fprint(c.Stdout, c.Help)
		return nil
	default:
		return Exit(ExitUsage, fmt.Errorf("dlq: unknown subcommand %q", sub))
	}
	fs := flag.NewFlagSet("dlq "+sub, flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), c.Help)
		fs.PrintDefaults()
	}
	if c.Flags != nil {
		c.Flags(fs)
	}
	var o options
	fs.StringVar(&o.provider, "provider", "", "only this provider's dead letters")
	fs.StringVar(&o.typ, "type", "", "only this event type (or a prefix pattern: invoice.*)")
	fs.StringVar(&o.target, "target", "", "only the dead letters of this fan-out handler (receiver.Mux.Fanout)")
	fs.StringVar(&o.older, "older-than", "", "only dead letters that failed longer ago than this (1h, 7d)")
	fs.StringVar(&o.newer, "newer-than", "", "only dead letters that failed more recently than this")
	fs.IntVar(&o.limit, "limit", 0, "list at most this many (0: all)")
	fs.BoolVar(&o.all, "all-matching", false, "replay or purge every dead letter the filters match")
	fs.BoolVar(&o.json, "json", false, "list and show as JSON lines")
	ids, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	if sub == "show" && len(ids) == 0 {
		return Exit(ExitUsage, errors.New("dlq show: name at least one event ID"))
	}
	if (sub == "replay" || sub == "purge") && len(ids) == 0 && !o.all {
		return Exit(ExitUsage, fmt.Errorf("dlq %s: name event IDs, or pass -all-matching to act on every dead letter the filters match", sub))
	}
	if len(ids) > 0 && o.all {
		return Exit(ExitUsage, errors.New("dlq: event IDs and -all-matching exclude each other"))
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	f, err := c.newFilter(o, ids, now())
	if err != nil {
		return Exit(ExitUsage, err)
	}
	b, closeFn, err := c.Open(ctx)
	if err != nil {
		var x *ExitError
		if errors.As(err, &x) {
			return err
		}
		return Exit(ExitIO, err)
	}
	if closeFn != nil {
		defer closeFn()
	}
	all, err := b.List(ctx)
	if err != nil {
		return Exit(ExitIO, fmt.Errorf("dlq: %w", err))
	}
	var matched []Entry
	for _, m := range all {
		if f.match(m.DeadLetter) {
			matched = append(matched, m)
		}
	}
	sort.SliceStable(matched, func(i, j int) bool {
		return matched[i].DeadLetter.FailedAt.Before(matched[j].DeadLetter.FailedAt)
	})
	if len(matched) == 0 {
		fmt.Fprintf(c.Stderr, "%s: no dead letter matches\n", c.Name)
		return Exit(ExitNegative, nil)
	}
	locate := func(m Entry) (Entry, error) {
		if l, ok := b.(Locator); ok {
			return l.Locate(ctx, m)
		}
		return m, nil
	}
	switch sub {
	case "list":
		if o.limit > 0 && len(matched) > o.limit {
			matched = matched[:o.limit]
		}
		return List(c.Stdout, matched, o.json)
	case "show":
		for _, m := range matched {
			m, err := locate(m)
			if err != nil {
				return Exit(ExitIO, fmt.Errorf("dlq show: %w", err))
			}
			Show(c.Stdout, m, o.json)
		}
		return nil
	case "replay":
		failed := 0
		for _, m := range matched {
			err := c.replay(ctx, b, locate, &m)
			if err != nil {
				failed++
				fmt.Fprintf(c.Stderr, "%s: replay %s %s: %v\n", c.Name, m.DeadLetter.Event.Provider, m.DeadLetter.Key(), err)
				continue
			}
			fmt.Fprintf(c.Stdout, "replayed %s %s %s%s\n", m.DeadLetter.Event.Provider, m.DeadLetter.Key(), m.DeadLetter.Event.Type, paren(m.where()))
		}
		if failed > 0 {
			return Exit(ExitIO, fmt.Errorf("dlq replay: %d of %d failed", failed, len(matched)))
		}
		return nil
	default: // purge
		for _, m := range matched {
			if err := b.Delete(ctx, m); err != nil {
				return Exit(ExitIO, fmt.Errorf("dlq purge: %w", err))
			}
			fmt.Fprintf(c.Stdout, "purged %s %s %s%s\n", m.DeadLetter.Event.Provider, m.DeadLetter.Key(), m.DeadLetter.Event.Type, paren(m.where()))
		}
		return nil
	}
}

// replay locates *m, then replays it with the backend's Replayer.
func (c *Command) replay(ctx context.Context, b Backend, locate func(Entry) (Entry, error), m *Entry) error {
	lm, err := locate(*m)
	if err != nil {
		return err
	}
	*m = lm
	rp, err := b.Replayer(ctx, lm)
	if err != nil {
		return err
	}
	return rp.Replay(ctx, lm.DeadLetter)
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// parseInterleaved parses flags given before or after the positional
// arguments ("show ID -redis …" and "show -redis … ID").
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, Exit(ExitOK, nil)
			}
			return nil, Exit(ExitUsage, nil)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// filter selects dead letters.
type filter struct {
	provider, typ string
	target        string
	ids           map[string]bool
	before, after time.Time // FailedAt before / after
}

func (c *Command) newFilter(o options, ids []string, now time.Time) (filter, error) {
	f := filter{provider: o.provider, typ: o.typ, target: o.target}
	if o.provider != "" {
		if c.Canonical != nil {
			f.provider = c.Canonical(o.provider)
		} else {
			f.provider = strings.ToLower(strings.TrimSpace(o.provider))
		}
	}
	if len(ids) > 0 {
		f.ids = map[string]bool{}
		for _, id := range ids {
			f.ids[id] = true
		}
	}
	if o.older != "" {
		d, err := ParseAge(o.older)
		if err != nil {
			return f, err
		}
		f.before = now.Add(-d)
	}
	if o.newer != "" {
		d, err := ParseAge(o.newer)
		if err != nil {
			return f, err
		}
		f.after = now.Add(-d)
	}
	return f, nil
}

// maxDays bounds ParseAge's days (about 270 years).
const maxDays = 100_000

// ParseAge reads an age: a Go duration ("90m", "12h") or a number of days
// ("7d", at most 100,000). A negative or unreadable age is an error
// matching ErrUsage.
func ParseAge(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err == nil && n >= 0 && n < maxDays {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%w: an age is a duration (90m, 12h) or days (7d)", ErrUsage)
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
	if f.target != "" && e.Target != f.target {
		return false
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
