// Command quickstart is a webhook receiver for GitHub, Stripe, Slack and
// Standard Webhooks senders, built on Hookwise's defaults.
//
//	go run -C examples ./quickstart                 # serve on $ADDR (default :8080, or 127.0.0.1:8080 on development secrets)
//	go run -C examples ./quickstart send stripe     # send it a signed test delivery
//
// It serves POST /webhooks/github, /webhooks/stripe, /webhooks/slack and
// /webhooks/standard, with secrets from GITHUB_WEBHOOK_SECRET,
// STRIPE_WEBHOOK_SECRET, SLACK_SIGNING_SECRET and WEBHOOK_SECRET (a whsec_
// secret); an unset one falls back to a development secret, said on stderr.
//
// For each event its handler finishes it prints one JSON line on stdout,
// {"provider":"stripe","id":"evt_…","type":"invoice.paid"}, and for each
// event that is dead-lettered instead (a payload failing its schema, say) a
// line with a "dead_letter" field giving the reason. Logs go to stderr.
// HANDLER_DELAY (a Go duration) makes the handler sleep per event. REDIS_URL
// switches dedupe and queueing to Redis, DATABASE_URL (postgres://…) to
// PostgreSQL (adapters/postgres; its tables are created in the schema
// "hookwise"); both set is refused, and a malformed one is reported with its
// password redacted. MAX_CONNS caps the connections open at once (default
// 1024). INSPECTOR_TOKEN (at least 16 bytes) mounts the inspector, a live
// page of deliveries and dead letters (package inspector), at /_hookwise/.
// SIGINT or SIGTERM shuts it down gracefully.
//
// Without ADDR it listens on 127.0.0.1:8080 while any development secret is
// in use (anyone knowing the published secrets could sign for it), on :8080
// once every secret is set. Its http.Server sets every timeout and
// MaxHeaderBytes (see newServer), as README's "Running in production"
// recommends.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var err error
	if len(os.Args) > 1 && os.Args[1] == "send" {
		err = send(os.Args[2:], os.Stdout)
	} else if len(os.Args) > 1 {
		err = fmt.Errorf("unknown command %q (want no argument, or send)", os.Args[1])
	} else {
		err = serve(context.Background(), logger, os.Stdout, os.Getenv)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}
