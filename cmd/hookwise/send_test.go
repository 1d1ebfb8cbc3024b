package main

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/providers/fixtures"
)

// "hookwise send" reaches a real receiver for every provider of the
// catalog: answered 2xx, handled once with the fixture's type.
func TestSendEveryProviderToAReceiver(t *testing.T) {
	for _, name := range fixtures.Providers() {
		t.Run(name, func(t *testing.T) {
			url, h, _ := serve(t, receivingProvider(t, name))
			code, out, errOut := runCmd(t, "send", name, "-url", url)
			require.Equal(t, exitOK, code, out+errOut)
			assert.Contains(t, out, "200 OK")
			require.True(t, eventually(t, func() bool { return h.count() == 1 }), "handled")
			h.mu.Lock()
			defer h.mu.Unlock()
			if name != "sendgrid" {
				assert.Equal(t, fixtures.For(name)[0].Type, h.events[0].Type)
			}
		})
	}
}

func TestSendOverridesDuplicatesAndFailures(t *testing.T) {
	url, h, _ := serve(t, receivingProvider(t, "stripe"))
	code, out, _ := runCmd(t, "send", "stripe", "-url", url, "-id", "evt_same", "-type", "invoice.payment_failed", "-set", "data.object.amount_due=9900")
	require.Equal(t, exitOK, code, out)
	assert.Contains(t, out, "stripe invoice.payment_failed id=evt_same")
	code, _, _ = runCmd(t, "send", "-url", url, "-id", "evt_same", "stripe") // flags before the provider too
	require.Equal(t, exitOK, code)
	require.True(t, eventually(t, func() bool { return h.count() == 1 }))
	h.mu.Lock()
	ev := h.events[0]
	h.mu.Unlock()
	assert.Equal(t, "evt_same", ev.ID)
	assert.Equal(t, "invoice.payment_failed", ev.Type)
	assert.Contains(t, string(ev.Body), `"amount_due":9900`)

	// A wrong secret: 401, exit 1, nothing handled.
	code, out, _ = runCmd(t, "send", "stripe", "-url", url, "-secret", "whsec_wrong")
	assert.Equal(t, exitNegative, code)
	assert.Contains(t, out, "401 Unauthorized")

	// -data sends a file's bytes unchanged.
	e, outb, _ := testEnv()
	e.readFile = func(string) ([]byte, error) {
		return []byte(`{"id":"evt_file","object":"event","type":"customer.created","created":1,"livemode":false,"data":{"object":{}}}`), nil
	}
	code = run(context.Background(), []string{"send", "stripe", "-url", url, "-data", "event.json"}, e)
	require.Equal(t, exitOK, code, outb.String())
	require.True(t, eventually(t, func() bool { return h.count() == 2 }))

	// Usage errors.
	for _, args := range [][]string{
		{"send", "stripe"}, {"send", "-url", url}, {"send", "nope", "-url", url},
		{"send", "stripe", "-url", url, "-set", "a..b=1"}, {"send", "stripe", "-url", url, "-set", "x=1", "-data", "f"},
		{"send", "stripe", "-url", "ftp://x"}, {"send", "stripe", "-url", url, "-param", "novalue"},
		{"sign", "stripe", "-format", "yaml"},
	} {
		code, _, _ := runCmd(t, args...)
		assert.Equal(t, exitUsage, code, "%v", args)
	}
	// Unreachable: exit 3.
	code, _, _ = runCmd(t, "send", "stripe", "-url", "http://127.0.0.1:1/webhooks/stripe")
	assert.Equal(t, exitIO, code)
}

// "hookwise sign" prints a curl command and a raw request that a receiver
// accepts as they are.
func TestSignForCurlAndRaw(t *testing.T) {
	url, h, _ := serve(t, receivingProvider(t, "github"))
	code, out, _ := runCmd(t, "sign", "github", "-url", url, "-set", "issue.title=It's \"quoted\" & <b>")
	require.Equal(t, exitOK, code)
	require.True(t, strings.HasPrefix(out, "curl "), out)
	curl, err := exec.Command("sh", "-c", strings.TrimSpace(out)+" -o /dev/null -w '%{http_code}'").CombinedOutput()
	require.NoError(t, err, string(curl))
	assert.Equal(t, "200", strings.TrimSpace(string(curl)))
	require.True(t, eventually(t, func() bool { return h.count() == 1 }))
	h.mu.Lock()
	assert.Contains(t, string(h.events[0].Body), `It's \"quoted\" & <b>`)
	h.mu.Unlock()

	code, out, _ = runCmd(t, "sign", "github", "-url", url, "-format", "http")
	require.Equal(t, exitOK, code)
	c, err := parseRequest([]byte(out))
	require.NoError(t, err)
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader([]byte(out))))
	require.NoError(t, err)
	wire, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(c.body))
	require.NoError(t, err)
	wire.Header = req.Header
	resp, err := http.DefaultClient.Do(wire)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestProvidersAndUsage(t *testing.T) {
	code, out, _ := runCmd(t, "providers")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "stripe")
	assert.Contains(t, out, "invoice.paid")
	assert.Equal(t, 42, strings.Count(out, "\n"))
	code, _, _ = runCmd(t)
	assert.Equal(t, exitUsage, code)
	code, _, _ = runCmd(t, "frobnicate")
	assert.Equal(t, exitUsage, code)
	code, out, _ = runCmd(t, "help")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "hookwise COMMAND")
	code, _, _ = runCmd(t, "send", "-h")
	assert.Equal(t, exitOK, code)
}
