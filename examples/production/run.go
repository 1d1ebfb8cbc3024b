package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric/noop"

	hwotel "github.com/hookwise/hookwise/adapters/otel"
	hookprom "github.com/hookwise/hookwise/adapters/prometheus"
	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/providers"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/redisq"
)

// Bounds of the steps that talk to Redis or to the trace collector.
const (
	startupPingTimeout = 5 * time.Second
	readyPingTimeout   = 500 * time.Millisecond
	traceFlushTimeout  = 5 * time.Second
)

// ErrUnfinished is matched (errors.Is) by run's error when a receiver's
// Shutdown ran out of time with acknowledged events not finished. With the
// Redis queue they are not lost: they stay pending in their stream, and
// another replica (after the visibility timeout) or this one restarted under
// the same POD_NAME (at once) runs them.
var ErrUnfinished = errors.New("shutdown left acknowledged events unfinished")

// run serves until ctx is done (main cancels it on SIGTERM or SIGINT),
// then shuts down in order. It returns an error when it could not start,
// and one matching ErrUnfinished when events were left for another replica.
func run(ctx context.Context, env func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(env)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	logRedisTo(log)

	// Redis: required, and reachable at start (a replica that cannot reach
	// it would only answer 503).
	rdb := redis.NewClient(cfg.redis)
	defer rdb.Close() // step 6 of the shutdown; a second Close is harmless
	pctx, cancel := context.WithTimeout(ctx, startupPingTimeout)
	err = rdb.Ping(pctx).Err()
	cancel()
	if err != nil {
		return fmt.Errorf("REDIS_URL: cannot reach redis at %s: %w", cfg.redis.Addr, err)
	}

	tr, err := newTracing(ctx, cfg)
	if err != nil {
		return err
	}
	defer tr.shutdown(context.Background()) // only on the early returns; the shutdown flushes it in order

	// Metrics: a registry of our own, with the Go runtime and process
	// collectors and the receivers' metrics.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := hookprom.New(reg)
	if err != nil {
		return err
	}

	store := dedupe.NewRedis(rdb)
	out := &work{out: stdout, log: log}
	webhooks := http.NewServeMux()
	var receivers []*receiver.Receiver
	for _, ep := range endpoints {
		rc, h, err := newEndpoint(ep, cfg, rdb, store, metrics, tr, out, log)
		if err != nil {
			for _, r := range receivers {
				_ = r.Shutdown(ctx)
			}
			return err
		}
		receivers = append(receivers, rc)
		webhooks.Handle("POST "+ep.path, h)
	}

	var ready atomic.Bool
	admin := http.NewServeMux()
	admin.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry:          reg,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		Timeout:           10 * time.Second,
		EnableOpenMetrics: true,
	}))
	admin.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		// Liveness: the process serves requests. It never looks at Redis:
		// restarting a replica because Redis is down would not bring Redis back.
		_, _ = io.WriteString(w, "ok\n")
	})
	admin.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), readyPingTimeout)
		defer cancel()
		if err := rdb.Ping(ctx).Err(); err != nil {
			http.Error(w, "redis unreachable", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})

	// Bind both listeners before serving anything, so a taken port fails
	// the start rather than half of it.
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		shutdownAll(ctx, receivers)
		return fmt.Errorf("ADDR: %w", err)
	}
	adminLn, err := net.Listen("tcp", cfg.adminAddr)
	if err != nil {
		ln.Close()
		shutdownAll(ctx, receivers)
		return fmt.Errorf("ADMIN_ADDR: %w", err)
	}
	srv := newServer(webhooks, log)
	adminSrv := newServer(admin, log)
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	go func() { errc <- adminSrv.Serve(adminLn) }()
	ready.Store(true)
	log.Info("serving", "addr", ln.Addr().String(), "admin_addr", adminLn.Addr().String(),
		"consumer", cfg.consumer, "redis", cfg.redis.Addr, "tracing", cfg.tracesURL != "")

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutdown: signal received")
	case serveErr = <-errc:
		log.Error("shutdown: a listener failed", "error", serveErr)
	}

	// 1. Not ready: the load balancer stops sending new deliveries here.
	ready.Store(false)
	// 2. Give it time to notice (its probe period × failure threshold) while
	// this replica still serves what it is sent.
	if serveErr == nil && cfg.drain > 0 {
		log.Info("shutdown: not ready; draining the load balancer", "drain", cfg.drain.String())
		time.Sleep(cfg.drain)
	}
	sctx, cancelShutdown := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancelShutdown()
	// 3. Stop intake: no new connection; requests in flight finish (each
	// either queued in Redis and answered 2xx, or answered non-2xx).
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown: http server", "error", err)
	}
	log.Info("shutdown: intake stopped")
	// 4. Let the receivers finish the events they hold; what they cannot
	// finish in time stays pending in Redis for another replica.
	rcErr := shutdownAll(sctx, receivers)
	log.Info("shutdown: receivers stopped", "unfinished", rcErr != nil)
	if rcErr != nil {
		// Say what is left in each stream (shared with the other replicas)
		// while Redis is still open.
		for i, rc := range receivers {
			qctx, cancel := context.WithTimeout(context.Background(), readyPingTimeout)
			st, err := rc.Stats(qctx)
			cancel()
			if err == nil {
				log.Warn("shutdown: backlog left in redis", "endpoint", endpoints[i].name, "depth", st.Depth)
			}
		}
	}
	// 5. Flush the spans of everything above.
	fctx, cancelFlush := context.WithTimeout(context.Background(), traceFlushTimeout)
	if err := tr.shutdown(fctx); err != nil {
		log.Warn("shutdown: trace flush", "error", err)
	} else {
		log.Info("shutdown: traces flushed")
	}
	cancelFlush()
	// 6. Redis last among the dependencies: the receivers used it to the end.
	if err := rdb.Close(); err != nil {
		log.Warn("shutdown: redis close", "error", err)
	}
	// The admin listener closes at the very end, so that /metrics and
	// /healthz answered throughout.
	actx, cancelAdmin := context.WithTimeout(context.Background(), time.Second)
	_ = adminSrv.Shutdown(actx)
	cancelAdmin()

	if rcErr != nil {
		log.Error("shutdown: events left unfinished (pending in redis, not lost)", "error", rcErr)
		return fmt.Errorf("%w: %w", ErrUnfinished, rcErr)
	}
	if serveErr != nil {
		return serveErr
	}
	log.Info("shutdown: complete")
	return nil
}

