package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// run starts the binary with env (and no ADDR unless env sets it), waits
// for it to exit, and returns its exit code and combined output.
func run(t *testing.T, env ...string) (int, string) {
	t.Helper()
	bin := binary(t) // before the deadline: the first call builds it
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(envWithout("ADDR", "REDIS_URL", "DATABASE_URL", "MAX_CONNS"), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	}
	require.NoError(t, err, "quickstart: %s", out)
	return 0, string(out)
}

func envWithout(names ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, n := range names {
			keep = keep && name != n
		}
		if keep {
			env = append(env, kv)
		}
	}
	return env
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"redis://admin:s3cr3t@127.0.0.1:6379/0", "redis://admin:xxxxx@127.0.0.1:6379/0"},
		{"redis://:s3cr3t@127.0.0.1:6379/0", "redis://:xxxxx@127.0.0.1:6379/0"},
		{"rediss://s3cr3t@redis.internal:6380", "rediss://xxxxx@redis.internal:6380"},
		{"redis://admin:s3/cr@t#x?y@host:port/0?dial_timeout=x", "redis://admin:xxxxx@host:port/0"},
		{"admin:s3cr3t@host:6379", "admin:xxxxx@host:6379"},
		{"redis://host:6379/0?protocol=3#frag", "redis://host:6379/0"},
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"", ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, redactURL(tt.in), tt.in)
		assert.NotContains(t, redactURL(tt.in), "s3")
	}
}

// A malformed REDIS_URL is reported without its password: neither
// url.Parse's message (which quotes the URL whole) nor go-redis's (which may
// quote the path a password with "/" spills into) reaches the output.
func TestQuickstartNeverPrintsTheRedisPassword(t *testing.T) {
	const password = "Tr0ub4dor-s3cr3t"
	tests := []struct{ name, url, want string }{
		{"bad port", "redis://admin:" + password + "@127.0.0.1:notaport/0", "redis://admin:xxxxx@127.0.0.1:notaport/0: not a valid URL"},
		{"slash in the password", "redis://admin:" + password[:6] + "/" + password[6:] + "@127.0.0.1:6379/0", "redis://admin:xxxxx@127.0.0.1:6379/0: not a valid URL"},
		{"numeric password with a slash", "redis://admin:1234/" + password + "@127.0.0.1:6379/0", "redis://admin:xxxxx@127.0.0.1:6379/0: redis: invalid URL path"},
		{"bad scheme", "ftp://admin:" + password + "@127.0.0.1:6379/0", "ftp://admin:xxxxx@127.0.0.1:6379/0: redis: invalid URL scheme"},
		{"bad database", "redis://:" + password + "@127.0.0.1:6379/zero", "redis://:xxxxx@127.0.0.1:6379/zero: redis: invalid database number"},
		{"unreachable", "redis://admin:" + password + "@127.0.0.1:1/0", "cannot reach redis at 127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name != "unreachable" {
				// The hazard: the parser's own error quotes the secret.
				_, perr := redis.ParseURL(tt.url)
				require.Error(t, perr)
			}
			code, out := run(t, "ADDR="+freeAddr(t), "REDIS_URL="+tt.url)
			assert.NotEqual(t, 0, code, out)
			assert.Contains(t, out, tt.want)
			for _, piece := range []string{password, password[:6], password[6:]} {
				assert.NotContains(t, out, piece)
			}
		})
	}
	// At least one parser error really quotes it, so the test can fail.
	_, perr := redis.ParseURL(tests[0].url)
	require.Contains(t, perr.Error(), password)
}

