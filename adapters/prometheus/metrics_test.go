package prometheus_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	hookprom "github.com/hookwise/hookwise/adapters/prometheus"
	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/flow"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

const secret = "whsec_test_secret"

// now is the fixed clock of the provider and the receiver: whole seconds,
// since Stripe signs seconds, so the skew of a delivery signed at now-3s is
// exactly 3 s.
var now = time.Unix(1_800_000_000, 0)

func clock() time.Time { return now }

func body(id, typ string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","type":%q}`, id, typ)
}

// scrape fetches /metrics over HTTP, as Prometheus does, and parses the
// exposition.
func scrape(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// find returns the series of family name whose labels are exactly labels.
func find(fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	f, ok := fams[name]
	if !ok {
		return nil
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		match := true
		for k, v := range labels {
			if got[k] != v {
				match = false
			}
		}
		for k, v := range got { // a label absent from labels must be empty
			if _, ok := labels[k]; !ok && v != "" {
				match = false
			}
		}
		if match {
			return m
		}
	}
	return nil
}

func counter(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	m := find(fams, name, labels)
	require.NotNil(t, m, "no series %s%v", name, labels)
	return m.GetCounter().GetValue()
}

func histogram(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Histogram {
	t.Helper()
	m := find(fams, name, labels)
	require.NotNil(t, m, "no series %s%v", name, labels)
	return m.GetHistogram()
}

func gauge(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	m := find(fams, name, labels)
	require.NotNil(t, m, "no series %s%v", name, labels)
	return m.GetGauge().GetValue()
}

// failingStore is a dedupe store that cannot be reached.
type failingStore struct{ dedupe.Store }

var errDown = errors.New("store down")

func (failingStore) Claim(context.Context, string, string, time.Duration) (dedupe.Outcome, error) {
	return 0, errDown
}

func newStripe(t *testing.T) *stripe.Provider {
	t.Helper()
	p, err := stripe.New(secret, stripe.WithClock(clock))
	require.NoError(t, err)
	return p
}

// TestScrapeExactCounts sends a known mix of deliveries to a real receiver
// and finds every count in the scraped exposition.
func TestScrapeExactCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := hookprom.New(reg)
	require.NoError(t, err)

	mux := receiver.NewMux()
	mux.HandleFunc("invoice.paid", func(context.Context, *receiver.Event) error { return nil })
	mux.HandleFunc("invoice.*", func(_ context.Context, e *receiver.Event) error {
		switch {
		case e.Type == "invoice.flaky" && e.Attempt == 1:
			return errors.New("flaky")
		case e.Type == "invoice.doomed":
			return errors.New("doomed")
		}
		return nil
	})
	mux.HandleFunc("charge.refunded", func(context.Context, *receiver.Event) error {
		return receiver.Permanent(errors.New("refund of an unknown charge"))
	})

	rc, err := receiver.New(newStripe(t), mux, receiver.WithObserver(m.Observer(mux)), receiver.WithClock(clock),
		receiver.MaxAttempts(3), receiver.Backoff(time.Millisecond, time.Millisecond), receiver.WithMaxBodyBytes(4096))
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })
	require.NoError(t, m.Watch("stripe", rc))
	h := m.Instrument(rc)

	// A second endpoint of the same provider whose dedupe store is down.
	down, err := receiver.New(newStripe(t), mux, receiver.WithObserver(m.Observer(mux)), receiver.WithClock(clock),
		receiver.WithStore(failingStore{dedupe.NewMemory()}), receiver.WithEndpoint("stripe-down"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = down.Shutdown(context.Background()) })
	hDown := m.Instrument(down)

	send := func(h http.Handler, r *http.Request, want int) {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		require.Equal(t, want, w.Code)
	}
	signed := func(id, typ string) *http.Request {
		return stripe.NewRequest("/webhooks/stripe", secret, now.Add(-3*time.Second), body(id, typ))
	}

	types := map[string]string{}
	for i := range 5 {
		types[fmt.Sprintf("evt_paid_%d", i)] = "invoice.paid"
	}
	types["evt_flaky_0"], types["evt_flaky_1"] = "invoice.flaky", "invoice.flaky"
	types["evt_doomed"] = "invoice.doomed"
	types["evt_refund"] = "charge.refunded"
	types["evt_account"] = "account.updated" // no handler takes it
	for id, typ := range types {
		send(h, signed(id, typ), http.StatusOK)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, rc.Drain(ctx))

	send(h, signed("evt_paid_0", "invoice.paid"), http.StatusOK) // duplicates
	send(h, signed("evt_paid_1", "invoice.paid"), http.StatusOK)
	for i := range 3 { // forged: the wrong secret
		send(h, stripe.NewRequest("/webhooks/stripe", "whsec_forged", now, body(fmt.Sprintf("evt_forged_%d", i), "invoice.paid")), http.StatusUnauthorized)
	}
	send(h, stripe.NewRequest("/webhooks/stripe", secret, now.Add(-10*time.Minute), body("evt_stale", "invoice.paid")), http.StatusUnauthorized)
	send(h, httptest.NewRequest(http.MethodGet, "/webhooks/stripe", nil), http.StatusMethodNotAllowed)
	big := fmt.Appendf(nil, `{"id":"evt_big","type":"invoice.paid","pad":%q}`, strings.Repeat("x", 5000))
	send(h, stripe.NewRequest("/webhooks/stripe", secret, now, big), http.StatusRequestEntityTooLarge)
	send(hDown, signed("evt_down", "invoice.paid"), http.StatusServiceUnavailable)

	fams := scrape(t, reg)
	d := func(outcome, reason string) float64 {
		return counter(t, fams, hookprom.DeliveriesName, map[string]string{"provider": "stripe", "outcome": outcome, "reason": reason})
	}
	assert.Equal(t, 10.0, d("accepted", ""))
	assert.Equal(t, 2.0, d("duplicate", ""))
	assert.Equal(t, 3.0, d("rejected", "signature"))
	assert.Equal(t, 1.0, d("rejected", "timestamp"))
	assert.Equal(t, 1.0, d("rejected", "method"))
	assert.Equal(t, 1.0, d("rejected", "too_large"))
	assert.Equal(t, 1.0, d("unavailable", "unavailable"))
	assert.Equal(t, 0.0, d("rejected", "malformed"), "series of a provider start at zero")
	assert.Equal(t, 0.0, d("unavailable", "overloaded"))
	assert.Equal(t, 0.0, d("handshake", ""))
	assert.Len(t, fams[hookprom.DeliveriesName].GetMetric(), 16, "one series per outcome and reason, no more")
	assert.Equal(t, 0.0, d("filtered", ""))

	o := func(typ, outcome string) float64 {
		return counter(t, fams, hookprom.HandlerOutcomesName, map[string]string{"provider": "stripe", "event_type": typ, "outcome": outcome})
	}
	assert.Equal(t, 5.0, o("invoice.paid", "handled"))
	assert.Equal(t, 2.0, o("invoice.*", "handled"))       // the flaky ones, on their second attempt
	assert.Equal(t, 4.0, o("invoice.*", "retried"))       // flaky ×2 once each, doomed twice
	assert.Equal(t, 1.0, o("invoice.*", "dead_lettered")) // doomed, on its third attempt
	assert.Equal(t, 1.0, o("charge.refunded", "dead_lettered"))
	assert.Equal(t, 1.0, o(hookprom.OtherType, "unhandled"))
	assert.Len(t, fams[hookprom.HandlerOutcomesName].GetMetric(), 6)

	req := fams[hookprom.RequestDurationName]
	require.NotNil(t, req)
	var requests uint64
	for _, s := range req.GetMetric() {
		requests += s.GetHistogram().GetSampleCount()
	}
	assert.Equal(t, uint64(19), requests, "every request answered is timed once")
	assert.Equal(t, uint64(10), histogram(t, fams, hookprom.RequestDurationName, map[string]string{"provider": "stripe", "outcome": "accepted"}).GetSampleCount())
	assert.Equal(t, uint64(6), histogram(t, fams, hookprom.RequestDurationName, map[string]string{"provider": "stripe", "outcome": "rejected"}).GetSampleCount())

	// First attempts that returned: paid ×5, flaky ×2, doomed, account.
	assert.Equal(t, uint64(9), histogram(t, fams, hookprom.QueueWaitName, map[string]string{"provider": "stripe"}).GetSampleCount())
	assert.Equal(t, uint64(5), histogram(t, fams, hookprom.HandlerDurationName, map[string]string{"provider": "stripe", "event_type": "invoice.paid"}).GetSampleCount())
	// invoice.*: flaky 2 failed + 2 handled, doomed 2 retried (its third
	// attempt is reported dead-lettered, without a duration).
	assert.Equal(t, uint64(6), histogram(t, fams, hookprom.HandlerDurationName, map[string]string{"provider": "stripe", "event_type": "invoice.*"}).GetSampleCount())

	skew := histogram(t, fams, hookprom.SkewName, map[string]string{"provider": "stripe", "sender_clock": "behind"})
	assert.Equal(t, uint64(12), skew.GetSampleCount(), "accepted and duplicate deliveries")
	assert.InDelta(t, 36.0, skew.GetSampleSum(), 1e-9)
	for _, b := range skew.GetBucket() {
		want := uint64(0)
		if b.GetUpperBound() >= 5 {
			want = 12
		}
		assert.Equal(t, want, b.GetCumulativeCount(), "le=%v", b.GetUpperBound())
	}
	assert.Zero(t, histogram(t, fams, hookprom.SkewName, map[string]string{"provider": "stripe", "sender_clock": "ahead"}).GetSampleCount())

	assert.Equal(t, 1.0, gauge(t, fams, hookprom.QueueStatsUpName, map[string]string{"endpoint": "stripe"}))
	assert.Equal(t, 0.0, gauge(t, fams, hookprom.QueueDepthName, map[string]string{"endpoint": "stripe"}))
	assert.Equal(t, 0.0, gauge(t, fams, hookprom.QueueOldestAgeName, map[string]string{"endpoint": "stripe"}))

	dl, err := rc.DeadLetters().List(context.Background(), 0)
	require.NoError(t, err)
	assert.Len(t, dl, 2, "the dead-letter store agrees with the counter")
}

