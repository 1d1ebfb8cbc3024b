package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	hookprom "github.com/hookwise/hookwise/adapters/prometheus"
	"github.com/hookwise/hookwise/internal/redistest"
	"github.com/hookwise/hookwise/providers/github"
	"github.com/hookwise/hookwise/providers/standardwebhooks"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/redisq"
)

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.Contains(l, "_bucket") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func stripeInvoice(id, invoice string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","type":"invoice.paid","data":{"object":{"id":%q,"customer":"cus_1"}}}`, id, invoice)
}

// The program refuses to start without REDIS_URL or a secret, naming every
// missing variable at once, and never prints a secret's value nor the Redis
// password.
func TestRefusesToStartWithoutRequiredEnvironment(t *testing.T) {
	t.Run("nothing set", func(t *testing.T) {
		var stderr bytes.Buffer
		err := run(context.Background(), envFunc(nil), &bytes.Buffer{}, &stderr)
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrConfig)
		var ce *ConfigError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, []string{"REDIS_URL", "GITHUB_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET", "STANDARD_WEBHOOK_SECRET"}, ce.Missing)
		assert.Contains(t, err.Error(), "no development secrets")
	})
	t.Run("secrets but no REDIS_URL", func(t *testing.T) {
		env := baseEnv(t, "127.0.0.1:1")
		delete(env, "REDIS_URL")
		err := run(context.Background(), envFunc(env), &bytes.Buffer{}, &bytes.Buffer{})
		var ce *ConfigError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, []string{"REDIS_URL"}, ce.Missing)
		for _, s := range []string{githubSecret, stripeSecret, standardSecret} {
			assert.NotContains(t, err.Error(), s)
		}
	})
	t.Run("one secret blank", func(t *testing.T) {
		env := baseEnv(t, "127.0.0.1:1")
		env["STRIPE_WEBHOOK_SECRET"] = "   "
		err := run(context.Background(), envFunc(env), &bytes.Buffer{}, &bytes.Buffer{})
		var ce *ConfigError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, []string{"STRIPE_WEBHOOK_SECRET"}, ce.Missing)
		assert.Contains(t, err.Error(), "STRIPE_WEBHOOK_SECRET")
	})
	t.Run("malformed values", func(t *testing.T) {
		env := baseEnv(t, "127.0.0.1:1")
		env["REDIS_URL"] = "redis://admin:Tr0ub4dor-s3cr3t@127.0.0.1:notaport/0"
		env["LOG_LEVEL"] = "chatty"
		env["SHUTDOWN_DRAIN"] = "five"
		env["SHUTDOWN_TIMEOUT"] = "0s"
		env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "collector:4318"
		env["ADMIN_ADDR"] = "9090"
		err := run(context.Background(), envFunc(env), &bytes.Buffer{}, &bytes.Buffer{})
		var ce *ConfigError
		require.ErrorAs(t, err, &ce)
		assert.Empty(t, ce.Missing)
		msg := err.Error()
		for _, name := range []string{"REDIS_URL", "LOG_LEVEL", "SHUTDOWN_DRAIN", "SHUTDOWN_TIMEOUT", "OTEL_EXPORTER_OTLP_ENDPOINT", "ADMIN_ADDR"} {
			assert.Contains(t, msg, name+":")
		}
		assert.NotContains(t, msg, "s3cr3t")
		assert.NotContains(t, msg, "chatty")
	})
	t.Run("a secret the provider refuses", func(t *testing.T) {
		env := baseEnv(t, "127.0.0.1:1")
		env["REDIS_URL"] = "redis://" + redistest.Start(t).Addr + "/0"
		env["STANDARD_WEBHOOK_SECRET"] = "whsec_!!not-base64-Tr0ub4dor!!"
		err := run(context.Background(), envFunc(env), &bytes.Buffer{}, &bytes.Buffer{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "STANDARD_WEBHOOK_SECRET")
		assert.NotContains(t, err.Error(), "Tr0ub4dor")
	})
}

