package receiver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
)

type stripeInvoiceEvent struct {
	ID   string `json:"id" validate:"required"`
	Data struct {
		Object struct {
			ID         string `json:"id" validate:"required"`
			AmountPaid int64  `json:"amount_paid"`
		} `json:"object"`
	} `json:"data"`
}

// A Stripe endpoint with a typed handler. The answer is sent as soon as the
// event is queued; the handler runs afterwards.
func ExampleOn() {
	const secret = "whsec_example"
	mux := receiver.NewMux()
	handled := make(chan string, 1) // the handler runs after the answer, on another goroutine
	receiver.On(mux, "invoice.paid", func(ctx context.Context, e *receiver.Event, ev stripeInvoiceEvent) error {
		handled <- fmt.Sprintf("handled %s %s: invoice %s paid %d", e.Type, e.ID, ev.Data.Object.ID, ev.Data.Object.AmountPaid)
		return nil
	})
	p, err := stripe.New(secret)
	if err != nil {
		panic(err)
	}
	rc, err := receiver.New(p, mux)
	if err != nil {
		panic(err)
	}
	defer rc.Shutdown(context.Background())

	body := `{"id":"evt_1","type":"invoice.paid","data":{"object":{"id":"in_1","amount_paid":2000}}}`
	req := stripe.NewRequest("http://localhost/webhooks/stripe", secret, time.Now(), []byte(body))
	w := httptest.NewRecorder()
	rc.ServeHTTP(w, req)
	fmt.Println("answer:", w.Code)
	fmt.Println(<-handled)

	// A replay of the same event is acknowledged and not handled again.
	req = stripe.NewRequest("http://localhost/webhooks/stripe", secret, time.Now(), []byte(body))
	w = httptest.NewRecorder()
	rc.ServeHTTP(w, req)
	fmt.Println("duplicate answer:", w.Code)

	// A forged delivery never reaches a handler.
	req = stripe.NewRequest("http://localhost/webhooks/stripe", "whsec_wrong", time.Now(), []byte(body))
	w = httptest.NewRecorder()
	rc.ServeHTTP(w, req)
	fmt.Println("forged answer:", w.Code)
	// Output:
	// answer: 200
	// handled invoice.paid evt_1: invoice in_1 paid 2000
	// duplicate answer: 200
	// forged answer: 401
}

// Failed handlers are retried with backoff; after the last attempt, or at
// once for a Permanent error, the event goes to the dead-letter store, from
// which it can be replayed.
func ExampleReceiver_Replay() {
	const secret = "whsec_example"
	fixed := make(chan struct{})
	handled := make(chan struct{})
	mux := receiver.NewMux()
	mux.HandleFunc("*", func(ctx context.Context, e *receiver.Event) error {
		select {
		case <-fixed:
			close(handled)
			return nil
		default:
			return receiver.Permanent(errors.New("downstream rejected the order"))
		}
	})
	p, _ := stripe.New(secret)
	rc, _ := receiver.New(p, mux, receiver.MaxAttempts(3))
	defer rc.Shutdown(context.Background())

	body := `{"id":"evt_2","type":"order.created"}`
	rc.ServeHTTP(httptest.NewRecorder(), stripe.NewRequest("http://localhost/", secret, time.Now(), []byte(body)))
	// Drain waits until the handler ran and the event was dead-lettered.
	if err := rc.Drain(context.Background()); err != nil {
		panic(err)
	}
	dead, _ := rc.DeadLetters().List(context.Background(), 10)
	fmt.Println("dead letter:", dead[0].Event.ID, "-", dead[0].Reason)

	close(fixed)
	if err := rc.Replay(context.Background(), dead[0]); err != nil {
		panic(err)
	}
	_ = rc.Drain(context.Background())
	<-handled
	left, _ := rc.DeadLetters().List(context.Background(), 10)
	fmt.Println("replayed; dead letters left:", len(left))
	// Output:
	// dead letter: evt_2 - downstream rejected the order
	// replayed; dead letters left: 0
}

// Shutdown after the HTTP server's: queued events are handled before it returns.
func ExampleReceiver_Shutdown() {
	const secret = "whsec_example"
	var handled []string
	mux := receiver.NewMux()
	mux.HandleFunc("*", func(ctx context.Context, e *receiver.Event) error {
		handled = append(handled, e.ID) // one worker: no data race
		return nil
	})
	p, _ := stripe.New(secret)
	rc, _ := receiver.New(p, mux, receiver.Workers(1))
	for i := range 3 {
		body := fmt.Sprintf(`{"id":"evt_%d","type":"ping"}`, i)
		rc.ServeHTTP(httptest.NewRecorder(), stripe.NewRequest("http://localhost/", secret, time.Now(), []byte(body)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := rc.Shutdown(ctx)
	fmt.Println(err, strings.Join(handled, " "))
	// Output: <nil> evt_0 evt_1 evt_2
}

// In tests, Drain waits for the handlers of the deliveries sent so far, then
// the test checks what they did; the receiver keeps running.
func ExampleReceiver_Drain() {
	const secret = "whsec_example"
	var mu sync.Mutex
	var paid []string
	mux := receiver.NewMux()
	mux.HandleFunc("invoice.paid", func(ctx context.Context, e *receiver.Event) error {
		mu.Lock()
		defer mu.Unlock()
		paid = append(paid, e.ID)
		return nil
	})
	p, _ := stripe.New(secret)
	rc, _ := receiver.New(p, mux)
	defer rc.Shutdown(context.Background())

	for _, id := range []string{"evt_a", "evt_b", "evt_c"} {
		body := fmt.Sprintf(`{"id":%q,"type":"invoice.paid"}`, id)
		rc.ServeHTTP(httptest.NewRecorder(), stripe.NewRequest("http://localhost/", secret, time.Now(), []byte(body)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rc.Drain(ctx); err != nil {
		panic(err)
	}
	mu.Lock()
	slices.Sort(paid)
	fmt.Println(paid)
	mu.Unlock()
	// Output:
	// [evt_a evt_b evt_c]
}
