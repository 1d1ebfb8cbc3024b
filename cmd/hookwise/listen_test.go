package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startListen runs "hookwise listen" with args on a free port until the
// test ends, and returns its base URL and output.
func startListen(t *testing.T, args ...string) (string, *syncBuffer, *syncBuffer) {
	t.Helper()
	e, _, _ := testEnv()
	out, errb := &syncBuffer{}, &syncBuffer{}
	e.stdout, e.stderr = out, errb
	addr := make(chan string, 1)
	e.ready = func(a string) { addr <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"listen", "-addr", "127.0.0.1:0"}, args...), e) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			assert.Equal(t, exitOK, code)
		case <-time.After(10 * time.Second):
			t.Error("listen did not stop")
		}
	})
	select {
	case a := <-addr:
		return "http://" + a, out, errb
	case code := <-done:
		t.Fatalf("listen exited %d: %s", code, errb.String())
	case <-time.After(10 * time.Second):
		t.Fatal("listen did not start")
	}
	return "", nil, nil
}

// "hookwise listen" is a real receiver: it prints each delivery's verdict
// (accepted and handled, duplicate, rejected with the likely cause), saves
// captures that "hookwise verify" reads, and stops on cancellation.
func TestListen(t *testing.T) {
	dump := t.TempDir()
	base, out, errb := startListen(t, "-dump", dump, "stripe", "github=gh-listen-secret-01", "discord")
	assert.Contains(t, errb.String(), "stripe: no secret given")

	code, sout, _ := runCmd(t, "send", "stripe", "-url", base+"/webhooks/stripe", "-id", "evt_listen_1")
	require.Equal(t, exitOK, code, sout)
	code, _, _ = runCmd(t, "send", "stripe", "-url", base+"/webhooks/stripe", "-id", "evt_listen_1")
	require.Equal(t, exitOK, code)
	code, _, _ = runCmd(t, "send", "discord", "-url", base+"/webhooks/discord")
	require.Equal(t, exitOK, code)
	code, _, _ = runCmd(t, "send", "github", "-url", base+"/webhooks/github", "-secret", "gh-listen-secret-01")
	require.Equal(t, exitOK, code)
	// Signed with the secret's whsec_ form: rejected, and the cause named.
	code, _, _ = runCmd(t, "send", "github", "-url", base+"/webhooks/github", "-secret", "whsec_gh-listen-secret-01")
	require.Equal(t, exitNegative, code)

	require.True(t, eventually(t, func() bool { return strings.Count(out.String(), "  handled   ") == 3 }), out.String())
	text := out.String()
	t.Log(text)
	assert.Contains(t, text, "stripe  accepted  200 evt_listen_1 invoice.paid")
	assert.Contains(t, text, "stripe  handled   evt_listen_1 invoice.paid attempt 1")
	assert.Contains(t, text, "stripe  duplicate 200 evt_listen_1")
	assert.Contains(t, text, "discord  accepted")
	assert.Contains(t, text, "github  rejected  401")
	assert.Contains(t, text, "[whsec-missing]")
	assert.NotContains(t, text, "gh-listen-secret-01")

	// Every delivery was saved; the rejected one verifies with the
	// sender's secret.
	files, err := filepath.Glob(filepath.Join(dump, "github-*.http"))
	require.NoError(t, err)
	require.Len(t, files, 2)
	var verified, failed int
	for _, f := range files {
		code, _ := runVerify(t, time.Now(), "github", "-secret", "gh-listen-secret-01", "-request", f)
		switch code {
		case exitOK:
			verified++
		case exitNegative:
			failed++
		}
	}
	assert.Equal(t, 1, verified)
	assert.Equal(t, 1, failed)
	_, err = os.Stat(dump)
	require.NoError(t, err)
}

// -fail makes the handler fail: the retries and the dead letter are
// printed.
func TestListenFail(t *testing.T) {
	base, out, _ := startListen(t, "-fail", "standard")
	code, _, _ := runCmd(t, "send", "standard", "-url", base+"/webhooks/standard", "-id", "msg_fail_1")
	require.Equal(t, exitOK, code)
	require.True(t, eventually(t, func() bool { return strings.Contains(out.String(), "dead ") }), out.String())
	assert.Contains(t, out.String(), "retrying  msg_fail_1 user.created")
}

func TestListenUsage(t *testing.T) {
	for _, args := range [][]string{{"listen"}, {"listen", "nope"}, {"listen", "-param", "x", "stripe"}, {"listen", "paypal=not-a-certificate"}} {
		code, _, _ := runCmd(t, args...)
		assert.Equal(t, exitUsage, code, "%v", args)
	}
	code, _, _ := runCmd(t, "listen", "-addr", "256.0.0.1:99999", "stripe")
	assert.Equal(t, exitIO, code)
}