// TestDistinctEventTypesBoundSeries sends 10,000 deliveries, each with an
// event type never seen before, and finds a fixed number of series.
func TestDistinctEventTypesBoundSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := hookprom.New(reg)
	require.NoError(t, err)
	mux := receiver.NewMux()
	mux.HandleFunc("invoice.*", func(context.Context, *receiver.Event) error { return nil })
	mux.HandleFunc("customer.created", func(context.Context, *receiver.Event) error { return nil })
	rc, err := receiver.New(newStripe(t), mux, receiver.WithObserver(m.Observer(mux)), receiver.WithClock(clock),
		receiver.QueueCapacity(20000))
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })
	h := m.Instrument(rc)

	const n = 10000
	for i := range n {
		typ := fmt.Sprintf("attacker.%016x", rand.Uint64())
		if i%2 == 0 {
			typ = fmt.Sprintf("invoice.%016x", rand.Uint64())
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, stripe.NewRequest("/", secret, now, body(fmt.Sprintf("evt_%d", i), typ)))
		require.Equal(t, http.StatusOK, w.Code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, rc.Drain(ctx))

	fams, err := reg.Gather()
	require.NoError(t, err)
	series := 0
	types := map[string]bool{}
	for _, f := range fams {
		series += len(f.GetMetric())
		for _, s := range f.GetMetric() {
			for _, lp := range s.GetLabel() {
				if lp.GetName() == "event_type" {
					types[lp.GetValue()] = true
				}
			}
		}
	}
	// deliveries 16 (every outcome and reason of one provider), handler
	// outcomes 2 (invoice.* handled, (other) unhandled), request duration 1,
	// queue wait 1, handler duration 1 (invoice.*), skew 2 (behind, ahead).
	assert.Equal(t, 23, series)
	assert.Equal(t, map[string]bool{"invoice.*": true, hookprom.OtherType: true}, types)
	for _, f := range fams {
		if f.GetName() == hookprom.HandlerOutcomesName {
			total := 0.0
			for _, s := range f.GetMetric() {
				total += s.GetCounter().GetValue()
			}
			assert.Equal(t, float64(n), total, "every delivery counted, under a bounded label")
		}
	}
}

