package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/adapters/postgres"
	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/redisq"
)

// backend is where dedupe marks, queued events and dead letters live: in
// this process (the default), in Redis (REDIS_URL) or in PostgreSQL
// (DATABASE_URL).
type backend struct {
	name    string
	options func(provider string) []receiver.Option
	close   func()
}

// errTwoBackends refuses REDIS_URL and DATABASE_URL together: the events
// must live in one place.
var errTwoBackends = errors.New("REDIS_URL and DATABASE_URL are both set: choose one backend (unset the other)")

func newBackend(ctx context.Context, redisURL, databaseURL, addr string, log *slog.Logger) (*backend, error) {
	if redisURL != "" && databaseURL != "" {
		return nil, errTwoBackends
	}
	if databaseURL != "" {
		return newPostgresBackend(ctx, databaseURL, addr, log)
	}
	if redisURL == "" {
		return &backend{
			name:    "memory",
			options: func(string) []receiver.Option { return nil },
			close:   func() {},
		}, nil
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, redisURLError(redisURL, err) // never the URL whole: it holds the password
	}
	opt.ContextTimeoutEnabled = true // honour per-call deadlines on the socket
	opt.Protocol = 2                 // RESP2: no peek for push notifications before each reply
	client := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("REDIS_URL: cannot reach redis at %s: %w", opt.Addr, err)
	}
	store := dedupe.NewRedis(client)
	// A stable consumer name per host and port: a replica restarted on the
	// same address takes back the entries it left pending at once, instead of
	// waiting for the visibility timeout.
	host, _ := os.Hostname()
	consumer := redisq.Consumer(fmt.Sprintf("%s:%s", host, addr[strings.LastIndexByte(addr, ':')+1:]))
	return &backend{
		name: "redis",
		options: func(provider string) []receiver.Option {
			// One stream per endpoint: its consumer group feeds that
			// endpoint's handlers, on whichever replica takes the entry.
			stream := redisq.Stream("hookwise:{" + provider + "}:stream")
			return []receiver.Option{
				receiver.WithStore(store),
				receiver.WithQueue(redisq.New(client, stream, consumer, redisq.Logger(log))),
				receiver.WithDeadLetters(redisq.NewDeadLetters(client, stream)),
			}
		},
		close: func() { client.Close() },
	}, nil
}

// newPostgresBackend keeps dedupe marks, queued events, dead letters and
// the event history in PostgreSQL (package adapters/postgres), creating or
// updating its tables (schema "hookwise") first. Every instance on the same
// database shares them; each endpoint's events are run by the workers of
// whichever instance claims them, and an instance killed with SIGKILL loses
// none of the events it acknowledged: another instance (or this one,
// restarted) runs them once their lease lapses.
func newPostgresBackend(ctx context.Context, databaseURL, addr string, log *slog.Logger) (*backend, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// Never pgx's message, nor the URL whole: either may quote the password.
		return nil, fmt.Errorf("DATABASE_URL=%s: not a valid connection URL (want postgres://[user:password@]host:port/db)", redactURL(databaseURL))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("DATABASE_URL: cannot reach postgres at %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	if err := postgres.Migrate(pctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("DATABASE_URL: migrate: %w", err)
	}
	host, _ := os.Hostname()
	in := postgres.New(pool, postgres.Logger(log), postgres.Instance(fmt.Sprintf("%s:%s", host, addr[strings.LastIndexByte(addr, ':')+1:])))
	return &backend{
		name:    "postgres",
		options: func(provider string) []receiver.Option { return in.Options(provider) },
		close:   pool.Close,
	}, nil
}
