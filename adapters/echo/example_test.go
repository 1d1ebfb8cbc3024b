package hookecho_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/labstack/echo/v4"

	hookecho "github.com/hookwise/hookwise/adapters/echo"
	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/receiver"
)

// The one-liner: echo.WrapHandler mounts a receiver as it is.
func Example() {
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

	e := echo.New()
	e.POST("/webhooks/github", echo.WrapHandler(rc))

	req := github.NewRequest("http://example.com/webhooks/github", "It's a Secret to Everybody", "issues",
		"72d3162e-cc78-11e3-81ab-4c9367dc0958", []byte(`{"action":"opened","issue":{"number":1}}`))
	w := httptest.NewRecorder()
	e.ServeHTTP(w, req)
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

// Handler and ErrorRenderer together: a refusal is the route's returned
// *echo.HTTPError, rendered by the server's HTTPErrorHandler.
func ExampleHandler() {
	p, err := github.New("It's a Secret to Everybody")
	if err != nil {
		panic(err)
	}
	rc, err := receiver.New(p, receiver.NewMux(), receiver.WithErrorRenderer(hookecho.ErrorRenderer()))
	if err != nil {
		panic(err)
	}
	defer rc.Shutdown(context.Background())

	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		var re *hookecho.RefusalError
		if errors.As(err, &re) {
			fmt.Println("error handler:", err)
		}
		e.DefaultHTTPErrorHandler(err, c)
	}
	e.POST("/webhooks/github", hookecho.Handler(rc))

	// Signed with another secret: a forgery.
	req := github.NewRequest("http://example.com/webhooks/github", "a guess", "issues",
		"72d3162e-cc78-11e3-81ab-4c9367dc0958", []byte(`{"action":"opened","issue":{"number":1}}`))
	w := httptest.NewRecorder()
	e.ServeHTTP(w, req)
	fmt.Print(w.Code, " ", w.Body.String())
	// Output:
	// error handler: code=401, message=Unauthorized, internal=hookwise: delivery refused: 401 Unauthorized
	// 401 {"message":"Unauthorized"}
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
