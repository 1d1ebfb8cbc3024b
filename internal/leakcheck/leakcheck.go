// Package leakcheck fails a test binary whose tests leave goroutines behind,
// in the manner of go.uber.org/goleak's VerifyTestMain, without the
// dependency.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// VerifyTestMain runs the tests, then fails the binary if goroutines other
// than the runtime's and the testing package's own are still running after a
// grace period.
func VerifyTestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := Leaked(5 * time.Second); len(leaked) > 0 {
			fmt.Fprintf(os.Stderr, "leakcheck: %d goroutines still running after the tests:\n\n%s\n", len(leaked), strings.Join(leaked, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}

// Leaked waits up to grace for unexpected goroutines to end and returns the
// stacks of those still running.
func Leaked(grace time.Duration) []string {
	deadline := time.Now().Add(grace)
	for {
		leaked := unexpected()
		if len(leaked) == 0 || time.Now().After(deadline) {
			return leaked
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func unexpected() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if g == "" || isExpected(g) {
			continue
		}
		out = append(out, g)
	}
	return out
}

func isExpected(stack string) bool {
	for _, s := range []string{
		"leakcheck.unexpected(", // this goroutine
		"testing.(*M).",         // the test main
		"testing.tRunner(",      // a parallel test still winding down
		"runtime.goexit",        // the runtime's own
		"signal.signal_recv",    // os/signal
		"testing.runFuzzing",    // fuzz workers
	} {
		if strings.Contains(stack, s) && (s != "runtime.goexit" || strings.Count(stack, "\n") <= 2) {
			return true
		}
	}
	return strings.Contains(stack, "created by runtime.gc") || strings.Contains(stack, "created by os/signal.")
}
