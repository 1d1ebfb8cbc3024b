package hookgin_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/gin-gonic/gin"

	hookgin "github.com/hookwise/hookwise/adapters/gin"
	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/receiver"
)

// The one-liner: gin.WrapH mounts a receiver as it is, when no middleware
// before the route reads the body.
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

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/webhooks/github", gin.WrapH(rc))

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

// Handler and ErrorRenderer together: refusals answered the gin way, and the
// refusal on c.Errors for the middlewares around the route.
func ExampleErrorRenderer() {
	p, err := github.New("It's a Secret to Everybody")
	if err != nil {
		panic(err)
	}
	rc, err := receiver.New(p, receiver.NewMux(), receiver.WithErrorRenderer(hookgin.ErrorRenderer(nil)))
	if err != nil {
		panic(err)
	}
	defer rc.Shutdown(context.Background())

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		for _, e := range c.Errors {
			fmt.Println("c.Errors:", e.Err)
		}
	})
	r.POST("/webhooks/github", hookgin.Handler(rc))

	// Signed with another secret: a forgery.
	req := github.NewRequest("http://example.com/webhooks/github", "a guess", "issues",
		"72d3162e-cc78-11e3-81ab-4c9367dc0958", []byte(`{"action":"opened","issue":{"number":1}}`))
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	fmt.Println(w.Code, w.Body.String())
	// Output:
	// c.Errors: hookwise: delivery refused: 401 Unauthorized
	// 401 {"error":"Unauthorized"}
}

// A custom rendering: the status, Retry-After and Allow stay the receiver's.
func ExampleErrorRenderer_custom() {
	render := func(c *gin.Context, rf receiver.Refusal) {
		c.AbortWithStatusJSON(rf.Status, gin.H{"status": rf.Status, "retry": rf.Status == 503})
	}
	p, err := github.New("It's a Secret to Everybody")
	if err != nil {
		panic(err)
	}
	rc, err := receiver.New(p, receiver.NewMux(), receiver.WithErrorRenderer(hookgin.ErrorRenderer(render)))
	if err != nil {
		panic(err)
	}
	_ = rc.Shutdown(context.Background()) // a receiver shutting down refuses with 503

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/webhooks/github", hookgin.Handler(rc))
	req := github.NewRequest("http://example.com/webhooks/github", "It's a Secret to Everybody", "issues",
		"72d3162e-cc78-11e3-81ab-4c9367dc0958", []byte(`{"action":"opened","issue":{"number":1}}`))
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	fmt.Println(w.Code, "Retry-After:", w.Header().Get("Retry-After"), w.Body.String())
	// Output:
	// 503 Retry-After: 5 {"retry":true,"status":503}
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
