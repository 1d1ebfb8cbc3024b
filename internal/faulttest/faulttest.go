// Package faulttest holds what the kill -9 and network-fault tests of the
// queues share: a receiver run as a child process of the test binary (to
// be killed with SIGKILL), an ordered load of keyed events, and a sender
// that retries every non-2xx answer with its count of what was
// acknowledged, handled, handled twice and lost. The queue modules import
// it from their tests (a path under the root module's may import its
// internal packages).
package faulttest

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Child is a receiver process: the test binary run again, whose TestMain
// serves (ServeChild) instead of running tests.
type Child struct {
	cmd  *exec.Cmd
	Addr string // host:port it serves on
}

// StartChild starts the test binary with env (KEY=value) added to the
// environment, waits up to 20 s for the "ADDR host:port" line ServeChild
// prints, and kills the process when the test ends.
func StartChild(t *testing.T, env ...string) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	c := &Child{cmd: cmd}
	t.Cleanup(c.Kill)
	addrs := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			if a, ok := strings.CutPrefix(s.Text(), "ADDR "); ok {
				addrs <- a
			}
		}
	}()
	select {
	case c.Addr = <-addrs:
	case <-time.After(20 * time.Second):
		t.Fatal("child receiver did not start")
	}
	return c
}

// Kill sends SIGKILL and reaps the process.
func (c *Child) Kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

// ServeChild ends a child's main: with err (building h failed) it prints
// err and returns 1; else it listens on 127.0.0.1:0, prints
// "ADDR host:port" for StartChild, and serves h until killed. Its result
// is the exit code.
func ServeChild(h http.Handler, err error) int {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ADDR", ln.Addr().String())
	_ = http.Serve(ln, h)
	return 0
}
