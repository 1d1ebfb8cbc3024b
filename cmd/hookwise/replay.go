package main

import (
	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/redisq"
)

// redisReplayer returns the receiver.Replayer of a redisq receiver's
// stream: its queue (redisq.New, not started: the receiver consuming the
// stream handles the replayed event), its dedupe store (whose mark for the
// event Replay releases, so that the worker does not skip it as done) and
// its dead-letter store.
func redisReplayer(rdb *redis.Client, stream string, store dedupe.Store) receiver.Replayer {
	return receiver.Replayer{
		Queue:       redisq.New(rdb, redisq.Stream(stream)),
		Store:       store,
		DeadLetters: redisq.NewDeadLetters(rdb, redisq.Stream(stream)),
	}
}
