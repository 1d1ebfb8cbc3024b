package redisq_test

import (
	"context"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/receiver/redisq"
)

// A queue and a dead-letter store on one Redis, for an instance whose
// consumer name survives restarts (a StatefulSet pod name).
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()

	q := redisq.New(rdb,
		redisq.Consumer(os.Getenv("POD_NAME")),
		redisq.VisibilityTimeout(30*time.Second),
		redisq.MaxLen(1_000_000),
	)
	dead := redisq.NewDeadLetters(rdb)
	// Hand both to the receiver: receiver.WithQueue(q), receiver.WithDeadLetters(dead).
	_ = dead

	// On exit, after the HTTP server stopped taking requests:
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = q.Shutdown(ctx)
}
