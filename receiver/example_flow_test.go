package receiver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookwise/hookwise/flow"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
)

// One event, three handlers. The CRM fails once; it is retried alone, and
// billing and analytics run once each.
func ExampleMux_Fanout() {
	const secret = "whsec_example"
	var mu sync.Mutex
	var ran []string
	record := func(what string) { mu.Lock(); ran = append(ran, what); mu.Unlock() }
	var crmCalls atomic.Int32
	mux := receiver.NewMux()
	mux.Fanout("invoice.paid", map[string]receiver.Handler{
		"billing":   receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error { record("billing"); return nil }),
		"analytics": receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error { record("analytics"); return nil }),
		"crm": receiver.HandlerFunc(func(ctx context.Context, e *receiver.Event) error {
			if crmCalls.Add(1) == 1 {
				return errors.New("crm unavailable")
			}
			record("crm, attempt " + strconv.Itoa(e.Attempt))
			return nil
		}),
	})
	p, err := stripe.New(secret)
	if err != nil {
		panic(err)
	}
	rc, err := receiver.New(p, mux, receiver.Backoff(time.Millisecond, 10*time.Millisecond))
	if err != nil {
		panic(err)
	}
	defer rc.Shutdown(context.Background())

	body := `{"id":"evt_1","type":"invoice.paid","data":{"object":{"id":"in_1"}}}`
	w := httptest.NewRecorder()
	rc.ServeHTTP(w, stripe.NewRequest("http://localhost/webhooks/stripe", secret, time.Now(), []byte(body)))
	fmt.Println("answer:", w.Code)
	if err := rc.Drain(context.Background()); err != nil {
		panic(err)
	}
	slices.Sort(ran)
	for _, r := range ran {
		fmt.Println(r)
	}
	// Output:
	// answer: 200
	// analytics
	// billing
	// crm, attempt 2
}

// One customer's events run one at a time, in the order received: the first
// fails twice, and the second waits for it.
func ExampleWithOrdering() {
	const secret = "whsec_example"
	var mu sync.Mutex
	var ran []string
	var fails atomic.Int32
	mux := receiver.NewMux()
	receiver.On(mux, "invoice.*", func(ctx context.Context, e *receiver.Event, ev stripeInvoiceEvent) error {
		if e.ID == "evt_1" && fails.Add(1) <= 2 {
			return errors.New("ledger busy")
		}
		mu.Lock()
		ran = append(ran, e.ID+" "+e.Type)
		mu.Unlock()
		return nil
	})
	p, err := stripe.New(secret)
	if err != nil {
		panic(err)
	}
	rc, err := receiver.New(p, mux, receiver.Backoff(time.Millisecond, 10*time.Millisecond),
		receiver.WithOrdering(receiver.Ordering{Key: flow.FieldKey("data.object.customer")}))
	if err != nil {
		panic(err)
	}
	defer rc.Shutdown(context.Background())

	for i, typ := range []string{"invoice.created", "invoice.paid"} {
		body := fmt.Sprintf(`{"id":"evt_%d","type":%q,"data":{"object":{"id":"in_1","customer":"cus_1"}}}`, i+1, typ)
		w := httptest.NewRecorder()
		rc.ServeHTTP(w, stripe.NewRequest("http://localhost/webhooks/stripe", secret, time.Now(), []byte(body)))
		fmt.Println("answer:", w.Code)
	}
	if err := rc.Drain(context.Background()); err != nil {
		panic(err)
	}
	for _, r := range ran {
		fmt.Println(r)
	}
	// Output:
	// answer: 200
	// answer: 200
	// evt_1 invoice.created
	// evt_2 invoice.paid
}
