package hooklambda_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	hooklambda "github.com/hookwise/hookwise/adapters/lambda"
	"github.com/hookwise/hookwise/receiver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func adapter(t *testing.T, h http.Handler, opts ...hooklambda.Option) *hooklambda.Adapter {
	t.Helper()
	a, err := hooklambda.New(h, opts...)
	require.NoError(t, err)
	return a
}

func TestHTTPAPIRequestKeepsCommaJoinedHeadersWhole(t *testing.T) {
	var ev events.APIGatewayV2HTTPRequest
	fixture(t, "httpapi.json", &ev)
	ev.RawPath, ev.RawQueryString = "/prod/hook", "x=1%202&x=3"
	ev.Headers["stripe-signature"] = "t=1,v1=aa,v1=bb"
	ev.Headers["x-tag"] = "a,b"
	ev.Cookies = []string{"c1=v1", "c2=v2"}
	ev.Body = "{}"
	r, err := adapter(t, http.NotFoundHandler()).HTTPAPIRequest(context.Background(), ev)
	require.NoError(t, err)
	assert.Equal(t, []string{"t=1,v1=aa,v1=bb"}, r.Header.Values("Stripe-Signature"))
	assert.Equal(t, []string{"a,b"}, r.Header.Values("X-Tag"))
	assert.Equal(t, "c1=v1; c2=v2", r.Header.Get("Cookie"))
	assert.Equal(t, "abc123defg.execute-api.us-east-1.amazonaws.com", r.Host)
	assert.Empty(t, r.Header.Get("Host"))
	assert.NotNil(t, r.TLS, "https")
	assert.Equal(t, "/prod/hook?x=1%202&x=3", r.RequestURI)
	assert.Equal(t, []string{"1 2", "3"}, r.URL.Query()["x"])
	assert.Equal(t, http.MethodPost, r.Method)
	assert.Equal(t, "54.187.174.169", r.RemoteAddr)
	b, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	assert.Equal(t, "{}", string(b))
	assert.Equal(t, int64(2), r.ContentLength)
}

func TestAPIGatewayRequestUsesMultiValueHeadersAndTheStagePath(t *testing.T) {
	var ev events.APIGatewayProxyRequest
	fixture(t, "rest.json", &ev)
	ev.Path, ev.RequestContext.Path = "/hook", "/prod/hook"
	ev.MultiValueHeaders["X-Tag"] = []string{"a", "b"}
	ev.Headers["X-Tag"] = "b"
	ev.MultiValueHeaders["X-Forwarded-Proto"] = []string{"http"}
	ev.MultiValueQueryStringParameters = map[string][]string{"q": {"a b"}, "a": {"1"}}
	r, err := adapter(t, http.NotFoundHandler()).APIGatewayRequest(context.Background(), ev)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, r.Header.Values("X-Tag"))
	assert.Nil(t, r.TLS, "http")
	assert.Equal(t, "/prod/hook", r.URL.Path, "the path the sender called, with the stage")
	assert.Equal(t, "/prod/hook?a=1&q=a+b", r.RequestURI, "the public path, the query in canonical form")
}

func TestALBRequestKeepsTheQueryAsSent(t *testing.T) {
	var ev events.ALBTargetGroupRequest
	fixture(t, "alb.json", &ev)
	ev.QueryStringParameters = map[string]string{"q": "a%20b", "e": "%2B1"}
	r, err := adapter(t, http.NotFoundHandler()).ALBRequest(context.Background(), ev)
	require.NoError(t, err)
	assert.Equal(t, "/webhooks?e=%2B1&q=a%20b", r.RequestURI)
	assert.Equal(t, "a b", r.URL.Query().Get("q"))
	assert.Equal(t, "+1", r.URL.Query().Get("e"))
	assert.Equal(t, "hooks-1234567890.us-east-1.elb.amazonaws.com", r.Host)
}

func TestUnconvertibleEventsAreBadEvents(t *testing.T) {
	a := adapter(t, http.NotFoundHandler())
	var ev events.LambdaFunctionURLRequest
	fixture(t, "functionurl.json", &ev)
	bad := ev
	bad.Body, bad.IsBase64Encoded = "%%%", true
	_, err := a.FunctionURLRequest(context.Background(), bad)
	require.ErrorIs(t, err, hooklambda.ErrBadEvent)
	require.ErrorIs(t, err, receiver.ErrUnreadableBody)
	assert.NotContains(t, err.Error(), "%%%", "no payload value in errors")
	bad = ev
	bad.RequestContext.HTTP.Method = "PO ST"
	_, err = a.FunctionURLRequest(context.Background(), bad)
	require.ErrorIs(t, err, hooklambda.ErrBadEvent)
	bad = ev
	bad.RawPath = "no-slash"
	_, err = a.FunctionURLRequest(context.Background(), bad)
	require.ErrorIs(t, err, hooklambda.ErrBadEvent)
	res, err := a.FunctionURL(context.Background(), bad)
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
}

