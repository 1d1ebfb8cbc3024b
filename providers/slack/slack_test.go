package slack

import (
	"crypto/sha256"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/verify"
)

func TestVectors(t *testing.T) {
	for _, v := range providertest.LoadVectors(t, "../testdata/vectors.json", "slack") {
		t.Run(v.ID, func(t *testing.T) {
			r, body := v.Request()
			p, err := New(v.Secret, WithClock(v.Clock()), WithTolerance(v.ToleranceDuration()))
			require.NoError(t, err)
			if err := p.Verify(r, body); v.Valid() {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, verify.ErrVerification)
			}
		})
	}
}

const (
	secret   = "8f742231b10e8888abcd99yyyzzz85a5"
	formType = "application/x-www-form-urlencoded"
)

var now = time.Unix(1531420618, 0)

func TestVerify(t *testing.T) {
	body := []byte(`{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention"}}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	tests := []struct {
		name      string
		opts      []Option
		sig, ts   string
		at        time.Time
		want      error
		noHeaders bool
	}{
		{"valid", nil, Sign(secret, now, body), ts, now, nil, false},
		{"missing signature", nil, "", ts, now, verify.ErrMissingSignature, false},
		{"missing timestamp", nil, Sign(secret, now, body), "", now, verify.ErrMissingTimestamp, false},
		{"malformed timestamp", nil, "v0=" + strings.Repeat("0", 64), "12a", now, verify.ErrMalformedTimestamp, false}, // checked before the MAC
		{"signed malformed timestamp", nil, signRaw(secret, "-5", body), "-5", now, verify.ErrMalformedTimestamp, false},
		{"wrong prefix", nil, "v1=" + strings.TrimPrefix(Sign(secret, now, body), "v0="), ts, now, verify.ErrMalformedSignature, false},
		{"not hex", nil, "v0=xyz", ts, now, verify.ErrMalformedSignature, false},
		{"mismatch", nil, Sign("other", now, body), ts, now, verify.ErrSignatureMismatch, false},
		{"timestamp swapped", nil, Sign(secret, now, body), strconv.FormatInt(now.Unix()+1, 10), now, verify.ErrSignatureMismatch, false},
		{"stale", nil, Sign(secret, now, body), ts, now.Add(5*time.Minute + time.Second), verify.ErrTimestampOutsideWindow, false},
		{"future", nil, Sign(secret, now, body), ts, now.Add(-5*time.Minute - time.Second), verify.ErrTimestampOutsideWindow, false},
		{"within window", nil, Sign(secret, now, body), ts, now.Add(5 * time.Minute), nil, false},
		{"rotation old", []Option{WithSecrets("new")}, Sign(secret, now, body), ts, now, nil, false},
		{"rotation new", []Option{WithSecrets("new")}, Sign("new", now, body), ts, now, nil, false},
		{"unsigned ssl_check", nil, "", "", now, verify.ErrMissingSignature, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := tt.at
			p, err := New(secret, append([]Option{WithClock(func() time.Time { return at })}, tt.opts...)...)
			require.NoError(t, err)
			b := body
			r, _ := http.NewRequest(http.MethodPost, "/", nil)
			if tt.noHeaders {
				b = []byte("ssl_check=1&token=abc")
				r.Header.Set("Content-Type", formType)
			}
			if tt.sig != "" {
				r.Header.Set(HeaderSignature, tt.sig)
			}
			if tt.ts != "" {
				r.Header.Set(HeaderTimestamp, tt.ts)
			}
			err = p.Verify(r, b)
			if tt.want == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tt.want)
			assert.ErrorIs(t, err, verify.ErrVerification)
			if assert.Error(t, err) {
				assert.True(t, strings.HasPrefix(err.Error(), "slack: "), err.Error())
			}
		})
	}
}

func signRaw(secret, ts string, body []byte) string {
	n, _ := strconv.ParseInt(ts, 10, 64)
	if strconv.FormatInt(n, 10) == ts {
		return Sign(secret, time.Unix(n, 0), body)
	}
	// A timestamp Sign cannot produce: build the signature by hand.
	p, _ := verify.NewHMAC(sha256.New, []byte(secret))
	return "v0=" + verify.Hex.Encode(p.Sign([]byte("v0:"+ts+":"), body))
}

func TestNewErrors(t *testing.T) {
	for _, s := range []string{"", "  "} {
		_, err := New(s)
		assert.ErrorIs(t, err, verify.ErrNoSecret, "New(%q)", s)
	}
	_, err := New(secret, WithSecrets(""))
	assert.ErrorIs(t, err, verify.ErrNoSecret, "blank extra secret")
	p, err := New(secret)
	require.NoError(t, err)
	assert.Equal(t, "slack", p.Name())
}

func TestNewRequest(t *testing.T) {
	body := []byte("command=%2Fdeploy&trigger_id=1.2.3")
	r := NewRequest("https://example.com/slack", secret, now, body, formType)
	assert.Equal(t, formType, r.Header.Get("Content-Type"))
	assert.Equal(t, "1531420618", r.Header.Get(HeaderTimestamp))
	assert.Equal(t, Sign(secret, now, body), r.Header.Get(HeaderSignature))
	p, err := New(secret, WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	assert.NoError(t, p.Verify(r, body))
}

func TestParse(t *testing.T) {
	interactive := func(js string) string { return "payload=" + url.QueryEscape(js) }
	tests := []struct {
		name        string
		contentType string
		body        string
		want        receiver.Envelope
		wantErr     bool
		wantPayload string // JSON, compared semantically; "" skips
	}{
		{"event_callback", "application/json",
			`{"token":"t","type":"event_callback","event_id":"Ev1","event":{"type":"app_mention","text":"hi"}}`,
			receiver.Envelope{ID: "Ev1", Type: "app_mention"}, false, `{"token":"t","type":"event_callback","event_id":"Ev1","event":{"type":"app_mention","text":"hi"}}`},
		{"url_verification", "application/json",
			`{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`,
			receiver.Envelope{Type: "url_verification", Reply: &receiver.Reply{Status: 200, ContentType: "text/plain", Body: []byte("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")}}, false, ""},
		{"app_rate_limited", "application/json",
			`{"token":"t","type":"app_rate_limited","team_id":"T1","minute_rate_limited":1518467820,"api_app_id":"A1"}`,
			receiver.Envelope{Type: "app_rate_limited", Reply: &receiver.Reply{Status: 200, ContentType: "text/plain"}}, false, ""},
		{"other type", "application/json", `{"type":"something_new","event_id":"Ev2"}`,
			receiver.Envelope{ID: "Ev2", Type: "something_new"}, false, ""},
		{"no content type", "", `{"type":"event_callback","event_id":"Ev3","event":{"type":"message"}}`,
			receiver.Envelope{ID: "Ev3", Type: "message"}, false, ""},
		{"slash command", formType, "token=x&command=%2Fdeploy&text=prod&trigger_id=13345224609.738474920.8088930838d88f008e0",
			receiver.Envelope{ID: "13345224609.738474920.8088930838d88f008e0", Type: "command.deploy"}, false,
			`{"token":"x","command":"/deploy","text":"prod","trigger_id":"13345224609.738474920.8088930838d88f008e0"}`},
		{"block_actions", formType, interactive(`{"type":"block_actions","trigger_id":"12.34.ab","actions":[{"action_id":"a"}]}`),
			receiver.Envelope{ID: "12.34.ab", Type: "interactive.block_actions"}, false, `{"type":"block_actions","trigger_id":"12.34.ab","actions":[{"action_id":"a"}]}`},
		{"view_closed", formType, interactive(`{"type":"view_closed","view":{"id":"V1","hash":"156.abc"}}`),
			receiver.Envelope{ID: "V1:156.abc", Type: "interactive.view_closed"}, false, ""},
		{"interactive without ids", formType, interactive(`{"type":"block_suggestion"}`),
			receiver.Envelope{Type: "interactive.block_suggestion"}, false, ""},
		{"ssl_check", formType, "ssl_check=1&token=abc",
			receiver.Envelope{Type: "ssl_check", Reply: &receiver.Reply{Status: 200, ContentType: "text/plain"}}, false, ""},
		{"ssl_check=0", formType, "ssl_check=0&token=abc", receiver.Envelope{}, true, ""},
		{"url_verification without challenge", "application/json", `{"type":"url_verification"}`, receiver.Envelope{}, true, ""},
		{"event_callback without event type", "application/json", `{"type":"event_callback","event_id":"E","event":{}}`, receiver.Envelope{}, true, ""},
		{"event_callback without event_id", "application/json", `{"type":"event_callback","event":{"type":"x"}}`, receiver.Envelope{}, true, ""},
		{"no type", "application/json", `{"event_id":"E"}`, receiver.Envelope{}, true, ""},
		{"malformed json", "application/json", `{"type":`, receiver.Envelope{}, true, ""},
		{"duplicate event", "application/json", `{"type":"event_callback","event_id":"E","event":{"type":"a"},"event":{"type":"b"}}`, receiver.Envelope{}, true, ""},
		{"empty command", formType, "command=%2F&trigger_id=1", receiver.Envelope{}, true, ""},
		{"interactive bad json", formType, interactive(`{"type":`), receiver.Envelope{}, true, ""},
		{"interactive no type", formType, interactive(`{"trigger_id":"1"}`), receiver.Envelope{}, true, ""},
		{"two payloads", formType, interactive(`{"type":"a"}`) + "&" + interactive(`{"type":"b"}`), receiver.Envelope{}, true, ""},
		{"bad form", formType, "command=%zz", receiver.Envelope{}, true, ""},
		{"unknown form", formType, "a=b", receiver.Envelope{}, true, ""},
	}
	p, _ := New(secret)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodPost, "/", nil)
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			env, err := p.Parse(r, []byte(tt.body))
			if tt.wantErr {
				assert.ErrorIs(t, err, receiver.ErrMalformedEnvelope)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, env)
			if tt.wantPayload != "" {
				doc, err := p.Payload(r.Header, []byte(tt.body))
				require.NoError(t, err)
				assert.JSONEq(t, tt.wantPayload, string(doc))
			}
		})
	}
}

func TestVectorsParse(t *testing.T) {
	want := map[string]receiver.Envelope{
		"slack-docs-slash-command": {ID: "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c", Type: "command.webhook-collect"},
		"slack-go-event-callback":  {ID: "TvBP7LRED7", Type: "app_mention"},
	}
	seen := 0
	for _, v := range providertest.LoadVectors(t, "../testdata/vectors.json", "slack") {
		w, ok := want[v.ID]
		if !ok {
			continue
		}
		seen++
		r, body := v.Request()
		p, err := New(v.Secret, WithClock(v.Clock()))
		require.NoError(t, err)
		require.NoError(t, p.Verify(r, body), v.ID)
		env, err := p.Parse(r, body)
		require.NoError(t, err, v.ID)
		assert.Equal(t, w, env, v.ID)
	}
	assert.Equal(t, len(want), seen, "vectors found")
}

// FuzzVerify mutates body, signature and timestamp of a valid request: only
// the original verifies, and nothing panics.
func FuzzVerify(f *testing.F) {
	body := []byte("command=%2Fdeploy&trigger_id=1.2.3")
	good := Sign(secret, now, body)
	f.Add(body, good, "1531420618")
	f.Add(body, good, "1531420619")
	f.Add([]byte("payload=%7B%22type%22%3A%22x%22%7D"), "v0=00", "0")
	f.Add([]byte("ssl_check=1"), "", "")
	p, _ := New(secret, WithClock(func() time.Time { return now }))
	f.Fuzz(func(t *testing.T, b []byte, sig, ts string) {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Content-Type", formType)
		r.Header[HeaderSignature] = []string{sig}
		r.Header[HeaderTimestamp] = []string{ts}
		err := p.Verify(r, b)
		if err == nil && (string(b) != string(body) || ts != "1531420618") {
			t.Fatalf("mutated request verified: %q %q %q", b, sig, ts)
		}
		if err != nil && !errors.Is(err, verify.ErrVerification) {
			t.Fatalf("error %v does not match ErrVerification", err)
		}
		_, _ = p.Parse(r, b)
		_, _ = p.Payload(r.Header, b)
		r.Header.Set("Content-Type", "application/json")
		_, _ = p.Parse(r, b)
	})
}

func TestHandshake(t *testing.T) {
	p, err := New("secret")
	require.NoError(t, err)
	tests := []struct {
		name, method, contentType, body, sig string
		want                                 bool
	}{
		{"unsigned ssl_check", http.MethodPost, formType, "ssl_check=1&token=abc", "", true},
		{"signed ssl_check goes through verification", http.MethodPost, formType, "ssl_check=1&token=abc", "v0=00", false},
		{"json body", http.MethodPost, "application/json", `{"ssl_check":"1"}`, "", false},
		{"ssl_check=0", http.MethodPost, formType, "ssl_check=0", "", false},
		{"slash command", http.MethodPost, formType, "command=%2Fdeploy&trigger_id=1", "", false},
		{"GET", http.MethodGet, formType, "", "", false},
		{"larger than an SSL check", http.MethodPost, formType, "ssl_check=1&pad=" + strings.Repeat("a", 4096), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest(tt.method, "/", nil)
			r.Header.Set("Content-Type", tt.contentType)
			if tt.sig != "" {
				r.Header.Set(HeaderSignature, tt.sig)
			}
			var body []byte
			if tt.method == http.MethodPost {
				body = []byte(tt.body)
			}
			rep := p.Handshake(r, body)
			require.Equal(t, tt.want, rep != nil, "Handshake = %v", rep)
			if rep != nil {
				assert.Equal(t, http.StatusOK, rep.Status)
				assert.Empty(t, rep.Body)
				assert.False(t, rep.VerifyFirst, "an unsigned SSL check is answered without verification")
			}
		})
	}
}

func TestSSLCheckThroughMiddleware(t *testing.T) {
	p, err := New("secret")
	require.NoError(t, err)
	calls := 0
	h := verify.Middleware(p)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { calls++ }))
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("ssl_check=1&token=abc"))
	r.Header.Set("Content-Type", formType)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Empty(t, w.Body.String())
	assert.Zero(t, calls, "the SSL check never reaches the next handler")

	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader("command=%2Fdeploy&trigger_id=1"))
	r.Header.Set("Content-Type", formType)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Zero(t, calls)
}
