package inspector_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/hookwise/hookwise/inspector"
	"github.com/hookwise/hookwise/receiver"
)

// An observation reaches the page's API with its secrets redacted.
func ExampleInspector_Observer() {
	ins, err := inspector.New(inspector.Options{Token: "example-token-0123456789"})
	if err != nil {
		panic(err)
	}
	// What a receiver given receiver.WithObserver(ins.Observer()) reports
	// when it accepts a delivery.
	ins.Observer().Observe(context.Background(), receiver.Observation{
		Stage: receiver.StageEnqueued, Provider: "stripe", Status: http.StatusOK,
		Event: &receiver.Event{
			Provider: "stripe", ID: "evt_1", Type: "payment_intent.created", ClaimToken: "c1",
			Header: http.Header{"Stripe-Signature": {"t=1,v1=abc"}, "Content-Type": {"application/json"}},
			Body:   []byte(`{"id":"evt_1","data":{"object":{"amount":100,"client_secret":"pi_1_secret_2"}}}`),
		},
	})

	req := httptest.NewRequest(http.MethodGet, "/_hookwise/api/delivery?id=1", nil)
	req.Header.Set(inspector.TokenHeader, "example-token-0123456789")
	rec := httptest.NewRecorder()
	ins.ServeHTTP(rec, req)
	var d struct {
		Stage   string `json:"stage"`
		Headers []struct{ Name, Value string }
		Payload string `json:"payload"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
		panic(err)
	}
	fmt.Println(rec.Code, d.Stage)
	for _, h := range d.Headers {
		fmt.Printf("%s: %s\n", h.Name, h.Value)
	}
	fmt.Println(d.Payload)
	// Output:
	// 200 enqueued
	// Content-Type: application/json
	// Stripe-Signature: [redacted]
	// {
	//   "id": "evt_1",
	//   "data": {
	//     "object": {
	//       "amount": 100,
	//       "client_secret": "[redacted]"
	//     }
	//   }
	// }
}