func TestListenAddr(t *testing.T) {
	all := map[string]string{}
	for _, ep := range endpoints {
		all[ep.env] = "s"
	}
	env := func(m map[string]string, kv ...string) func(string) string {
		c := map[string]string{}
		for k, v := range m {
			c[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			c[kv[i]] = kv[i+1]
		}
		return func(k string) string { return c[k] }
	}
	assert.Equal(t, "127.0.0.1:8080", listenAddr(env(nil), nil), "development secrets: loopback")
	assert.Equal(t, "127.0.0.1:8080", listenAddr(env(all, "WEBHOOK_SECRET", ""), nil), "one development secret: loopback")
	assert.Equal(t, ":8080", listenAddr(env(all), nil), "every secret set: all interfaces")
	assert.Equal(t, ":9000", listenAddr(env(nil, "ADDR", ":9000"), nil), "ADDR set: as given")
	assert.Equal(t, "0.0.0.0:8080", listenAddr(env(all, "ADDR", "0.0.0.0:8080"), nil))
}

// Without ADDR, a quickstart on development secrets listens on loopback
// only, and says so.
func TestQuickstartDefaultsToLoopbackWithDevelopmentSecrets(t *testing.T) {
	cmd := exec.Command(binary(t))
	cmd.Env = envWithout("ADDR", "REDIS_URL", "DATABASE_URL", "MAX_CONNS", "GITHUB_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET", "SLACK_SIGNING_SECRET", "WEBHOOK_SECRET")
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	listening := regexp.MustCompile(`msg="quickstart listening" addr=(\S+)`)
	var addr string
	require.Eventually(t, func() bool {
		m := listening.FindStringSubmatch(stderr.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil || strings.Contains(stderr.String(), "address already in use")
	}, 30*time.Second, 20*time.Millisecond, "stderr:\n%s", stderr)
	out := stderr.String()
	assert.Contains(t, out, "listening on loopback only")
	assert.Contains(t, out, "addr=127.0.0.1:8080")
	if addr != "" { // else port 8080 was taken by another program: the notice is what could be checked
		assert.Equal(t, "127.0.0.1:8080", addr)
	}
}

func TestLimitListenerCapsConnections(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := limitListener(inner, 2)
	accepted := make(chan net.Conn, 10)
	acceptErr := make(chan error, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				acceptErr <- err
				return
			}
			accepted <- c
		}
	}()
	var clients []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", inner.Addr().String())
		require.NoError(t, err)
		clients = append(clients, c)
		defer c.Close()
	}
	first := <-accepted
	<-accepted
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted with a cap of 2")
	case <-time.After(300 * time.Millisecond):
	}
	require.NoError(t, first.Close())
	_ = first.Close() // a second Close frees no second slot
	select {
	case c := <-accepted:
		defer c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("closing a connection did not free its slot")
	}
	// Both slots are taken again (the double Close freed one slot, not two):
	// a fourth connection waits, and Close wakes the Accept waiting for it.
	fourth, err := net.Dial("tcp", inner.Addr().String())
	require.NoError(t, err)
	defer fourth.Close()
	select {
	case <-accepted:
		t.Fatal("a connection beyond the cap was accepted after a double Close")
	case <-time.After(300 * time.Millisecond):
	}
	require.NoError(t, ln.Close())
	select {
	case err := <-acceptErr:
		assert.ErrorIs(t, err, net.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake Accept")
	}
}

