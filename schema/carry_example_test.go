package schema_test

import (
	"context"
	"fmt"

	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/schema"
)

// A caller that validates an event just before handling it passes the
// context ValidateContext returns to the handler, which then reads the
// validated document instead of decoding the payload again.
func ExampleRegistry_ValidateContext() {
	reg := schema.Bundled()
	e := &receiver.Event{
		Provider: "standard",
		Type:     "user.created",
		Version:  "v1",
		Body:     []byte(`{"type":"user.created","timestamp":"2024-06-20T10:00:00Z","data":{"id":"u_1","email":"a@example.com"}}`),
	}
	ctx, err := reg.ValidateContext(context.Background(), e)
	if err != nil {
		fmt.Println(err)
		return
	}
	handler := func(ctx context.Context, e *receiver.Event) error {
		doc, ok := schema.Document(ctx, e)
		if !ok {
			return nil // decode e.Payload as usual
		}
		data := doc.(map[string]any)["data"].(map[string]any)
		fmt.Println(data["id"], data["email"])
		return nil
	}
	_ = handler(ctx, e)
	// Output: u_1 a@example.com
}