type fakeStats struct {
	st  driver.Stats
	err error
}

func (f fakeStats) Stats(context.Context) (driver.Stats, error) { return f.st, f.err }

func TestWatchGauges(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := hookprom.New(reg)
	require.NoError(t, err)
	require.NoError(t, m.Watch("busy", fakeStats{st: driver.Stats{Depth: 7, OldestAge: 90 * time.Second}}))
	require.NoError(t, m.Watch("broken", fakeStats{err: errors.New("redis down")}))
	assert.ErrorIs(t, m.Watch("busy", fakeStats{}), hookprom.ErrWatched)
	assert.Error(t, m.Watch("", fakeStats{}))

	fams := scrape(t, reg)
	assert.Equal(t, 7.0, gauge(t, fams, hookprom.QueueDepthName, map[string]string{"endpoint": "busy"}))
	assert.Equal(t, 90.0, gauge(t, fams, hookprom.QueueOldestAgeName, map[string]string{"endpoint": "busy"}))
	assert.Equal(t, 1.0, gauge(t, fams, hookprom.QueueStatsUpName, map[string]string{"endpoint": "busy"}))
	assert.Equal(t, 0.0, gauge(t, fams, hookprom.QueueStatsUpName, map[string]string{"endpoint": "broken"}))
	assert.Nil(t, find(fams, hookprom.QueueDepthName, map[string]string{"endpoint": "broken"}), "no depth is made up for a queue that did not answer")

	m.Unwatch("broken")
	fams = scrape(t, reg)
	assert.Nil(t, find(fams, hookprom.QueueStatsUpName, map[string]string{"endpoint": "broken"}))
}

