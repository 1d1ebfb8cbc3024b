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
	"github.com/stretchr/testify/require"
)

// The test URLs are https://<host>/prod/<route>: "prod" is the stage, part
// of the public path (REST APIs report the path without it in "path" and
// with it in requestContext.path; HTTP APIs with a named stage include it
// in rawPath).
const stage = "/prod"

// response is an event response, normalized.
type response struct {
	status int
	header http.Header
	body   string
}

// shape is one of the event types a function behind AWS can receive.
type shape struct {
	name string
	call func(t *testing.T, a *hooklambda.Adapter, ctx context.Context, req *http.Request, enc encoding) response
}

var shapes = []shape{
	{"api gateway rest", callREST},
	{"api gateway http", callHTTPAPI},
	{"function url", callFunctionURL},
	{"alb", func(t *testing.T, a *hooklambda.Adapter, ctx context.Context, req *http.Request, enc encoding) response {
		return callALB(t, a, ctx, req, enc, false)
	}},
	{"alb multi-value", func(t *testing.T, a *hooklambda.Adapter, ctx context.Context, req *http.Request, enc encoding) response {
		return callALB(t, a, ctx, req, enc, true)
	}},
}

// fixture decodes testdata/name into v.
func fixture(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}

// roundTrip sends v through JSON, as the Lambda runtime does.
func roundTrip[T any](t *testing.T, v T) T {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var out T
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

func readBody(t *testing.T, req *http.Request) []byte {
	t.Helper()
	if req.Body == nil {
		return nil
	}
	b, err := io.ReadAll(req.Body)
	require.NoError(t, err)
	return b
}

// encoding is how a test sends the body in the event.
type encoding int

const (
	plain  encoding = iota
	b64             // base64, isBase64Encoded
	broken          // "not base64!" flagged isBase64Encoded
)

func encodeBody(b []byte, enc encoding) (string, bool) {
	switch enc {
	case b64:
		return base64.StdEncoding.EncodeToString(b), true
	case broken:
		return "not base64!", true
	}
	return string(b), false
}

func decodeBody(t *testing.T, s string, b64 bool) string {
	t.Helper()
	if !b64 {
		return s
	}
	b, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err)
	return string(b)
}

// rawQuery splits a raw query without decoding it, as an ALB passes it.
func rawQuery(q string) map[string][]string {
	m := map[string][]string{}
	for _, kv := range strings.Split(q, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		m[k] = append(m[k], v)
	}
	return m
}

func callREST(t *testing.T, a *hooklambda.Adapter, ctx context.Context, req *http.Request, enc encoding) response {
	t.Helper()
	var ev events.APIGatewayProxyRequest
	fixture(t, "rest.json", &ev)
	ev.HTTPMethod = req.Method
	ev.RequestContext.HTTPMethod = req.Method
	ev.RequestContext.Path = req.URL.EscapedPath()
	ev.Path = strings.TrimPrefix(req.URL.Path, stage)
	ev.Headers["Host"], ev.MultiValueHeaders["Host"] = req.URL.Host, []string{req.URL.Host}
	for k, vs := range req.Header {
		ev.Headers[k] = vs[len(vs)-1]
		ev.MultiValueHeaders[k] = vs
	}
	if req.URL.RawQuery != "" {
		q := req.URL.Query()
		ev.MultiValueQueryStringParameters = q
		ev.QueryStringParameters = map[string]string{}
		for k, vs := range q {
			ev.QueryStringParameters[k] = vs[len(vs)-1]
		}
	}
	ev.Body, ev.IsBase64Encoded = encodeBody(readBody(t, req), enc)
	res, err := a.APIGateway(ctx, roundTrip(t, ev))
	require.NoError(t, err)
	res = roundTrip(t, res)
	require.Empty(t, res.Headers, "REST answers use multiValueHeaders")
	return response{res.StatusCode, http.Header(res.MultiValueHeaders), decodeBody(t, res.Body, res.IsBase64Encoded)}
}