// A Redis that does not answer fails the start within the startup ping's
// bound, saying where it looked and not with which password.
func TestRefusesToStartWhenRedisIsUnreachable(t *testing.T) {
	env := baseEnv(t, "127.0.0.1:1")
	env["REDIS_URL"] = fmt.Sprintf("redis://:Tr0ub4dor-s3cr3t@127.0.0.1:%d/0", redistest.FreePort(t))
	began := time.Now()
	err := run(context.Background(), envFunc(env), &bytes.Buffer{}, &bytes.Buffer{})
	require.Error(t, err)
	assert.Less(t, time.Since(began), startupPingTimeout+time.Second)
	assert.Contains(t, err.Error(), "cannot reach redis at 127.0.0.1:")
	assert.NotContains(t, err.Error(), "s3cr3t")
}

// The whole path of a deployment: signed deliveries on three endpoints are
// handled, a duplicate is not, a forgery is refused, a payload failing its
// validation is dead-lettered in Redis; /metrics counts each; the delivery
// and attempt spans reach the OTLP collector, linked through the Redis queue;
// on the shutdown signal /readyz turns 503 at once while /healthz stays 200
// and deliveries are still taken during the drain; then run returns nil.
func TestDeliveriesMetricsTracesAndOrderlyShutdown(t *testing.T) {
	srv := redistest.Start(t)
	col := newCollector(t)
	env := baseEnv(t, srv.Addr)
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = col.srv.URL
	env["SHUTDOWN_DRAIN"] = "1500ms"
	a := start(t, env)

	now := time.Now()
	require.Equal(t, http.StatusOK, send(t, stripe.NewRequest(a.base+"/webhooks/stripe", stripeSecret, now, stripeInvoice("evt_paid_1", "in_1"))))
	require.Equal(t, http.StatusUnauthorized, send(t, stripe.NewRequest(a.base+"/webhooks/stripe", "whsec_forged", now, stripeInvoice("evt_forged", "in_9"))))
	require.Equal(t, http.StatusOK, send(t, stripe.NewRequest(a.base+"/webhooks/stripe", stripeSecret, now,
		[]byte(`{"id":"evt_bad_1","type":"invoice.paid","data":{"object":{"customer":"cus_1"}}}`))), "accepted, then dead-lettered by validation")
	push := []byte(`{"ref":"refs/heads/main","before":"0a","after":"1b","commits":[{"id":"1b"}],"repository":{"full_name":"acme/api"},"sender":{"login":"u"}}`)
	require.Equal(t, http.StatusOK, send(t, github.NewRequest(a.base+"/webhooks/github", githubSecret, "push", "8f1a3b2c-0000-4000-8000-000000000001", push)))
	require.Equal(t, http.StatusOK, send(t, standardwebhooks.NewRequest(a.base+"/webhooks/standard", standardSecret, "msg_user_1", now,
		[]byte(`{"type":"user.created","timestamp":"2026-01-01T00:00:00Z","data":{"id":"u_1"}}`))))

	// Bounds: a body over the receiver's limit is refused with 413 (read
	// through the limit, never whole), headers over the server's with 431.
	big := github.NewRequest(a.base+"/webhooks/github", githubSecret, "push", "8f1a3b2c-0000-4000-8000-000000000002",
		bytes.Repeat([]byte("x"), int(receiver.DefaultMaxBodyBytes)+1))
	require.Equal(t, http.StatusRequestEntityTooLarge, send(t, big))
	fat := stripe.NewRequest(a.base+"/webhooks/stripe", stripeSecret, now, stripeInvoice("evt_fat", "in_fat"))
	fat.Header.Set("X-Padding", strings.Repeat("p", 128<<10))
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, send(t, fat))

	lines := a.handled(3)
	// A redelivery is a duplicate: 200, not handled again. While the first
	// copy is still being finished it is answered 503 "pending" (so that the
	// sender retries should the first copy fail), and retried here as a
	// sender would.
	pending := 0
	for {
		code := send(t, stripe.NewRequest(a.base+"/webhooks/stripe", stripeSecret, now, stripeInvoice("evt_paid_1", "in_1")))
		if code == http.StatusOK {
			break
		}
		require.Equal(t, http.StatusServiceUnavailable, code)
		pending++
		require.Less(t, pending, 100)
		time.Sleep(10 * time.Millisecond)
	}
	byID := map[string]map[string]any{}
	for _, l := range lines {
		byID[l["id"].(string)] = l
	}
	require.Contains(t, byID, "evt_paid_1")
	assert.Equal(t, "in_1", byID["evt_paid_1"]["object"])
	assert.Contains(t, byID, "msg_user_1")
	assert.Equal(t, "u_1", byID["msg_user_1"]["object"])
	assert.Equal(t, 1, strings.Count(a.stdout.String(), `"evt_paid_1"`), "the duplicate was not handled")
	assert.NotContains(t, a.stdout.String(), "evt_bad_1")
	assert.NotContains(t, a.stdout.String(), "evt_forged")

	// The invalid event is in the Redis dead-letter store of its endpoint.
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer client.Close()
	var dead []receiver.DeadLetter
	require.Eventually(t, func() bool {
		var err error
		dead, err = redisq.NewDeadLetters(client, redisq.Stream("hookwise:{stripe}:stream")).List(context.Background(), 0)
		return err == nil && len(dead) == 1
	}, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, "evt_bad_1", dead[0].Event.ID)

	// Metrics, exact counts.
	var mfs = a.scrape()
	require.Eventually(t, func() bool {
		mfs = a.scrape()
		return sum(mfs, hookprom.HandlerOutcomesName, map[string]string{"provider": "stripe", "outcome": hookprom.OutcomeDeadLettered}) == 1
	}, 10*time.Second, 20*time.Millisecond, "metrics:\n%s", func() string { _, b := get(a.admin + "/metrics"); return grepLines(b, "hookwise_") }())
	deliveries := func(provider, outcome, reason string) float64 {
		return value(mfs, hookprom.DeliveriesName, map[string]string{"provider": provider, "outcome": outcome, "reason": reason})
	}
	assert.Equal(t, 2.0, deliveries("stripe", hookprom.OutcomeAccepted, ""))
	assert.Equal(t, 1.0, deliveries("stripe", hookprom.OutcomeDuplicate, ""))
	assert.Equal(t, 1.0, deliveries("stripe", hookprom.OutcomeRejected, receiver.ReasonSignature))
	assert.Equal(t, float64(pending), max(0, deliveries("stripe", hookprom.OutcomeUnavailable, receiver.ReasonPending)))
	assert.Equal(t, 1.0, deliveries("github", hookprom.OutcomeAccepted, ""))
	assert.Equal(t, 1.0, deliveries("github", hookprom.OutcomeRejected, receiver.ReasonTooLarge))
	assert.Equal(t, 1.0, value(mfs, hookprom.HandlerOutcomesName, map[string]string{"provider": "stripe", "event_type": "invoice.*", "outcome": hookprom.OutcomeHandled}))
	assert.Equal(t, 1.0, value(mfs, hookprom.HandlerOutcomesName, map[string]string{"provider": "github", "event_type": "push", "outcome": hookprom.OutcomeHandled}))
	assert.Equal(t, 4.0+float64(pending), sum(mfs, hookprom.RequestDurationName, map[string]string{"provider": "stripe"}),
		"request durations of stripe: 2 accepted + 1 duplicate + 1 rejected (+ the pending ones)")
	assert.Equal(t, 1.0, value(mfs, hookprom.QueueStatsUpName, map[string]string{"endpoint": "stripe"}))
	assert.Contains(t, mfs, "go_goroutines", "runtime collectors registered")

	// Shutdown: readiness drops at once, liveness stays, intake stays open
	// during the drain.
	code, _ := get(a.admin + "/healthz")
	require.Equal(t, http.StatusOK, code)
	a.stop()
	require.Eventually(t, func() bool { c, _ := get(a.admin + "/readyz"); return c == http.StatusServiceUnavailable }, time.Second, 10*time.Millisecond)
	code, body := get(a.admin + "/healthz")
	assert.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, http.StatusOK, send(t, stripe.NewRequest(a.base+"/webhooks/stripe", stripeSecret, time.Now(), stripeInvoice("evt_during_drain", "in_2"))),
		"a delivery sent while the load balancer drains is still taken")
	require.NoError(t, a.wait(), "logs:\n%s", a.stderr.String())
	assert.Contains(t, a.stdout.String(), `"evt_during_drain"`, "handled before the receivers stopped")

	// The shutdown ran in order.
	logs := a.stderr.String()
	order := []string{"shutdown: signal received", "shutdown: not ready", "shutdown: intake stopped",
		"shutdown: receivers stopped", "shutdown: traces flushed", "shutdown: complete"}
	last := -1
	for _, s := range order {
		i := strings.Index(logs, s)
		require.Greater(t, i, last, "%q out of order in:\n%s", s, logs)
		last = i
	}
	assert.NotContains(t, logs, githubSecret)
	assert.NotContains(t, logs, stripeSecret)

	// Traces: a SERVER span per delivery, a CONSUMER span per attempt linked
	// to its delivery's span, across the Redis queue; flushed at shutdown.
	spans := col.all()
	var servers, consumers []*tracepb.Span
	for _, s := range spans {
		switch s.GetKind() {
		case tracepb.Span_SPAN_KIND_SERVER:
			servers = append(servers, s)
		case tracepb.Span_SPAN_KIND_CONSUMER:
			consumers = append(consumers, s)
		}
	}
	assert.Len(t, servers, 8+pending, "one per request that reached a receiver")
	require.NotEmpty(t, consumers)
	linked := 0
	for _, c := range consumers {
		for _, l := range c.GetLinks() {
			for _, s := range servers {
				if bytes.Equal(l.GetTraceId(), s.GetTraceId()) && bytes.Equal(l.GetSpanId(), s.GetSpanId()) {
					linked++
				}
			}
		}
	}
	assert.Equal(t, len(consumers), linked, "every attempt links back to its delivery")
	// The handler's output carries the attempt's trace.
	traceIDs := map[string]bool{}
	for _, c := range consumers {
		traceIDs[fmt.Sprintf("%x", c.GetTraceId())] = true
	}
	assert.True(t, traceIDs[byID["evt_paid_1"]["trace_id"].(string)], "the handler ran in its CONSUMER span")
}

