package dedupe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/internal/redisbatch"
	"github.com/hookwise/hookwise/internal/redisclaim"
	"github.com/hookwise/hookwise/internal/redisscript"
)

// Defaults of a Redis store.
const (
	DefaultRedisPrefix  = "hookwise:dedupe:"
	DefaultRedisTimeout = 500 * time.Millisecond
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
// Each delivery key is one Redis string named by the prefix followed by 32
// lowercase hex digits: the first 16 bytes of the SHA-256 digest of the key.
// The name's length is therefore fixed whatever the event ID, and an
// attacker who chooses IDs can neither make a huge key nor choose the key's
// Cluster slot (no brace can appear after the prefix). Its value is
// "a:<token>" while admitted, "c:<token>" once confirmed, and "d" when done;
// Redis expires it itself after the lease or retention, rounded up to whole
// milliseconds. Keys written by releases before claim tokens (the key in
// clear, "processing" or "done") are not read.
//
// Each operation is one Lua script on its one key (so it runs atomically,
// and on Redis Cluster on the key's own node): Claim admits the key with SET
// PX only if it is absent, and otherwise reads who holds it; Confirm, Complete
// and Release compare the value's token before they SET or DEL. Running a
// script again with the same arguments, as go-redis does when a connection
// drops before the reply, answers the same: a Claim re-run by its own token
// is Claimed, not a duplicate of itself. Scripts go out with EVALSHA, and
// with EVAL of their source once when a server answers NOSCRIPT (after a
// restart, a SCRIPT FLUSH, or on a Cluster node that never ran them).
//
// Because no script touches more than one key, the store works unchanged on
// Redis Cluster without hash tags: each key lives in the hash slot of its own
// name (CRC16 of the whole name, modulo 16384), so the keys of different
// events spread over all masters. Do not put braces in the prefix: a hash tag
// such as "{hookwise}:" would send every key to one slot and one master.
//
// Calls made at the same time share round trips: a command sent while
// another is in flight waits for it, then goes out in one pipeline with every
// other command queued meanwhile (at most 256), so that under load the store
// costs Redis a fraction of a read, a write and an fsync per call. The
// pipelines are shared with every other user of the same client in this
// process (a redisq.Queue on it included). A client that has no Pipeline
// method gets one command per call.
//
// Complete called by a receiver within an attempt that a redisq.Queue on the
// same client runs, for the attempt's own claim token (the queue says so in
// the attempt's context), is not sent at once: the queue sends it with the
// entry's acknowledgement, in one pipeline and before it, with those of the
// other entries finished meanwhile, and Complete returns nil at once. The
// queue retries that pipeline until the acknowledgement succeeds, and logs a
// Complete that fails; a copy of the entry left pending by a crash before
// the pipeline ran finds the key confirmed by its own token and runs again,
// as it would had the crash come before Complete.
//
// On a single Redis server, a redisq.Queue on the same client that the
// receiver lets claim keys (driver.ClaimingQueue) claims them in its enqueue
// script, in this store's format, and confirms the claims of the entries it
// reads for the lease before its workers take them: Confirm called within
// such an attempt for its own token is then answered true once, without a
// call.
//
// Every call is bounded by the store's timeout (WithRedisTimeout), within
// the caller's context, the NOSCRIPT fallback included. go-redis applies a
// context deadline to socket reads and writes only when the client's
// ContextTimeoutEnabled option is set; without it, a server that stops
// answering holds a call for the client's ReadTimeout (5s by default in
// go-redis v9.23), so set ContextTimeoutEnabled or a short ReadTimeout. A
// failure returns a *StoreError matching ErrUnavailable, except that when
// the caller's context is done, its error is returned as is. A Claim that
// fails may still have admitted the key (the reply was lost): it then holds
// only until the admission lease lapses, and a retry of the same delivery
// attempt with the same token is Claimed. A failed Confirm leaves the
// admission lease to lapse, and a failed Complete the claim, after which a
// redelivery is processed again. When the store is down, Claim does not
// report a key as taken; wrap the store in FailOpen to process deliveries
// anyway.
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
		r.batch = redisbatch.Shared(p, r.timeout)
	}
	return r
}

func init() {
	redisclaim.Register(func(store any) (redisclaim.Store, bool) {
		r, ok := store.(*Redis)
		if !ok {
			return redisclaim.Store{}, false
		}
		return redisclaim.Store{Client: r.client, Key: r.redisKey}, true
	})
}

// Claim admits key for token for lease; see Store and claimScript.
func (r *Redis) Claim(ctx context.Context, key, token string, lease time.Duration) (Outcome, error) {
	if token == "" {
		return 0, ErrInvalidToken
	}
	if lease <= 0 {
		return 0, ErrInvalidDuration
	}
	n, err := r.run(ctx, "claim", claimScript, key, token, ceilMs(lease).Milliseconds())
	if err != nil {
		return 0, err
	}
	if o := Outcome(n); n == int64(o) && o >= Claimed && o <= Duplicate {
		return o, nil
	}
	return 0, &StoreError{Op: "redis claim", Err: errUnexpectedReply}
}

// Confirm extends token's claim of key to lease from now; see Store and
// confirmScript.
func (r *Redis) Confirm(ctx context.Context, key, token string, lease time.Duration) (bool, error) {
	if token == "" {
		return false, ErrInvalidToken
	}
	if lease <= 0 {
		return false, ErrInvalidDuration
	}
	if r.batch != nil && redisbatch.TakeConfirmed(ctx, r.batch, token) {
		return true, nil // confirmed by the queue's read of the entry, for the same lease
	}
	n, err := r.run(ctx, "confirm", confirmScript, key, token, ceilMs(lease).Milliseconds())
	return n == 1, err
}

