package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/providers"
	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/providers/stripe"
)

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

const testConfig = `{
  "endpoints": [
    {"path": "/webhooks/stripe", "provider": "stripe", "secrets_env": "T_STRIPE"},
    {"path": "/webhooks/github", "provider": "github", "secrets_env": "T_GITHUB"}
  ]
}`

var testEnv = map[string]string{"T_STRIPE": "whsec_new,whsec_old", "T_GITHUB": "gh-secret"}

// The receiver built from the file answers as the README's status table says:
// a signed delivery is handled once (also one signed with the rotation's old
// secret), a duplicate is not handled again, a forged one is refused.
func TestCatalogReceiverFromConfig(t *testing.T) {
	var out syncBuffer
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var cfg Config
	require.NoError(t, jsonUnmarshal(testConfig, &cfg))
	mux, receivers, err := build(cfg, func(k string) string { return testEnv[k] }, logger, &out)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, logger, ln, mux, receivers) }()
	base := "http://" + ln.Addr().String()

	now := time.Now()
	send := func(r *http.Request) int {
		resp, err := http.DefaultClient.Do(r)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	inv := []byte(`{"id":"evt_cat_1","object":"event","type":"invoice.paid","data":{"object":{}}}`)
	assert.Equal(t, 200, send(stripe.NewRequest(base+"/webhooks/stripe", "whsec_new", now, inv)))
	assert.Equal(t, 200, send(stripe.NewRequest(base+"/webhooks/stripe", "whsec_new", now, inv)), "duplicate")
	old := []byte(`{"id":"evt_cat_2","object":"event","type":"invoice.paid","data":{"object":{}}}`)
	assert.Equal(t, 200, send(stripe.NewRequest(base+"/webhooks/stripe", "whsec_old", now, old)), "old secret during the rotation")
	assert.Equal(t, 401, send(stripe.NewRequest(base+"/webhooks/stripe", "whsec_forged", now, inv)))
	push := []byte(`{"ref":"refs/heads/main","before":"a","after":"b","commits":[],"head_commit":null,"repository":{"id":1},"pusher":{},"sender":{}}`)
	assert.Equal(t, 200, send(github.NewRequest(base+"/webhooks/github", "gh-secret", "push", github.NewDeliveryID(), push)))

	require.Eventually(t, func() bool { return strings.Count(out.String(), "\n") >= 3 }, 5*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	lines := out.String()
	assert.Equal(t, 1, strings.Count(lines, `"id":"evt_cat_1"`), lines)
	assert.Equal(t, 1, strings.Count(lines, `"id":"evt_cat_2"`), lines)
	assert.Equal(t, 1, strings.Count(lines, `"provider":"github"`), lines)
	assert.Equal(t, 3, strings.Count(lines, "\n"), lines)
	assert.True(t, strings.HasPrefix(lines, `{"provider":`), "lines read provider, id, type: %s", lines)
}

// A bad configuration stops start-up with a clear error, before anything
// listens.
func TestCatalogConfigErrors(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	env := func(k string) string { return testEnv[k] }
	for name, c := range map[string]struct {
		cfg  string
		want string
	}{
		"unknown provider": {`{"endpoints":[{"path":"/a","provider":"nope","secrets_env":"T_STRIPE"}]}`, "known: "},
		"missing secret":   {`{"endpoints":[{"path":"/a","provider":"stripe","secrets_env":"T_UNSET"}]}`, "secret"},
		"path twice": {`{"endpoints":[{"path":"/a","provider":"stripe","secrets_env":"T_STRIPE"},` +
			`{"path":"/a","provider":"github","secrets_env":"T_GITHUB"}]}`, "served twice"},
		"no endpoint":   {`{}`, "no endpoint"},
		"bad tolerance": {`{"endpoints":[{"path":"/a","provider":"stripe","secrets_env":"T_STRIPE","tolerance":"soon"}]}`, "tolerance"},
	} {
		t.Run(name, func(t *testing.T) {
			var cfg Config
			require.NoError(t, jsonUnmarshal(c.cfg, &cfg))
			_, _, err := build(cfg, env, logger, io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.NotContains(t, err.Error(), "whsec_new", "never a secret in an error")
		})
	}
	// The names listed for an unknown provider are the catalog's.
	var cfg Config
	require.NoError(t, jsonUnmarshal(`{"endpoints":[{"path":"/a","provider":"nope"}]}`, &cfg))
	_, _, err := build(cfg, env, logger, io.Discard)
	require.Error(t, err)
	for _, n := range providers.Names() {
		assert.Contains(t, err.Error(), n)
	}
}

// run reads HOOKWISE_CONFIG and refuses a missing or malformed file.
func TestRunReadsTheFile(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	assert.ErrorContains(t, run(context.Background(), logger, io.Discard, func(string) string { return "" }), "HOOKWISE_CONFIG")
	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte("{"), 0o600))
	err := run(context.Background(), logger, io.Discard, func(k string) string {
		if k == "HOOKWISE_CONFIG" {
			return bad
		}
		return ""
	})
	assert.ErrorContains(t, err, "bad.json")
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
