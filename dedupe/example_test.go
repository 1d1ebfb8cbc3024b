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

	// Each delivery attempt draws a token. The first delivery is admitted
	// for a short lease; a re-run of its own claim still holds the key, and
	// a concurrent copy is told to retry later.
	first, other := dedupe.NewToken(), dedupe.NewToken()
	o1, _ := store.Claim(ctx, key, first, 10*time.Second)
	again, _ := store.Claim(ctx, key, first, 10*time.Second)
	o2, _ := store.Claim(ctx, key, other, 10*time.Second)
	fmt.Println(o1, again, o2)

	// The event is queued: confirm the claim for the full lease. From now
	// on a copy is a duplicate.
	ok, _ := store.Confirm(ctx, key, first, time.Hour)
	o2, _ = store.Claim(ctx, key, other, 10*time.Second)
	fmt.Println(ok, o2)

	// The handler failed: release, so that the sender's retry is processed.
	_ = store.Release(ctx, key, first)
	retry := dedupe.NewToken()
	o3, _ := store.Claim(ctx, key, retry, 10*time.Second)
	fmt.Println(o3)

	// The handler succeeded: remember the event for three days. A late call
	// of the first attempt cannot undo it.
	_ = store.Complete(ctx, key, retry, 72*time.Hour)
	_ = store.Release(ctx, key, first)
	o4, _ := store.Claim(ctx, key, dedupe.NewToken(), 10*time.Second)
	fmt.Println(o4)
	// Output:
	// claimed claimed pending
	// true duplicate
	// claimed
	// duplicate
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
