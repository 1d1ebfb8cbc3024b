// Command catalog is a webhook receiver whose endpoints are chosen by
// configuration, from the provider catalog (providers.New): provider names
// and secrets come from a JSON file and the environment, not from code.
//
//	HOOKWISE_CONFIG=hooks.json go run -C examples ./catalog
//
// The file lists the endpoints:
//
//	{
//	  "addr": "127.0.0.1:8080",
//	  "endpoints": [
//	    {"path": "/webhooks/stripe",  "provider": "stripe",  "secrets_env": "STRIPE_WEBHOOK_SECRET"},
//	    {"path": "/webhooks/shopify", "provider": "shopify", "secrets_env": "SHOPIFY_SECRET"},
//	    {"path": "/webhooks/twilio",  "provider": "twilio",  "secrets_env": "TWILIO_AUTH_TOKEN",
//	     "url": "https://hooks.example.com/webhooks/twilio"}
//	  ]
//	}
//
// Secrets are read from the environment variable an endpoint names (a
// comma-separated list: the current secret first, more during a rotation),
// never from the file; public keys likewise from public_keys_env. "params"
// passes provider-specific settings (providers.Config.Params). The command
// refuses to start on an unknown provider name, a missing secret or a
// path served twice, and lists the names it knows.
//
// For each event handled it prints one JSON line on stdout,
// {"provider":"stripe","id":"evt_…","type":"invoice.paid"}; logs go to
// stderr. SIGINT or SIGTERM drains the queues and exits.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hookwise/hookwise/providers"
	"github.com/hookwise/hookwise/receiver"
)

// Config is the file's shape.
type Config struct {
	Addr      string     `json:"addr"`
	Endpoints []Endpoint `json:"endpoints"`
}

// Endpoint is one route: a path, a provider of the catalog, and where its
// secrets are.
type Endpoint struct {
	Path          string            `json:"path"`
	Provider      string            `json:"provider"`
	SecretsEnv    string            `json:"secrets_env"`
	PublicKeysEnv string            `json:"public_keys_env"`
	URL           string            `json:"url"`
	Tolerance     string            `json:"tolerance"` // a Go duration; empty keeps the provider's default
	Params        map[string]string `json:"params"`
}

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, logger, os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "catalog:", err)
		os.Exit(1)
	}
}

// run loads the configuration named by HOOKWISE_CONFIG, serves it until ctx
// is done, then drains.
func run(ctx context.Context, logger *slog.Logger, stdout io.Writer, getenv func(string) string) error {
	path := getenv("HOOKWISE_CONFIG")
	if path == "" {
		return errors.New("HOOKWISE_CONFIG names no file (see the package documentation)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var cfg Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	mux, receivers, err := build(cfg, getenv, logger, stdout)
	if err != nil {
		return err
	}
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return serve(ctx, logger, ln, mux, receivers)
}

// build makes one receiver per endpoint, from the catalog.
func build(cfg Config, getenv func(string) string, logger *slog.Logger, stdout io.Writer) (*http.ServeMux, []*receiver.Receiver, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, nil, errors.New("the configuration lists no endpoint")
	}
	var out sync.Mutex
	print := func(ctx context.Context, e *receiver.Event) error {
		line, _ := json.Marshal(struct {
			Provider string `json:"provider"`
			ID       string `json:"id"`
			Type     string `json:"type"`
		}{e.Provider, e.ID, e.Type})
		out.Lock()
		defer out.Unlock()
		_, err := fmt.Fprintf(stdout, "%s\n", line)
		return err
	}
	mux := http.NewServeMux()
	var receivers []*receiver.Receiver
	seen := map[string]bool{}
	for i, ep := range cfg.Endpoints {
		if ep.Path == "" || !strings.HasPrefix(ep.Path, "/") || seen[ep.Path] {
			return nil, nil, fmt.Errorf("endpoint %d: path %q empty, relative or served twice", i, ep.Path)
		}
		seen[ep.Path] = true
		c := providers.Config{URL: ep.URL, Params: ep.Params}
		if ep.SecretsEnv != "" {
			c.Secrets = list(getenv(ep.SecretsEnv))
		}
		if ep.PublicKeysEnv != "" {
			c.PublicKeys = list(getenv(ep.PublicKeysEnv))
		}
		if ep.Tolerance != "" {
			d, err := time.ParseDuration(ep.Tolerance)
			if err != nil {
				return nil, nil, fmt.Errorf("endpoint %s: tolerance: %w", ep.Path, err)
			}
			c.Tolerance = d
		}
		p, err := providers.New(ep.Provider, c)
		if errors.Is(err, providers.ErrUnknownProvider) {
			return nil, nil, fmt.Errorf("endpoint %s: %w (known: %s)", ep.Path, err, strings.Join(providers.Names(), ", "))
		}
		if err != nil {
			return nil, nil, fmt.Errorf("endpoint %s (%s, secrets from $%s): %w", ep.Path, ep.Provider, ep.SecretsEnv, err)
		}
		h := receiver.NewMux()
		h.Handle("*", receiver.HandlerFunc(print))
		rc, err := receiver.New(p, h, receiver.WithLogger(logger))
		if err != nil {
			return nil, nil, err
		}
		mux.Handle(ep.Path, rc)
		receivers = append(receivers, rc)
	}
	return mux, receivers, nil
}

// list splits a comma-separated list, dropping empty elements.
func list(s string) []string {
	return slices.DeleteFunc(strings.Split(s, ","), func(e string) bool { return strings.TrimSpace(e) == "" })
}

// serve serves mux on ln until ctx is done, then stops intake and drains
// every receiver.
func serve(ctx context.Context, logger *slog.Logger, ln net.Listener, mux http.Handler, receivers []*receiver.Receiver) error {
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      20 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("catalog receiver listening", "addr", ln.Addr().String(), "endpoints", len(receivers))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	var errs []error
	for _, rc := range receivers {
		errs = append(errs, rc.Shutdown(sctx))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	logger.Info("stopped: queues drained")
	return nil
}
