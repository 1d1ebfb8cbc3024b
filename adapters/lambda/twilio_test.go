package hooklambda_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	hooklambda "github.com/hookwise/hookwise/adapters/lambda"
	"github.com/hookwise/hookwise/providers/twilio"
	"github.com/hookwise/hookwise/receiver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const twilioToken = "twilio-auth-token-for-tests"

const twilioJSON = `{"type":"com.twilio.messaging.inbound-message.received","id":"EZ0123456789abcdef0123456789abcdef"}`

const smsForm = "AccountSid=AC0123456789abcdef0123456789abcdef&Body=Hello+%C3%A9&From=%2B15005550006&MessageSid=SM0123456789abcdef0123456789abcdef&SmsStatus=received&To=%2B15005550001"

// twilioRequest signs a delivery to rawURL as Twilio does (a form, or a
// JSON body with bodySHA256 added to the query).
func twilioRequest(t *testing.T, token, rawURL, contentType, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("I-Twilio-Idempotency-Token", "0f5f4c4e-9a1b-4c2d-8e3f-1a2b3c4d5e6f")
	require.NoError(t, twilio.SignRequest(req, []byte(body), token, time.Now()))
	req.Body = http.NoBody
	if body != "" {
		req.Body = readCloserOf(body)
	}
	return req
}

func twilioEndpoint(t *testing.T, opts ...hooklambda.Option) (*hooklambda.Adapter, *[]string) {
	t.Helper()
	var types []string
	mux := receiver.NewMux()
	mux.Handle("*", receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
		types = append(types, e.Type)
		return nil
	}))
	p, err := twilio.New(twilioToken)
	require.NoError(t, err)
	rc, err := hooklambda.NewReceiver(p, mux)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })
	a, err := hooklambda.New(rc, opts...)
	require.NoError(t, err)
	return a, &types
}

// TestTwilioSignedURLIsRebuiltExactly: Twilio signs the full URL (scheme,
// host, stage, path, query). Each shape rebuilds it from the event.
func TestTwilioSignedURLIsRebuiltExactly(t *testing.T) {
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			a, types := twilioEndpoint(t)
			u := "https://" + restHost + stage + "/twilio/sms?tenant=acme"
			res := s.call(t, a, context.Background(), twilioRequest(t, twilioToken, u, "application/x-www-form-urlencoded", smsForm), plain)
			assert.Equal(t, http.StatusOK, res.status, "form")
			assert.Equal(t, []string{"message.received"}, *types)

			noQuery := "https://" + restHost + stage + "/twilio/events"
			res = s.call(t, a, context.Background(), twilioRequest(t, twilioToken, noQuery, "application/json", twilioJSON), b64)
			assert.Equal(t, http.StatusOK, res.status, "JSON, bodySHA256 in the query")

			res = s.call(t, a, context.Background(), twilioRequest(t, "forged-token", u, "application/x-www-form-urlencoded", smsForm+"&x=1"), plain)
			assert.Equal(t, http.StatusUnauthorized, res.status, "forged")
			assert.Len(t, *types, 2)
		})
	}
}

// TestTwilioRawQueryKeptByHTTPAPIsAndFunctionURLs: a query that is not in
// canonical order (sorted keys, re-escaped) verifies where the event
// carries the raw query string, and not through a REST API or an ALB, whose
// events carry it as a map (the documented limit). A JSON delivery to a URL
// with a query is such a case: Twilio appends bodySHA256 after it.
func TestTwilioRawQueryKeptByHTTPAPIsAndFunctionURLs(t *testing.T) {
	u := "https://" + restHost + stage + "/twilio/sms?tenant=acme%2Fsouth&b=2&a=1"
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			a, _ := twilioEndpoint(t)
			form := s.call(t, a, context.Background(), twilioRequest(t, twilioToken, u, "application/x-www-form-urlencoded", smsForm), plain)
			json := s.call(t, a, context.Background(), twilioRequest(t, twilioToken, "https://"+restHost+stage+"/twilio/events?tenant=acme", "application/json", twilioJSON), plain)
			switch s.name {
			case "api gateway http", "function url":
				assert.Equal(t, http.StatusOK, form.status)
				assert.Equal(t, http.StatusOK, json.status)
			default:
				assert.Equal(t, http.StatusUnauthorized, form.status, "the raw query is not in the event")
				assert.Equal(t, http.StatusUnauthorized, json.status, "the raw query is not in the event")
			}
		})
	}
}

// TestTwilioBehindACustomDomainNeedsPublicURL: Twilio calls a custom
// domain; the event names the API's own host and stage path.
func TestTwilioBehindACustomDomainNeedsPublicURL(t *testing.T) {
	signed := twilioRequest(t, twilioToken, "https://hooks.example.com/sms", "application/x-www-form-urlencoded", smsForm)
	asSeen := func() *http.Request {
		r := signed.Clone(context.Background())
		r.URL.Host = restHost
		r.URL.Path = stage + "/sms"
		r.Body = readCloserOf(smsForm)
		return r
	}
	a, _ := twilioEndpoint(t)
	assert.Equal(t, http.StatusUnauthorized, callREST(t, a, context.Background(), asSeen(), plain).status, "without PublicURL")
	a, types := twilioEndpoint(t, hooklambda.PublicURL("https://hooks.example.com/sms"))
	assert.Equal(t, http.StatusOK, callREST(t, a, context.Background(), asSeen(), plain).status, "with PublicURL")
	assert.Equal(t, []string{"message.received"}, *types)
}
