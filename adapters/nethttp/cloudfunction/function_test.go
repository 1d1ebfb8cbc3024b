package cloudfunction

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/receiver"
)

const secret = "It's a Secret to Everybody"

// fresh gives the test a new instance: the receiver built anew on the first
// request, with the given secret, and its handled events recorded.
func fresh(t *testing.T, sec string) *[]string {
	t.Helper()
	t.Setenv("GITHUB_WEBHOOK_SECRET", sec)
	built = sync.OnceValues(build)
	current.Store(nil)
	var mu sync.Mutex
	var ids []string
	handle = func(_ context.Context, e *receiver.Event) error {
		mu.Lock()
		defer mu.Unlock()
		ids = append(ids, e.Type)
		return nil
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = Stop(ctx)
	})
	return &ids
}

func call(req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	Webhook(w, req)
	return w
}

func delivery(sec, body string) *http.Request {
	return github.NewRequest("https://region-project.cloudfunctions.net/Webhook", sec, "issues",
		"72d3162e-cc78-11e3-81ab-4c9367dc0958", []byte(body))
}

func drain(t *testing.T) {
	t.Helper()
	rc := current.Load()
	require.NotNil(t, rc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, rc.Drain(ctx))
}

func TestWebhookStatusTable(t *testing.T) {
	handled := fresh(t, secret)
	body := `{"action":"opened","issue":{"number":1}}`

	assert.Equal(t, http.StatusOK, call(delivery(secret, body)).Code, "signed")
	assert.Equal(t, http.StatusOK, call(delivery(secret, body)).Code, "duplicate")
	assert.Equal(t, http.StatusUnauthorized, call(delivery("a guess", body)).Code, "forged")
	big := `{"action":"opened","issue":{},"pad":"` + strings.Repeat("x", receiver.DefaultMaxBodyBytes) + `"}`
	assert.Equal(t, http.StatusRequestEntityTooLarge, call(delivery(secret, big)).Code, "oversized")

	drain(t)
	assert.Equal(t, []string{"issues.opened"}, *handled, "handled once")
}

func TestWebhookWithoutSecretIs503(t *testing.T) {
	handled := fresh(t, "")
	w := call(delivery(secret, `{"action":"opened","issue":{"number":1}}`))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "30", w.Header().Get("Retry-After"))
	assert.Empty(t, *handled)
	assert.NoError(t, Stop(context.Background()), "nothing to stop")
}

func TestStopRefusesThenDrains(t *testing.T) {
	handled := fresh(t, secret)
	require.Equal(t, http.StatusOK, call(delivery(secret, `{"action":"opened","issue":{"number":2}}`)).Code)
	require.NoError(t, Stop(context.Background()))
	assert.Equal(t, []string{"issues.opened"}, *handled, "drained before Stop returned")
	w := call(delivery(secret, `{"action":"opened","issue":{"number":3}}`))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, "after Stop the sender retries elsewhere")
	assert.NotEmpty(t, w.Header().Get("Retry-After"))
}

// TestSIGTERMDrainsAndExits runs an instance in a child process that gets
// SIGTERM after accepting a delivery: it handles it, then exits 0.
func TestSIGTERMDrainsAndExits(t *testing.T) {
	if os.Getenv("CLOUDFUNCTION_CHILD") == "1" {
		handle = func(_ context.Context, e *receiver.Event) error {
			time.Sleep(100 * time.Millisecond) // still queued when SIGTERM arrives
			os.Stdout.WriteString("handled " + e.Type + "\n")
			return nil
		}
		if call(delivery(secret, `{"action":"opened","issue":{"number":4}}`)).Code != http.StatusOK {
			os.Exit(3)
		}
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
		time.Sleep(10 * time.Second) // the handler of SIGTERM exits first
		os.Exit(4)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSIGTERMDrainsAndExits$")
	cmd.Env = append(os.Environ(), "CLOUDFUNCTION_CHILD=1", "GITHUB_WEBHOOK_SECRET="+secret)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "handled issues.opened\n")
	assert.Contains(t, string(out), "stopped: queues drained")
}
