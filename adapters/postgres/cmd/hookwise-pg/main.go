// Command hookwise-pg is the dead-letter tool of Hookwise's PostgreSQL
// backend (package github.com/hookwise/hookwise/adapters/postgres): the
// "dlq" command of the hookwise tool, with the same flags, output and exit
// codes, against the dead_letters table of an Inbox's schema. It lives in
// the adapter's module so that pgx never enters the library's go.mod.
//
//	go install github.com/hookwise/hookwise/adapters/postgres/cmd/hookwise-pg@latest
//
//	hookwise-pg dlq list   -database URL [-schema S] [-provider P] [-type T] [-older-than D] [-newer-than D] [-limit N] [-json]
//	hookwise-pg dlq show   [flags] EVENT-ID …
//	hookwise-pg dlq replay [flags] [-endpoint E] (EVENT-ID … | -all-matching)
//	hookwise-pg dlq purge  [flags] (EVENT-ID … | -all-matching)
//
// replay goes through the normal path with receiver.Replayer: the event's
// dedupe mark released, the event stored in the events table for its
// endpoint's queue (the Inbox's, as a new attempt 1 with a fresh claim
// token), the dead letter deleted; the receivers of that endpoint then run
// it with their handlers, retries and dedupe.
//
// Exit codes: 0 done; 1 nothing matched; 2 a command-line mistake; 3
// PostgreSQL unreachable, the schema missing, or an operation failed.
// See docs/cli.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hookwise/hookwise/cmd/hookwise/dlqcmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &env{stdout: os.Stdout, stderr: os.Stderr, now: time.Now, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// env is what the command touches outside itself, replaced in tests.
type env struct {
	stdout, stderr io.Writer
	now            func() time.Time
	getenv         func(string) string
}

const usage = `usage: hookwise-pg dlq list|show|replay|purge -database URL [-schema S] [flags]

Dead letters of Hookwise's PostgreSQL backend (adapters/postgres), as
"hookwise dlq" reads Redis's. Run "hookwise-pg dlq -h" for the flags.
Exit codes: 0 success, 1 nothing matched, 2 usage, 3 PostgreSQL
unreachable or an operation failed.
`

// run runs one command and returns its exit code.
func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return dlqcmd.ExitUsage
	}
	var err error
	switch args[0] {
	case "dlq":
		err = cmdDLQ(ctx, args[1:], e)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, usage)
		return dlqcmd.ExitOK
	default:
		fmt.Fprintf(e.stderr, "hookwise-pg: unknown command %q\n\n%s", args[0], usage)
		return dlqcmd.ExitUsage
	}
	if err == nil {
		return dlqcmd.ExitOK
	}
	var x *dlqcmd.ExitError
	if errors.As(err, &x) {
		if x.Err != nil {
			fmt.Fprintf(e.stderr, "hookwise-pg: %v\n", x.Err)
		}
		return x.Code
	}
	fmt.Fprintf(e.stderr, "hookwise-pg: %v\n", err)
	return dlqcmd.ExitIO
}
