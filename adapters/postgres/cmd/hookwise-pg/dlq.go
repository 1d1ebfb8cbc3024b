package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookwise/hookwise/adapters/postgres"
	"github.com/hookwise/hookwise/cmd/hookwise/dlqcmd"
	"github.com/hookwise/hookwise/receiver"
)

const dlqHelp = `usage: hookwise-pg dlq list|show|replay|purge [flags] [EVENT-ID …]

Dead letters in PostgreSQL, as the adapters/postgres backend keeps them
(the dead_letters table of an Inbox's schema; the quickstart's with
DATABASE_URL).

  list              the dead letters, oldest first, filtered
  show ID …         every field of the named events, the payload decoded
  replay ID … | -all-matching
                    queue the events again through the normal path (their
                    dedupe mark released, stored for their endpoint's
                    queue, then handled by its receivers' workers) and
                    delete the dead letters
  purge ID … | -all-matching
                    delete dead letters

-database is a postgres:// URL or a key=value connection string (default
$DATABASE_URL); -schema the Inbox's schema (postgres.Schema, default
hookwise). replay queues each event for the endpoint its event history
names (the events table keeps dead events for postgres.History, 7 days by
default); -endpoint names it instead, and is needed once the history is
gone. Filters: -provider, -type (exact, or a prefix pattern "invoice.*"),
-older-than and -newer-than (a Go duration, or days: 7d). replay and purge
act on the IDs named, or, with -all-matching, on everything the filters
match.

Exit codes: 0 done; 1 nothing matched; 2 usage; 3 PostgreSQL unreachable,
the schema missing, or an operation failed.

flags:
`

