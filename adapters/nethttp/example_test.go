package nethttp_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/hookwise/hookwise/adapters/nethttp"
	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/receiver"
)

// With chi, a receiver is a route's handler like any other: chi's
// middlewares leave the body alone (RequestSize bounds it, and the receiver
// answers 413 past it).
func Example_chi() {
	p, err := github.New("It's a Secret to Everybody")
	if err != nil {
		panic(err)
	}
	handled := make(chan string, 1)
	mux := receiver.NewMux()
	mux.Handle("issues.*", receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
		handled <- e.Type // runs after the answer, on the receiver's worker
		return nil
	}))
	rc, err := receiver.New(p, mux)
	if err != nil {
		panic(err)
	}

	r := chi.NewRouter()
	r.Use(middleware.RequestID, middleware.RealIP, middleware.Recoverer, middleware.RequestSize(5<<20))
	r.Post("/webhooks/github", rc.ServeHTTP)

	req := github.NewRequest("http://example.com/webhooks/github", "It's a Secret to Everybody", "issues",
		"72d3162e-cc78-11e3-81ab-4c9367dc0958", []byte(`{"action":"opened","issue":{"number":1}}`))
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	fmt.Println("answer", w.Code)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = rc.Drain(ctx) // wait for the asynchronous handler (tests and examples)
	printHandled(handled)
	_ = rc.Shutdown(ctx)
	// Output:
	// answer 200
	// handled issues.opened
}

// Server stops the HTTP server, then drains the receivers: what was
// acknowledged is handled before Serve returns.
func ExampleServer() {
	p, err := github.New("It's a Secret to Everybody")
	if err != nil {
		panic(err)
	}
	handled := make(chan string, 1)
	mux := receiver.NewMux()
	mux.Handle("issues.*", receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
		time.Sleep(50 * time.Millisecond) // likely still running when the stop begins
		handled <- e.Type
		return nil
	}))
	rc, err := receiver.New(p, mux)
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}

	// In a program: signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt).
	ctx, stop := context.WithCancel(context.Background())
	srv := &nethttp.Server{
		HTTP:      &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second},
		Receivers: []nethttp.Shutdowner{rc},
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()

	req := github.NewRequest("http://"+ln.Addr().String()+"/webhooks/github", "It's a Secret to Everybody", "issues",
		"72d3162e-cc78-11e3-81ab-4c9367dc0958", []byte(`{"action":"opened","issue":{"number":1}}`))
	req.RequestURI = ""
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println("answer", resp.StatusCode)

	stop() // SIGTERM
	fmt.Println("stopped:", <-done)
	printHandled(handled)
	// Output:
	// answer 200
	// stopped: <nil>
	// handled issues.opened
}

// printHandled prints the event type the handler got, if it has run.
func printHandled(handled <-chan string) {
	select {
	case t := <-handled:
		fmt.Println("handled", t)
	default:
		fmt.Println("not handled yet")
	}
}