// blockingStats answers after its context is done, as an unreachable Redis
// would.
type blockingStats struct{}

func (blockingStats) Stats(ctx context.Context) (driver.Stats, error) {
	<-ctx.Done()
	return driver.Stats{}, ctx.Err()
}

func TestScrapeTimeoutBoundsStats(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := hookprom.New(reg, hookprom.ScrapeTimeout(10*time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, m.Watch("stuck", blockingStats{}))
	fams := scrape(t, reg)
	assert.Equal(t, 0.0, gauge(t, fams, hookprom.QueueStatsUpName, map[string]string{"endpoint": "stuck"}))
}

// TestWatchRealBacklog holds a receiver's only worker and reads its backlog.
func TestWatchRealBacklog(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := hookprom.New(reg)
	require.NoError(t, err)
	release := make(chan struct{})
	var once sync.Once
	started := make(chan struct{})
	mux := receiver.NewMux()
	mux.HandleFunc("*", func(ctx context.Context, _ *receiver.Event) error {
		once.Do(func() { close(started) })
		<-release
		return nil
	})
	rc, err := receiver.New(newStripe(t), mux, receiver.WithObserver(m.Observer(mux)), receiver.WithClock(clock), receiver.Workers(1))
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })
	require.NoError(t, m.Watch("stripe", rc))
	for i := range 3 {
		w := httptest.NewRecorder()
		rc.ServeHTTP(w, stripe.NewRequest("/", secret, now, body(fmt.Sprintf("evt_%d", i), "a.b")))
		require.Equal(t, http.StatusOK, w.Code)
	}
	<-started
	fams := scrape(t, reg)
	assert.Equal(t, 3.0, gauge(t, fams, hookprom.QueueDepthName, map[string]string{"endpoint": "stripe"}), "one running, two waiting")
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, rc.Drain(ctx))
	fams = scrape(t, reg)
	assert.Equal(t, 0.0, gauge(t, fams, hookprom.QueueDepthName, map[string]string{"endpoint": "stripe"}))
	// The catch-all pattern names every type "*".
	assert.Equal(t, 3.0, counter(t, fams, hookprom.HandlerOutcomesName, map[string]string{"provider": "stripe", "event_type": "*", "outcome": "handled"}))
}

func TestNewRefusesASecondRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	_, err := hookprom.New(reg)
	require.NoError(t, err)
	_, err = hookprom.New(reg)
	assert.Error(t, err)
	_, err = hookprom.New(nil)
	assert.Error(t, err)
}

