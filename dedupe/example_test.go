package dedupe_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/dedupe"
)

func ExampleMemory() {
	store := dedupe.NewMemory(dedupe.WithMemoryMaxEntries(100_000))
	defer store.Close()
	ctx := context.Background()
	key := dedupe.Key("stripe", "evt_1N2b3C")

	first, _ := store.Claim(ctx, key, time.Minute)  // the first delivery takes it
	second, _ := store.Claim(ctx, key, time.Minute) // a concurrent copy does not
	fmt.Println(first, second)

	// The handler failed: release, so that the sender's retry is processed.
	_ = store.Release(ctx, key)
	retry, _ := store.Claim(ctx, key, time.Minute)
	fmt.Println(retry)

	// The handler succeeded: remember the event for three days.
	_ = store.Complete(ctx, key, 72*time.Hour)
	redelivery, _ := store.Claim(ctx, key, time.Minute)
	fmt.Println(redelivery)
	// Output:
	// true false
	// true
	// false
}

func ExampleNewRedis() {
	// The caller owns the client; with a Cluster, each key goes to the master
	// of its own hash slot.
	client := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 []string{"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"},
		ContextTimeoutEnabled: true, // so the store's timeout bounds socket I/O
	})
	defer client.Close()

	store := dedupe.NewRedis(client,
		dedupe.WithRedisPrefix("shop:webhooks:"),
		dedupe.WithRedisTimeout(300*time.Millisecond))

	// Optionally, keep processing (at the risk of duplicates) while Redis is down.
	_ = dedupe.FailOpen(store, func(err error) {
		slog.Warn("dedupe store down, processing without dedupe", "err", err)
	})
}
