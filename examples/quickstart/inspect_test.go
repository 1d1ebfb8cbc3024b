package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/inspector"
)

const inspectorToken = "quickstart-inspector-token-0123456789"

// inspectorCall calls the quickstart's inspector API; token "" sends none.
func inspectorCall(t *testing.T, method, url, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set(inspector.TokenHeader, token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// With INSPECTOR_TOKEN set, the quickstart serves the inspector at
// /_hookwise/: its deliveries appear there, and its dead letters are
// replayed through the normal path.
func TestQuickstartInspector(t *testing.T) {
	addr := freeAddr(t)
	p := start(t, addr, "INSPECTOR_TOKEN="+inspectorToken)
	base := "http://" + addr + "/_hookwise/"

	code, page := inspectorCall(t, http.MethodGet, base, "", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, string(page), "Hookwise inspector")
	code, _ = inspectorCall(t, http.MethodGet, base+"api/deliveries", "", "")
	assert.Equal(t, http.StatusUnauthorized, code, "the API needs the token")

	require.Equal(t, http.StatusOK, deliver(t, addr, "stripe", "evt_inspected", "invoice.paid", "", false))
	assert.Equal(t, "evt_inspected", p.next(10*time.Second).ID)
	var list struct {
		Deliveries []struct {
			Receiver string `json:"receiver"`
			EventID  string `json:"event_id"`
			Stage    string `json:"stage"`
		} `json:"deliveries"`
	}
	require.Eventually(t, func() bool {
		code, b := inspectorCall(t, http.MethodGet, base+"api/deliveries", inspectorToken, "")
		require.Equal(t, http.StatusOK, code)
		require.NoError(t, json.Unmarshal(b, &list))
		for _, d := range list.Deliveries {
			if d.EventID == "evt_inspected" && d.Stage == "handled" && d.Receiver == "stripe" {
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond)

	// A user.created failing its schema is dead-lettered; replayed from the
	// inspector, it goes through validation again (and fails again).
	bad := `{"type":"user.created","timestamp":"2026-01-01T00:00:00Z","data":{"id":"u1","email":"nope"}}`
	require.Equal(t, http.StatusOK, deliver(t, addr, "standard", "msg_inspected", "", bad, false))
	first := p.next(10 * time.Second)
	require.Equal(t, "msg_inspected", first.ID)
	require.NotEmpty(t, first.DeadLetter)
	var dls struct {
		Sources []struct {
			Index int    `json:"index"`
			Name  string `json:"name"`
			Items []struct {
				Provider string `json:"provider"`
				Key      string `json:"key"`
			} `json:"items"`
		} `json:"sources"`
	}
	code, b := inspectorCall(t, http.MethodGet, base+"api/deadletters", inspectorToken, "")
	require.Equal(t, http.StatusOK, code)
	require.NoError(t, json.Unmarshal(b, &dls))
	replay := ""
	for _, s := range dls.Sources {
		for _, it := range s.Items {
			if it.Key == "msg_inspected" {
				b, _ := json.Marshal(map[string]any{"source": s.Index, "provider": it.Provider, "key": it.Key})
				replay = string(b)
				assert.Equal(t, "standard", s.Name)
			}
		}
	}
	require.NotEmpty(t, replay, "the dead letter is listed: %s", b)
	code, _ = inspectorCall(t, http.MethodPost, base+"api/replay", "", replay)
	assert.Equal(t, http.StatusUnauthorized, code)
	code, b = inspectorCall(t, http.MethodPost, base+"api/replay", inspectorToken, replay)
	require.Equal(t, http.StatusOK, code, string(b))
	again := p.next(10 * time.Second)
	assert.Equal(t, "msg_inspected", again.ID)
	assert.Equal(t, first.DeadLetter, again.DeadLetter)
	p.stop()
}

// Without INSPECTOR_TOKEN there is no inspector.
func TestQuickstartWithoutInspector(t *testing.T) {
	addr := freeAddr(t)
	start(t, addr, "INSPECTOR_TOKEN=")
	code, _ := inspectorCall(t, http.MethodGet, "http://"+addr+"/_hookwise/", "", "")
	assert.Equal(t, http.StatusNotFound, code)
}
