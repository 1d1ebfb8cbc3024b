// Package hooklambda serves a Hookwise receiver (or any net/http handler)
// from AWS Lambda, behind API Gateway REST APIs
// (events.APIGatewayProxyRequest), API Gateway HTTP APIs
// (events.APIGatewayV2HTTPRequest, payload format 2.0), function URLs
// (events.LambdaFunctionURLRequest) and Application Load Balancers
// (events.ALBTargetGroupRequest).
//
//	rc, err := hooklambda.NewReceiver(p, mux, receiver.WithStore(dedupe.NewRedis(rdb)))
//	...
//	a, err := hooklambda.New(rc)
//	...
//	lambda.Start(a.HTTPAPI) // or a.APIGateway, a.FunctionURL, a.ALB
//
// # Handled before the answer
//
// Lambda may freeze the execution environment as soon as the function
// returns its response, and may never thaw it: a handler running in the
// background after a 2xx cannot be trusted to finish. NewReceiver therefore
// builds the receiver on an InlineQueue, which runs the handler (and its
// retries) before the answer: a 2xx means the event was handled (or
// dead-lettered, or was a duplicate). An event not finished within the
// budget (DefaultBudget, and never past the invocation's deadline minus
// Reserve) is answered 503 with Retry-After, its dedupe claim released, so
// the sender delivers it again; see InlineQueue for a handler that overruns.
//
// The alternative is to acknowledge once the event is in a durable queue
// (Redis, PostgreSQL) and handle it elsewhere: NewDurableReceiver refuses
// an in-memory queue for that reason.
//
// # Requests
//
// Each event becomes a net/http server request: the body decoded from
// base64 when IsBase64Encoded; every header (multi-value headers when the
// event has them, one value per name otherwise; HTTP APIs and function URLs
// join repeated headers with commas, and the joined value is kept whole,
// since values such as Stripe-Signature contain commas themselves); cookies
// of payload format 2.0 as one Cookie header; the method; and the URL the
// sender called, which providers that sign it (Twilio, HubSpot v3, Square)
// rebuild from URL, RequestURI, Host and TLS. Its scheme comes from
// X-Forwarded-Proto (https when absent; TLS is then a non-nil, empty
// tls.ConnectionState), its host from the Host header (else the request
// context's domain name), its path from the event as the sender called it
// (REST: requestContext.path, with the stage, as in
// https://{api}.execute-api.{region}.amazonaws.com/{stage}/…, so mount
// routes with the stage or behind http.StripPrefix; HTTP API and function
// URL: rawPath; ALB: path), and its query: rawQueryString as sent for HTTP
// APIs and function URLs; rebuilt for REST APIs (API Gateway decodes it into
// a map: keys sorted and re-escaped, which matches the sender's only for a
// query in that canonical form) and for ALBs (which pass values still
// encoded: keys sorted, values as sent). PublicURL sets the scheme, host and
// path instead, for custom domains and proxies.
//
// # Responses
//
// Status, headers and body map back to the event's response type: REST
// responses carry multiValueHeaders; HTTP API and function URL responses
// carry headers joined with commas and Set-Cookie as cookies; ALB responses
// carry a statusDescription and multiValueHeaders exactly when the request
// had them (the target group's setting). A body that is not valid UTF-8 is
// sent base64-encoded. An event that cannot be converted (a body that is
// not valid base64, a method or path that cannot be parsed) is answered
// 400 without reaching the handler.
package hooklambda

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/hookwise/hookwise/receiver"
)

// DefaultReserve is the time kept before the invocation's deadline to send
// the answer.
const DefaultReserve = time.Second

var (
	// ErrBadEvent is wrapped by the errors of the conversion of an event
	// into a request: a body that is not valid base64 (it also matches
	// receiver.ErrUnreadableBody), a method that is not an HTTP token, or a
	// path that does not parse. The adapter answers it with 400.
	ErrBadEvent = errors.New("hooklambda: event not convertible to an HTTP request")
	// ErrNotDurable is returned by NewDurableReceiver for a queue that
	// does not outlive the execution environment.
	ErrNotDurable = errors.New("hooklambda: acknowledging before handling needs a durable queue")
	// ErrInvalidPublicURL is returned by New for a PublicURL that is not an
	// absolute http or https URL.
	ErrInvalidPublicURL = errors.New("hooklambda: public URL must be absolute http(s)")
)