// schemaName is what postgres.Schema accepts.
var schemaName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,47}$`)

// connectTimeout bounds connecting and the first ping.
const connectTimeout = 5 * time.Second

// callTimeout bounds each statement the command runs.
const callTimeout = time.Minute

func cmdDLQ(ctx context.Context, args []string, e *env) error {
	var database, schema, endpoint string
	c := &dlqcmd.Command{
		Name: "hookwise-pg", Help: dlqHelp, Stdout: e.stdout, Stderr: e.stderr, Now: e.now,
		Flags: func(fs *flag.FlagSet) {
			// $DATABASE_URL is read after parsing, so that -h never prints
			// it (and a password it may hold).
			fs.StringVar(&database, "database", "", "the PostgreSQL URL or connection string (default $DATABASE_URL)")
			fs.StringVar(&schema, "schema", postgres.DefaultSchema, "the Inbox's schema (postgres.Schema)")
			fs.StringVar(&endpoint, "endpoint", "", "replay: the endpoint whose queue takes the events (default: the one their history names)")
		},
		Open: func(ctx context.Context) (dlqcmd.Backend, func(), error) {
			if database == "" {
				database = e.getenv("DATABASE_URL")
			}
			if database == "" {
				return nil, nil, dlqcmd.Exit(dlqcmd.ExitUsage, errors.New("dlq: name the database: -database URL, or set DATABASE_URL"))
			}
			if !schemaName.MatchString(schema) {
				return nil, nil, dlqcmd.Exit(dlqcmd.ExitUsage, errors.New("dlq: -schema wants 1 to 48 letters, digits and underscores, not starting with a digit"))
			}
			return open(ctx, database, schema, endpoint)
		},
	}
	return c.Run(ctx, args)
}

// open connects to the database. Its errors never quote the connection
// string, which may hold a password.
func open(ctx context.Context, database, schema, endpoint string) (dlqcmd.Backend, func(), error) {
	cfg, err := pgxpool.ParseConfig(database)
	if err != nil {
		return nil, nil, dlqcmd.Exit(dlqcmd.ExitUsage, errors.New("dlq: -database wants a postgres:// URL or a key=value connection string"))
	}
	cfg.MaxConns = 4
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > connectTimeout {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, dlqcmd.Exit(dlqcmd.ExitIO, fmt.Errorf("dlq: PostgreSQL: %w", err))
	}
	pctx, cancel := context.WithTimeout(ctx, connectTimeout)
	err = pool.Ping(pctx)
	cancel()
	if err != nil {
		pool.Close()
		return nil, nil, dlqcmd.Exit(dlqcmd.ExitIO, fmt.Errorf("dlq: PostgreSQL unreachable: %w", err))
	}
	// An operator's command reads up to postgres.DefaultMaxDeadLetters rows
	// in one statement: it gets more than a request path's CallTimeout
	// (Ctrl-C still cancels it).
	in := postgres.New(pool, postgres.Schema(schema), postgres.CallTimeout(callTimeout))
	b := &pgBackend{pool: pool, in: in, schema: schema, endpoint: endpoint, replayed: map[string]bool{}}
	return b, b.close, nil
}

// pgBackend is dlqcmd.Backend on an Inbox's schema.
type pgBackend struct {
	pool             *pgxpool.Pool
	in               *postgres.Inbox
	schema, endpoint string
	replayed         map[string]bool // endpoints replayed into (Run is sequential)
}

// List reads the dead letters (at most postgres.DefaultMaxDeadLetters, a
// store's default bound).
func (b *pgBackend) List(ctx context.Context) ([]dlqcmd.Entry, error) {
	all, err := b.in.DeadLetters().List(ctx, postgres.DefaultMaxDeadLetters)
	if err != nil {
		if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "3F000") {
			return nil, fmt.Errorf("no dead_letters table in schema %s (a wrong -schema, or not migrated: postgres.Migrate)", b.schema)
		}
		return nil, err
	}
	out := make([]dlqcmd.Entry, 0, len(all))
	for _, d := range all {
		out = append(out, dlqcmd.Entry{DeadLetter: d})
	}
	return out, nil
}

// Delete removes m's dead letter.
func (b *pgBackend) Delete(ctx context.Context, m dlqcmd.Entry) error {
	return b.in.DeadLetters().Delete(ctx, m.DeadLetter.Event.Provider, m.DeadLetter.Key())
}

// Locate fills in the endpoint a replay of m goes to: -endpoint when
// given, else the endpoint of the event's row in the history (the row of
// the dead-lettered delivery, by its claim token; else the newest dead
// row of the event; else its newest row), among the rows of its fan-out
// target when it is a copy (Event.Target). It leaves it empty when the
// history has no row of the event.
func (b *pgBackend) Locate(ctx context.Context, m dlqcmd.Entry) (dlqcmd.Entry, error) {
	if b.endpoint != "" {
		m.Endpoint = b.endpoint
		return m, nil
	}
	e := m.DeadLetter.Event
	f := postgres.Filter{Provider: e.Provider, ID: e.ID, Target: e.Target}
	if e.ID == "" {
		// An event without ID: found by its claim token only, among the
		// dead events of its type.
		f.Type, f.State = e.Type, postgres.StateDead
	}
	recs, err := b.in.Find(ctx, f)
	if err != nil {
		return m, err
	}
	var dead, newest string
	for _, r := range recs { // newest first
		switch {
		case r.Event.ClaimToken == e.ClaimToken && e.ClaimToken != "":
			m.Endpoint = r.Endpoint
			return m, nil
		case e.ID == "":
		case r.State == postgres.StateDead && dead == "":
			dead = r.Endpoint
		case newest == "":
			newest = r.Endpoint
		}
	}
	m.Endpoint = dead
	if m.Endpoint == "" {
		m.Endpoint = newest
	}
	return m, nil
}

// Replayer returns the replayer into m's endpoint: a Queue of the Inbox for
// it (not started; PollOnly, the NOTIFY being sent when the command ends),
// the Inbox's dedupe Store and its DeadLetters.
func (b *pgBackend) Replayer(_ context.Context, m dlqcmd.Entry) (receiver.Replayer, error) {
	if m.Endpoint == "" {
		return receiver.Replayer{}, fmt.Errorf("%w: the event history has no row of it (kept for postgres.History); name its endpoint with -endpoint", dlqcmd.ErrNoLocation)
	}
	b.replayed[m.Endpoint] = true
	return receiver.Replayer{
		Queue:       b.in.Queue(postgres.Endpoint(m.Endpoint), postgres.PollOnly()),
		Store:       b.in.Store(),
		DeadLetters: b.in.DeadLetters(),
	}, nil
}

// close wakes the receivers of the endpoints replayed into (the NOTIFY a
// queue's Enqueue would send in the background, sent here before the pool
// closes; without it they find the events at their next poll), then closes
// the pool.
func (b *pgBackend) close() {
	eps := make([]string, 0, len(b.replayed))
	for ep := range b.replayed {
		eps = append(eps, ep)
	}
	sort.Strings(eps)
	for _, ep := range eps {
		ctx, cancel := context.WithTimeout(context.Background(), postgres.DefaultCallTimeout)
		_, _ = b.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, b.schema+".events", ep)
		cancel()
	}
	b.pool.Close()
}
