// Package redisq is a durable driver.Queue on Redis Streams, with a
// dead-letter store beside it, for receivers that run on several replicas or
// must not lose an acknowledged event when a process dies.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
//	q := redisq.New(rdb, redisq.Consumer(os.Getenv("POD_NAME")))
//	dl := redisq.NewDeadLetters(rdb)
//	// receiver.WithQueue(q), receiver.WithDeadLetters(dl).
//	// On exit: srv.Shutdown (stop intake), rc.Shutdown (it shuts q down), then rdb.Close.
//	// Never call q.Shutdown yourself: the receiver owns the queue it was given.
//
// # Guarantees
//
// Enqueue returns nil only after Redis added the entry, so an event the
// receiver acknowledged is in Redis (as durable as Redis is configured to be:
// use appendonly with appendfsync always or everysec, and replicas). If Redis
// is down or slow, Enqueue fails within the call timeout with an error
// matching driver.ErrQueueFull, and the sender is told to retry.
//
// Enqueue adds the entry with a script keyed by the event's claim token: a
// script that go-redis re-sends after a broken connection, when Redis had
// applied the first send, finds the token's key and adds nothing. The key
// lives ten call timeouts (at least 10 s), longer than any re-send. An Enqueue
// that failed may still have added its entry (its reply was lost); the
// receiver then releases its claim only while it is admitted
// (dedupe.AdmittedReleaser), so that the sender's retry is processed. A
// claim a worker confirmed, having taken the stored entry, stays: the retry
// is then a duplicate. Should both copies be queued, the worker that takes
// either checks the event's dedupe key first, so only one of them runs.
//
// On a single Redis server (a *redis.Client), when the receiver's dedupe
// store is a dedupe.Redis on the queue's own client, the receiver leaves the
// request path's claim to the queue (driver.ClaimingQueue): the enqueue
// script claims the event's dedupe key, exactly as the store's Claim would,
// and adds the entry only if the claim was taken, both in one atomic step and
// one round trip. A key confirmed by another delivery or done makes Enqueue
// return driver.ErrDuplicate (the receiver answers 2xx) and one admitted by
// another delivery an error matching driver.ErrPending (503); neither adds
// anything. The claim is then also the call's idempotency key (no ":enq:"
// key is written): a re-sent script finds the key held by its own token and
// adds nothing. On Redis Cluster the dedupe key and the stream are in
// different slots, so the receiver claims the key in a round trip of its own
// first.
//
// Every event is handed to the processor at least once, and normally exactly
// once: each stream entry goes to one consumer of the group, and is deleted
// when the processor finishes with it. A retry acknowledges the entry and
// schedules the next attempt in one atomic script, so the event is never
// both pending and scheduled, nor neither. An event is handed over again
// only when its attempt did not finish: the instance crashed, lost Redis
// while acknowledging, or was shut down before the handler returned.
// Handlers must therefore be idempotent, as for any at-least-once queue.
//
// The attempt count travels in the entry, and a scheduled retry lives in
// Redis, so both survive a restart of every instance. An attempt cut short
// by a crash is not counted: the event is handed over again with the same
// Attempt, so an event that crashes its process every time is retried
// forever; handlers should not crash the process.
//
// The queue needs Redis 6.2 or later (XAUTOCLAIM), and a client whose
// timeouts fit CallTimeout (ContextTimeoutEnabled, as above).
//
// # Keys
//
// With the default stream name "hookwise:{events}:stream" the queue uses:
//
//	hookwise:{events}:stream             the stream: entries not yet done
//	hookwise:{events}:stream:delayed     sorted set of scheduled retries, scored by due time (ms)
//	hookwise:{events}:stream:enq:<token> the entry ID added for a claim token (Enqueue, unless the queue claims), for 10 s or more
//	hookwise:{events}:stream:dead        hash of dead letters by "provider:key" (DeadLetters; key as DeadLetter.Key)
//	hookwise:{events}:stream:dead:order  sorted set of dead letters by failure time
//
// All share the hash tag "{events}", so on Redis Cluster they live in one
// slot, on one node, and the scripts that use two of them at once are
// legal. A stream name without a hash tag gets one for the companion keys
// ("orders" → "{orders}:delayed"), which hashes to the stream's own slot.
//
// The consumer group (default "hookwise") is created with MKSTREAM on Start,
// reading from the stream's start, so events enqueued before the first Start
// are delivered. Each instance needs a consumer name that is unique among
// the running ones and stable across its restarts (see Consumer).
//
// # Processing
//
// One reader per Queue fetches with XREADGROUP as many entries as it has idle
// workers plus room to read ahead (Prefetch, by default four per
// worker): while the workers run what was read ahead, the reader waits
// until one read can fetch that many again, so that under load a read brings
// many entries rather than one per freed worker. Entries read ahead are
// delivered to this consumer and covered by its heartbeat; those not started
// when Shutdown ends stay pending, like any entry in flight. After a read
// that empties the stream, the reader waits a millisecond before the next,
// so that new entries gather.
//
// Concurrent calls share round trips: Enqueue's script, the workers'
// commands and those of a dedupe.Redis store on the same client (one
// batcher per client in the process) go out in pipelines holding every such
// command queued while the previous pipeline was in flight (at most 256), so
// Redis reads, writes and, with appendfsync always, fsyncs once for many of
// them. The caller that finds no pipeline in flight sends one at once.
//
// Workers do not wait for their acknowledgements: a worker hands its
// finished attempt to the queue's finisher and starts on the next entry. The
// finisher sends what was handed to it while its previous pipeline was in
// flight in one pipeline: first the dedupe completions those attempts
// deferred (a dedupe.Redis store on the same client leaves the Complete of an
// attempt's own claim to the queue; on a single-node client, all of them in
// one script call), then one XACK and XDEL for every acknowledged entry,
// then the retries. A lone attempt is sent at once: nothing waits for a
// batch to fill. Until its acknowledgement succeeded, an entry keeps its
// worker slot (no more entries are read for it) and its heartbeat; the
// finisher retries it through a Redis outage, however long, until Shutdown
// begins (then for up to the visibility timeout), so that a handled event
// whose completion could not be sent is not run again once Redis is back.
//
// Entries are written in a compact format (format 2): the event in one
// binary field and the attempt in another, every Event field kept byte for
// byte (Target and Meta included). Entries of the earlier format (one field
// per Event field, headers in JSON), left by an older release, are still
// read, and their retries keep their format. Older releases cannot read
// format 2: see EntryFormat for a rolling upgrade.
// A Retry result runs a script that acknowledges the entry, deletes it, and
// adds it with Attempt+1 (unchanged with Result.KeepAttempt, a deferral) to
// the delayed set, due after Result.Delay by the
// server's clock; every poll interval a mover script puts due retries back
// on the stream as new entries. Entries pending on a consumer for longer than
// the visibility timeout (it crashed) are taken over with XAUTOCLAIM. While a
// handler runs, a heartbeat (XCLAIM … JUSTID to itself) resets its entries'
// idle time, so a slow handler is not taken over; the visibility timeout only
// bounds how soon a dead instance's work resumes. An entry that does not
// decode as an event (see ErrMalformedEntry) goes to the Processor's Abandon,
// to be dead-lettered, and is acknowledged.
//
// # Length
//
// The stream is never trimmed: an entry is deleted (XDEL) when it is
// acknowledged, so the stream holds exactly the entries not yet done, and
// no trimming can drop one of those. MaxLen (default DefaultMaxLen) bounds
// that backlog, the stream's entries plus the retries scheduled in the
// delayed set, by refusing new events instead: the sender is answered 503 and
// retries. Use the stream for this queue only: other consumer groups would
// see entries vanish once this group is done with them.
//
// Dead letters are bounded by MaxDeadLetters (default DefaultMaxDeadLetters):
// a full store refuses a new one with driver.ErrDeadLettersFull, and the
// receiver keeps the event queued until there is room. An entry and a dead
// letter carry the delivery's headers as the receiver kept them (credentials
// and hop-by-hop headers dropped, see receiver.WithHeaders), bounded by the
// HTTP server's MaxHeaderBytes; an entry's leave Redis when it is
// acknowledged, a dead letter's when it is replayed or deleted.
//
// # Throughput and partitioning
//
// One stream lives on one Redis node and is served by one Redis thread; with
// appendfsync always a single stream takes a few tens of thousands of small
// XADDs per second (see BenchmarkEnqueue). To go beyond, NewPartitioned
// spreads events over n streams whose hash tags differ
// ("hookwise:{events-0}:stream", "hookwise:{events-1}:stream", …), which a
// Cluster places on different nodes. The partition is chosen by a hash of
// the event's provider and ID, so redeliveries of one event meet in one
// partition. Every instance reads every partition. Order between events was
// never promised, so partitioning loses nothing. Dead letters stay in one
// store (NewDeadLetters with the base stream name).
//
// # Per-key ordering
//
// NewOrderStore returns a driver.OrderStore (receiver.WithOrdering) that
// every replica sharing the Redis and the prefix (default
// "hookwise:order:") sees alike. A line is two sorted sets under one hash
// tag, the ordering key (Cluster safe):
//
//	hookwise:order:{<key>}:line    tokens scored by the order they joined
//	hookwise:order:{<key>}:expiry  the same tokens scored by when their hold ends (server ms)
//
// Join, Turn and Leave are one Lua script each, one round trip, timed by
// the server's clock (TIME). Join of a token already in line renews it in
// place, so a Join go-redis re-sends after a broken connection adds nothing.
// Turn drops lapsed entries, a bounded number per call (the earliest to
// lapse, then from the front), so a line of thousands costs no more than
// O(log n) per entry touched; a lapsed entry anywhere in the line never
// holds back those behind it once it is dropped. Both keys expire twice the
// longest hold after their last renewal, and vanish when the line empties.
// OrderMaxLine (default DefaultOrderMaxLine) bounds each line; a Join beyond
// it, or a Redis that does not answer within OrderTimeout (error matching
// ErrUnavailable), matches driver.ErrQueueFull, and the receiver answers 503.
package redisq