// NewReceiver returns a receiver for provider p and handler h whose events
// are handled before the answer, on an InlineQueue (see the package
// documentation). opts are the receiver's options; a receiver.WithQueue
// among them is overridden. In Lambda, give it a shared dedupe store
// (dedupe.NewRedis, PostgreSQL) so that a redelivery reaching another
// execution environment is a duplicate, and a durable dead-letter store
// (redisq.NewDeadLetters) so that dead letters outlive the environment.
func NewReceiver(p receiver.Provider, h receiver.Handler, opts ...receiver.Option) (*receiver.Receiver, error) {
	return NewReceiverWithQueue(p, h, NewInlineQueue(), opts...)
}

// NewReceiverWithQueue is NewReceiver with an InlineQueue of the caller's
// (to set its Budget, Grace or MaxInFlight).
func NewReceiverWithQueue(p receiver.Provider, h receiver.Handler, q *InlineQueue, opts ...receiver.Option) (*receiver.Receiver, error) {
	if q == nil {
		q = NewInlineQueue()
	}
	return receiver.New(p, h, append(slices.Clone(opts), receiver.WithQueue(q))...)
}

// NewDurableReceiver returns a receiver that acknowledges an event once q
// has stored it, as outside Lambda, for a q that outlives the execution
// environment (redisq, PostgreSQL): the handlers then run wherever q's
// workers run, and an event left in flight by a frozen or stopped
// environment is taken over by another worker after q's visibility timeout.
// It returns ErrNotDurable for a nil q, a *receiver.MemoryQueue or an
// *InlineQueue (use NewReceiver for that).
func NewDurableReceiver(p receiver.Provider, h receiver.Handler, q receiver.Queue, opts ...receiver.Option) (*receiver.Receiver, error) {
	switch q.(type) {
	case nil, *receiver.MemoryQueue, *InlineQueue:
		return nil, ErrNotDurable
	}
	return receiver.New(p, h, append(slices.Clone(opts), receiver.WithQueue(q))...)
}

// Adapter turns Lambda events into requests for an http.Handler and its
// answers into the events' responses. It is safe for concurrent use.
type Adapter struct {
	h       http.Handler
	public  *url.URL
	reserve time.Duration
}

// Option configures an Adapter.
type Option func(*Adapter) error

// PublicURL sets the URL the sender calls (scheme, host, port and path), as
// configured at the sender, for providers that sign it: it replaces the
// one rebuilt from the event. The query is always the event's own.
func PublicURL(u string) Option {
	return func(a *Adapter) error {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || p.Opaque != "" {
			return ErrInvalidPublicURL
		}
		p.RawQuery, p.Fragment, p.RawFragment, p.ForceQuery = "", "", "", false
		a.public = p
		return nil
	}
}

// Reserve sets the time kept before the invocation's deadline to send the
// answer (default DefaultReserve): an InlineQueue gives an event up by then.
func Reserve(d time.Duration) Option {
	return func(a *Adapter) error {
		if d >= 0 {
			a.reserve = d
		}
		return nil
	}
}

