package prometheus_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	hookprom "github.com/hookwise/hookwise/adapters/prometheus"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
)

// Example wires a Stripe endpoint to Prometheus: the observer counts, the
// middleware times the request path, Watch exports the queue's backlog.
func Example() {
	reg := prometheus.NewRegistry() // or prometheus.DefaultRegisterer
	m, err := hookprom.New(reg)
	if err != nil {
		panic(err)
	}

	mux := receiver.NewMux()
	mux.HandleFunc("invoice.*", func(ctx context.Context, e *receiver.Event) error { return nil })
	p, err := stripe.New("whsec_example")
	if err != nil {
		panic(err)
	}
	rc, err := receiver.New(p, mux, receiver.WithObserver(m.Observer(mux)))
	if err != nil {
		panic(err)
	}
	defer rc.Shutdown(context.Background())
	if err := m.Watch("stripe", rc); err != nil {
		panic(err)
	}

	srv := http.NewServeMux()
	srv.Handle("POST /webhooks/stripe", m.Instrument(rc))
	srv.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	// One signed delivery and one forged.
	body := []byte(`{"id":"evt_1","object":"event","type":"invoice.paid"}`)
	srv.ServeHTTP(httptest.NewRecorder(), stripe.NewRequest("/webhooks/stripe", "whsec_example", time.Now(), body))
	srv.ServeHTTP(httptest.NewRecorder(), stripe.NewRequest("/webhooks/stripe", "whsec_forged", time.Now(), body))
	_ = rc.Drain(context.Background())

	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	sc := bufio.NewScanner(w.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "hookwise_deliveries_total") && !strings.HasSuffix(line, " 0") ||
			strings.HasPrefix(line, "hookwise_handler_outcomes_total") || strings.HasPrefix(line, "hookwise_queue_depth") {
			fmt.Println(line)
		}
	}
	// Output:
	// hookwise_deliveries_total{outcome="accepted",provider="stripe",reason=""} 1
	// hookwise_deliveries_total{outcome="rejected",provider="stripe",reason="signature"} 1
	// hookwise_handler_outcomes_total{event_type="invoice.*",outcome="handled",provider="stripe"} 1
	// hookwise_queue_depth{endpoint="stripe"} 0
}
