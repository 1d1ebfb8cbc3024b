package hookgin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gin-gonic/gin/binding"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	hookgin "github.com/hookwise/hookwise/adapters/gin"
	"github.com/hookwise/hookwise/internal/adaptertest"
	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/receiver"
)

const (
	secret = adaptertest.Secret
	route  = "/webhooks/github"
	url    = "http://example.com" + route
)

func init() { gin.SetMode(gin.TestMode) }

// newReceiver builds the shared GitHub receiver (internal/adaptertest)
// rendering refusals with hookgin.ErrorRenderer(nil).
func newReceiver(t *testing.T, opts ...receiver.Option) (*receiver.Receiver, *adaptertest.Handled) {
	t.Helper()
	h := &adaptertest.Handled{Value: tenant}
	opts = append([]receiver.Option{receiver.WithErrorRenderer(hookgin.ErrorRenderer(nil))}, opts...)
	return adaptertest.NewReceiver(t, h, opts...), h
}

// tenant reads the value a test's middleware stored, as the handler sees it.
func tenant(ctx context.Context) (string, bool) {
	v, ok := ctx.Value(tenantKey{}).(string)
	return v, ok
}

func drain(t *testing.T, rc *receiver.Receiver) { adaptertest.Drain(t, rc) }

func signed(body string) *http.Request { return adaptertest.Signed(url, body) }

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	return adaptertest.Serve(h, req)
}

// engine mounts rc on a gin engine with hookgin.Handler, behind mw, and
// records the errors each request left on c.Errors.
func engine(rc http.Handler, errs *[]error, mw ...gin.HandlerFunc) *gin.Engine {
	r := gin.New()
	r.Use(gin.Recovery())
	if errs != nil {
		r.Use(func(c *gin.Context) {
			c.Next()
			for _, e := range c.Errors {
				*errs = append(*errs, e.Err)
			}
		})
	}
	r.Use(mw...)
	r.Any(route, hookgin.Handler(rc))
	return r
}

func errorBody(t *testing.T, w *httptest.ResponseRecorder) hookgin.Body {
	t.Helper()
	assert.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
	var b hookgin.Body
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &b), w.Body.String())
	return b
}

func TestSignedDeliveryIsAcceptedAndHandled(t *testing.T) {
	rc, h := newReceiver(t)
	r := engine(rc, nil)
	w := serve(r, signed(`{"action":"opened","issue":{"number":1}}`))
	assert.Equal(t, http.StatusOK, w.Code)
	drain(t, rc)
	events := h.List()
	require.Len(t, events, 1)
	assert.Equal(t, "issues.opened", events[0].Type)
	assert.Equal(t, "github", events[0].Provider)
}

func TestForgedDeliveryIs401WithoutSayingWhy(t *testing.T) {
	for name, forge := range map[string]func(*http.Request){
		"wrong signature": func(r *http.Request) {
			r.Header.Set(github.HeaderSignature256, github.Sign("another secret", []byte(`{"action":"opened","issue":{"number":9}}`)))
		},
		"no signature": func(r *http.Request) {
			r.Header.Del(github.HeaderSignature256)
			r.Header.Del("X-Hub-Signature")
		},
	} {
		t.Run(name, func(t *testing.T) {
			rc, h := newReceiver(t)
			var errs []error
			r := engine(rc, &errs)
			req := signed(`{"action":"opened","issue":{"number":9}}`)
			forge(req)
			w := serve(r, req)
			assert.Equal(t, http.StatusUnauthorized, w.Code)
			assert.Equal(t, hookgin.Body{Error: "Unauthorized"}, errorBody(t, w))
			assert.Empty(t, w.Header().Get("Retry-After"))
			require.Len(t, errs, 1)
			var re *hookgin.RefusalError
			require.ErrorAs(t, errs[0], &re)
			assert.Equal(t, receiver.ReasonSignature, re.Refusal.Reason)
			assert.Equal(t, "hookwise: delivery refused: 401 Unauthorized", re.Error())
			assert.NotContains(t, re.Error(), "signature")
			assert.NotNil(t, errors.Unwrap(re))
			drain(t, rc)
			assert.Empty(t, h.List())
		})
	}
}