// A replica that receives SIGTERM while its handlers are busy loses
// nothing it acknowledged: the entries stay pending in Redis, run reports
// them (exit status 1), and the replica restarted under the same POD_NAME
// takes them back at once and handles each, in attempt spans linked to the
// delivery spans the first process exported.
func TestAcknowledgedEventsSurviveAShutdownCutShort(t *testing.T) {
	srv := redistest.Start(t)
	col := newCollector(t)
	env := baseEnv(t, srv.Addr)
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = col.srv.URL
	env["SHUTDOWN_TIMEOUT"] = "500ms"

	var entered atomic.Int32
	block := func(ctx context.Context, e *receiver.Event) error {
		entered.Add(1)
		<-ctx.Done() // a handler slower than the shutdown allows
		return ctx.Err()
	}
	testHook.Store(&block)
	t.Cleanup(func() { testHook.Store(nil) })

	a := start(t, env)
	const n = 3
	for i := range n {
		id := fmt.Sprintf("evt_slow_%d", i)
		require.Equal(t, http.StatusOK, send(t, stripe.NewRequest(a.base+"/webhooks/stripe", stripeSecret, time.Now(), stripeInvoice(id, "in_"+id))))
	}
	require.Eventually(t, func() bool { return entered.Load() == n }, 10*time.Second, 10*time.Millisecond)
	a.stop()
	err := a.wait()
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrUnfinished)
	assert.Empty(t, a.stdout.String(), "nothing was handled")
	assert.Contains(t, a.stderr.String(), `"msg":"shutdown: backlog left in redis","endpoint":"stripe","depth":3`)

	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer client.Close()
	depth, err := client.XLen(context.Background(), "hookwise:{stripe}:stream").Result()
	require.NoError(t, err)
	assert.EqualValues(t, n, depth, "every acknowledged event is still in Redis")

	// The replica comes back.
	testHook.Store(nil)
	env["ADDR"] = fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	env["ADMIN_ADDR"] = fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	env["SHUTDOWN_TIMEOUT"] = "5s"
	b := start(t, env)
	lines := b.handled(n)
	seen := map[string]bool{}
	for _, l := range lines {
		seen[l["id"].(string)] = true
	}
	for i := range n {
		assert.True(t, seen[fmt.Sprintf("evt_slow_%d", i)], "evt_slow_%d handled after the restart", i)
	}
	assert.Len(t, lines, n, "each once")
	b.stop()
	require.NoError(t, b.wait(), "logs:\n%s", b.stderr.String())
	depth, err = client.XLen(context.Background(), "hookwise:{stripe}:stream").Result()
	require.NoError(t, err)
	assert.Zero(t, depth)

	// Only the first process received deliveries, so every SERVER span is
	// its; the attempts that succeeded ran in the second, and link back.
	spans := col.all()
	servers := map[string]bool{}
	for _, s := range spans {
		if s.GetKind() == tracepb.Span_SPAN_KIND_SERVER {
			servers[fmt.Sprintf("%x/%x", s.GetTraceId(), s.GetSpanId())] = true
		}
	}
	require.Len(t, servers, n)
	for _, l := range lines {
		var attempt *tracepb.Span
		for _, s := range spans {
			if s.GetKind() == tracepb.Span_SPAN_KIND_CONSUMER && fmt.Sprintf("%x", s.GetTraceId()) == l["trace_id"] {
				attempt = s
			}
		}
		require.NotNil(t, attempt, "the attempt span of %s", l["id"])
		require.Len(t, attempt.GetLinks(), 1)
		link := attempt.GetLinks()[0]
		assert.True(t, servers[fmt.Sprintf("%x/%x", link.GetTraceId(), link.GetSpanId())], "%s links to its delivery", l["id"])
	}
}

// /readyz answers 503 while Redis is down and 200 again once it is back;
// /healthz stays 200 throughout (restarting the process would not help).
func TestReadinessFollowsRedis(t *testing.T) {
	srv := redistest.Start(t)
	a := start(t, baseEnv(t, srv.Addr))
	srv.Stop()
	require.Eventually(t, func() bool {
		c, body := get(a.admin + "/readyz")
		return c == http.StatusServiceUnavailable && strings.Contains(body, "redis unreachable")
	}, 5*time.Second, 20*time.Millisecond)
	code, _ := get(a.admin + "/healthz")
	assert.Equal(t, http.StatusOK, code)
	srv.Restart(t)
	require.Eventually(t, func() bool { c, _ := get(a.admin + "/readyz"); return c == http.StatusOK }, 10*time.Second, 50*time.Millisecond)
	a.stop()
	require.NoError(t, a.wait(), "logs:\n%s", a.stderr.String())
}

// The config error type is what errors.As finds.
func TestConfigErrorIs(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &ConfigError{Missing: []string{"REDIS_URL"}})
	assert.True(t, errors.Is(err, ErrConfig))
	assert.False(t, errors.Is(errors.New("other"), ErrConfig))
}