// newEndpoint builds one endpoint's receiver on Redis, instrumented, and the
// http.Handler that serves it.
func newEndpoint(ep endpoint, cfg *config, rdb *redis.Client, store dedupe.Store, metrics *hookprom.Metrics,
	tr *tracing, out *work, log *slog.Logger) (*receiver.Receiver, http.Handler, error) {
	p, err := providers.New(ep.provider, providers.Config{Secrets: cfg.secrets[ep.name]})
	if err != nil {
		// The providers' errors name the problem, never the secret.
		return nil, nil, fmt.Errorf("%s: %w", ep.env, err)
	}
	mux := receiver.NewMux()
	out.routes(ep.name, mux)

	tel, err := hwotel.New(
		hwotel.WithTracerProvider(tr.provider),
		hwotel.WithMeterProvider(noop.NewMeterProvider()), // metrics go to Prometheus
		hwotel.WithMux(mux),
		hwotel.WithEndpoint(ep.name),
	)
	if err != nil {
		return nil, nil, err
	}
	mux.Use(tel.Middleware) // a CONSUMER span per attempt, linked to the delivery's

	// One stream per endpoint, its dead letters beside it (same hash tag).
	stream := redisq.Stream("hookwise:{" + ep.name + "}:stream")
	opts := []receiver.Option{
		receiver.WithEndpoint(ep.name),
		receiver.WithLogger(log.With("endpoint", ep.name)),
		receiver.WithStore(store),
		receiver.WithQueue(redisq.New(rdb, stream, redisq.Consumer(cfg.consumer), redisq.Logger(log.With("endpoint", ep.name)))),
		receiver.WithDeadLetters(redisq.NewDeadLetters(rdb, stream)),
		receiver.WithMaxBodyBytes(receiver.DefaultMaxBodyBytes), // 413 beyond 5 MiB, read through a limit
		// Both adapters observe: Prometheus counts, OTel annotates the spans.
		receiver.WithObserver(metrics.Observer(mux)),
	}
	// tel.Options: its observer, and the propagator that carries the
	// delivery's trace context in Event.Meta, through Redis.
	opts = append(opts, tel.Options()...)
	rc, err := receiver.New(p, mux, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", ep.name, err)
	}
	if err := metrics.Watch(ep.name, rc); err != nil {
		_ = rc.Shutdown(context.Background())
		return nil, nil, err
	}
	// Prometheus times the whole request path, the OTel SERVER span inside it.
	return rc, metrics.Instrument(tel.Instrument(rc)), nil
}

// shutdownAll shuts the receivers down at once, sharing ctx's deadline.
func shutdownAll(ctx context.Context, receivers []*receiver.Receiver) error {
	errs := make([]error, len(receivers))
	var wg sync.WaitGroup
	for i, rc := range receivers {
		wg.Go(func() { errs[i] = rc.Shutdown(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// newServer returns an http.Server with every timeout set, for webhook
// deliveries: a few KiB of headers and a body of up to a few MiB, sent at
// once by a provider's servers.
func newServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,  // a slow-header (slowloris) client is cut after 5 s
		ReadTimeout:       15 * time.Second, // the whole request, body included
		WriteTimeout:      20 * time.Second, // from the end of the headers to the end of the answer
		IdleTimeout:       60 * time.Second, // keep-alive between deliveries
		MaxHeaderBytes:    64 << 10,         // 64 KiB; providers send a few KiB
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