func TestDuplicateDeliveryIsAcknowledgedAndHandledOnce(t *testing.T) {
	rc, h := newReceiver(t)
	r := engine(rc, nil)
	const body = `{"action":"opened","issue":{"number":2}}`
	assert.Equal(t, http.StatusOK, serve(r, signed(body)).Code)
	drain(t, rc)
	assert.Equal(t, http.StatusOK, serve(r, signed(body)).Code)
	drain(t, rc)
	assert.Len(t, h.List(), 1)
}

func TestOversizedDeliveryIs413(t *testing.T) {
	rc, h := newReceiver(t, receiver.WithMaxBodyBytes(1024))
	r := engine(rc, nil)
	body := `{"action":"opened","issue":{},"pad":"` + strings.Repeat("x", 2048) + `"}`
	w := serve(r, signed(body))
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	assert.Equal(t, hookgin.Body{Error: "Request Entity Too Large"}, errorBody(t, w))

	// At the limit exactly, it is accepted: the bound is the receiver's.
	body = `{"action":"opened","issue":{},"pad":"` + strings.Repeat("x", 1024-len(`{"action":"opened","issue":{},"pad":""}`)) + `"}`
	require.Len(t, body, 1024)
	assert.Equal(t, http.StatusOK, serve(r, signed(body)).Code)
	drain(t, rc)
	assert.Len(t, h.List(), 1)
}

func TestUnavailableIs503WithRetryAfter(t *testing.T) {
	rc, h := newReceiver(t, receiver.RetryAfter(7*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, rc.Shutdown(ctx))
	var errs []error
	r := engine(rc, &errs)
	w := serve(r, signed(`{"action":"opened","issue":{"number":9}}`))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "7", w.Header().Get("Retry-After"))
	assert.Equal(t, hookgin.Body{Error: "Service Unavailable"}, errorBody(t, w))
	require.Len(t, errs, 1)
	var re *hookgin.RefusalError
	require.ErrorAs(t, errs[0], &re)
	// A receiver shut down has closed its queue and its in-memory store.
	assert.Contains(t, []string{receiver.ReasonClosed, receiver.ReasonUnavailable}, re.Refusal.Reason)
	assert.Equal(t, 7*time.Second, re.Refusal.RetryAfter)
	assert.Empty(t, h.List())
}

func TestOtherMethodIs405WithAllow(t *testing.T) {
	rc, _ := newReceiver(t)
	w := serve(engine(rc, nil), httptest.NewRequest(http.MethodGet, route, nil))
	assert.Equal(t, http.StatusMethodNotAllowed, w.Code)
	assert.Equal(t, http.MethodPost, w.Header().Get("Allow"))
	assert.Equal(t, hookgin.Body{Error: "Method Not Allowed"}, errorBody(t, w))
}

// problemValidator refuses every payload with a problem body.
type problemValidator struct{}

type problem struct{}

func (problem) Error() string        { return "invalid: /x: required" }
func (problem) Is(target error) bool { return target == receiver.ErrInvalidPayload }
func (problem) ProblemJSON() []byte  { return []byte(`{"title":"invalid payload","status":422}`) }

func (problemValidator) Validate(context.Context, *receiver.Event) error { return problem{} }

func TestInvalidPayloadIs422ProblemJSON(t *testing.T) {
	rc, h := newReceiver(t, receiver.WithValidator(problemValidator{}, receiver.RejectInvalid))
	w := serve(engine(rc, nil), signed(`{"action":"opened","issue":{"number":9}}`))
	assert.Equal(t, http.StatusUnprocessableEntity, w.Code)
	assert.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
	assert.JSONEq(t, `{"title":"invalid payload","status":422}`, w.Body.String())
	drain(t, rc)
	assert.Empty(t, h.List())
}

