package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/redisq"
)

// target is a server under load. For an external one only url is set.
type target struct {
	url string
	// counted reports whether handled, deadLettered and pending mean
	// anything (targets this process started).
	counted bool
	handled atomic.Int64
	// deadLettered and pending count after close; pending is what a Redis
	// queue still holds (never lost, not yet handled).
	deadLettered func(ctx context.Context) (int64, error)
	pending      func(ctx context.Context) (int64, error)
	// close stops the server, then the receiver (draining it until ctx ends).
	close func(ctx context.Context) error
	// cleanup, when set, removes what the target left in Redis after counting.
	cleanup func(ctx context.Context)
}

// serverLabels mark every goroutine of an in-process target, so a CPU
// profile separates the server's cost from the generator's.
var serverLabels = pprof.Labels("side", "server")

// startTarget starts mode's server on 127.0.0.1:0.
func startTarget(ctx context.Context, c config, mode, runID string) (*target, error) {
	if mode == "external" {
		return &target{url: c.url, close: func(context.Context) error { return nil }}, nil
	}
	t := &target{counted: true}
	var (
		h        http.Handler
		shutdown = func(context.Context) error { return nil }
		err      error
	)
	t.deadLettered = func(context.Context) (int64, error) { return 0, nil }
	t.pending = func(context.Context) (int64, error) { return 0, nil }
	sleep := time.Duration(0)
	if strings.HasSuffix(mode, "-sleep") {
		sleep = c.sleep
	}
	pprof.Do(ctx, serverLabels, func(context.Context) {
		switch mode {
		case "bare":
			h = http.HandlerFunc(bare)
		case "memory", "memory-sleep":
			h, shutdown, err = t.memory(c, sleep)
		case "redis", "redis-sleep":
			h, shutdown, err = t.redis(ctx, c, mode, runID, sleep)
		default:
			err = fmt.Errorf("unknown mode %q", mode)
		}
	})
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = shutdown(ctx)
		return nil, err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       time.Minute,
	}
	served := make(chan error, 1)
	go pprof.Do(context.Background(), serverLabels, func(context.Context) { served <- srv.Serve(l) })
	t.url = "http://" + l.Addr().String() + "/webhooks/stripe"
	t.close = func(ctx context.Context) error {
		err := srv.Shutdown(ctx)
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		return errors.Join(err, shutdown(ctx))
	}
	return t, nil
}

// bare is the baseline: read the body as the receiver does (one buffer
// sized from Content-Length), answer 200.
func bare(w http.ResponseWriter, r *http.Request) {
	if n := r.ContentLength; n >= 0 && n <= receiver.DefaultMaxBodyBytes {
		buf := make([]byte, n)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
	} else if _, err := io.ReadAll(http.MaxBytesReader(w, r.Body, receiver.DefaultMaxBodyBytes)); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// handler counts events, after sleeping when asked to.
func (t *target) handler(sleep time.Duration) receiver.Handler {
	mux := receiver.NewMux()
	mux.HandleFunc("*", func(ctx context.Context, e *receiver.Event) error {
		if sleep > 0 {
			tm := time.NewTimer(sleep)
			select {
			case <-tm.C:
			case <-ctx.Done():
				tm.Stop()
				return ctx.Err()
			}
		}
		t.handled.Add(1)
		return nil
	})
	return mux
}

func (t *target) memory(c config, sleep time.Duration) (http.Handler, func(context.Context) error, error) {
	p, err := stripe.New(c.secret)
	if err != nil {
		return nil, nil, err
	}
	opts := []receiver.Option{}
	if sleep > 0 {
		opts = append(opts, receiver.Workers(c.sleepWorkers))
	}
	rc, err := receiver.New(p, t.handler(sleep), opts...)
	if err != nil {
		return nil, nil, err
	}
	t.deadLettered = func(ctx context.Context) (int64, error) {
		dls, err := rc.DeadLetters().List(ctx, 0)
		return int64(len(dls)), err
	}
	return rc, rc.Shutdown, nil
}

func (t *target) redis(ctx context.Context, c config, mode, runID string, sleep time.Duration) (http.Handler, func(context.Context) error, error) {
	opt, err := redis.ParseURL(c.redisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("-redis-url: %w", err)
	}
	workers := 8
	if sleep > 0 {
		workers = c.sleepWorkers
	}
	opt.PoolSize = c.concurrency + 64
	opt.ContextTimeoutEnabled = true
	opt.Protocol = 2 // RESP2: no peek for push notifications before each reply
	client := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("-redis-url: cannot reach redis at %s: %w", opt.Addr, err)
	}
	name := "hookwise:{loadtest-" + runID + "-" + mode + "}:stream"
	stream := redisq.Stream(name)
	q := redisq.New(client, stream, redisq.Consumer("loadtest"), redisq.Workers(workers))
	dl := redisq.NewDeadLetters(client, stream)
	p, err := stripe.New(c.secret)
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	rc, err := receiver.New(p, t.handler(sleep),
		receiver.WithStore(dedupe.NewRedis(client, dedupe.WithRedisPrefix("hookwise:loadtest:"+runID+":"+mode+":"))),
		receiver.WithQueue(q), receiver.WithDeadLetters(dl),
		// The run's keys expire soon after it; the lease still outlasts it.
		receiver.WithLease(10*time.Minute), receiver.WithRetention(10*time.Minute))
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	keys := []string{name, name + ":delayed", name + ":dead", name + ":dead:order"}
	t.deadLettered = func(ctx context.Context) (int64, error) { return client.ZCard(ctx, keys[3]).Result() }
	t.pending = func(ctx context.Context) (int64, error) {
		n, err := client.XLen(ctx, keys[0]).Result()
		if err != nil {
			return 0, err
		}
		d, err := client.ZCard(ctx, keys[1]).Result()
		return n + d, err
	}
	shutdown := func(ctx context.Context) error {
		return rc.Shutdown(ctx)
	}
	// The stream and dead letters are removed by cleanup, after counting.
	t.cleanup = func(ctx context.Context) {
		_ = client.Del(ctx, keys...).Err()
		client.Close()
	}
	return rc, shutdown, nil
}
