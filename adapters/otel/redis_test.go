package otel_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/internal/redistest"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
	"github.com/hookwise/hookwise/receiver/redisq"
)

// intakeOnly is a replica's queue that only takes deliveries in: its Start
// starts no consumer, so every attempt runs on another replica reading the
// same stream. It makes the cross-replica path deterministic.
type intakeOnly struct{ *redisq.Queue }

func (intakeOnly) Start(driver.Processor) error { return nil }

func (q intakeOnly) Shutdown(context.Context) error { return nil }

func redisClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Ping(context.Background()).Err())
	return c
}

// Replica A answers the delivery and queues it in Redis; replica B, another
// process as far as tracing goes (its own tracer provider and recorder),
// runs the three attempts. Each of B's attempt spans links to A's delivery
// span, whose context travelled in the stream entry's Meta.
func TestAttemptOnOtherReplicaLinksToDeliverySpan(t *testing.T) {
	srv := redistest.Start(t)
	rdbA, rdbB := redisClient(t, srv.Addr), redisClient(t, srv.Addr)
	const stream = "otel:{test}:stream"
	qopts := []redisq.Option{redisq.Stream(stream), redisq.PollInterval(5 * time.Millisecond), redisq.CallTimeout(2 * time.Second)}

	telA, recA := tracing(t)
	muxA := receiver.NewMux()
	muxA.Use(telA.Middleware)
	muxA.HandleFunc("*", func(context.Context, *receiver.Event) error {
		t.Error("replica A has no consumer: its handler must not run")
		return nil
	})
	rcA, err := receiver.New(provider(t), muxA, append(telA.Options(),
		receiver.WithQueue(intakeOnly{redisq.New(rdbA, append(qopts, redisq.Consumer("a"))...)}),
		receiver.WithStore(dedupe.NewRedis(rdbA)))...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rcA.Shutdown(context.Background()) })

	telB, recB := tracing(t)
	var calls atomic.Int32
	muxB := receiver.NewMux()
	muxB.Use(telB.Middleware)
	muxB.Handle("invoice.paid", failing(2, &calls))
	rcB, err := receiver.New(provider(t), muxB, append(telB.Options(),
		receiver.WithQueue(redisq.New(rdbB, append(qopts, redisq.Consumer("b"), redisq.Workers(2))...)),
		receiver.WithStore(dedupe.NewRedis(rdbB)),
		receiver.Backoff(time.Millisecond, time.Millisecond))...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rcB.Shutdown(context.Background()) })

	require.Equal(t, http.StatusOK, deliver(telA.Instrument(rcA), event("evt_1", "invoice.paid")))
	drain(t, rcB)
	require.Equal(t, int32(3), calls.Load(), "a handler failing twice, then succeeding")

	// Replica A: the delivery span only.
	spansA := recA.Ended()
	require.Len(t, spansA, 1)
	server := spansA[0]
	require.Equal(t, trace.SpanKindServer, server.SpanKind())
	assert.Equal(t, "accepted", attrs(server)["hookwise.outcome"].AsString())

	// Replica B: three attempt spans, each linked to A's delivery span.
	spansB := recB.Ended()
	assert.Empty(t, byKind(spansB, trace.SpanKindServer))
	consumers := byKind(spansB, trace.SpanKindConsumer)
	require.Len(t, consumers, 3, "one consumer span per attempt")
	assertLinked(t, server, consumers)
	assert.Equal(t, "retried", attrs(consumers[0])["hookwise.outcome"].AsString())
	assert.Equal(t, "retried", attrs(consumers[1])["hookwise.outcome"].AsString())
	assert.Equal(t, "handled", attrs(consumers[2])["hookwise.outcome"].AsString())
	assert.Zero(t, telB.Pending())
}