// rawBody is signed as it is: odd spacing, key order, escapes and a
// trailing newline, which any re-encoding would change.
const rawBody = "{ \"zeta\" :1,\"action\":\"opened\", \"issue\" : {\"number\":7 } ,  \"name\":\"caf\\u00e9 \u00e9\", \"n\":1.50 }\n"

func TestRawBodyIntactBehindBindingMiddleware(t *testing.T) {
	rc, h := newReceiver(t)
	var seen map[string]any
	// A middleware that binds the JSON body before the route, the way gin
	// lets a body be read twice.
	bind := func(c *gin.Context) {
		require.NoError(t, c.ShouldBindBodyWith(&seen, binding.JSON))
		c.Next()
	}
	r := gin.New()
	r.Use(gin.Logger(), gin.Recovery(), bind)
	r.POST(route, hookgin.Handler(rc))
	w := serve(r, signed(rawBody))
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "opened", seen["action"])
	drain(t, rc)
	events := h.List()
	require.Len(t, events, 1)
	assert.Equal(t, []byte(rawBody), events[0].Body, "the handler gets the raw body byte for byte")
}

func TestWrapHKeepsRawBodyWithoutBodyReadingMiddleware(t *testing.T) {
	rc, h := newReceiver(t)
	r := gin.New()
	r.Use(gin.Logger(), gin.Recovery())
	r.POST(route, gin.WrapH(rc)) // the one-liner
	assert.Equal(t, http.StatusOK, serve(r, signed(rawBody)).Code)
	drain(t, rc)
	events := h.List()
	require.Len(t, events, 1)
	assert.Equal(t, []byte(rawBody), events[0].Body)

	// Refusals through gin.WrapH have no gin.Context to render with: the
	// renderer falls back to receiver.WriteRefusal.
	req := signed(rawBody)
	req.Header.Del(github.HeaderSignature256)
	req.Header.Del("X-Hub-Signature")
	w := serve(r, req)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Equal(t, "Unauthorized\n", w.Body.String())
}

func TestWrapHBehindBindingMiddlewareSeesNoBody(t *testing.T) {
	// Why Handler exists: after c.ShouldBindBodyWith the request's body is
	// spent, and gin.WrapH hands the receiver an empty body, shorter than its
	// Content-Length: refused as unreadable, never processed.
	rc, h := newReceiver(t)
	r := gin.New()
	r.Use(func(c *gin.Context) {
		var v map[string]any
		_ = c.ShouldBindBodyWith(&v, binding.JSON)
	})
	r.POST(route, gin.WrapH(rc))
	assert.Equal(t, http.StatusBadRequest, serve(r, signed(rawBody)).Code)
	drain(t, rc)
	assert.Empty(t, h.List())
}

func TestRestoredBodyIsStillBounded(t *testing.T) {
	rc, h := newReceiver(t, receiver.WithMaxBodyBytes(64))
	r := gin.New()
	r.Use(func(c *gin.Context) {
		var v map[string]any
		_ = c.ShouldBindBodyWith(&v, binding.JSON)
	})
	r.POST(route, hookgin.Handler(rc))
	w := serve(r, signed(`{"action":"opened","issue":{},"pad":"`+strings.Repeat("x", 100)+`"}`))
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	drain(t, rc)
	assert.Empty(t, h.List())
}

type tenantKey struct{}

// tenantPropagator carries the "tenant" gin key to the handler.
type tenantPropagator struct{}

func (tenantPropagator) Inject(ctx context.Context, meta map[string]string) {
	if v, ok := ctx.Value("tenant").(string); ok {
		meta["tenant"] = v
	}
}

func (tenantPropagator) Extract(ctx context.Context, meta map[string]string) context.Context {
	return context.WithValue(ctx, tenantKey{}, meta["tenant"])
}

func TestGinKeysReachTheHandlerOnlyThroughAPropagator(t *testing.T) {
	rc, h := newReceiver(t, receiver.WithPropagator(tenantPropagator{}))
	r := engine(rc, nil, func(c *gin.Context) { c.Set("tenant", "acme") })
	require.Equal(t, http.StatusOK, serve(r, signed(`{"action":"opened","issue":{"number":3}}`)).Code)
	drain(t, rc)
	events := h.List()
	require.Len(t, events, 1)
	assert.Equal(t, map[string]string{"tenant": "acme"}, events[0].Meta)
	assert.Equal(t, []string{"acme"}, h.Values())
}

