// Command production is a webhook receiver wired as a team would deploy it:
// GitHub, Stripe and Standard Webhooks endpoints on Redis (dedupe, a durable
// queue per endpoint, dead letters), Prometheus metrics, OpenTelemetry
// traces, JSON logs, liveness and readiness probes, and a graceful shutdown
// in the order a load balancer needs.
//
//	REDIS_URL=redis://redis:6379/0 \
//	GITHUB_WEBHOOK_SECRET=… STRIPE_WEBHOOK_SECRET=whsec_… STANDARD_WEBHOOK_SECRET=whsec_… \
//	go run .
//
// It refuses to start without REDIS_URL or any of the three secrets: there
// are no development secrets here. See README.md for every variable, the
// endpoints and the shutdown sequence.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	go func() {
		// Once the first signal has started the graceful shutdown, restore
		// the default behaviour: a second signal ends the process at once.
		<-ctx.Done()
		stop()
	}()
	if err := run(ctx, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "production:", err)
		os.Exit(1)
	}
}
