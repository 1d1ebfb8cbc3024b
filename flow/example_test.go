package flow_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/hookwise/hookwise/flow"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
)

// Only invoice events are wanted: the others are acknowledged and dropped
// before they are queued.
func ExampleTypes() {
	const secret = "whsec_example"
	mux := receiver.NewMux()
	handled := make(chan string, 1)
	mux.HandleFunc("invoice.*", func(_ context.Context, e *receiver.Event) error {
		handled <- e.ID
		return nil
	})
	p, _ := stripe.New(secret)
	filtered := receiver.ObserverFunc(func(_ context.Context, o receiver.Observation) {
		if o.Stage == receiver.StageFiltered {
			fmt.Println("filtered", o.Event.Type)
		}
	})
	rc, err := receiver.New(p, mux, receiver.WithFilter(flow.Types("invoice.*")), receiver.WithObserver(filtered))
	if err != nil {
		panic(err)
	}
	defer rc.Shutdown(context.Background())
	for _, body := range []string{
		`{"id":"evt_1","type":"customer.created","data":{}}`,
		`{"id":"evt_2","type":"invoice.paid","data":{}}`,
	} {
		w := httptest.NewRecorder()
		rc.ServeHTTP(w, stripe.NewRequest("http://localhost/webhooks/stripe", secret, time.Now(), []byte(body)))
		fmt.Println("answer:", w.Code)
	}
	fmt.Println("handled", <-handled)
	// Output:
	// filtered customer.created
	// answer: 200
	// answer: 200
	// handled evt_2
}

// A breaker around a handler whose downstream fails: after three failures
// in a row it opens, and events are deferred, their attempts kept, until a
// probe succeeds.
func ExampleNewBreaker() {
	down := errors.New("billing API unavailable")
	calls := 0
	billing := receiver.HandlerFunc(func(context.Context, *receiver.Event) error {
		calls++
		if calls <= 3 {
			return down
		}
		return nil
	})
	b := flow.NewBreaker(billing, flow.BreakerConfig{
		Name:                "billing-api",
		ConsecutiveFailures: 3,
		OpenFor:             10 * time.Millisecond,
		OnStateChange: func(name string, from, to flow.State) {
			fmt.Printf("%s: %s -> %s\n", name, from, to)
		},
	})
	ctx, e := context.Background(), &receiver.Event{ID: "evt_1", Attempt: 1}
	for range 3 {
		_ = b.HandleEvent(ctx, e)
	}
	err := b.HandleEvent(ctx, e)
	var de *receiver.DeferredError
	fmt.Println("deferred:", errors.As(err, &de), de.Reason)
	time.Sleep(15 * time.Millisecond)
	fmt.Println("probe:", b.HandleEvent(ctx, e))
	// Output:
	// billing-api: closed -> open
	// deferred: true circuit_open
	// billing-api: open -> half_open
	// billing-api: half_open -> closed
	// probe: <nil>
}
