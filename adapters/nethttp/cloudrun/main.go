// Command cloudrun is a webhook receiver as Cloud Run runs it: a plain
// net/http server on $PORT that, on SIGTERM, stops taking requests and
// drains its queues within the 10 seconds Cloud Run allows before SIGKILL.
//
//	GITHUB_WEBHOOK_SECRET=… STRIPE_WEBHOOK_SECRET=… PORT=8080 go run ./cloudrun
//
// Routes: POST /webhooks/github, POST /webhooks/stripe, GET /healthz.
// Each handled event is printed to stdout as a JSON line
// {"provider":"github","id":"…","type":"issues.opened"}; logs are JSON on
// stderr, which Cloud Logging parses. It exits 0 after a clean stop, 1 when
// a secret is missing or events were left unhandled (each logged with its ID).
//
// Deploy it with the CPU always allocated (gcloud run deploy
// --no-cpu-throttling): handlers run after the answer, and with CPU allocated
// only during requests Cloud Run throttles them between requests. See
// docs/adapters.md for that and for a durable queue (Redis) across instances.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/hookwise/hookwise/adapters/nethttp"
	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("exiting", slog.Any("error", err))
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	ghSecret, stSecret := os.Getenv("GITHUB_WEBHOOK_SECRET"), os.Getenv("STRIPE_WEBHOOK_SECRET")
	if ghSecret == "" || stSecret == "" {
		return errors.New("set GITHUB_WEBHOOK_SECRET and STRIPE_WEBHOOK_SECRET")
	}
	gh, err := github.New(ghSecret)
	if err != nil {
		return err
	}
	st, err := stripe.New(stSecret)
	if err != nil {
		return err
	}

	var mu sync.Mutex
	out := json.NewEncoder(os.Stdout)
	mux := receiver.NewMux()
	mux.Handle("*", receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
		// Your work goes here; key its side effects by e.ID.
		mu.Lock()
		defer mu.Unlock()
		return out.Encode(map[string]string{"provider": e.Provider, "id": e.ID, "type": e.Type})
	}))
	ghrc, err := receiver.New(gh, mux, receiver.WithLogger(log))
	if err != nil {
		return err
	}
	strc, err := receiver.New(st, mux, receiver.WithLogger(log))
	if err != nil {
		return err
	}

	routes := http.NewServeMux()
	routes.Handle("POST /webhooks/github", ghrc)
	routes.Handle("POST /webhooks/stripe", strc)
	routes.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })

	srv := &nethttp.Server{
		HTTP: &http.Server{
			Addr:              nethttp.Addr(":8080"),
			Handler:           routes,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    64 << 10,
		},
		Receivers: []nethttp.Shutdowner{ghrc, strc},
		Logger:    log,
	}
	log.Info("listening", slog.String("addr", srv.HTTP.Addr))
	return srv.ListenAndServe(ctx)
}
