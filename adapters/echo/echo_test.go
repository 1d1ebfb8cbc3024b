package hookecho_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	hookecho "github.com/hookwise/hookwise/adapters/echo"
	"github.com/hookwise/hookwise/internal/adaptertest"
	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/receiver"
)

const (
	secret = adaptertest.Secret
	route  = "/webhooks/github"
	url    = "http://example.com" + route
)

// newReceiver builds the shared GitHub receiver (internal/adaptertest)
// rendering refusals with hookecho.ErrorRenderer().
func newReceiver(t *testing.T, opts ...receiver.Option) (*receiver.Receiver, *adaptertest.Handled) {
	t.Helper()
	h := &adaptertest.Handled{Value: tenant}
	opts = append([]receiver.Option{receiver.WithErrorRenderer(hookecho.ErrorRenderer())}, opts...)
	return adaptertest.NewReceiver(t, h, opts...), h
}

// tenant reads the value a test's middleware stored, as the handler sees it.
func tenant(ctx context.Context) (string, bool) {
	v, ok := ctx.Value(tenantKey{}).(string)
	return v, ok
}

func drain(t *testing.T, rc *receiver.Receiver) { adaptertest.Drain(t, rc) }

func signed(body string) *http.Request { return adaptertest.Signed(url, body) }

func issue(n int) string {
	return `{"action":"opened","issue":{"number":` + strings.Repeat("1", n) + `}}`
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	return adaptertest.Serve(h, req)
}

// server mounts rc with hookecho.Handler behind mw, and records the errors
// the server's error handler gets.
func server(rc http.Handler, errs *[]error, mw ...echo.MiddlewareFunc) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	if errs != nil {
		e.HTTPErrorHandler = func(err error, c echo.Context) {
			*errs = append(*errs, err)
			e.DefaultHTTPErrorHandler(err, c)
		}
	}
	e.Use(middleware.Recover())
	e.Use(mw...)
	e.Any(route, hookecho.Handler(rc))
	return e
}

