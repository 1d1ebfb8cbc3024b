package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/providers/stripe"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestSIGTERMDrainsAndExits0 runs the program as Cloud Run does: $PORT, then
// SIGTERM; every delivery answered 200 is handled before it exits 0.
func TestSIGTERMDrainsAndExits0(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "cloudrun")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())

	port := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port),
		"GITHUB_WEBHOOK_SECRET=gh-secret", "STRIPE_WEBHOOK_SECRET=whsec_st")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())

	base := "http://127.0.0.1:" + strconv.Itoa(port)
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond)

	send := func(req *http.Request) int {
		req.RequestURI = ""
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	gh := github.NewRequest(base+"/webhooks/github", "gh-secret", "issues", "72d3162e-cc78-11e3-81ab-4c9367dc0958",
		[]byte(`{"action":"opened","issue":{"number":1}}`))
	assert.Equal(t, http.StatusOK, send(gh))
	st := stripe.NewRequest(base+"/webhooks/stripe", "whsec_st", time.Now(), []byte(`{"id":"evt_1","type":"invoice.paid"}`))
	assert.Equal(t, http.StatusOK, send(st))
	forged := stripe.NewRequest(base+"/webhooks/stripe", "whsec_guess", time.Now(), []byte(`{"id":"evt_2","type":"invoice.paid"}`))
	assert.Equal(t, http.StatusUnauthorized, send(forged))

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	var lines []map[string]string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var m map[string]string
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		lines = append(lines, m)
	}
	require.NoError(t, cmd.Wait(), stderr.String())
	assert.ElementsMatch(t, []map[string]string{
		{"provider": "github", "id": "sha256:" + sha256hex(`{"action":"opened","issue":{"number":1}}`), "type": "issues.opened"},
		{"provider": "stripe", "id": "evt_1", "type": "invoice.paid"},
	}, lines)
	assert.Contains(t, stderr.String(), "stopped: queues drained")
}

func TestMissingSecretExits1(t *testing.T) {
	if os.Getenv("CLOUDRUN_MAIN") == "1" {
		main()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMissingSecretExits1$")
	cmd.Env = append(os.Environ(), "CLOUDRUN_MAIN=1", "GITHUB_WEBHOOK_SECRET=", "STRIPE_WEBHOOK_SECRET=", "PORT=0")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, string(out))
	assert.Equal(t, 1, ee.ExitCode())
	assert.Contains(t, string(out), "set GITHUB_WEBHOOK_SECRET and STRIPE_WEBHOOK_SECRET")
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
