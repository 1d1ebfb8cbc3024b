package nethttp_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/adapters/nethttp"
	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/receiver"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}

func post(t *testing.T, addr, body string) int {
	t.Helper()
	req := signed("http://"+addr+"/webhooks/github", body)
	req.RequestURI = ""
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func TestAddr(t *testing.T) {
	t.Setenv("PORT", "")
	assert.Equal(t, ":8080", nethttp.Addr(":8080"))
	t.Setenv("PORT", "9090")
	assert.Equal(t, ":9090", nethttp.Addr(":8080"))
}

// recorder is a Shutdowner that notes whether the HTTP server still took
// connections and whether the in-flight request had finished when it was
// shut down.
type recorder struct {
	addr           string
	inFlightDone   *atomic.Bool
	listening      bool
	finishedBefore bool
	calls          int
}

func (r *recorder) Shutdown(context.Context) error {
	r.calls++
	r.finishedBefore = r.inFlightDone.Load()
	if c, err := net.DialTimeout("tcp", r.addr, time.Second); err == nil {
		r.listening = true
		_ = c.Close()
	}
	return nil
}

func TestServerStopsHTTPBeforeReceivers(t *testing.T) {
	ln := listen(t)
	started, release := make(chan struct{}), make(chan struct{})
	var done atomic.Bool
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		done.Store(true)
	})
	rec := &recorder{addr: ln.Addr().String(), inFlightDone: &done}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &nethttp.Server{HTTP: &http.Server{Handler: handler}, Receivers: []nethttp.Shutdowner{rec}, Logger: quiet}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	go func() {
		resp, err := http.Get("http://" + ln.Addr().String())
		if err == nil {
			_ = resp.Body.Close()
		}
	}()
	<-started
	cancel()
	// A wrong order would shut the receivers down while the request is in
	// flight; give it the time to.
	time.Sleep(50 * time.Millisecond)
	close(release)
	require.NoError(t, <-served)
	assert.Equal(t, 1, rec.calls)
	assert.True(t, rec.finishedBefore, "the in-flight request finished before the receivers were shut down")
	assert.False(t, rec.listening, "no new connections while the receivers drain")
}

func TestServerDrainsAcknowledgedEvents(t *testing.T) {
	// Every delivery answered 200 before the stop is handled by the time
	// Serve returns.
	p, err := github.New(secret)
	require.NoError(t, err)
	var handledIDs sync.Map
	var count atomic.Int32
	mux := receiver.NewMux()
	mux.Handle("*", receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
		time.Sleep(20 * time.Millisecond)
		handledIDs.Store(e.ID, true)
		count.Add(1)
		return nil
	}))
	rc, err := receiver.New(p, mux, receiver.Workers(1), receiver.WithLogger(quiet))
	require.NoError(t, err)
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	srv := &nethttp.Server{
		HTTP:      &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second},
		Receivers: []nethttp.Shutdowner{rc},
		Logger:    quiet,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	const n = 10
	for i := range n {
		require.Equal(t, http.StatusOK, post(t, ln.Addr().String(), issue(i+1)))
	}
	cancel()
	require.NoError(t, <-served)
	assert.Equal(t, int32(n), count.Load())
}

func TestServerReportsEventsLeftWhenTheDeadlinePasses(t *testing.T) {
	p, err := github.New(secret)
	require.NoError(t, err)
	unblock := make(chan struct{})
	defer close(unblock)
	mux := receiver.NewMux()
	mux.Handle("*", receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-unblock:
			return nil
		}
	}))
	rc, err := receiver.New(p, mux, receiver.WithLogger(quiet))
	require.NoError(t, err)
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	srv := &nethttp.Server{
		HTTP:            &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second},
		Receivers:       []nethttp.Shutdowner{rc},
		ShutdownTimeout: 200 * time.Millisecond,
		Logger:          quiet,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	require.Equal(t, http.StatusOK, post(t, ln.Addr().String(), issue(1)))
	cancel()
	err = <-served
	var se *receiver.ShutdownError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 1, se.Unfinished)
}

func TestServerFailsWhenItCannotListen(t *testing.T) {
	ln := listen(t)
	defer ln.Close()
	rec := &recorder{addr: "127.0.0.1:1", inFlightDone: &atomic.Bool{}}
	srv := &nethttp.Server{HTTP: &http.Server{Addr: ln.Addr().String()}, Receivers: []nethttp.Shutdowner{rec}, Logger: quiet}
	err := srv.ListenAndServe(context.Background())
	require.Error(t, err)
	assert.Zero(t, rec.calls)
}

func TestServerStopsReceiversWhenTheServerStopsByItself(t *testing.T) {
	ln := listen(t)
	rec := &recorder{addr: ln.Addr().String(), inFlightDone: &atomic.Bool{}}
	hs := &http.Server{Handler: http.NotFoundHandler()}
	srv := &nethttp.Server{HTTP: hs, Receivers: []nethttp.Shutdowner{rec}, Logger: quiet}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln) }()
	// Closed by someone else: not an error, but the receivers still drain.
	require.Eventually(t, func() bool { return hs.Close() == nil && len(served) == 1 }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, <-served)
	assert.Equal(t, 1, rec.calls)

	// A listener that fails: the error, and the receivers still drain.
	broken := &failingListener{Listener: listen(t)}
	rec2 := &recorder{addr: "127.0.0.1:1", inFlightDone: &atomic.Bool{}}
	srv2 := &nethttp.Server{HTTP: &http.Server{}, Receivers: []nethttp.Shutdowner{rec2}, Logger: quiet}
	err := srv2.Serve(context.Background(), broken)
	assert.ErrorIs(t, err, errAccept)
	assert.Equal(t, 1, rec2.calls)
}

var errAccept = errors.New("accept failed")

type failingListener struct{ net.Listener }

func (l *failingListener) Accept() (net.Conn, error) {
	_ = l.Listener.Close()
	return nil, errAccept
}