func message(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	assert.Equal(t, echo.MIMEApplicationJSON, w.Header().Get(echo.HeaderContentType))
	var m struct {
		Message string `json:"message"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m), w.Body.String())
	return m.Message
}

func refusal(t *testing.T, errs []error) *hookecho.RefusalError {
	t.Helper()
	require.Len(t, errs, 1)
	var he *echo.HTTPError
	require.ErrorAs(t, errs[0], &he)
	var re *hookecho.RefusalError
	require.ErrorAs(t, errs[0], &re)
	return re
}

func TestSignedDeliveryIsAcceptedAndHandled(t *testing.T) {
	rc, h := newReceiver(t)
	var errs []error
	w := serve(server(rc, &errs), signed(issue(1)))
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Empty(t, errs)
	drain(t, rc)
	events := h.List()
	require.Len(t, events, 1)
	assert.Equal(t, "issues.opened", events[0].Type)
}

func TestForgedDeliveryIs401WithoutSayingWhy(t *testing.T) {
	for name, forge := range map[string]func(*http.Request){
		"wrong signature": func(r *http.Request) {
			r.Header.Set(github.HeaderSignature256, github.Sign("another secret", []byte(issue(1))))
		},
		"no signature": func(r *http.Request) {
			r.Header.Del(github.HeaderSignature256)
			r.Header.Del("X-Hub-Signature")
		},
	} {
		t.Run(name, func(t *testing.T) {
			for _, debug := range []bool{false, true} {
				rc, h := newReceiver(t)
				var errs []error
				e := server(rc, &errs)
				e.Debug = debug // Debug shows the error's text to the sender
				req := signed(issue(1))
				forge(req)
				w := serve(e, req)
				assert.Equal(t, http.StatusUnauthorized, w.Code)
				assert.Equal(t, "Unauthorized", message(t, w))
				assert.NotContains(t, w.Body.String(), "signature")
				assert.NotContains(t, w.Body.String(), "verify")
				re := refusal(t, errs)
				assert.Equal(t, receiver.ReasonSignature, re.Refusal.Reason)
				assert.Equal(t, "hookwise: delivery refused: 401 Unauthorized", re.Error())
				assert.NotNil(t, errors.Unwrap(re))
				drain(t, rc)
				assert.Empty(t, h.List())
			}
		})
	}
}

func TestDuplicateDeliveryIsAcknowledgedAndHandledOnce(t *testing.T) {
	rc, h := newReceiver(t)
	e := server(rc, nil)
	assert.Equal(t, http.StatusOK, serve(e, signed(issue(2))).Code)
	drain(t, rc)
	assert.Equal(t, http.StatusOK, serve(e, signed(issue(2))).Code)
	drain(t, rc)
	assert.Len(t, h.List(), 1)
}

func TestOversizedDeliveryIs413(t *testing.T) {
	rc, h := newReceiver(t, receiver.WithMaxBodyBytes(1024))
	var errs []error
	e := server(rc, &errs)
	pad := func(n int) string {
		return `{"action":"opened","issue":{},"pad":"` + strings.Repeat("x", n-len(`{"action":"opened","issue":{},"pad":""}`)) + `"}`
	}
	w := serve(e, signed(pad(2048)))
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	assert.Equal(t, "Request Entity Too Large", message(t, w))
	assert.Equal(t, receiver.ReasonTooLarge, refusal(t, errs).Refusal.Reason)

	require.Len(t, pad(1024), 1024)
	assert.Equal(t, http.StatusOK, serve(e, signed(pad(1024))).Code)
	drain(t, rc)
	assert.Len(t, h.List(), 1)
}

func TestUnavailableIs503WithRetryAfter(t *testing.T) {
	rc, h := newReceiver(t, receiver.RetryAfter(7*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, rc.Shutdown(ctx))
	var errs []error
	w := serve(server(rc, &errs), signed(issue(1)))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "7", w.Header().Get("Retry-After"))
	assert.Equal(t, "Service Unavailable", message(t, w))
	re := refusal(t, errs)
	// A receiver shut down has closed its queue and its in-memory store.
	assert.Contains(t, []string{receiver.ReasonClosed, receiver.ReasonUnavailable}, re.Refusal.Reason)
	assert.Empty(t, h.List())
}

func TestOtherMethodIs405WithAllow(t *testing.T) {
	rc, _ := newReceiver(t)
	w := serve(server(rc, nil), httptest.NewRequest(http.MethodGet, route, nil))
	assert.Equal(t, http.StatusMethodNotAllowed, w.Code)
	assert.Equal(t, http.MethodPost, w.Header().Get("Allow"))
	assert.Equal(t, "Method Not Allowed", message(t, w))
}

type problem struct{}

func (problem) Error() string        { return "invalid: /x: required" }
func (problem) Is(target error) bool { return target == receiver.ErrInvalidPayload }
func (problem) ProblemJSON() []byte  { return []byte(`{"title":"invalid payload","status":422}`) }

type problemValidator struct{}

func (problemValidator) Validate(context.Context, *receiver.Event) error { return problem{} }

func TestInvalidPayloadIs422WithTheProblem(t *testing.T) {
	rc, h := newReceiver(t, receiver.WithValidator(problemValidator{}, receiver.RejectInvalid))
	w := serve(server(rc, nil), signed(issue(1)))
	assert.Equal(t, http.StatusUnprocessableEntity, w.Code)
	assert.JSONEq(t, `{"title":"invalid payload","status":422}`, w.Body.String())
	drain(t, rc)
	assert.Empty(t, h.List())
}

// rawBody is signed as it is: odd spacing, key order, escapes and a
// trailing newline, which any re-encoding would change.
const rawBody = "{ \"zeta\" :1,\"action\":\"opened\", \"issue\" : {\"number\":7 } ,  \"name\":\"caf\\u00e9 \u00e9\", \"n\":1.50 }\n"

func TestRawBodyIntactBehindBodyDumpAndBodyLimit(t *testing.T) {
	rc, h := newReceiver(t)
	var dumped []byte
	e := server(rc, nil,
		middleware.Logger(),
		middleware.BodyLimit("1M"),
		middleware.BodyDump(func(_ echo.Context, req, _ []byte) { dumped = req }),
	)
	e.Logger.SetOutput(io.Discard)
	w := serve(e, signed(rawBody))
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, []byte(rawBody), dumped)
	drain(t, rc)
	events := h.List()
	require.Len(t, events, 1)
	assert.Equal(t, []byte(rawBody), events[0].Body, "the handler gets the raw body byte for byte")
}

func TestWrapHandlerOneLiner(t *testing.T) {
	rc, h := newReceiver(t)
	e := echo.New()
	e.POST(route, echo.WrapHandler(rc))
	assert.Equal(t, http.StatusOK, serve(e, signed(rawBody)).Code)
	drain(t, rc)
	events := h.List()
	require.Len(t, events, 1)
	assert.Equal(t, []byte(rawBody), events[0].Body)

	// Without Handler there is no echo error to return: the renderer falls
	// back to receiver.WriteRefusal.
	req := signed(rawBody)
	req.Header.Set(github.HeaderSignature256, "sha256=00")
	w := serve(e, req)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Equal(t, "Unauthorized\n", w.Body.String())
}

func TestBodyLimitMiddlewareAnswersItsOwn413(t *testing.T) {
	rc, h := newReceiver(t)
	var errs []error
	e := server(rc, &errs, middleware.BodyLimit("1K"))
	body := `{"action":"opened","issue":{},"pad":"` + strings.Repeat("x", 4096) + `"}`

	// Declared length: BodyLimit refuses before the receiver runs.
	w := serve(e, signed(body))
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code)

	// Chunked (no length): the limit trips while the receiver reads.
	req := signed(body)
	req.ContentLength = -1
	req.Body = io.NopCloser(bytes.NewReader([]byte(body)))
	errs = nil
	w = serve(e, req)
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	re := refusal(t, errs)
	assert.Equal(t, receiver.ReasonUnreadable, re.Refusal.Reason)
	drain(t, rc)
	assert.Empty(t, h.List())
}

type tenantKey struct{}

type tenantPropagator struct{}

func (tenantPropagator) Inject(ctx context.Context, meta map[string]string) {
	if v, ok := ctx.Value("tenant").(string); ok {
		meta["tenant"] = v
	}
}

func (tenantPropagator) Extract(ctx context.Context, meta map[string]string) context.Context {
	return context.WithValue(ctx, tenantKey{}, meta["tenant"])
}

func TestEchoValuesReachTheHandlerOnlyThroughAPropagator(t *testing.T) {
	type key struct{}
	var seen []any
	obs := receiver.ObserverFunc(func(ctx context.Context, o receiver.Observation) {
		if o.Request != nil {
			seen = append(seen, o.Request.Context().Value(key{}), o.Request.Context().Value("tenant"))
		}
	})
	rc, h := newReceiver(t, receiver.WithPropagator(tenantPropagator{}), receiver.WithObserver(obs))
	e := server(rc, nil, func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Set("tenant", "acme")
			c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), key{}, "from-request")))
			return next(c)
		}
	})
	require.Equal(t, http.StatusOK, serve(e, signed(issue(3))).Code)
	drain(t, rc)
	events := h.List()
	require.Len(t, events, 1)
	assert.Equal(t, map[string]string{"tenant": "acme"}, events[0].Meta)
	assert.Equal(t, []string{"acme"}, h.Values())
	assert.Equal(t, []any{"from-request", "acme"}, seen)
}

func TestCustomErrorHandlerSeesTheRefusal(t *testing.T) {
	rc, _ := newReceiver(t)
	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		var re *hookecho.RefusalError
		if errors.As(err, &re) {
			_ = c.JSON(re.Refusal.Status, map[string]any{"refused": true})
			return
		}
		e.DefaultHTTPErrorHandler(err, c)
	}
	e.POST(route, hookecho.Handler(rc))
	req := signed(issue(1))
	req.Header.Set(github.HeaderSignature256, "sha256=00")
	w := serve(e, req)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.JSONEq(t, `{"refused":true}`, w.Body.String())
}

func TestPostRouteLeavesOtherMethodsToEcho(t *testing.T) {
	rc, _ := newReceiver(t)
	e := echo.New()
	e.POST(route, hookecho.Handler(rc))
	w := serve(e, httptest.NewRequest(http.MethodGet, route, nil))
	assert.Equal(t, http.StatusMethodNotAllowed, w.Code)
	assert.Contains(t, w.Header().Get("Allow"), http.MethodPost)
}

func TestRefusalGoesThroughAWrappingMiddleware(t *testing.T) {
	rc, _ := newReceiver(t)
	var seen int
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		rc.ServeHTTP(sw, r)
		seen = sw.status
	})
	e := echo.New()
	e.POST(route, hookecho.Handler(wrapped))
	req := signed(issue(9))
	req.Header.Set(github.HeaderSignature256, "sha256=00")
	w := serve(e, req)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Equal(t, http.StatusUnauthorized, seen, "the wrapping middleware saw the refusal")
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
