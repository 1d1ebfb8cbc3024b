package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/redisq"
)

// backend is where dedupe marks, queued events and dead letters live: in
// this process (the default) or in Redis (REDIS_URL).
type backend struct {
	name    string
	options func(provider string) []receiver.Option
	close   func()
}

func newBackend(ctx context.Context, redisURL, addr string, log *slog.Logger) (*backend, error) {
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
