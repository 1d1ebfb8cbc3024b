package otel_test

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace/noop"

	hwotel "github.com/hookwise/hookwise/adapters/otel"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
)

// collect reads every metric of reader by name.
func collect(t *testing.T, reader sdkmetric.Reader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	out := make(map[string]metricdata.Metrics)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// key renders an attribute set as "k=v,k=v", sorted.
func key(set attribute.Set) string {
	var parts []string
	for _, kv := range set.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.Emit())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// sums returns a counter's values by attribute set.
func sums(t *testing.T, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	s, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is a sum", m.Name)
	out := make(map[string]int64)
	for _, dp := range s.DataPoints {
		out[key(dp.Attributes)] = dp.Value
	}
	return out
}

// counts returns a histogram's counts by attribute set.
func counts(t *testing.T, m metricdata.Metrics) map[string]uint64 {
	t.Helper()
	h, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "%s is a histogram", m.Name)
	out := make(map[string]uint64)
	for _, dp := range h.DataPoints {
		out[key(dp.Attributes)] = dp.Count
	}
	return out
}

// A known mix of deliveries, counted exactly.
func TestMetricsExactCounts(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	mux := receiver.NewMux()
	tel, err := hwotel.New(hwotel.WithMeterProvider(mp), hwotel.WithTracerProvider(noop.NewTracerProvider()), hwotel.WithMux(mux))
	require.NoError(t, err)

	mux.HandleFunc("invoice.*", func(_ context.Context, e *receiver.Event) error {
		if e.ID == "evt_4" {
			return receiver.Permanent(errors.New("bad invoice"))
		}
		return nil
	})
	var calls atomic.Int32
	mux.Handle("customer.created", failing(2, &calls))
	rc, err := receiver.New(provider(t), mux, append(tel.Options(),
		receiver.Backoff(time.Millisecond, time.Millisecond), receiver.WithMaxBodyBytes(1024))...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })
	reg, err := tel.ObserveQueue("stripe", rc)
	require.NoError(t, err)
	t.Cleanup(func() { _ = reg.Unregister() })
	h := tel.Instrument(rc)

	const url = "http://hooks.test/stripe"
	for _, d := range []struct {
		req    *http.Request
		status int
	}{
		{stripe.NewRequest(url, secret, time.Now(), event("evt_1", "invoice.paid")), 200},
		{stripe.NewRequest(url, secret, time.Now(), event("evt_2", "invoice.paid")), 200},
		{stripe.NewRequest(url, secret, time.Now(), event("evt_3", "customer.created")), 200},
		{stripe.NewRequest(url, secret, time.Now(), event("evt_4", "invoice.failed")), 200},
		{stripe.NewRequest(url, secret, time.Now(), event("evt_5", "charge.refunded")), 200},
		{stripe.NewRequest(url, secret, time.Now(), event("evt_1", "invoice.paid")), 200}, // duplicate
		{stripe.NewRequest(url, "whsec_forged", time.Now(), event("evt_6", "invoice.paid")), 401},
		{stripe.NewRequest(url, "whsec_forged", time.Now(), event("evt_7", "invoice.paid")), 401},
		{stripe.NewRequest(url, secret, time.Now().Add(-time.Hour), event("evt_8", "invoice.paid")), 401},
		{stripe.NewRequest(url, secret, time.Now(), event("evt_9", strings.Repeat("x", 2048))), 413},
	} {
		require.Equal(t, d.status, send(h, d.req))
		if d.status == 200 {
			drain(t, rc) // one at a time: the duplicate must find evt_1 done
		}
	}
	drain(t, rc)

	m := collect(t, reader)
	const p = "hookwise.provider=stripe"
	assert.Equal(t, map[string]int64{
		"hookwise.outcome=accepted," + p:                                5,
		"hookwise.outcome=duplicate," + p:                               1,
		"hookwise.outcome=rejected," + p + ",hookwise.reason=signature": 2,
		"hookwise.outcome=rejected," + p + ",hookwise.reason=timestamp": 1,
		"hookwise.outcome=rejected," + p + ",hookwise.reason=too_large": 1,
	}, sums(t, m[hwotel.MetricDeliveries]))
	assert.Equal(t, map[string]int64{
		"hookwise.event.pattern=invoice.*,hookwise.outcome=handled," + p:        2,
		"hookwise.event.pattern=invoice.*,hookwise.outcome=dead_lettered," + p:  1,
		"hookwise.event.pattern=customer.created,hookwise.outcome=retried," + p: 2,
		"hookwise.event.pattern=customer.created,hookwise.outcome=handled," + p: 1,
		"hookwise.event.pattern=(other),hookwise.outcome=unhandled," + p:        1,
	}, sums(t, m[hwotel.MetricHandlerOutcomes]))
	assert.Equal(t, map[string]uint64{
		"hookwise.outcome=accepted," + p:  5,
		"hookwise.outcome=duplicate," + p: 1,
		"hookwise.outcome=rejected," + p:  4,
	}, counts(t, m[hwotel.MetricRequestDuration]))
	assert.Equal(t, map[string]uint64{
		"hookwise.event.pattern=invoice.*,hookwise.outcome=handled," + p:        2,
		"hookwise.event.pattern=customer.created,hookwise.outcome=retried," + p: 2,
		"hookwise.event.pattern=customer.created,hookwise.outcome=handled," + p: 1,
	}, counts(t, m[hwotel.MetricHandlerDuration]), "attempts that ran a handler, to a verdict other than dead letter")
	assert.Equal(t, map[string]uint64{
		"hookwise.event.pattern=invoice.*," + p:        2,
		"hookwise.event.pattern=customer.created," + p: 1,
		"hookwise.event.pattern=(other)," + p:          1,
	}, counts(t, m[hwotel.MetricQueueWait]), "first attempts only")
	assert.Equal(t, map[string]uint64{
		p + ",hookwise.skew.direction=behind": 6, // stripe signs whole seconds: the receipt is never before
	}, counts(t, m[hwotel.MetricSkew]))

	depth, ok := m[hwotel.MetricQueueDepth].Data.(metricdata.Gauge[int64])
	require.True(t, ok)
	require.Len(t, depth.DataPoints, 1)
	assert.Equal(t, int64(0), depth.DataPoints[0].Value)
	assert.Equal(t, "hookwise.endpoint=stripe", key(depth.DataPoints[0].Attributes))
	_, ok = m[hwotel.MetricQueueOldestAge].Data.(metricdata.Gauge[float64])
	assert.True(t, ok)
}

