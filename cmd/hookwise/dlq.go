package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/cmd/hookwise/dlqcmd"
	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/redisq"
)

const dlqHelp = `usage: hookwise dlq list|show|replay|purge [flags] [EVENT-ID …]

Dead letters in Redis, as the redisq backend keeps them (the quickstart's
with REDIS_URL, or any receiver using redisq.NewDeadLetters). For
PostgreSQL (adapters/postgres), use hookwise-pg:
  go install github.com/hookwise/hookwise/adapters/postgres/cmd/hookwise-pg@latest

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

// pgHint is the line printed when dlq is pointed at PostgreSQL.
const pgHint = "dead letters in PostgreSQL are read by hookwise-pg (go install github.com/hookwise/hookwise/adapters/postgres/cmd/hookwise-pg@latest): hookwise-pg dlq list -database URL"

// listed is the JSON form of a dead letter in list and show.
type listed = dlqcmd.Listed

// maxListed bounds the dead letters read per stream (redisq's default
// bound on a store is as many).
const maxListed = redisq.DefaultMaxDeadLetters

func cmdDLQ(ctx context.Context, args []string, e *env) error {
	var redisURL, stream, dedupePrefix, database string
	c := &dlqcmd.Command{
		Name: "hookwise", Help: dlqHelp, Stdout: e.stdout, Stderr: e.stderr, Now: e.now,
		Canonical: func(p string) string {
			if n, err := canonicalName(p); err == nil {
				return n
			}
			return p
		},
		Flags: func(fs *flag.FlagSet) {
			// The default is resolved after parsing, so that -h never prints
			// $REDIS_URL (and a password it may hold).
			fs.StringVar(&redisURL, "redis", "", "the Redis URL (default $REDIS_URL, else redis://127.0.0.1:6379/0)")
			fs.StringVar(&stream, "stream", "", "the receiver's stream (default: every stream with dead letters)")
			fs.StringVar(&dedupePrefix, "dedupe-prefix", "", "the dedupe store's key prefix, if the receiver sets one (dedupe.WithRedisPrefix)")
			fs.StringVar(&database, "database", "", "PostgreSQL: not here; prints how to use hookwise-pg")
		},
		Open: func(context.Context) (dlqcmd.Backend, func(), error) {
			if redisURL == "" {
				redisURL = os.Getenv("REDIS_URL")
			}
			if redisURL == "" {
				redisURL = "redis://127.0.0.1:6379/0"
			}
			if database != "" || isPostgresURL(redisURL) {
				return nil, nil, dlqcmd.Exit(exitUsage, errors.New(pgHint))
			}
			opt, err := redis.ParseURL(redisURL)
			if err != nil {
				return nil, nil, dlqcmd.Exit(exitUsage, errors.New("dlq: -redis wants a redis:// or rediss:// URL"))
			}
			opt.ContextTimeoutEnabled = true
			rdb := redis.NewClient(opt)
			return &redisBackend{rdb: rdb, stream: stream, dedupePrefix: dedupePrefix}, func() { _ = rdb.Close() }, nil
		},
	}
	err := c.Run(ctx, args)
	var x *dlqcmd.ExitError
	if errors.As(err, &x) {
		return exitWith(x.Code, x.Err)
	}
	return err
}

// isPostgresURL reports whether u is a PostgreSQL connection URL.
func isPostgresURL(u string) bool {
	u = strings.ToLower(strings.TrimSpace(u))
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// parseAge reads a Go duration or a number of days ("7d").
func parseAge(s string) (time.Duration, error) { return dlqcmd.ParseAge(s) }

// redisBackend is dlqcmd.Backend on the redisq dead-letter stores of one
// Redis database.
type redisBackend struct {
	rdb          *redis.Client
	stream       string // "": every stream with dead letters
	dedupePrefix string
}

// List reads every stream's dead letters (at most maxListed each).
func (b *redisBackend) List(ctx context.Context) ([]dlqcmd.Entry, error) {
	streams := []string{b.stream}
	if b.stream == "" {
		var err error
		if streams, err = findStreams(ctx, b.rdb); err != nil {
			return nil, err
		}
	}
	var out []dlqcmd.Entry
	for _, s := range streams {
		all, err := redisq.NewDeadLetters(b.rdb, redisq.Stream(s)).List(ctx, maxListed)
		if err != nil {
			return nil, err
		}
		for _, d := range all {
			out = append(out, dlqcmd.Entry{DeadLetter: d, Stream: s})
		}
	}
	return out, nil
}

// Delete removes m from its stream's store.
func (b *redisBackend) Delete(ctx context.Context, m dlqcmd.Entry) error {
	return redisq.NewDeadLetters(b.rdb, redisq.Stream(m.Stream)).Delete(ctx, m.DeadLetter.Event.Provider, m.DeadLetter.Key())
}

// Replayer returns the replayer of m's stream (see replay.go).
func (b *redisBackend) Replayer(_ context.Context, m dlqcmd.Entry) (receiver.Replayer, error) {
	var store dedupe.Store
	if b.dedupePrefix != "" {
		store = dedupe.NewRedis(b.rdb, dedupe.WithRedisPrefix(b.dedupePrefix))
	} else {
		store = dedupe.NewRedis(b.rdb)
	}
	return redisReplayer(b.rdb, m.Stream, store), nil
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
