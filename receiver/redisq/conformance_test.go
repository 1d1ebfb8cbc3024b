package redisq_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/internal/redistest"
	"github.com/hookwise/hookwise/receiver/driver"
	"github.com/hookwise/hookwise/receiver/drivertest"
	"github.com/hookwise/hookwise/receiver/redisq"
)

// The Redis queue, its partitioned form and the Redis dead-letter store pass
// the drivers' conformance suites against a real redis-server. Each subtest
// gets a stream of its own, named after it, so a queue made twice in one
// subtest is the same queue restarted (Durable).

// conformanceDeadLetters is the bound of the dead-letter stores under test.
const conformanceDeadLetters = 20

// conformanceClient starts a redis-server for t and returns a client on it.
func conformanceClient(t *testing.T) *redis.Client {
	t.Helper()
	// Nothing here restarts the server: it need not write to disk, which
	// would only slow the suites down.
	s := redistest.Start(t, "--appendonly", "no")
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	require.NoError(t, rdb.Ping(context.Background()).Err())
	return rdb
}

// streamOf names the stream of subtest t.
func streamOf(t *testing.T) redisq.Option {
	return redisq.Stream("conformance:{" + t.Name() + "}:stream")
}

// quick are options that keep the suite fast.
func quick(t *testing.T) []redisq.Option {
	return []redisq.Option{streamOf(t), redisq.PollInterval(20 * time.Millisecond), redisq.CallTimeout(5 * time.Second), redisq.Workers(32)}
}

func TestQueueConformance(t *testing.T) {
	t.Parallel()
	rdb := conformanceClient(t)
	drivertest.RunQueue(t, func(t *testing.T) driver.Queue {
		return redisq.New(rdb, append(quick(t), redisq.MaxLen(drivertest.DefaultLoad))...)
	}, drivertest.Durable(), drivertest.QueueBound(drivertest.DefaultLoad), drivertest.IdempotentEnqueue())
}

func TestClaimingQueueConformance(t *testing.T) {
	t.Parallel()
	rdb := conformanceClient(t)
	drivertest.RunClaimingQueue(t, func(t *testing.T) driver.ClaimingQueue {
		return redisq.New(rdb, quick(t)...)
	}, func(t *testing.T) dedupe.Store {
		return dedupe.NewRedis(rdb, dedupe.WithRedisPrefix("conformance:"+t.Name()+":"))
	})
}

func TestPartitionedConformance(t *testing.T) {
	t.Parallel()
	rdb := conformanceClient(t)
	drivertest.RunQueue(t, func(t *testing.T) driver.Queue {
		return redisq.NewPartitioned(rdb, 3, quick(t)...)
	}, drivertest.Durable(), drivertest.IdempotentEnqueue())
}

func TestDeadLettersConformance(t *testing.T) {
	t.Parallel()
	rdb := conformanceClient(t)
	drivertest.RunDeadLetters(t, func(t *testing.T) driver.DeadLetterStore {
		return redisq.NewDeadLetters(rdb, streamOf(t), redisq.CallTimeout(10*time.Second),
			redisq.MaxDeadLetters(conformanceDeadLetters))
	}, drivertest.RefusesBeyond(conformanceDeadLetters))
}
