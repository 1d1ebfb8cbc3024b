package crosscheck

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
)

// TestNoGoroutineLeakAfterShutdown serves real deliveries through a receiver
// on a loopback server, with handlers that succeed, fail and retry, then
// shuts everything down and asks goleak whether any goroutine survived.
func TestNoGoroutineLeakAfterShutdown(t *testing.T) {
	defer goleak.VerifyNone(t)

	const secret = "whsec_goleak"
	p, err := stripe.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	handled := make(chan string, 100)
	mux := receiver.NewMux()
	mux.HandleFunc("*", func(ctx context.Context, e *receiver.Event) error {
		if e.Type == "flaky" && e.Attempt < 2 {
			return fmt.Errorf("try again")
		}
		handled <- e.ID
		return nil
	})
	rc, err := receiver.New(p, mux, receiver.Backoff(time.Millisecond, 5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rc)
	for i := 0; i < 20; i++ {
		typ := "ok"
		if i%2 == 1 {
			typ = "flaky"
		}
		body := fmt.Sprintf(`{"id":"evt_%d","type":%q}`, i, typ)
		resp, err := srv.Client().Do(stripe.NewRequest(srv.URL, secret, time.Now(), []byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rc.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if len(handled) != 20 {
		t.Errorf("handled %d of 20 events before Shutdown returned", len(handled))
	}
}
