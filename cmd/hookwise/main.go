// Command hookwise is Hookwise's command-line tool: it sends and signs test
// deliveries exactly as each provider of the catalog signs them, verifies a
// captured delivery and says why it fails, lists, shows, replays and purges
// dead letters in Redis, and runs a local receiver that prints every
// delivery and its verdict.
//
//	go install github.com/hookwise/hookwise/cmd/hookwise@latest
//
//	hookwise send PROVIDER -url URL [-secret S] [-type T] [-id ID] [-data FILE | -set path=value …]
//	hookwise sign PROVIDER [same flags; -url optional] [-format curl|http]
//	hookwise verify PROVIDER -secret S (-request FILE | -headers FILE -body FILE)
//	hookwise dlq list|show|replay|purge -redis URL [-stream NAME] [filters]
//	hookwise listen [-addr A] PROVIDER[=SECRET] …
//
// Exit codes: 0 success; 1 the operation's answer was negative (a non-2xx
// answer to send, a delivery that does not verify, nothing matched); 2 a
// command-line mistake; 3 an input that cannot be read or a service that
// cannot be reached; 4 (verify) the signature verifies but a receiver
// would refuse the delivery's envelope (400). See docs/cli.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Exit codes.
const (
	exitOK       = 0
	exitNegative = 1 // non-2xx, not verified, nothing matched
	exitUsage    = 2
	exitIO       = 3 // unreadable input, unreachable service
	exitEnvelope = 4 // verify: authentic, but the envelope is refused
)

// env is what a command touches outside itself, replaced in tests.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	client         *http.Client
	now            func() time.Time
	readFile       func(string) ([]byte, error)
	stat           func(string) (os.FileInfo, error)
	// ready, when set, is told the address listen serves on.
	ready func(addr string)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &env{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		client:   &http.Client{Timeout: 30 * time.Second},
		now:      time.Now,
		readFile: readFileBounded,
		stat:     os.Stat,
	})
	stop()
	os.Exit(code)
}

const usage = `usage: hookwise COMMAND [flags]

commands:
  send PROVIDER -url URL [-secret S] [-type T] [-id ID] [-data FILE | -set path=value …]
        send a delivery signed exactly as PROVIDER signs it; prints the answer
  sign PROVIDER [-url URL] [same flags as send] [-format curl|http]
        print the signed headers and body (a curl command, or a raw HTTP request)
  verify PROVIDER -secret S (-request FILE | -headers FILE -body FILE)
        verify a captured delivery and, when it fails, say the likely cause
  dlq list|show|replay|purge -redis URL [-stream NAME] [-provider P] [-type T] [-older-than D]
        dead letters in Redis (PostgreSQL: hookwise-pg dlq, from adapters/postgres)
  listen [-addr A] PROVIDER[=SECRET] …
        a local receiver that prints each delivery and its verdict
  providers
        list the providers and their fixtures' event types

Run "hookwise COMMAND -h" for a command's flags. Exit codes: 0 success,
1 negative answer, 2 usage, 3 input or service unavailable, 4 (verify)
authentic but the envelope would be refused.
`

// run runs one command and returns its exit code.
func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "send":
		err = cmdSend(ctx, args[1:], e, false)
	case "sign":
		err = cmdSend(ctx, args[1:], e, true)
	case "verify":
		err = cmdVerify(ctx, args[1:], e)
	case "dlq":
		err = cmdDLQ(ctx, args[1:], e)
	case "listen":
		err = cmdListen(ctx, args[1:], e)
	case "providers":
		err = cmdProviders(e)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(e.stderr, "hookwise: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	return exitCode(err, e.stderr)
}

// exitError carries an exit code; its message, when any, is printed.
type exitError struct {
	code int
	err  error
}

func (x *exitError) Error() string {
	if x.err == nil {
		return fmt.Sprintf("exit %d", x.code)
	}
	return x.err.Error()
}
func (x *exitError) Unwrap() error { return x.err }

func exitWith(code int, err error) error { return &exitError{code: code, err: err} }

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var x *exitError
	if errors.As(err, &x) {
		if x.err != nil {
			fmt.Fprintf(stderr, "hookwise: %v\n", x.err)
		}
		return x.code
	}
	fmt.Fprintf(stderr, "hookwise: %v\n", err)
	if errors.Is(err, errUsage) {
		return exitUsage
	}
	return exitIO
}

// maxInputFile bounds every file the tool reads (captures, bodies,
// secrets): beyond it, the file is refused rather than read.
const maxInputFile = 16 << 20

// errTooLarge matches a file past maxInputFile.
var errTooLarge = errors.New("file too large")

// readFileBounded reads a file of at most maxInputFile bytes ("-" is
// standard input).
func readFileBounded(path string) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	return readBounded(r, maxInputFile)
}

// readBounded reads r to its end, refusing more than limit bytes.
func readBounded(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", errTooLarge, limit)
	}
	return b, nil
}
