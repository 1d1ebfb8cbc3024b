// Package nethttp runs Hookwise receivers on the standard library's
// net/http, the stack of chi, Cloud Run and Cloud Functions, and is where
// their tested examples live.
//
// A receiver is an http.Handler: mount it on any router that takes one.
//
//	r := chi.NewRouter()
//	r.Post("/webhooks/stripe", rc.ServeHTTP)
//
// What this package adds is the end of a server's life in the right order,
// which is easy to get wrong: on SIGTERM stop the HTTP server first (no new
// deliveries, in-flight ones answered), then drain the receivers' queues,
// all within the platform's grace period (Cloud Run sends SIGKILL 10 seconds
// after SIGTERM). Server does that:
//
//	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
//	defer stop()
//	srv := &nethttp.Server{
//		HTTP:      &http.Server{Addr: nethttp.Addr(":8080"), Handler: r, ReadHeaderTimeout: 10 * time.Second},
//		Receivers: []nethttp.Shutdowner{rc},
//	}
//	if err := srv.ListenAndServe(ctx); err != nil { … } // after SIGTERM: stopped and drained
//
// The subdirectories cloudrun (a program) and cloudfunction (a function's
// entry point) are the platforms' examples, each tested.
package nethttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// DefaultShutdownTimeout is how long Server gives the HTTP server and the
// receivers to stop after its context ends: 8 s, inside the 10 s Cloud Run
// allows between SIGTERM and SIGKILL, with room to log and exit.
const DefaultShutdownTimeout = 8 * time.Second

// Addr returns the address to listen on: ":" followed by $PORT when it is set
// (Cloud Run, Cloud Functions and most platforms set it), else fallback.
func Addr(fallback string) string {
	if port := os.Getenv("PORT"); port != "" {
		return ":" + port
	}
	return fallback
}

// Shutdowner is what Server drains after the HTTP server stopped: a
// *receiver.Receiver, or anything else to stop then.
type Shutdowner interface {
	Shutdown(ctx context.Context) error
}

// Server serves HTTP in front of receivers until its context ends, then
// stops both in order: the HTTP server's Shutdown (no new requests,
// in-flight answers finished), then every receiver's Shutdown (their queues
// drained), sharing one deadline.
type Server struct {
	// HTTP is the server to run. Its Handler routes to the receivers; its
	// limits (ReadHeaderTimeout, ReadTimeout, MaxHeaderBytes) are yours to
	// set, as the receiver bounds only what it reads itself.
	HTTP *http.Server
	// Receivers are shut down, concurrently, once HTTP has stopped.
	Receivers []Shutdowner
	// ShutdownTimeout bounds the whole stop; 0 means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Logger receives the stop's progress; nil means slog.Default().
	Logger *slog.Logger
}

// ListenAndServe listens on s.HTTP.Addr and calls Serve.
func (s *Server) ListenAndServe(ctx context.Context) error {
	addr := s.HTTP.Addr
	if addr == "" {
		addr = ":http"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("nethttp: listen: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves s.HTTP on ln until ctx ends (a signal, with
// signal.NotifyContext) or the server fails, then stops the server and the
// receivers, in that order, within ShutdownTimeout. It returns nil after a
// clean stop; otherwise the server's error and every Shutdown error, joined
// (a *receiver.ShutdownError lists the events left unhandled).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	served := make(chan error, 1)
	go func() { served <- s.HTTP.Serve(ln) }()

	var (
		errs    []error
		stopped bool // the server returned by itself
	)
	select {
	case <-ctx.Done():
		log.InfoContext(ctx, "stopping: HTTP server first, then the receivers")
	case err := <-served:
		stopped = true
		if !errors.Is(err, http.ErrServerClosed) {
			log.ErrorContext(ctx, "HTTP server failed, stopping the receivers", slog.Any("error", err))
			errs = append(errs, fmt.Errorf("nethttp: serve: %w", err))
		}
	}
	timeout := s.ShutdownTimeout
	if timeout <= 0 {
		timeout = DefaultShutdownTimeout
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()

	if !stopped {
		if err := s.HTTP.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("nethttp: HTTP server shutdown: %w", err))
		}
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("nethttp: serve: %w", err))
		}
	}

	rerrs := make([]error, len(s.Receivers))
	var wg sync.WaitGroup
	for i, r := range s.Receivers {
		wg.Go(func() { rerrs[i] = r.Shutdown(sctx) })
	}
	wg.Wait()
	errs = append(errs, rerrs...)
	err := errors.Join(errs...)
	if err == nil {
		log.InfoContext(ctx, "stopped: queues drained")
	}
	return err
}