// Complete marks key done for retention unless another token holds it; see
// Store and completeScript.
func (r *Redis) Complete(ctx context.Context, key, token string, retention time.Duration) error {
	if retention <= 0 {
		return ErrInvalidDuration
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.batch != nil && redisbatch.Defer(ctx, r.batch, token, redisscript.Call{
		Script: completeScript,
		Keys:   []string{r.redisKey(key)},
		Args:   []any{token, ceilMs(retention).Milliseconds()},
	}) {
		return nil
	}
	_, err := r.run(ctx, "complete", completeScript, key, token, ceilMs(retention).Milliseconds())
	return err
}

// Release forgets key if token holds it, or whatever holds it if token is
// empty; see Store and releaseScript.
func (r *Redis) Release(ctx context.Context, key, token string) error {
	_, err := r.run(ctx, "release", releaseScript, key, token)
	return err
}

// ReleaseAdmitted forgets key if token holds it admitted; see
// AdmittedReleaser and releaseAdmittedScript.
func (r *Redis) ReleaseAdmitted(ctx context.Context, key, token string) error {
	if token == "" {
		return ErrInvalidToken
	}
	_, err := r.run(ctx, "release", releaseAdmittedScript, key, token)
	return err
}

// redisKey returns the Redis key of key: the prefix and the hex of the first
// 16 bytes of its SHA-256 digest.
func (r *Redis) redisKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return r.prefix + hex.EncodeToString(sum[:16])
}

// run runs script on key's Redis key with args within the store's timeout
// (batched with concurrent calls when the client can pipeline, on its own
// otherwise) and returns its integer reply.
func (r *Redis) run(ctx context.Context, op string, script *redisscript.Script, key string, args ...any) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	cctx := ctx
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > r.timeout {
		// No timer when the caller's deadline is the nearer one already.
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	var do redisscript.Do
	if r.batch != nil {
		do = r.batch.Do
	}
	n, err := script.Run(cctx, do, r.client.Process, []string{r.redisKey(key)}, args...).Int64()
	if err != nil {
		return 0, r.fail(ctx, op, err)
	}
	return n, nil
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

// errUnexpectedReply is the backend error of a script reply the store does
// not know; it names no key or value.
var errUnexpectedReply = errors.New("unexpected script reply")

// The scripts of the store. Each touches only KEYS[1], the delivery's Redis
// key; ARGV[1] is the claim token. A value is "a:<token>" (admitted),
// "c:<token>" (confirmed) or "d" (done); any other value is taken as another
// token's admitted claim, which is the safe reading: Claim answers Pending,
// and the conditional calls leave it alone.

// claimScript admits the key for a token.
//
//	ARGV[1]  the token (not empty)
//	ARGV[2]  the admission lease in milliseconds (> 0)
//
// It returns 1 (Claimed): the key was absent and is now admitted by the
// token, or the token already held it (unchanged, its lease not shortened);
// 2 (Pending): another token admitted it; 3 (Duplicate): another token
// confirmed it, or it is done.
var claimScript = redisscript.New(redisclaim.ClaimLua("1", "1") + `if admit then
  ` + redisclaim.AdmitLua("1", "1", "2") + `end
return claim
`)

// confirmScript turns the token's claim into a confirmed one.
//
//	ARGV[1]  the token (not empty)
//	ARGV[2]  the lease in milliseconds (> 0)
//
// It returns 1 when the token held the key, which is now confirmed for the
// lease, and 0, changing nothing, otherwise.
var confirmScript = redisscript.New(redisclaim.ConfirmLua("1", "1", "2") + `if confirmed then
  return 1
end
return 0
`)

// completeScript marks keys done, each as a call with that key alone
// would; calls of it merge (redisscript.Merge).
//
//	KEYS[i]       a key
//	ARGV[2i-1]    the token, or empty for "whatever holds the key"
//	ARGV[2i]      the retention in milliseconds (> 0)
//
// A key is now done for the retention when the token held it, nobody did,
// or the token is empty; it is left as it is when done already or held by
// another token. It returns how many keys it marked: for one key, 1 or 0.
var completeScript = redisscript.NewPerKey(`
local n = 0
for i, key in ipairs(KEYS) do
  local token = ARGV[2 * i - 1]
  local v = false
  if token ~= '' then
    v = redis.call('GET', key)
  end
  if not v or v == 'a:' .. token or v == 'c:' .. token then
    redis.call('SET', key, 'd', 'PX', ARGV[2 * i])
    n = n + 1
  end
end
return n
`, 2)

// releaseScript forgets the key.
//
//	ARGV[1]  the token, or empty for "whatever holds the key"
//
// It returns 1 when it deleted the key: the token held it (admitted or
// confirmed), or the token is empty and the key existed; 0 otherwise.
var releaseScript = redisscript.New(`
if ARGV[1] ~= '' then
  local v = redis.call('GET', KEYS[1])
  if v ~= 'a:' .. ARGV[1] and v ~= 'c:' .. ARGV[1] then
    return 0
  end
end
return redis.call('DEL', KEYS[1])
`)

// releaseAdmittedScript forgets the key while ARGV[1], the token, holds it
// admitted. It returns 1 when it deleted the key, 0 otherwise.
var releaseAdmittedScript = redisscript.New(`
if redis.call('GET', KEYS[1]) ~= 'a:' .. ARGV[1] then
  return 0
end
return redis.call('DEL', KEYS[1])
`)
