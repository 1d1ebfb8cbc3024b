package hookfiber_test

import (
	"context"
	"fmt"

	"github.com/gofiber/fiber/v2"
	hookfiber "github.com/hookwise/hookwise/adapters/fiber"
	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/receiver"
)

func ExampleHandler() {
	handled := make(chan string, 1)
	mux := receiver.NewMux()
	mux.Handle("push", receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
		handled <- e.Type // after the answer, with its own copy of the delivery
		return nil
	}))
	p, _ := github.New("s3cret")
	rc, _ := receiver.New(p, mux, receiver.WithErrorRenderer(hookfiber.RenderError))
	defer rc.Shutdown(context.Background())

	app := fiber.New(fiber.Config{ErrorHandler: hookfiber.ErrorHandler(nil)})
	app.Post("/webhooks/github", hookfiber.Handler(rc))

	body := []byte(`{"ref":"refs/heads/main","before":"a","after":"b","commits":[],"repository":{"id":1},"pusher":{"name":"n"},"sender":{"id":2}}`)
	res, _ := app.Test(github.NewRequest("http://example.test/webhooks/github", "s3cret", "push", github.NewDeliveryID(), body))
	fmt.Println(res.StatusCode)
	_ = rc.Drain(context.Background())
	fmt.Println("handled", <-handled)

	res, _ = app.Test(github.NewRequest("http://example.test/webhooks/github", "forged", "push", github.NewDeliveryID(), body))
	fmt.Println(res.StatusCode)
	// Output:
	// 200
	// handled push
	// 401
}
