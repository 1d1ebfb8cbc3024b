// Package cloudfunction is a webhook receiver as a Google Cloud Functions
// (Cloud Run functions) HTTP function: the function is Webhook, of the
// platform's func(http.ResponseWriter, *http.Request) shape.
//
// Deploy the package with Webhook as its entry point. With the Functions
// Framework (second generation), register it in the function's package:
//
//	import "github.com/GoogleCloudPlatform/functions-framework-go/functions"
//
//	func init() { functions.HTTP("Webhook", cloudfunction.Webhook) }
//
// The receiver is built once per instance, on the first request, from
// GITHUB_WEBHOOK_SECRET (set it from Secret Manager); until it can be built
// every request is answered 503 with Retry-After, so GitHub retries instead
// of dropping deliveries.
//
// The platform gives a function no stop hook but SIGTERM, and sends SIGKILL
// 10 seconds later. The package catches SIGTERM and calls Stop: the receiver
// refuses new deliveries with 503 (their senders retry), drains its queue
// for up to StopTimeout, and the process exits (1 if events were left
// unhandled, each logged with its ID). Handlers run after the answer, so
// deploy with instance-based billing, the CPU always allocated (the setting
// of the Cloud Run service behind the function, --no-cpu-throttling); and,
// to lose nothing an instance held when it dies, give the receiver the
// Redis queue (see docs/adapters.md).
package cloudfunction

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/receiver"
)

// StopTimeout bounds Stop's drain when SIGTERM arrives: 8 s of the 10 s the
// platform allows before SIGKILL.
const StopTimeout = 8 * time.Second

// retryAfter is what a request waits for when the receiver cannot be built.
const retryAfter = 30 * time.Second

var (
	log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	// handle is the events' handler: your work goes here, keyed by e.ID.
	handle = func(ctx context.Context, e *receiver.Event) error {
		log.InfoContext(ctx, "handled", slog.String("id", e.ID), slog.String("type", e.Type))
		return nil
	}
	built = sync.OnceValues(build)
	// current is the receiver once built, for Stop.
	current atomic.Pointer[receiver.Receiver]
)

func build() (*receiver.Receiver, error) {
	p, err := github.New(os.Getenv("GITHUB_WEBHOOK_SECRET"))
	if err != nil {
		return nil, err
	}
	mux := receiver.NewMux()
	mux.Handle("*", receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error { return handle(ctx, e) }))
	rc, err := receiver.New(p, mux, receiver.WithLogger(log))
	if err != nil {
		return nil, err
	}
	current.Store(rc)
	return rc, nil
}

// Webhook is the function's entry point: it answers each GitHub delivery as
// the receiver's status table says (200 accepted or duplicate, 401 forged,
// 413 oversized, 503 with Retry-After when it cannot take the event now).
func Webhook(w http.ResponseWriter, r *http.Request) {
	rc, err := built()
	if err != nil {
		log.ErrorContext(r.Context(), "receiver not configured", slog.Any("error", err))
		receiver.WriteRefusal(w, receiver.Refusal{Status: http.StatusServiceUnavailable, RetryAfter: retryAfter})
		return
	}
	rc.ServeHTTP(w, r)
}

// Stop shuts the instance's receiver down, if it was built: deliveries
// arriving from then on are answered 503 and the queue drains until ctx ends.
// It returns the receiver's Shutdown error (a *receiver.ShutdownError lists
// the events left unhandled).
func Stop(ctx context.Context) error {
	rc := current.Load()
	if rc == nil {
		return nil // never built: nothing was accepted
	}
	return rc.Shutdown(ctx)
}

func init() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	go func() {
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), StopTimeout)
		err := Stop(ctx)
		cancel()
		if err != nil {
			log.Error("stopped with events unhandled", slog.Any("error", err))
			os.Exit(1)
		}
		log.Info("stopped: queues drained")
		os.Exit(0)
	}()
}