func TestRequestContextValuesStillReachable(t *testing.T) {
	type key struct{}
	var got []any
	obs := receiver.ObserverFunc(func(ctx context.Context, o receiver.Observation) {
		if o.Request != nil {
			got = append(got, o.Request.Context().Value(key{}), o.Request.Context().Value("request-id"))
		}
	})
	rc, _ := newReceiver(t, receiver.WithObserver(obs))
	r := engine(rc, nil, func(c *gin.Context) {
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), key{}, "from-request"))
		c.Set("request-id", "r-1")
	})
	require.Equal(t, http.StatusOK, serve(r, signed(`{"action":"opened","issue":{"number":4}}`)).Code)
	assert.Equal(t, []any{"from-request", "r-1"}, got)
}

func TestRendererKeepsTheStatusTable(t *testing.T) {
	for name, render := range map[string]func(*gin.Context, receiver.Refusal){
		"asks for 200":   func(c *gin.Context, rf receiver.Refusal) { c.JSON(http.StatusOK, gin.H{"ok": true}) },
		"writes nothing": func(*gin.Context, receiver.Refusal) {},
		"bare write":     func(c *gin.Context, rf receiver.Refusal) { _, _ = c.Writer.Write([]byte("no")) },
		"own body": func(c *gin.Context, rf receiver.Refusal) {
			c.AbortWithStatusJSON(rf.Status, gin.H{"code": rf.Status})
		},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := github.New(secret)
			require.NoError(t, err)
			rc, err := receiver.New(p, receiver.NewMux(), receiver.WithErrorRenderer(hookgin.ErrorRenderer(render)))
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			require.NoError(t, rc.Shutdown(ctx))
			r := engine(rc, nil)

			req := signed(`{"action":"opened","issue":{"number":9}}`)
			req.Header.Set(github.HeaderSignature256, "sha256=00")
			assert.Equal(t, http.StatusUnauthorized, serve(r, req).Code)

			w := serve(r, signed(`{"action":"opened","issue":{"number":9}}`)) // closed receiver: 503
			assert.Equal(t, http.StatusServiceUnavailable, w.Code)
			assert.Equal(t, "5", w.Header().Get("Retry-After")) // the receiver's default
		})
	}
}

func TestHandlerForwardsAnswersItDoesNotRender(t *testing.T) {
	// A handshake or an accepted delivery is written by the receiver itself.
	rc, _ := newReceiver(t)
	var ping bytes.Buffer
	ping.WriteString(`{"zen":"Keep it logically awesome.","hook_id":1}`)
	req := github.NewRequest(url, secret, "ping", "72d3162e-cc78-11e3-81ab-4c9367dc0959", ping.Bytes())
	w := serve(engine(rc, nil), req)
	assert.Equal(t, http.StatusOK, w.Code)
}

func TestPostRouteLeavesOtherMethodsToGin(t *testing.T) {
	rc, _ := newReceiver(t)
	r := gin.New()
	r.POST(route, hookgin.Handler(rc))
	assert.Equal(t, http.StatusNotFound, serve(r, httptest.NewRequest(http.MethodGet, route, nil)).Code)
	r.HandleMethodNotAllowed = true
	assert.Equal(t, http.StatusMethodNotAllowed, serve(r, httptest.NewRequest(http.MethodGet, route, nil)).Code)
}

func TestRefusalGoesThroughAWrappingMiddleware(t *testing.T) {
	rc, _ := newReceiver(t)
	var seen int
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		rc.ServeHTTP(sw, r)
		seen = sw.status
	})
	r := gin.New()
	r.POST(route, hookgin.Handler(wrapped))
	req := signed(`{"action":"opened","issue":{"number":9}}`)
	req.Header.Set(github.HeaderSignature256, "sha256=00")
	w := serve(r, req)
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
