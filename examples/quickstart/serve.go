package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/hookwise/hookwise/examples/internal/eventline"
	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/providers/slack"
	"github.com/hookwise/hookwise/providers/standardwebhooks"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
)

// Development secrets, used when the environment sets none. The send
// sub-command signs with the same ones.
const (
	devGitHubSecret   = "dev-github-secret"
	devStripeSecret   = "whsec_dev_stripe_secret"
	devSlackSecret    = "dev-slack-signing-secret"
	devStandardSecret = "whsec_aG9va3dpc2UtZGV2LXNlY3JldC0wMTIzNDU2Nzg5" // base64("hookwise-dev-secret-0123456789")
)

// endpoint is one route of the quickstart.
type endpoint struct {
	name, path, env, dev string
}

var endpoints = []endpoint{
	{"github", "/webhooks/github", "GITHUB_WEBHOOK_SECRET", devGitHubSecret},
	{"stripe", "/webhooks/stripe", "STRIPE_WEBHOOK_SECRET", devStripeSecret},
	{"slack", "/webhooks/slack", "SLACK_SIGNING_SECRET", devSlackSecret},
	{"standard", "/webhooks/standard", "WEBHOOK_SECRET", devStandardSecret},
}

// secret returns the endpoint's secret from getenv, or its development one.
func (ep endpoint) secret(getenv func(string) string, log *slog.Logger) string {
	if s := getenv(ep.env); s != "" {
		return s
	}
	if log != nil {
		log.Warn("secret not set; using a development secret", "env", ep.env, "provider", ep.name)
	}
	return ep.dev
}

func newProvider(name, secret string) (receiver.Provider, error) {
	switch name {
	case "github":
		return github.New(secret)
	case "stripe":
		return stripe.New(secret)
	case "slack":
		return slack.New(secret)
	case "standard":
		return standardwebhooks.New(secret)
	}
	return nil, fmt.Errorf("unknown provider %q", name)
}

// line is the line printed for each finished event.
type line = eventline.Line

// serve runs the receiver until SIGINT or SIGTERM.
func serve(ctx context.Context, log *slog.Logger, stdout io.Writer, getenv func(string) string) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var delay time.Duration
	if s := getenv("HANDLER_DELAY"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return fmt.Errorf("HANDLER_DELAY=%q: want a Go duration such as 200ms", s)
		}
		delay = d
	}
	conns, err := maxConns(getenv)
	if err != nil {
		return err
	}
	addr := listenAddr(getenv, log)
	backend, err := newBackend(ctx, getenv("REDIS_URL"), getenv("DATABASE_URL"), addr, log)
	if err != nil {
		return err
	}
	defer backend.close()

	out := eventline.NewWriter(stdout)
	observer := receiver.ObserverFunc(func(_ context.Context, o receiver.Observation) {
		if o.Stage == receiver.StageDeadLettered && o.Event != nil {
			reason := "unknown"
			if o.Err != nil {
				reason = o.Err.Error()
			}
			_ = out.Write(line{Provider: o.Event.Provider, ID: o.Event.ID, Type: o.Event.Type, DeadLetter: reason})
		}
	})
	mux := http.NewServeMux()
	ins, observer, err := withInspector(mux, observer, getenv, log) // INSPECTOR_TOKEN: /_hookwise/
	if err != nil {
		return err
	}
	var receivers []*receiver.Receiver
	for _, ep := range endpoints {
		p, err := newProvider(ep.name, ep.secret(getenv, log))
		if err != nil {
			return fmt.Errorf("%s: %w", ep.env, err)
		}
		handler := receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
			if delay > 0 {
				select {
				case <-time.After(delay):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			_ = out.Write(line{Provider: e.Provider, ID: e.ID, Type: e.Type})
			return nil
		})
		h := receiver.NewMux()
		h.Handle("*", handler)
		opts := []receiver.Option{receiver.WithLogger(log), receiver.WithObserver(observer)}
		opts = append(opts, backend.options(ep.name)...)
		if ep.name == "standard" {
			v, err := userCreatedValidator()
			if err != nil {
				return err
			}
			opts = append(opts, receiver.WithValidator(v, receiver.AcknowledgeInvalid))
		}
		rc, err := receiver.New(p, h, opts...)
		if err != nil {
			return err
		}
		receivers = append(receivers, rc)
		mux.Handle("POST "+ep.path, rc)
		if err := inspectDeadLetters(ins, ep.name, rc); err != nil {
			return err
		}
	}

	srv := newServer(mux)
	ln, err := listen(addr, conns)
	if err != nil {
		return err
	}
	log.Info("quickstart listening", "addr", ln.Addr().String(), "backend", backend.name, "max_conns", conns)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Stop intake first, then drain the queues.
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "error", err)
	}
	var errs []error
	for _, rc := range receivers {
		errs = append(errs, rc.Shutdown(sctx))
	}
	if err := errors.Join(errs...); err != nil {
		// The receivers logged each unfinished event's ID at ERROR.
		return fmt.Errorf("shutdown did not drain the queues: %w", err)
	}
	log.Info("stopped: queues drained")
	return nil
}
