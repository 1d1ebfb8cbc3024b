package receiver_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/receiver"
)

// Event IDs and types come from the sender: over-long ones, and ones with
// control, space or non-ASCII bytes, are refused with 400 before they reach
// the store, the queue or a log line.
func TestEnvelopeFieldBounds(t *testing.T) {
	rec := newRecorder(nil)
	rc := newReceiver(t, rec)
	ok := strings.Repeat("a", receiver.MaxIDBytes)
	for _, c := range []struct {
		name, id, typ string
		status        int
	}{
		{"longest ID", ok, "t", 200},
		{"ID one byte too long", ok + "a", "t", 400},
		{"ID with a control byte", "evt\x01", "t", 400},
		{"ID with a space", "evt 1", "t", 400},
		{"ID with non-ASCII", "evt\u00e9", "t", 400},
		{"ID in the dead-letter key space", "~x", "t", 400},
		{"longest type", "evt_t1", strings.Repeat("t", receiver.MaxTypeBytes), 200},
		{"type one byte too long", "evt_t2", strings.Repeat("t", receiver.MaxTypeBytes+1), 400},
		{"type with a newline", "evt_t3", "a\nb", 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := request("", c.typ, []byte(`{}`))
			r.Header["X-Id"] = []string{c.id} // raw: no header value validation
			w := serve(rc, r)
			assert.Equal(t, c.status, w.Code)
			assert.NotContains(t, w.Body.String(), c.id)
		})
	}
	rec.wait(t, 2)
	assert.EqualValues(t, 2, rec.calls.Load())
}

// Credentials and hop-by-hop headers never reach the event (and so neither
// the queue nor the dead-letter store); WithHeaders sets another policy.
func TestHeadersKeptWithEvent(t *testing.T) {
	send := func(t *testing.T, opts ...receiver.Option) http.Header {
		rec := newRecorder(nil)
		rc := newReceiver(t, rec, opts...)
		r := request("h1", "t", []byte(`{}`))
		r.Header.Set("Authorization", "Bearer s3cret")
		r.Header.Set("Cookie", "session=s3cret")
		r.Header.Set("Proxy-Authorization", "Basic s3cret")
		r.Header.Set("X-Custom", "kept")
		require.Equal(t, 200, serve(rc, r).Code)
		rec.wait(t, 1)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.events[0].Header
	}
	h := send(t)
	for _, name := range []string{"Authorization", "Cookie", "Proxy-Authorization"} {
		assert.Empty(t, h.Values(name), name)
	}
	assert.Equal(t, "kept", h.Get("X-Custom"))
	assert.NotEmpty(t, h.Get("X-Sig"))

	only := send(t, receiver.WithHeaders(func(name string) bool { return name == "X-Custom" }))
	assert.Equal(t, http.Header{"X-Custom": {"kept"}}, only)
}

type panickingValidator struct{ calls atomic.Int64 }

func (v *panickingValidator) Validate(context.Context, *receiver.Event) error {
	if v.calls.Add(1) == 1 {
		panic("validator bug")
	}
	return nil
}

// A validator that panics after the acknowledgement is recovered like a
// handler: the attempt fails and is retried; the process survives.
func TestValidatorPanicRecovered(t *testing.T) {
	v := &panickingValidator{}
	rec := newRecorder(nil)
	rc := newReceiver(t, rec, receiver.WithValidator(v, receiver.AcknowledgeInvalid),
		receiver.Backoff(time.Millisecond, time.Millisecond))
	require.Equal(t, 200, serve(rc, request("vp1", "t", []byte(`{}`))).Code)
	rec.wait(t, 1)
	assert.EqualValues(t, 1, rec.calls.Load())
	assert.GreaterOrEqual(t, v.calls.Load(), int64(1))
}

// An observer that panics is recovered and logged; the pipeline goes on.
func TestObserverPanicRecovered(t *testing.T) {
	var logs syncBuffer
	rec := newRecorder(nil)
	rc := newReceiver(t, rec,
		receiver.WithObserver(receiver.ObserverFunc(func(context.Context, receiver.Observation) { panic("observer bug") })),
		receiver.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.Equal(t, 200, serve(rc, request("op1", "t", []byte(`{}`))).Code)
	rec.wait(t, 1)
	require.NoError(t, rc.Shutdown(ctxTimeout(t, 5*time.Second)))
	assert.Contains(t, logs.String(), "observer panicked")
}

// Nil dependencies are refused at construction, not discovered after the
// first acknowledgement.
func TestNilDependenciesRefused(t *testing.T) {
	var nilValidator *panickingValidator
	for name, opt := range map[string]receiver.Option{
		"WithValidator":   receiver.WithValidator(nil, receiver.AcknowledgeInvalid),
		"typed nil":       receiver.WithValidator(nilValidator, receiver.RejectInvalid),
		"WithStore":       receiver.WithStore(nil),
		"WithQueue":       receiver.WithQueue(nil),
		"WithDeadLetters": receiver.WithDeadLetters(nil),
		"WithObserver":    receiver.WithObserver(nil),
		"WithLogger":      receiver.WithLogger(nil),
		"WithHeaders":     receiver.WithHeaders(nil),
		"WithClock":       receiver.WithClock(nil),
	} {
		t.Run(name, func(t *testing.T) {
			rc, err := receiver.New(newTestProvider(t), newRecorder(nil), opt)
			assert.Error(t, err)
			assert.Nil(t, rc)
		})
	}
	_, err := receiver.New(newTestProvider(t), receiver.HandlerFunc(nil))
	assert.Error(t, err)
}

// Rejections of unauthenticated requests are logged at DEBUG only: a flood
// of forged requests costs no log volume at the default level.
func TestRejectionsNotLoggedAtInfo(t *testing.T) {
	var logs syncBuffer
	rc := newReceiver(t, newRecorder(nil),
		receiver.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))))
	for range 100 {
		r := request("f1", "t", []byte(`{}`))
		r.Header.Set("X-Sig", "sha256=00")
		require.Equal(t, 401, serve(rc, r).Code)
	}
	assert.Empty(t, logs.String())
}
