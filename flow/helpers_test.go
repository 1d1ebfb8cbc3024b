package flow_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
)

const secret = "whsec_flow_test"

// stages records the observations a receiver makes.
type stages struct {
	mu  sync.Mutex
	obs []receiver.Observation
}

func (s *stages) Observe(_ context.Context, o receiver.Observation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.obs = append(s.obs, o)
}

// count returns how many observations of stage were made.
func (s *stages) count(stage receiver.Stage) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, o := range s.obs {
		if o.Stage == stage {
			n++
		}
	}
	return n
}

// of returns the observations of stage.
func (s *stages) of(stage receiver.Stage) []receiver.Observation {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []receiver.Observation
	for _, o := range s.obs {
		if o.Stage == stage {
			out = append(out, o)
		}
	}
	return out
}

// newReceiver returns a Stripe receiver for h with opts and an observer,
// shut down when the test ends.
func newReceiver(t *testing.T, h receiver.Handler, opts ...receiver.Option) (*receiver.Receiver, *stages) {
	t.Helper()
	p, err := stripe.New(secret)
	require.NoError(t, err)
	st := &stages{}
	rc, err := receiver.New(p, h, append([]receiver.Option{receiver.WithObserver(st)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rc.Shutdown(ctx)
	})
	return rc, st
}

// deliver sends a signed Stripe delivery of an event (signed with key) and
// returns the answer.
func deliverWith(rc http.Handler, key, id, typ, data string) *httptest.ResponseRecorder {
	if data == "" {
		data = "{}"
	}
	body := `{"id":"` + id + `","type":"` + typ + `","data":` + data + `}`
	req := stripe.NewRequest("http://localhost/webhooks/stripe", key, time.Now(), []byte(body))
	w := httptest.NewRecorder()
	rc.ServeHTTP(w, req)
	return w
}

func deliver(rc http.Handler, id, typ string) *httptest.ResponseRecorder {
	return deliverWith(rc, secret, id, typ, "")
}

// drain waits until every event the receiver accepted is finished.
func drain(t *testing.T, rc *receiver.Receiver) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, rc.Drain(ctx), "Drain")
}

// logBuffer is a logger writing JSON lines to a buffer safe for concurrent
// use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLog() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// seen records the events a handler got, with their attempt numbers: by
// event ID, and a fan-out copy by its target and event ID.
type seen struct {
	mu       sync.Mutex
	attempts map[string][]int
}

func newSeen() *seen { return &seen{attempts: map[string][]int{}} }

// seenKey is the key seen records e under.
func seenKey(target, id string) string {
	if target == "" {
		return id
	}
	return target + " " + id
}

// add records a run of e and returns how many runs its key had, this one
// included.
func (s *seen) add(e *receiver.Event) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := seenKey(e.Target, e.ID)
	s.attempts[k] = append(s.attempts[k], e.Attempt)
	return len(s.attempts[k])
}

func (s *seen) get(id string) []int { return s.of("", id) }

// of returns the attempt numbers of target's copy of event id ("" for the
// event itself).
func (s *seen) of(target, id string) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.attempts[seenKey(target, id)]...)
}

func (s *seen) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, a := range s.attempts {
		n += len(a)
	}
	return n
}

func stripeProvider(t *testing.T) receiver.Provider {
	t.Helper()
	p, err := stripe.New(secret)
	require.NoError(t, err)
	return p
}