// TestResponsesMapBack: status, repeated headers, Set-Cookie, Retry-After
// and a binary body, in each shape's response type.
func TestResponsesMapBack(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.Header().Add("Set-Cookie", "s1=1")
		w.Header().Add("Set-Cookie", "s2=2")
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte{0xff, 0xfe, 0x00, 'x'})
	})
	a := adapter(t, h)
	req := func() *http.Request { return stripeDelivery(stripeSecret, "evt_x", 1) }
	for _, s := range shapes {
		t.Run(s.name, func(t *testing.T) {
			res := s.call(t, a, context.Background(), req(), plain)
			assert.Equal(t, http.StatusServiceUnavailable, res.status)
			assert.Equal(t, "7", res.header.Get("Retry-After"))
			assert.Equal(t, "\xff\xfe\x00x", res.body, "binary body sent base64-encoded and decoded back")
			switch s.name {
			case "api gateway rest", "alb multi-value":
				assert.Equal(t, []string{"a", "b"}, res.header.Values("X-Multi"))
				assert.Equal(t, []string{"s1=1", "s2=2"}, res.header.Values("Set-Cookie"))
			case "api gateway http", "function url":
				assert.Equal(t, "a,b", res.header.Get("X-Multi"))
				assert.Equal(t, []string{"s1=1", "s2=2"}, res.header.Values("Set-Cookie"), "as cookies")
			case "alb":
				assert.Equal(t, "a,b", res.header.Get("X-Multi"))
				assert.Equal(t, []string{"s2=2"}, res.header.Values("Set-Cookie"), "one value per name")
			}
		})
	}
}

// FuzzEventConversion feeds arbitrary JSON (untrusted input: a request's
// headers, path, query and body) as each of the four event shapes through
// the conversion and the adapter: no panic; an error is ErrBadEvent; a
// request carries the event's method and exact body, and a RequestURI in
// origin form.
func FuzzEventConversion(f *testing.F) {
	for i, name := range []string{"rest.json", "httpapi.json", "functionurl.json", "alb.json", "alb-multivalue.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(min(i, 3)), b)
	}
	f.Add(uint8(1), []byte(`{"rawPath":"/a%zz","rawQueryString":"%","requestContext":{"http":{"method":"POST"}},"body":"AAE=","isBase64Encoded":true}`))
	f.Add(uint8(0), []byte(`{"path":"","httpMethod":"POST","multiValueQueryStringParameters":{"a":["\u0000"]},"multiValueHeaders":{"host":[]}}`))
	f.Add(uint8(3), []byte(`{"path":"//x","httpMethod":"GET","queryStringParameters":{"a b":"c#d"},"headers":{"x-forwarded-proto":""}}`))
	a, err := hooklambda.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(b)
	}))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		ctx := context.Background()
		var (
			r      *http.Request
			err    error
			method string
			body   string
			b64    bool
		)
		switch kind % 4 {
		case 0:
			var ev events.APIGatewayProxyRequest
			if json.Unmarshal(data, &ev) != nil {
				return
			}
			r, err = a.APIGatewayRequest(ctx, ev)
			method, body, b64 = ev.HTTPMethod, ev.Body, ev.IsBase64Encoded
			_, _ = a.APIGateway(ctx, ev)
		case 1:
			var ev events.APIGatewayV2HTTPRequest
			if json.Unmarshal(data, &ev) != nil {
				return
			}
			r, err = a.HTTPAPIRequest(ctx, ev)
			method, body, b64 = ev.RequestContext.HTTP.Method, ev.Body, ev.IsBase64Encoded
			_, _ = a.HTTPAPI(ctx, ev)
		case 2:
			var ev events.LambdaFunctionURLRequest
			if json.Unmarshal(data, &ev) != nil {
				return
			}
			r, err = a.FunctionURLRequest(ctx, ev)
			method, body, b64 = ev.RequestContext.HTTP.Method, ev.Body, ev.IsBase64Encoded
			_, _ = a.FunctionURL(ctx, ev)
		case 3:
			var ev events.ALBTargetGroupRequest
			if json.Unmarshal(data, &ev) != nil {
				return
			}
			r, err = a.ALBRequest(ctx, ev)
			method, body, b64 = ev.HTTPMethod, ev.Body, ev.IsBase64Encoded
			_, _ = a.ALB(ctx, ev)
		}
		if err != nil {
			require.ErrorIs(t, err, hooklambda.ErrBadEvent)
			return
		}
		want := body
		if b64 {
			d, derr := base64.StdEncoding.DecodeString(body)
			require.NoError(t, derr)
			want = string(d)
		}
		got, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		assert.Equal(t, want, string(got))
		assert.Equal(t, int64(len(want)), r.ContentLength)
		assert.Equal(t, method, r.Method)
		assert.True(t, strings.HasPrefix(r.RequestURI, "/"), r.RequestURI)
	})
}