func TestAllowTypes(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := hookprom.New(reg)
	require.NoError(t, err)
	obs := m.Observer(hookprom.AllowTypes("push", "pull_request"))
	for _, typ := range []string{"push", "push", "pull_request", "issues", strings.Repeat("z", 200)} {
		obs.Observe(context.Background(), receiver.Observation{Stage: receiver.StageHandled, Provider: "github", Event: &receiver.Event{Type: typ, Attempt: 2}})
	}
	fams := scrape(t, reg)
	o := func(typ string) float64 {
		return counter(t, fams, hookprom.HandlerOutcomesName, map[string]string{"provider": "github", "event_type": typ, "outcome": "handled"})
	}
	assert.Equal(t, 2.0, o("push"))
	assert.Equal(t, 1.0, o("pull_request"))
	assert.Equal(t, 2.0, o(hookprom.OtherType))
	assert.Nil(t, find(fams, hookprom.QueueWaitName, map[string]string{"provider": "github"}), "later attempts record no queue wait")
}

// TestUnknownReasonIsBounded feeds reasons outside Classify's set, as a
// future receiver might: they are counted as "other", never as themselves.
func TestUnknownReasonIsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := hookprom.New(reg)
	require.NoError(t, err)
	obs := m.Observer(nil)
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	obs.Observe(context.Background(), receiver.Observation{Stage: receiver.StageRejected, Provider: "p", Request: r, Status: 401, Reason: "attacker-chosen"})
	obs.Observe(context.Background(), receiver.Observation{Stage: receiver.StageRejected, Provider: "p", Request: r, Status: 503, Reason: "new-503"})
	obs.Observe(context.Background(), receiver.Observation{Stage: receiver.StageHandshake, Provider: "p", Request: r, Status: 200})
	obs.Observe(context.Background(), receiver.Observation{Stage: receiver.StageHandled, Provider: "p", Event: &receiver.Event{Type: "x.y", Attempt: 1}})
	fams := scrape(t, reg)
	assert.Equal(t, 1.0, counter(t, fams, hookprom.DeliveriesName, map[string]string{"provider": "p", "outcome": "rejected", "reason": "other"}))
	assert.Equal(t, 1.0, counter(t, fams, hookprom.DeliveriesName, map[string]string{"provider": "p", "outcome": "unavailable", "reason": "other"}))
	assert.Equal(t, 1.0, counter(t, fams, hookprom.DeliveriesName, map[string]string{"provider": "p", "outcome": "handshake", "reason": ""}))
	assert.Equal(t, 1.0, counter(t, fams, hookprom.HandlerOutcomesName, map[string]string{"provider": "p", "event_type": hookprom.OtherType, "outcome": "handled"}))
}

// TestSkewDirection records a sender whose clock is ahead: the magnitude
// goes to sender_clock="ahead", and no _sum ever decreases.
func TestSkewDirection(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := hookprom.New(reg)
	require.NoError(t, err)
	obs := m.Observer(nil)
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	for _, skew := range []time.Duration{-90 * time.Second, -30 * time.Second, 2 * time.Second, 0} {
		obs.Observe(context.Background(), receiver.Observation{Stage: receiver.StageEnqueued, Provider: "p", Request: r, Event: &receiver.Event{}, Skew: skew, HasSkew: true})
	}
	obs.Observe(context.Background(), receiver.Observation{Stage: receiver.StageEnqueued, Provider: "p", Request: r, Event: &receiver.Event{}, Skew: time.Hour})
	fams := scrape(t, reg)
	ahead := histogram(t, fams, hookprom.SkewName, map[string]string{"provider": "p", "sender_clock": "ahead"})
	assert.Equal(t, uint64(2), ahead.GetSampleCount())
	assert.InDelta(t, 120.0, ahead.GetSampleSum(), 1e-9)
	behind := histogram(t, fams, hookprom.SkewName, map[string]string{"provider": "p", "sender_clock": "behind"})
	assert.Equal(t, uint64(2), behind.GetSampleCount(), "a zero skew counts as behind; an observation without HasSkew not at all")
	assert.InDelta(t, 2.0, behind.GetSampleSum(), 1e-9)
}

