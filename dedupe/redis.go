package dedupe

import (
	"context"
	"reflect"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/internal/redisbatch"
)

// Defaults of a Redis store.
const (
	DefaultRedisPrefix  = "hookwise:dedupe:"
	DefaultRedisTimeout = 500 * time.Millisecond
)

// Values a Redis store writes under a key.
const (
	redisProcessing = "processing"
	redisDone       = "done"
)

// RedisClient is the part of a go-redis client that a Redis store uses.
// *redis.Client, *redis.ClusterClient, *redis.Ring and redis.UniversalClient
// satisfy it.
type RedisClient interface {
	Process(ctx context.Context, cmd redis.Cmder) error
}

var (
	_ RedisClient = (*redis.Client)(nil)
	_ RedisClient = (*redis.ClusterClient)(nil)
	_ RedisClient = (*redis.Ring)(nil)
	_ RedisClient = redis.UniversalClient(nil)
)

// Redis is a Store that keeps its keys in Redis, so that every replica of a
// receiver sees the same claims. It is safe for concurrent use and owns no
// goroutine or connection: the caller builds, configures (addresses,
// credentials, TLS, retries) and closes the client.
//
// Each delivery key is one Redis string, the prefix followed by the key:
// Claim is a single atomic SET key processing NX PX lease, Complete a SET key
// done PX retention (unconditional, so it also marks a key whose claim has
// lapsed or been taken again), and Release a DEL. Redis expires the keys
// itself; leases and retentions are rounded up to whole milliseconds.
//
// Because no command touches more than one key, the store works unchanged on
// Redis Cluster without hash tags: each key lives in the hash slot of its own
// name (CRC16 of the whole name, modulo 16384), so the keys of different
// events spread over all masters. Do not put braces in the prefix: a hash tag
// such as "{hookwise}:" would send every key to one slot and one master.
//
// Calls made at the same time share round trips: a command sent while
// another is in flight waits for it, then goes out in one pipeline with every
// other command queued meanwhile (at most 256), so that under load the store
// costs Redis a fraction of a read, a write and an fsync per call. A client
// that has no Pipeline method gets one command per call.
//
// Every command is bounded by the store's timeout (WithRedisTimeout), within
// the caller's context. go-redis applies a context deadline to socket reads
// and writes only when the client's ContextTimeoutEnabled option is set;
// without it, a server that stops answering holds a call for the client's
// ReadTimeout (5s by default in go-redis v9.23), so set ContextTimeoutEnabled
// or a short ReadTimeout. A failure returns a *StoreError matching
// ErrUnavailable, except that when the caller's context is done, its error is
// returned as is. A Claim that fails may still have taken the key (the reply
// was lost), which then holds until its lease lapses; a failed Complete leaves
// the claim to lapse, so a redelivery is processed again. When the store is
// down, Claim does not report a key as taken; wrap the store in FailOpen to
// process deliveries anyway.
type Redis struct {
	client  RedisClient
	batch   *redisbatch.Batcher // nil when client cannot pipeline
	prefix  string
	timeout time.Duration
}

// RedisOption configures a Redis store.
type RedisOption func(*Redis)

// WithRedisPrefix sets the prefix of every Redis key the store writes; the
// default is DefaultRedisPrefix. Use distinct prefixes for receivers that
// share a Redis but not their events.
func WithRedisPrefix(prefix string) RedisOption {
	return func(r *Redis) { r.prefix = prefix }
}

// WithRedisTimeout bounds each Redis call, retries included; the default is
// DefaultRedisTimeout. It panics if d is not positive.
func WithRedisTimeout(d time.Duration) RedisOption {
	if d <= 0 {
		panic("dedupe: WithRedisTimeout expects a positive duration")
	}
	return func(r *Redis) { r.timeout = d }
}

// NewRedis returns a store that uses client. It panics if client is nil.
func NewRedis(client RedisClient, opts ...RedisOption) *Redis {
	if v := reflect.ValueOf(client); client == nil || v.Kind() == reflect.Pointer && v.IsNil() {
		panic("dedupe: NewRedis expects a non-nil client")
	}
	r := &Redis{client: client, prefix: DefaultRedisPrefix, timeout: DefaultRedisTimeout}
	for _, o := range opts {
		o(r)
	}
	if p, ok := client.(redisbatch.Client); ok {
		r.batch = redisbatch.New(p, r.timeout, redisbatch.DefaultMaxBatch, redisbatch.DefaultMaxInFlight)
	}
	return r
}

// Claim takes key for lease with SET NX PX.
func (r *Redis) Claim(ctx context.Context, key string, lease time.Duration) (bool, error) {
	if lease <= 0 {
		return false, ErrInvalidDuration
	}
	cmd := redis.NewBoolCmd(ctx, "set", r.prefix+key, redisProcessing, "px", ceilMs(lease).Milliseconds(), "nx")
	if err := r.do(ctx, "claim", cmd); err != nil {
		return false, err
	}
	return cmd.Val(), nil
}

// Complete marks key done for retention with SET PX.
func (r *Redis) Complete(ctx context.Context, key string, retention time.Duration) error {
	if retention <= 0 {
		return ErrInvalidDuration
	}
	return r.do(ctx, "complete", redis.NewStatusCmd(ctx, "set", r.prefix+key, redisDone, "px", ceilMs(retention).Milliseconds()))
}

// Release forgets key with DEL.
func (r *Redis) Release(ctx context.Context, key string) error {
	return r.do(ctx, "release", redis.NewIntCmd(ctx, "del", r.prefix+key))
}

// do runs cmd within the store's timeout: batched with concurrent calls when
// the client can pipeline, on its own otherwise.
func (r *Redis) do(ctx context.Context, op string, cmd redis.Cmder) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var err error
	if r.batch != nil {
		err = r.batch.Do(cctx, cmd)
	} else {
		err = r.client.Process(cctx, cmd)
	}
	if err != nil {
		return r.fail(ctx, op, err)
	}
	return nil
}

// fail returns the caller's context error when its context is done, and
// otherwise wraps err, which the store's own timeout may have caused. A
// socket deadline taken from the caller's deadline can fire a moment before
// the context reports it, hence the check of the deadline itself.
func (r *Redis) fail(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return &StoreError{Op: "redis " + op, Err: err}
}

// ceilMs rounds d up to a whole number of milliseconds, the precision of PX,
// so that a lease is never cut short. Whole seconds stay whole seconds.
func ceilMs(d time.Duration) time.Duration {
	if r := d % time.Millisecond; r != 0 {
		d += time.Millisecond - r
	}
	return d
}
