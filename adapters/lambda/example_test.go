package hooklambda_test

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	hooklambda "github.com/hookwise/hookwise/adapters/lambda"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
)

// The handler runs before the function answers: the 200 means it is done.
func ExampleAdapter_HTTPAPI() {
	mux := receiver.NewMux()
	receiver.On(mux, "invoice.paid", func(ctx context.Context, e *receiver.Event, inv struct {
		ID string `json:"id"`
	}) error {
		fmt.Println("handled", e.Type, inv.ID)
		return nil
	})
	p, _ := stripe.New("whsec_example")
	rc, err := hooklambda.NewReceiver(p, mux) // in production: receiver.WithStore(dedupe.NewRedis(rdb)), …
	if err != nil {
		panic(err)
	}
	defer rc.Shutdown(context.Background())
	a, _ := hooklambda.New(rc)
	// main: lambda.Start(a.HTTPAPI)

	body := `{"id":"evt_1","object":"event","type":"invoice.paid","data":{"object":{"id":"in_1"}}}`
	ev := events.APIGatewayV2HTTPRequest{
		RawPath: "/webhooks/stripe",
		Headers: map[string]string{
			"content-type":     "application/json",
			"host":             "abc123defg.execute-api.us-east-1.amazonaws.com",
			"stripe-signature": stripe.Sign("whsec_example", time.Now(), []byte(body)),
		},
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST"}},
		Body:           body,
	}
	res, _ := a.HTTPAPI(context.Background(), ev)
	fmt.Println(res.StatusCode)

	ev.Headers["stripe-signature"] = stripe.Sign("whsec_forged", time.Now(), []byte(body))
	res, _ = a.HTTPAPI(context.Background(), ev)
	fmt.Println(res.StatusCode)
	// Output:
	// handled invoice.paid evt_1
	// 200
	// 401
}