// TestFamiliesMatchTheCollector checks that Families, which tools read to
// validate dashboards and rules, lists exactly what the collector
// describes.
func TestFamiliesMatchTheCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := hookprom.New(reg)
	require.NoError(t, err)
	ch := make(chan *prometheus.Desc, 64)
	m.Describe(ch)
	close(ch)
	var descs []string
	for d := range ch {
		descs = append(descs, d.String())
	}
	fams := hookprom.Families()
	require.Len(t, descs, len(fams))
	for i, f := range fams {
		assert.Contains(t, descs[i], fmt.Sprintf("fqName: %q", f.Name))
		assert.Contains(t, descs[i], f.Help)
		for _, l := range f.Labels {
			assert.Contains(t, descs[i], l)
		}
		assert.Contains(t, []string{"counter", "gauge", "histogram"}, f.Type)
		if f.Type == "counter" {
			assert.True(t, strings.HasSuffix(f.Name, "_total"), f.Name)
		}
		if f.Type == "histogram" {
			assert.True(t, strings.HasSuffix(f.Name, "_seconds"), f.Name)
		}
	}
	fams[0].Labels[0] = "changed"
	assert.Equal(t, "provider", hookprom.Families()[0].Labels[0], "Families returns a copy")
}

// TestInstrumentTimesObservedRequestsOnly wraps a handler no observer of m
// sees: nothing is timed, since its provider and outcome are unknown.
func TestInstrumentTimesObservedRequestsOnly(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := hookprom.New(reg)
	require.NoError(t, err)
	other, err := hookprom.New(prometheus.NewRegistry())
	require.NoError(t, err)
	obs := other.Observer(nil) // another Metrics' observer
	h := m.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		obs.Observe(r.Context(), receiver.Observation{Stage: receiver.StageEnqueued, Provider: "p", Request: r, Event: &receiver.Event{}})
		w.WriteHeader(http.StatusOK)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", nil))
	fams := scrape(t, reg)
	assert.NotContains(t, fams, hookprom.RequestDurationName)

	own := m.Observer(nil)
	h = m.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		own.Observe(r.Context(), receiver.Observation{Stage: receiver.StageRejected, Provider: "p", Request: r, Status: 401, Reason: receiver.ReasonSignature})
		w.WriteHeader(http.StatusUnauthorized)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", nil))
	fams = scrape(t, reg)
	assert.Equal(t, uint64(1), histogram(t, fams, hookprom.RequestDurationName, map[string]string{"provider": "p", "outcome": "rejected"}).GetSampleCount())
}

// FuzzObserverLabelsBounded feeds observations with arbitrary reasons and
// event types (what a sender or a future receiver could put there) and
// checks that every label value written is from a bounded set.
func FuzzObserverLabelsBounded(f *testing.F) {
	f.Add(uint8(receiver.StageRejected), "signature", "invoice.paid", 401, true)
	f.Add(uint8(receiver.StageHandled), "", "invoice.x\x00\xff", 0, false)
	f.Add(uint8(receiver.StageRetried), "' OR 1=1", strings.Repeat("a.", 200), 0, false)
	f.Add(uint8(receiver.StageInvalid), "invalid", "", 422, true)
	f.Add(uint8(receiver.StageSplit), "", "invoice.paid", 0, false)
	f.Add(uint8(99), "closed", "*", 503, true)
	allowed := map[string]map[string]bool{
		"outcome":      {"accepted": true, "duplicate": true, "handshake": true, "rejected": true, "invalid": true, "unavailable": true, "handled": true, "unhandled": true, "retried": true, "dead_lettered": true, "filtered": true, "deferred": true, "split": true},
		"reason":       {"": true, "other": true},
		"event_type":   {"invoice.*": true, "invoice.paid": true, hookprom.OtherType: true},
		"provider":     {"p": true},
		"sender_clock": {"behind": true, "ahead": true},
	}
	for _, r := range []string{receiver.ReasonMethod, receiver.ReasonTooLarge, receiver.ReasonUnreadable, receiver.ReasonSignature,
		receiver.ReasonTimestamp, receiver.ReasonMalformed, receiver.ReasonInvalid, receiver.ReasonUnavailable,
		receiver.ReasonOverloaded, receiver.ReasonPending, receiver.ReasonClosed, receiver.ReasonInternal} {
		allowed["reason"][r] = true
	}
	mux := receiver.NewMux()
	mux.HandleFunc("invoice.*", func(context.Context, *receiver.Event) error { return nil })
	mux.HandleFunc("invoice.paid", func(context.Context, *receiver.Event) error { return nil })
	f.Fuzz(func(t *testing.T, stage uint8, reason, typ string, status int, onRequest bool) {
		reg := prometheus.NewRegistry()
		m, err := hookprom.New(reg)
		require.NoError(t, err)
		ob := receiver.Observation{Stage: receiver.Stage(stage), Provider: "p", Reason: reason, Status: status,
			Event: &receiver.Event{Type: typ, Attempt: 1}, HasSkew: true, Skew: time.Duration(status) * time.Second}
		if onRequest {
			ob.Request = httptest.NewRequest(http.MethodPost, "/", nil)
		}
		m.Observer(mux).Observe(context.Background(), ob)
		fams, err := reg.Gather()
		require.NoError(t, err)
		for _, fam := range fams {
			for _, s := range fam.GetMetric() {
				for _, lp := range s.GetLabel() {
					assert.True(t, allowed[lp.GetName()][lp.GetValue()], "%s{%s=%q}", fam.GetName(), lp.GetName(), lp.GetValue())
				}
			}
		}
	})
}