// v2Headers lowercases names and joins repeated headers with commas, as
// HTTP APIs and function URLs do; cookies go apart.
func v2Headers(req *http.Request, h map[string]string) (cookies []string) {
	h["host"] = req.URL.Host
	for k, vs := range req.Header {
		if k == "Cookie" {
			for _, v := range vs {
				cookies = append(cookies, strings.Split(v, "; ")...)
			}
			continue
		}
		h[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	return cookies
}

func v2Response(t *testing.T, status int, headers map[string]string, cookies []string, body string, b64 bool) response {
	t.Helper()
	h := http.Header{}
	for k, v := range headers {
		h.Set(k, v)
	}
	for _, c := range cookies {
		h.Add("Set-Cookie", c)
	}
	return response{status, h, decodeBody(t, body, b64)}
}

func callHTTPAPI(t *testing.T, a *hooklambda.Adapter, ctx context.Context, req *http.Request, enc encoding) response {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	fixture(t, "httpapi.json", &ev)
	ev.RequestContext.HTTP.Method = req.Method
	ev.RawPath, ev.RequestContext.HTTP.Path = req.URL.EscapedPath(), req.URL.Path
	ev.RawQueryString = req.URL.RawQuery
	ev.Cookies = v2Headers(req, ev.Headers)
	ev.RequestContext.DomainName = req.URL.Host
	ev.Body, ev.IsBase64Encoded = encodeBody(readBody(t, req), enc)
	res, err := a.HTTPAPI(ctx, roundTrip(t, ev))
	require.NoError(t, err)
	res = roundTrip(t, res)
	return v2Response(t, res.StatusCode, res.Headers, res.Cookies, res.Body, res.IsBase64Encoded)
}

func callFunctionURL(t *testing.T, a *hooklambda.Adapter, ctx context.Context, req *http.Request, enc encoding) response {
	t.Helper()
	var ev events.LambdaFunctionURLRequest
	fixture(t, "functionurl.json", &ev)
	ev.RequestContext.HTTP.Method = req.Method
	ev.RawPath, ev.RequestContext.HTTP.Path = req.URL.EscapedPath(), req.URL.Path
	ev.RawQueryString = req.URL.RawQuery
	ev.Cookies = v2Headers(req, ev.Headers)
	ev.RequestContext.DomainName = req.URL.Host
	ev.Body, ev.IsBase64Encoded = encodeBody(readBody(t, req), enc)
	res, err := a.FunctionURL(ctx, roundTrip(t, ev))
	require.NoError(t, err)
	res = roundTrip(t, res)
	return v2Response(t, res.StatusCode, res.Headers, res.Cookies, res.Body, res.IsBase64Encoded)
}

func callALB(t *testing.T, a *hooklambda.Adapter, ctx context.Context, req *http.Request, enc encoding, multi bool) response {
	t.Helper()
	var ev events.ALBTargetGroupRequest
	if multi {
		fixture(t, "alb-multivalue.json", &ev)
		ev.MultiValueHeaders["host"] = []string{req.URL.Host}
		for k, vs := range req.Header {
			ev.MultiValueHeaders[strings.ToLower(k)] = vs
		}
		ev.MultiValueQueryStringParameters = rawQuery(req.URL.RawQuery)
	} else {
		fixture(t, "alb.json", &ev)
		ev.Headers["host"] = req.URL.Host
		for k, vs := range req.Header {
			ev.Headers[strings.ToLower(k)] = vs[len(vs)-1]
		}
		ev.QueryStringParameters = map[string]string{}
		for k, vs := range rawQuery(req.URL.RawQuery) {
			ev.QueryStringParameters[k] = vs[len(vs)-1]
		}
	}
	ev.HTTPMethod, ev.Path = req.Method, req.URL.EscapedPath()
	ev.Body, ev.IsBase64Encoded = encodeBody(readBody(t, req), enc)
	res, err := a.ALB(ctx, roundTrip(t, ev))
	require.NoError(t, err)
	res = roundTrip(t, res)
	require.Equal(t, res.StatusCode, atoiPrefix(res.StatusDescription), "statusDescription")
	var h http.Header
	if multi {
		require.Empty(t, res.Headers, "a multi-value target group gets multiValueHeaders")
		h = http.Header(res.MultiValueHeaders)
	} else {
		require.Empty(t, res.MultiValueHeaders, "a single-value target group gets headers")
		h = http.Header{}
		for k, v := range res.Headers {
			h.Set(k, v)
		}
	}
	return response{res.StatusCode, h, decodeBody(t, res.Body, res.IsBase64Encoded)}
}

func atoiPrefix(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func readCloserOf(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }
