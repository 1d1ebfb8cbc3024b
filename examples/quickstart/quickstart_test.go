package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/providers/slack"
)

// The quickstart is tested as its users run it: a built binary, driven over
// loopback, its stdout read line by line.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "quickstart-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "quickstart")
		out, err := exec.Command("go", "build", "-race", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is a running quickstart.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string
	lines  chan line
	stderr *syncBuffer
	done   chan struct{}
}

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

func start(t *testing.T, addr string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t))
	cmd.Env = append(envWithout("REDIS_URL", "DATABASE_URL"), append([]string{"ADDR=" + addr}, env...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, addr: addr, lines: make(chan line, 100000), stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var l line
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Errorf("stdout line is not JSON: %q", sc.Text())
				continue
			}
			p.lines <- l
		}
	}()
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("quickstart did not listen on %s; stderr:\n%s", addr, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	errc := make(chan error, 1)
	go func() { errc <- p.cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			p.t.Errorf("quickstart exit after SIGTERM: %v; stderr:\n%s", err, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		p.t.Fatal("quickstart did not exit after SIGTERM")
	}
	<-p.done
}

// next returns the next stdout line, failing after timeout.
func (p *proc) next(timeout time.Duration) line {
	p.t.Helper()
	select {
	case l := <-p.lines:
		return l
	case <-time.After(timeout):
		p.t.Fatalf("no stdout line within %s; stderr:\n%s", timeout, p.stderr.String())
	}
	return line{}
}

// quiet fails if a line arrives within d.
func (p *proc) quiet(d time.Duration) {
	p.t.Helper()
	select {
	case l := <-p.lines:
		p.t.Errorf("unexpected stdout line %+v", l)
	case <-time.After(d):
	}
}

// deliver signs and sends one delivery as the send sub-command does.
func deliver(t *testing.T, addr, provider, id, typ, body string, forge bool) int {
	t.Helper()
	var secret, path string
	for _, ep := range endpoints {
		if ep.name == provider {
			secret, path = ep.dev, ep.path
		}
	}
	if forge {
		secret = forged(provider)
	}
	if provider == "github" && !github.IsDeliveryID(id) {
		id = guidFor(id) // X-GitHub-Delivery must be a GUID
	}
	req, err := build(provider, "http://"+addr+path, secret, id, typ, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// guidFor returns a GUID derived from name, as GitHub's X-GitHub-Delivery.
func guidFor(name string) string {
	h := fmt.Sprintf("%x", sha256.Sum256([]byte(name)))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// pushBody returns a GitHub push payload unique to name. GitHub events are
// deduplicated by a hash of their signed body (github.EventID), and the
// payload must fit its event (push: ref, before, after, commits).
func pushBody(name string) string {
	return fmt.Sprintf(`{"ref":"refs/heads/main","before":"0000000000000000000000000000000000000000","after":%q,"commits":[],"repository":{"full_name":"octo/hello"}}`,
		fmt.Sprintf("%x", sha256.Sum256([]byte(name)))[:40])
}

func TestQuickstartContract(t *testing.T) {
	addr := freeAddr(t)
	p := start(t, addr)
	if !strings.Contains(p.stderr.String(), "GITHUB_WEBHOOK_SECRET") {
		t.Errorf("stderr does not say the development secret is used:\n%s", p.stderr.String())
	}
	issue := `{"action":"opened","issue":{"number":1,"title":"Found a bug"},"repository":{"full_name":"octo/hello"}}`
	cases := []struct{ provider, id, typ string }{
		{"github", "d-1", "issues"},
		{"stripe", "evt_1", "invoice.paid"},
		{"slack", "Ev1", "app_mention"},
		{"standard", "msg_1", "user.created"},
	}
	for _, c := range cases {
		body := ""
		if c.provider == "github" {
			body = issue
		}
		if code := deliver(t, addr, c.provider, c.id, c.typ, body, false); code != 200 {
			t.Fatalf("%s: status %d; stderr:\n%s", c.provider, code, p.stderr.String())
		}
		got := p.next(10 * time.Second)
		want := line{Provider: c.provider, ID: c.id, Type: c.typ}
		if c.provider == "github" {
			want.Type = "issues.opened"
			want.ID = github.EventID([]byte(issue)) // the signed body's hash, not the unsigned delivery header
		}
		if got != want {
			t.Errorf("line = %+v, want %+v", got, want)
		}
	}
	// Forged: 401, nothing printed. Duplicate: 200, nothing printed.
	if code := deliver(t, addr, "stripe", "evt_forged", "", "", true); code != 401 {
		t.Errorf("forged: status %d, want 401", code)
	}
	if code := deliver(t, addr, "stripe", "evt_1", "invoice.paid", "", false); code != 200 {
		t.Errorf("duplicate: status %d, want 200", code)
	}
	// An authentic user.created failing its schema: 200, dead-letter line.
	// Its reason names the pointer and the keyword, never the value (an
	// email address here): stdout and the logs carry no payload data.
	const leaked = "ada.lovelace@example..com"
	bad := `{"type":"user.created","timestamp":"2026-01-01T00:00:00Z","data":{"id":"u1","email":"` + leaked + `"}}`
	if code := deliver(t, addr, "standard", "msg_bad", "", bad, false); code != 200 {
		t.Errorf("invalid payload: status %d, want 200", code)
	}
	got := p.next(10 * time.Second)
	if got.ID != "msg_bad" || got.Provider != "standard" || got.Type != "user.created" || got.DeadLetter != "schema: standard user.created v1: /data/email: format: not a valid email" {
		t.Errorf("dead-letter line = %+v", got)
	}
	if strings.Contains(got.DeadLetter, leaked) || strings.Contains(p.stderr.String(), leaked) {
		t.Errorf("the payload's email address reached the dead-letter line or the logs:\n%+v\n%s", got, p.stderr.String())
	}
	// Slack handshakes are answered and never reach the handler.
	challenge := `{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`
	req := slack.NewRequest("http://"+addr+"/webhooks/slack", devSlackSecret, time.Now(), []byte(challenge), "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(answer) != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Errorf("url_verification answer = %d %q", resp.StatusCode, answer)
	}
	resp, err = http.Post("http://"+addr+"/webhooks/slack", "application/x-www-form-urlencoded", strings.NewReader("ssl_check=1&token=t"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("ssl_check answer = %d, want 200", resp.StatusCode)
	}
	p.quiet(300 * time.Millisecond)
	p.stop()
}

func TestQuickstartAcknowledgesBeforeSlowHandlers(t *testing.T) {
	addr := freeAddr(t)
	p := start(t, addr, "HANDLER_DELAY=2s")
	began := time.Now()
	for i := 0; i < 5; i++ {
		if code := deliver(t, addr, "stripe", fmt.Sprint("evt_slow_", i), "", "", false); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	if took := time.Since(began); took > 1500*time.Millisecond {
		t.Errorf("5 acknowledgements took %s with 2s handlers: they waited for handlers", took)
	}
	for i := 0; i < 5; i++ {
		p.next(15 * time.Second)
	}
	p.stop()
}

func TestQuickstartDrainsOnSIGTERM(t *testing.T) {
	addr := freeAddr(t)
	p := start(t, addr, "HANDLER_DELAY=200ms")
	const n = 20
	for i := 0; i < n; i++ {
		if code := deliver(t, addr, "github", fmt.Sprint("drain-", i), "push", pushBody(fmt.Sprint("drain-", i)), false); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	p.stop() // acknowledged events are handled before exit
	seen := map[string]bool{}
	for len(p.lines) > 0 {
		l := <-p.lines
		seen[l.ID] = true
	}
	if len(seen) != n {
		t.Errorf("handled %d of %d acknowledged events before exiting", len(seen), n)
	}
	if !strings.Contains(p.stderr.String(), "stopped: queues drained") {
		t.Errorf("stderr does not say the queues were drained:\n%s", p.stderr.String())
	}
}