// New returns an Adapter serving h, usually a receiver built with
// NewReceiver.
func New(h http.Handler, opts ...Option) (*Adapter, error) {
	a := &Adapter{h: h, reserve: DefaultReserve}
	for _, o := range opts {
		if err := o(a); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// source is what the adapter reads of any of the four event shapes.
type source struct {
	method     string
	publicPath string // the path the sender called
	rawQuery   string
	single     map[string]string
	multi      map[string][]string
	cookies    []string
	domain     string
	remote     string
	body       string
	base64     bool
}

// APIGatewayRequest converts a REST API event into a request with context ctx.
func (a *Adapter) APIGatewayRequest(ctx context.Context, ev events.APIGatewayProxyRequest) (*http.Request, error) {
	q := ev.MultiValueQueryStringParameters
	if len(q) == 0 && len(ev.QueryStringParameters) > 0 {
		q = make(map[string][]string, len(ev.QueryStringParameters))
		for k, v := range ev.QueryStringParameters {
			q[k] = []string{v}
		}
	}
	public := ev.RequestContext.Path
	if public == "" {
		public = ev.Path
	}
	return a.request(ctx, source{
		method: ev.HTTPMethod, publicPath: public, rawQuery: url.Values(q).Encode(),
		single: ev.Headers, multi: ev.MultiValueHeaders, domain: ev.RequestContext.DomainName,
		remote: ev.RequestContext.Identity.SourceIP, body: ev.Body, base64: ev.IsBase64Encoded,
	})
}

// HTTPAPIRequest converts an HTTP API (payload format 2.0) event into a
// request with context ctx.
func (a *Adapter) HTTPAPIRequest(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	return a.request(ctx, source{
		method: ev.RequestContext.HTTP.Method, publicPath: ev.RawPath, rawQuery: ev.RawQueryString,
		single: ev.Headers, cookies: ev.Cookies, domain: ev.RequestContext.DomainName,
		remote: ev.RequestContext.HTTP.SourceIP, body: ev.Body, base64: ev.IsBase64Encoded,
	})
}

// FunctionURLRequest converts a function URL event into a request with
// context ctx.
func (a *Adapter) FunctionURLRequest(ctx context.Context, ev events.LambdaFunctionURLRequest) (*http.Request, error) {
	return a.request(ctx, source{
		method: ev.RequestContext.HTTP.Method, publicPath: ev.RawPath, rawQuery: ev.RawQueryString,
		single: ev.Headers, cookies: ev.Cookies, domain: ev.RequestContext.DomainName,
		remote: ev.RequestContext.HTTP.SourceIP, body: ev.Body, base64: ev.IsBase64Encoded,
	})
}

// ALBRequest converts an Application Load Balancer event into a request
// with context ctx.
func (a *Adapter) ALBRequest(ctx context.Context, ev events.ALBTargetGroupRequest) (*http.Request, error) {
	q := ev.MultiValueQueryStringParameters
	if len(q) == 0 && len(ev.QueryStringParameters) > 0 {
		q = make(map[string][]string, len(ev.QueryStringParameters))
		for k, v := range ev.QueryStringParameters {
			q[k] = []string{v}
		}
	}
	// The load balancer passes the query still URL-encoded: join it as is.
	var raw strings.Builder
	for _, k := range slices.Sorted(maps.Keys(q)) {
		for _, v := range q[k] {
			if raw.Len() > 0 {
				raw.WriteByte('&')
			}
			raw.WriteString(k)
			raw.WriteByte('=')
			raw.WriteString(v)
		}
	}
	return a.request(ctx, source{
		method: ev.HTTPMethod, publicPath: ev.Path, rawQuery: raw.String(),
		single: ev.Headers, multi: ev.MultiValueHeaders, body: ev.Body, base64: ev.IsBase64Encoded,
	})
}

func (a *Adapter) request(ctx context.Context, s source) (*http.Request, error) {
	if !isToken(s.method) {
		return nil, fmt.Errorf("%w: method", ErrBadEvent)
	}
	var body []byte
	if s.base64 {
		b, err := base64.StdEncoding.DecodeString(s.body)
		if err != nil {
			return nil, fmt.Errorf("%w: body: %w", ErrBadEvent, receiver.ErrUnreadableBody)
		}
		body = b
	} else {
		body = []byte(s.body)
	}
	h := make(http.Header, max(len(s.multi), len(s.single))+1)
	if len(s.multi) > 0 {
		for k, vs := range s.multi {
			name := http.CanonicalHeaderKey(k)
			h[name] = append(h[name], vs...)
		}
	} else {
		for k, v := range s.single {
			name := http.CanonicalHeaderKey(k)
			h[name] = append(h[name], v)
		}
	}
	if len(s.cookies) > 0 {
		h.Add("Cookie", strings.Join(s.cookies, "; "))
	}
	scheme, host, publicPath := "https", h.Get("Host"), s.publicPath
	if p := h.Get("X-Forwarded-Proto"); p != "" {
		scheme, _, _ = strings.Cut(strings.ToLower(p), ",")
		scheme = strings.TrimSpace(scheme)
	}
	if host == "" {
		host = s.domain
	}
	if a.public != nil {
		scheme, host, publicPath = a.public.Scheme, a.public.Host, a.public.EscapedPath()
	}
	if publicPath == "" {
		publicPath = "/"
	}
	h.Del("Host")
	requestURI := publicPath
	if s.rawQuery != "" {
		requestURI += "?" + s.rawQuery
	}
	if !strings.HasPrefix(requestURI, "/") {
		return nil, fmt.Errorf("%w: path", ErrBadEvent)
	}
	u, err := url.ParseRequestURI(requestURI)
	if err != nil {
		return nil, fmt.Errorf("%w: path or query", ErrBadEvent)
	}
	req := &http.Request{
		Method:        s.method,
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          http.NoBody,
		ContentLength: int64(len(body)),
		Host:          host,
		RemoteAddr:    s.remote,
		RequestURI:    requestURI,
	}
	if len(body) > 0 {
		req.Body = readCloser{bytes.NewReader(body)}
	}
	if scheme == "https" {
		req.TLS = &tls.ConnectionState{}
	}
	if d, ok := ctx.Deadline(); ok {
		ctx = AnswerBy(ctx, d.Add(-a.reserve))
	}
	return req.WithContext(ctx), nil
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// isToken reports whether s is a non-empty HTTP token (RFC 9110).
func isToken(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// answer is the handler's response, buffered.
type answer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *answer) Header() http.Header { return w.header }

func (w *answer) WriteHeader(status int) {
	if w.status == 0 && status >= 100 && status <= 999 {
		w.status = status
	}
}

func (w *answer) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}

// serve runs the handler on req, or answers 400 for a conversion error.
func (a *Adapter) serve(req *http.Request, err error) *answer {
	w := &answer{header: make(http.Header)}
	if err != nil {
		status, reason := receiver.Classify(err)
		if status != http.StatusBadRequest {
			status, reason = http.StatusBadRequest, receiver.ReasonUnreadable
		}
		receiver.WriteRefusal(w, receiver.Refusal{Status: status, Reason: reason, Err: err})
	} else {
		a.h.ServeHTTP(w, req)
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w
}

// encodedBody returns the body as text, or base64 when it is not UTF-8.
func (w *answer) encodedBody() (string, bool) {
	b := w.body.Bytes()
	if utf8.Valid(b) {
		return string(b), false
	}
	return base64.StdEncoding.EncodeToString(b), true
}

// joined returns the headers one value per name, repeated values joined
// with commas, without Set-Cookie.
func (w *answer) joined() map[string]string {
	m := make(map[string]string, len(w.header))
	for k, vs := range w.header {
		if k != "Set-Cookie" && len(vs) > 0 {
			m[k] = strings.Join(vs, ",")
		}
	}
	return m
}

// APIGateway handles a REST API event: the function to give lambda.Start.
func (a *Adapter) APIGateway(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	w := a.serve(a.APIGatewayRequest(ctx, ev))
	body, b64 := w.encodedBody()
	return events.APIGatewayProxyResponse{StatusCode: w.status, MultiValueHeaders: w.header.Clone(), Body: body, IsBase64Encoded: b64}, nil
}

// HTTPAPI handles an HTTP API (payload format 2.0) event: the function to
// give lambda.Start.
func (a *Adapter) HTTPAPI(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	w := a.serve(a.HTTPAPIRequest(ctx, ev))
	body, b64 := w.encodedBody()
	return events.APIGatewayV2HTTPResponse{StatusCode: w.status, Headers: w.joined(), Cookies: w.header.Values("Set-Cookie"), Body: body, IsBase64Encoded: b64}, nil
}

// FunctionURL handles a function URL event: the function to give
// lambda.Start.
func (a *Adapter) FunctionURL(ctx context.Context, ev events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
	w := a.serve(a.FunctionURLRequest(ctx, ev))
	body, b64 := w.encodedBody()
	return events.LambdaFunctionURLResponse{StatusCode: w.status, Headers: w.joined(), Cookies: w.header.Values("Set-Cookie"), Body: body, IsBase64Encoded: b64}, nil
}

// ALB handles an Application Load Balancer event: the function to give
// lambda.Start. The response uses multiValueHeaders when the request did
// (the target group's multi-value headers setting), headers otherwise.
func (a *Adapter) ALB(ctx context.Context, ev events.ALBTargetGroupRequest) (events.ALBTargetGroupResponse, error) {
	w := a.serve(a.ALBRequest(ctx, ev))
	body, b64 := w.encodedBody()
	res := events.ALBTargetGroupResponse{StatusCode: w.status, StatusDescription: fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)), Body: body, IsBase64Encoded: b64}
	if len(ev.MultiValueHeaders) > 0 {
		res.MultiValueHeaders = w.header.Clone()
	} else {
		res.Headers = w.joined()
		if c := w.header.Values("Set-Cookie"); len(c) > 0 {
			res.Headers["Set-Cookie"] = c[len(c)-1]
		}
	}
	return res, nil
}