// statsFunc adapts a function to a StatsReader.
type statsFunc func(context.Context) (driver.Stats, error)

func (f statsFunc) Stats(ctx context.Context) (driver.Stats, error) { return f(ctx) }

// The queue gauges report the backlog as Stats reads it, and nothing when
// Stats fails, without failing the collection.
func TestQueueGauges(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tel, err := hwotel.New(hwotel.WithMeterProvider(mp))
	require.NoError(t, err)
	var fail atomic.Bool
	reg, err := tel.ObserveQueue("github", statsFunc(func(context.Context) (driver.Stats, error) {
		if fail.Load() {
			return driver.Stats{}, errors.New("redis down")
		}
		return driver.Stats{Depth: 42, OldestAge: 1500 * time.Millisecond}, nil
	}))
	require.NoError(t, err)

	m := collect(t, reader)
	depth := m[hwotel.MetricQueueDepth].Data.(metricdata.Gauge[int64])
	require.Len(t, depth.DataPoints, 1)
	assert.Equal(t, int64(42), depth.DataPoints[0].Value)
	age := m[hwotel.MetricQueueOldestAge].Data.(metricdata.Gauge[float64])
	require.Len(t, age.DataPoints, 1)
	assert.InDelta(t, 1.5, age.DataPoints[0].Value, 1e-9)
	up := m[hwotel.MetricQueueStatsUp].Data.(metricdata.Gauge[int64])
	require.Len(t, up.DataPoints, 1)
	assert.Equal(t, int64(1), up.DataPoints[0].Value)

	fail.Store(true)
	m = collect(t, reader)
	if g, ok := m[hwotel.MetricQueueDepth].Data.(metricdata.Gauge[int64]); ok {
		assert.Empty(t, g.DataPoints)
	}
	up = m[hwotel.MetricQueueStatsUp].Data.(metricdata.Gauge[int64])
	require.Len(t, up.DataPoints, 1)
	assert.Equal(t, int64(0), up.DataPoints[0].Value)
	require.NoError(t, reg.Unregister())
}

// Without a Mux, every event counts under OtherPattern: raw types come from
// the sender.
func TestMetricsWithoutMuxHaveNoRawEventType(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tel, err := hwotel.New(hwotel.WithMeterProvider(mp))
	require.NoError(t, err)
	rc, err := receiver.New(provider(t), receiver.HandlerFunc(func(context.Context, *receiver.Event) error { return nil }), tel.Options()...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Shutdown(context.Background()) })
	for _, typ := range []string{"a.one", "b.two", "c.three"} {
		require.Equal(t, http.StatusOK, deliver(rc, event("evt_"+typ, typ)))
	}
	drain(t, rc)
	assert.Equal(t, map[string]int64{"hookwise.event.pattern=(other),hookwise.outcome=handled,hookwise.provider=stripe": 3},
		sums(t, collect(t, reader)[hwotel.MetricHandlerOutcomes]))
}