// TestFilteredAndDeferredCounted: a delivery a filter drops is a delivery
// outcome, a deferred attempt a handler outcome.
func TestFilteredAndDeferredCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := hookprom.New(reg)
	require.NoError(t, err)
	mux := receiver.NewMux()
	mux.HandleFunc("invoice.*", func(context.Context, *receiver.Event) error { return nil })
	obs := m.Observer(mux)
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	obs.Observe(context.Background(), receiver.Observation{Stage: receiver.StageFiltered, Provider: "p", Status: 200, Request: req,
		Event: &receiver.Event{Type: "customer.created", Attempt: 1}})
	for range 2 {
		obs.Observe(context.Background(), receiver.Observation{Stage: receiver.StageDeferred, Provider: "p", Reason: "circuit_open",
			Event: &receiver.Event{Type: "invoice.paid", Attempt: 1}})
	}
	obs.Observe(context.Background(), receiver.Observation{Stage: receiver.StageSplit, Provider: "p",
		Event: &receiver.Event{Type: "invoice.paid", Attempt: 1}})
	fams := scrape(t, reg)
	assert.Equal(t, 1.0, counter(t, fams, hookprom.HandlerOutcomesName, map[string]string{"provider": "p", "event_type": "invoice.*", "outcome": "split"}))
	assert.Equal(t, 1.0, counter(t, fams, hookprom.DeliveriesName, map[string]string{"provider": "p", "outcome": "filtered", "reason": ""}))
	assert.Equal(t, 2.0, counter(t, fams, hookprom.HandlerOutcomesName, map[string]string{"provider": "p", "event_type": "invoice.*", "outcome": "deferred"}))
}

// TestBreakerStateExported: a real breaker reporting through
// BreakerStateChange shows its state and transitions.
func TestBreakerStateExported(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := hookprom.New(reg)
	require.NoError(t, err)
	failing := receiver.HandlerFunc(func(context.Context, *receiver.Event) error { return errors.New("down") })
	const openFor = 50 * time.Millisecond
	b := flow.NewBreaker(failing, flow.BreakerConfig{Name: "billing-api", ConsecutiveFailures: 2, OpenFor: openFor,
		OnStateChange: m.BreakerStateChange})
	ev := &receiver.Event{Type: "invoice.paid", Attempt: 1}
	for range 2 {
		_ = b.HandleEvent(context.Background(), ev)
	}
	require.Equal(t, flow.Open, b.State())
	fams := scrape(t, reg)
	assert.Equal(t, 1.0, gauge(t, fams, hookprom.BreakerStateName, map[string]string{"breaker": "billing-api"}), "open")
	assert.Equal(t, 1.0, counter(t, fams, hookprom.BreakerChangesName, map[string]string{"breaker": "billing-api", "to": "open"}))

	time.Sleep(2 * openFor) // past OpenFor: the next call is a probe
	_ = b.HandleEvent(context.Background(), ev)
	fams = scrape(t, reg)
	assert.Equal(t, 1.0, counter(t, fams, hookprom.BreakerChangesName, map[string]string{"breaker": "billing-api", "to": "half_open"}))
	assert.Equal(t, 2.0, counter(t, fams, hookprom.BreakerChangesName, map[string]string{"breaker": "billing-api", "to": "open"}), "the failed probe reopened it")
	assert.Equal(t, 1.0, gauge(t, fams, hookprom.BreakerStateName, map[string]string{"breaker": "billing-api"}))
}
