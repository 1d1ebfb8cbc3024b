package receiver_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/providers/slack"
	"github.com/hookwise/hookwise/providers/standardwebhooks"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
)

// hostile is what an attacker puts in a header or a body: a marker, control
// characters that would forge a log line of their own, and 64 KiB.
var hostile = "PWNED\x1b[31m\r\nlevel=ERROR msg=forged\x00" + strings.Repeat("A", 64<<10)

// maxLogLine bounds one log line of a rejection, whatever the request held.
const maxLogLine = 1024

// maxLoggedReason is the most bytes of a rejection's reason the receiver logs.
const maxLoggedReason = 256

// quotingProvider is a third-party provider of the kind the receiver must
// also hold safe: its Parse puts the request's X-Seq header, raw, in its
// error.
type quotingProvider struct{ *testProvider }

func (p quotingProvider) Parse(r *http.Request, body []byte) (receiver.Envelope, error) {
	if seq := r.Header.Get("X-Seq"); seq != "" {
		if _, err := strconv.Atoi(seq); err != nil {
			return receiver.Envelope{}, fmt.Errorf("quoting: X-Seq %s is not a number: %w", seq, receiver.ErrMalformedEnvelope)
		}
	}
	return p.testProvider.Parse(r, body)
}

// TestRejectionLogsAreBounded sends requests with a huge, control-laden
// header or body to receivers of every provider, logging at DEBUG, and checks
// that the rejections' log lines neither quote the value nor grow with it:
// the built-in providers quote nothing from the request, and the reason the
// receiver logs for any provider is at most 256 bytes of printable ASCII.
func TestRejectionLogsAreBounded(t *testing.T) {
	now := time.Now()
	jsonHostile, err := json.Marshal(hostile)
	require.NoError(t, err)
	const (
		ghSecret    = "gh-secret"
		stSecret    = "whsec_stripe"
		slSecret    = "slack-secret"
		swSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		guid        = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
		swMessageID = "msg_2Lh9KRb0pzN4LePd3XiA4ZfvJ8w"
	)
	swRequest := func(id string, body []byte) *http.Request {
		return standardwebhooks.NewRequest("https://example.com/", swSecret, id, now, body)
	}
	set := func(r *http.Request, name, value string) *http.Request {
		r.Header.Set(name, value)
		return r
	}
	ghProvider, err := github.New(ghSecret)
	require.NoError(t, err)
	stProvider, err := stripe.New(stSecret)
	require.NoError(t, err)
	slProvider, err := slack.New(slSecret)
	require.NoError(t, err)
	swProvider, err := standardwebhooks.New(swSecret)
	require.NoError(t, err)

	for _, tc := range []struct {
		name     string
		provider receiver.Provider
		quotes   bool // the provider's own errors quote the request
		requests map[string]func() *http.Request
	}{
		{name: "github", provider: ghProvider, requests: map[string]func() *http.Request{
			"signature header": func() *http.Request {
				return set(github.NewRequest("https://example.com/", ghSecret, "push", guid, []byte(`{}`)), github.HeaderSignature256, hostile)
			},
			"delivery header": func() *http.Request {
				return github.NewRequest("https://example.com/", ghSecret, "push", hostile, []byte(`{}`))
			},
			"event header": func() *http.Request {
				return github.NewRequest("https://example.com/", ghSecret, hostile, guid, []byte(`{}`))
			},
			"body": func() *http.Request {
				return github.NewRequest("https://example.com/", ghSecret, "push", guid, []byte(hostile))
			},
			"action": func() *http.Request {
				return github.NewRequest("https://example.com/", ghSecret, "custom", guid, []byte(`{"action":`+string(jsonHostile)+`}`))
			},
		}},
		{name: "stripe", provider: stProvider, requests: map[string]func() *http.Request{
			"signature header": func() *http.Request {
				return set(stripe.NewRequest("https://example.com/", stSecret, now, []byte(`{}`)), stripe.HeaderSignature, hostile)
			},
			"timestamp": func() *http.Request {
				r := stripe.NewRequest("https://example.com/", stSecret, now, []byte(`{}`))
				return set(r, stripe.HeaderSignature, "t="+hostile+","+strings.SplitN(r.Header.Get(stripe.HeaderSignature), ",", 2)[1])
			},
			"body": func() *http.Request {
				return stripe.NewRequest("https://example.com/", stSecret, now, []byte(hostile))
			},
			"id": func() *http.Request {
				return stripe.NewRequest("https://example.com/", stSecret, now, []byte(`{"id":`+string(jsonHostile)+`,"type":"invoice.paid"}`))
			},
			"version": func() *http.Request {
				return stripe.NewRequest("https://example.com/", stSecret, now, []byte(`{"id":"evt_1","type":"invoice.paid","api_version":`+string(jsonHostile)+`}`))
			},
		}},
		{name: "slack", provider: slProvider, requests: map[string]func() *http.Request{
			"signature header": func() *http.Request {
				return set(slack.NewRequest("https://example.com/", slSecret, now, []byte(`{}`), "application/json"), slack.HeaderSignature, hostile)
			},
			"timestamp header": func() *http.Request {
				return set(slack.NewRequest("https://example.com/", slSecret, now, []byte(`{}`), "application/json"), slack.HeaderTimestamp, hostile)
			},
			"body": func() *http.Request {
				return slack.NewRequest("https://example.com/", slSecret, now, []byte(hostile), "application/json")
			},
			"event id": func() *http.Request {
				return slack.NewRequest("https://example.com/", slSecret, now,
					[]byte(`{"type":"event_callback","event_id":`+string(jsonHostile)+`,"event":{"type":"app_mention"}}`), "application/json")
			},
			"form": func() *http.Request {
				return slack.NewRequest("https://example.com/", slSecret, now,
					[]byte("command=/"+url.QueryEscape(hostile)+"&trigger_id=1"), "application/x-www-form-urlencoded")
			},
			"malformed form": func() *http.Request {
				return slack.NewRequest("https://example.com/", slSecret, now, []byte("a=%zz"+hostile), "application/x-www-form-urlencoded")
			},
		}},
		{name: "standardwebhooks", provider: swProvider, requests: map[string]func() *http.Request{
			"signature header": func() *http.Request {
				return set(swRequest(swMessageID, []byte(`{}`)), "webhook-signature", hostile)
			},
			"timestamp header": func() *http.Request {
				return set(swRequest(swMessageID, []byte(`{}`)), "webhook-timestamp", hostile)
			},
			"id header": func() *http.Request { return swRequest(hostile, []byte(`{}`)) },
			"body":      func() *http.Request { return swRequest(swMessageID, []byte(hostile)) },
			"type": func() *http.Request {
				return swRequest(swMessageID, []byte(`{"type":`+string(jsonHostile)+`}`))
			},
		}},
		{name: "third-party provider quoting the request", provider: quotingProvider{newTestProvider(t)}, quotes: true,
			requests: map[string]func() *http.Request{
				"header": func() *http.Request { return set(request("op1", "t", []byte(`{}`)), "X-Seq", hostile) },
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			rc, err := receiver.New(tc.provider, newRecorder(nil),
				receiver.WithLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			require.NoError(t, err)
			t.Cleanup(func() { _ = rc.Shutdown(ctxTimeout(t, 5*time.Second)) })
			for name, req := range tc.requests {
				code := serve(rc, req()).Code
				assert.Contains(t, []int{http.StatusBadRequest, http.StatusUnauthorized}, code, "%s: status", name)
			}
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			rejected := 0
			for _, line := range lines {
				assert.LessOrEqual(t, len(line), maxLogLine, "a log line grows with the request")
				if !tc.quotes {
					assert.NotContains(t, line, "PWNED", "a log line quotes the request")
				}
			}
			for _, rec := range logs.records(t) {
				if rec["msg"] != "delivery rejected" {
					continue
				}
				rejected++
				reason, _ := rec["reason"].(string)
				assert.NotEmpty(t, reason)
				assert.LessOrEqual(t, len(reason), maxLoggedReason)
				reason = strings.TrimSuffix(reason, "…") // where it was cut
				for i := 0; i < len(reason); i++ {
					if c := reason[i]; c < 0x20 || c > 0x7e {
						t.Errorf("the reason holds byte %#x: %q", c, reason[:min(len(reason), 80)])
						break
					}
				}
			}
			assert.Equal(t, len(tc.requests), rejected, "one DEBUG line per rejection")
		})
	}
}
