package main

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// tracing is the process's tracer provider and how to flush it.
type tracing struct {
	provider trace.TracerProvider
	// shutdown flushes the spans still batched and stops the exporter.
	shutdown func(context.Context) error
}

// newTracing exports spans over OTLP/HTTP to c.tracesURL, batched, or
// traces nothing when no endpoint is configured. It also installs the W3C
// trace-context propagator globally, so that outgoing calls a handler makes
// with an instrumented client carry the attempt's trace. The exporter reads
// the other OTEL_EXPORTER_OTLP_* variables (headers, timeout, compression)
// from the process environment itself; the SDK reads OTEL_TRACES_SAMPLER.
func newTracing(ctx context.Context, c *config) (*tracing, error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if c.tracesURL == "" {
		return &tracing{provider: noop.NewTracerProvider(), shutdown: func(context.Context) error { return nil }}, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(c.tracesURL))
	if err != nil {
		// The exporter's message may quote the URL, which may carry
		// credentials in its user information: name the variable only.
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: cannot build the OTLP exporter")
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(
			attribute.String("service.name", c.serviceName),
			attribute.String("service.instance.id", c.consumer),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("otel resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return &tracing{provider: tp, shutdown: tp.Shutdown}, nil
}