// With MAX_CONNS=2 and two connections open, a third is not served until
// one of them closes.
func TestQuickstartCapsConnections(t *testing.T) {
	addr := freeAddr(t)
	p := start(t, addr, "MAX_CONNS=2")
	var idle []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		idle = append(idle, c)
	}
	time.Sleep(100 * time.Millisecond) // let the server accept both
	third, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer third.Close()
	_, err = io.WriteString(third, "POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
	require.NoError(t, err)
	require.NoError(t, third.SetReadDeadline(time.Now().Add(time.Second)))
	_, err = third.Read(make([]byte, 1))
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "connection 3 of a cap of 2 was served: %v", err)

	require.NoError(t, idle[0].Close())
	require.NoError(t, third.SetReadDeadline(time.Now().Add(3*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(third), nil)
	require.NoError(t, err, "connection 3 not served after connection 1 closed")
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	idle[1].Close()
	p.stop()
}

// A client sending its headers or its body a byte at a time is cut by the
// server's timeouts (ReadHeaderTimeout 5 s, ReadTimeout 15 s), and never
// acknowledged; an oversized header block is refused.
func TestQuickstartCutsSlowClients(t *testing.T) {
	addr := freeAddr(t)
	p := start(t, addr)
	// trickle writes head at once, then one byte every 250 ms until the
	// connection breaks; it returns how long it lasted and any answer.
	trickle := func(head string) (time.Duration, string) {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		began := time.Now()
		_, err = io.WriteString(c, head)
		require.NoError(t, err)
		answer := make(chan string, 1)
		go func() {
			b, _ := io.ReadAll(c)
			answer <- string(b)
		}()
		for time.Since(began) < 40*time.Second {
			select {
			case a := <-answer:
				return time.Since(began), a
			case <-time.After(250 * time.Millisecond):
			}
			if _, err := c.Write([]byte("a")); err != nil {
				return time.Since(began), <-answer
			}
		}
		return time.Since(began), "still open"
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		took, answer := trickle("POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		t.Logf("slow headers cut after %s", took)
		assert.Less(t, took, 9*time.Second, "slow headers: ReadHeaderTimeout is 5s")
		assert.NotContains(t, answer, "200 OK")
	})
	wg.Go(func() {
		took, answer := trickle("POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"id\":\"evt_slow\",\"x\":\"")
		t.Logf("slow body cut after %s", took)
		assert.Less(t, took, 20*time.Second, "slow body: ReadTimeout is 15s")
		assert.GreaterOrEqual(t, took, 10*time.Second, "a body arriving is not cut before ReadTimeout")
		assert.NotContains(t, answer, "200 OK")
	})
	wg.Go(func() {
		req, err := http.NewRequest("POST", "http://"+addr+"/webhooks/stripe", strings.NewReader("{}"))
		require.NoError(t, err)
		req.Header.Set("X-Big", strings.Repeat("b", 100<<10))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode, "MaxHeaderBytes is 64 KiB")
	})
	wg.Wait()
	p.quiet(100 * time.Millisecond)
	p.stop()
}

// README's "Running in production" shows the quickstart's own server
// configuration: every line of its Go snippet is a line of server.go.
func TestREADMEProductionSnippetIsTheQuickstartsCode(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "\n## Running in production\n")
	require.True(t, ok, "README has no Running in production section")
	section, _, _ = strings.Cut(section, "\n## ")
	_, snippet, ok := strings.Cut(section, "```go\n")
	require.True(t, ok, "no Go snippet in the section")
	snippet, _, ok = strings.Cut(snippet, "```")
	require.True(t, ok)
	src, err := os.ReadFile("server.go")
	require.NoError(t, err)
	code := map[string]bool{}
	for _, l := range strings.Split(string(src), "\n") {
		code[strings.TrimSpace(l)] = true
	}
	field := regexp.MustCompile(`^[A-Z]\w*:\s`) // a field of the http.Server literal
	n := 0
	for _, l := range strings.Split(snippet, "\n") {
		l = strings.TrimSpace(l)
		if !field.MatchString(l) {
			continue
		}
		n++
		assert.True(t, code[l], "README line %q is not in server.go", l)
	}
	assert.Equal(t, 6, n, "the snippet shows the server's six settings")
}

// FuzzRedactURL: whatever the password holds, the redacted URL does not
// show it.
func FuzzRedactURL(f *testing.F) {
	f.Add("redis", "admin", "s3cr3t", "127.0.0.1:6379/0")
	f.Add("rediss", "", "p@ss/w#rd?x:y", "host:port/zero?dial_timeout=1")
	f.Add("", "u", "1234/abcd", "h")
	f.Fuzz(func(t *testing.T, scheme, user, password, hostpath string) {
		if len(password) < 4 || strings.ContainsAny(user, ":@/?#") || strings.Contains(hostpath, "@") || strings.Contains(scheme, "://") {
			return
		}
		raw := user + ":" + password + "@" + hostpath
		if scheme != "" {
			raw = scheme + "://" + raw
		}
		got := redactURL(raw)
		skeleton := scheme + "://" + user + ":xxxxx@" + hostpath
		if strings.Contains(skeleton, password) {
			return // the password is part of what may be shown
		}
		if strings.Contains(got, password) {
			t.Fatalf("redactURL(%q) = %q shows the password", raw, got)
		}
	})
}
