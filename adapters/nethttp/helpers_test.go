package nethttp_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hookwise/hookwise/internal/adaptertest"
	"github.com/hookwise/hookwise/receiver"
)

const secret = adaptertest.Secret

// newReceiver builds the shared GitHub receiver (internal/adaptertest)
// whose handler records into the returned Handled.
func newReceiver(t *testing.T, opts ...receiver.Option) (*receiver.Receiver, *adaptertest.Handled) {
	t.Helper()
	h := &adaptertest.Handled{}
	return adaptertest.NewReceiver(t, h, opts...), h
}

func drain(t *testing.T, rc *receiver.Receiver) { adaptertest.Drain(t, rc) }

func signed(url, body string) *http.Request { return adaptertest.Signed(url, body) }

func issue(n int) string {
	return `{"action":"opened","issue":{"number":` + strings.Repeat("1", n) + `}}`
}

// padded is an issues delivery of exactly n bytes.
func padded(n int) string {
	const frame = `{"action":"opened","issue":{},"pad":""}`
	return `{"action":"opened","issue":{},"pad":"` + strings.Repeat("x", n-len(frame)) + `"}`
}

// rawBody is signed as it is: odd spacing, key order, escapes and a
// trailing newline, which any re-encoding would change.
const rawBody = "{ \"zeta\" :1,\"action\":\"opened\", \"issue\" : {\"number\":7 } ,  \"name\":\"caf\\u00e9 \u00e9\", \"n\":1.50 }\n"

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	return adaptertest.Serve(h, req)
}
