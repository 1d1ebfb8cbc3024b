package redisq

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/internal/redisbatch"
	"github.com/hookwise/hookwise/internal/redisscript"
	"github.com/hookwise/hookwise/receiver/driver"
)

// DefaultOrderPrefix starts the keys of an OrderStore unless OrderPrefix
// sets another.
const DefaultOrderPrefix = "hookwise:order:"

// DefaultOrderMaxLine is the default bound of one ordering line
// (OrderMaxLine).
const DefaultOrderMaxLine = 100_000

// orderPruneMax is the most lapsed entries one call drops in bulk, and the
// most lapsed entries it then drops one by one from the front of the line,
// so that a call's work stays bounded however long the line.
const orderPruneMax = 128

// maxRawOrderKey is the longest ordering key used as it is in key names;
// a longer one (or one that is empty or holds braces) is hashed first.
const maxRawOrderKey = 128

// OrderOption configures an OrderStore.
type OrderOption func(*orderConfig)

type orderConfig struct {
	prefix  string
	timeout time.Duration
	maxLine int64
}

// OrderPrefix sets the start of the store's key names (default
// DefaultOrderPrefix). Stores that share a prefix share their lines: give
// every replica of a receiver the same one. It panics if prefix holds a
// brace, which would change the keys' hash tag.
func OrderPrefix(prefix string) OrderOption {
	if strings.ContainsAny(prefix, "{}") {
		panic(fmt.Sprintf("redisq: order prefix %q holds a brace", prefix))
	}
	return func(c *orderConfig) { c.prefix = prefix }
}

// OrderTimeout bounds every Redis call of the store (default 1s, as
// CallTimeout). For the bound to hold on a hung connection (not only on a
// refused one) the client needs ContextTimeoutEnabled, or read and write
// timeouts no longer than d. It panics if d <= 0.
func OrderTimeout(d time.Duration) OrderOption {
	if d <= 0 {
		panic("redisq: OrderTimeout expects d > 0")
	}
	return func(c *orderConfig) { c.timeout = d }
}

// OrderMaxLine bounds the entries of one line (default
// DefaultOrderMaxLine; 0: no bound): Join of a new token into a line that
// holds n entries, once lapsed ones are dropped, returns an error matching
// driver.ErrQueueFull, and the receiver answers 503. The bound is per line,
// not over all lines (a total would need one counter shared by every key,
// which Redis Cluster cannot update in the same script); the total is
// bounded by the queue's backlog, since every live entry is an event
// waiting in the queue or one that will lapse within its hold. It panics if
// n < 0.
func OrderMaxLine(n int64) OrderOption {
	if n < 0 {
		panic("redisq: OrderMaxLine expects n >= 0")
	}
	return func(c *orderConfig) { c.maxLine = n }
}

// OrderStore is a driver.OrderStore in Redis, shared by every replica whose
// store has the same client target and prefix (see receiver.WithOrdering).
// Create it with NewOrderStore.
//
// Each line is two sorted sets under one hash tag (Redis Cluster safe):
// prefix+"{"+key+"}:line", the tokens scored by the order they joined in,
// and prefix+"{"+key+"}:expiry", the same tokens scored by the server time
// (Unix ms) their hold ends. Every call is one Lua script, one round trip,
// and reads the time from the server (TIME), so replicas' clocks do not
// matter. Both keys expire (PEXPIRE) twice the longest hold given after
// their last renewal, so a line nobody comes back to vanishes.
type OrderStore struct {
	rdb     redis.UniversalClient
	batch   *redisbatch.Batcher // the client's shared one: Leave may be deferred to a queue's acknowledgement
	prefix  string
	timeout time.Duration
	maxLine int64
}

var _ driver.OrderStore = (*OrderStore)(nil)

// NewOrderStore returns an OrderStore on client, which the caller owns.
// Nothing is sent to Redis until the first call. It needs Redis 6.2 or
// later, like the queue.
func NewOrderStore(client redis.UniversalClient, opts ...OrderOption) *OrderStore {
	if client == nil {
		panic("redisq: nil client")
	}
	c := orderConfig{prefix: DefaultOrderPrefix, timeout: time.Second, maxLine: DefaultOrderMaxLine}
	for _, o := range opts {
		o(&c)
	}
	return &OrderStore{rdb: client, batch: redisbatch.Shared(client, c.timeout), prefix: c.prefix, timeout: c.timeout, maxLine: c.maxLine}
}

// Join appends token to key's line, to be dropped unless renewed within
// hold, or renews token's entry in place when it is in the line already (so
// a call go-redis re-sends after a broken connection adds nothing). It
// returns an error matching driver.ErrQueueFull when the line holds
// OrderMaxLine entries, and one matching ErrUnavailable (and
// driver.ErrQueueFull) when Redis does not answer within the timeout. An
// error does not prove the token did not join: it then lapses after hold.
func (s *OrderStore) Join(ctx context.Context, key, token string, hold time.Duration) error {
	n, err := s.run(ctx, "join", orderJoinScript, key, token, holdMillis(hold), s.maxLine, orderPruneMax)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("redisq: ordering line holds its bound of %d entries: %w", s.maxLine, driver.ErrQueueFull)
	}
	return nil
}

// Turn reports whether token is first in key's line, or not in it, after
// dropping lapsed entries (at most a few hundred a call, the earliest to
// lapse first, then from the front); it renews token's entry for hold. A
// line whose lapsed entries outnumber what one call drops answers false
// until the calls that follow have dropped them.
func (s *OrderStore) Turn(ctx context.Context, key, token string, hold time.Duration) (bool, error) {
	n, err := s.run(ctx, "turn", orderTurnScript, key, token, holdMillis(hold), orderPruneMax)
	return n == 1, err
}

// Leave removes token from key's line, wherever it is; a token not in it is
// not an error. A line left empty has no keys.
//
// Called within an attempt that a Queue on the same client runs, for the
// attempt's own claim token (the token the receiver orders an event by),
// Leave is not sent at once: the queue sends it with the entry's
// acknowledgement, in one pipeline and before it, as the dedupe store's
// Complete. A process that dies after the handler returned but before that
// pipeline leaves the entry pending with its token still first in its
// line, so the entry taken over runs again before the key's later events,
// not after them.
func (s *OrderStore) Leave(ctx context.Context, key, token string) error {
	line, expiry := s.keys(key)
	if redisbatch.Defer(ctx, s.batch, token, redisscript.Call{Script: orderLeaveScript, Keys: []string{line, expiry}, Args: []any{token}}) {
		return nil
	}
	_, err := s.run(ctx, "leave", orderLeaveScript, key, token)
	return err
}

// run runs script on key's two keys with args, within the store's timeout.
func (s *OrderStore) run(ctx context.Context, op string, script *redisscript.Script, key string, args ...any) (int64, error) {
	line, expiry := s.keys(key)
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	n, err := script.Run(cctx, nil, s.rdb.Process, []string{line, expiry}, args...).Int64()
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("redisq: ordering %s: %w", op, unavailable(err))
	}
	return n, nil
}

// keys returns the names of key's line and expiry sets. A key that is empty,
// longer than maxRawOrderKey, or holds a brace (any of which would break the
// hash tag or bloat the names) is replaced by its SHA-256 in hex; the
// receiver's keys (64 hex characters) are used as they are.
func (s *OrderStore) keys(key string) (line, expiry string) {
	if key == "" || len(key) > maxRawOrderKey || strings.ContainsAny(key, "{}") {
		h := sha256.Sum256([]byte(key))
		key = "#" + hex.EncodeToString(h[:])
	}
	base := s.prefix + "{" + key + "}:"
	return base + "line", base + "expiry"
}

// holdMillis returns hold in milliseconds, at least 1.
func holdMillis(hold time.Duration) int64 { return max(hold.Milliseconds(), 1) }

// orderLib is the Lua shared by the ordering scripts, which all take
//
//	KEYS[1]  the line: a sorted set of tokens scored by join order
//	KEYS[2]  the expiries: the same tokens scored by when their hold ends (ms)
//	ARGV[1]  the token
//
// now() is the server's time in ms. prune drops, of the entries whose hold
// ended at now or before, the limit that ended first, then up to limit
// more from the front of the line (an entry without an expiry counts as
// lapsed), so that the first entry is live unless more than 2×limit lapsed.
// keep makes both keys live at least ttl ms more.
const orderLib = `
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function drop(tokens)
  redis.call('ZREM', KEYS[1], unpack(tokens))
  redis.call('ZREM', KEYS[2], unpack(tokens))
end
local function prune(t, limit)
  local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', t, 'LIMIT', 0, limit)
  if #gone > 0 then
    drop(gone)
  end
  for _ = 1, limit do
    local first = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
    if not first then
      return
    end
    local e = redis.call('ZSCORE', KEYS[2], first)
    if e and tonumber(e) > t then
      return
    end
    drop({first})
  end
end
local function keep(ttl)
  for _, k in ipairs(KEYS) do
    if redis.call('PTTL', k) < ttl then
      redis.call('PEXPIRE', k, ttl)
    end
  end
end
`

// orderJoinScript adds a token to the end of a line, or renews it in place.
//
//	ARGV[2]  the hold in ms
//	ARGV[3]  the bound of the line (0: none)
//	ARGV[4]  the most lapsed entries to drop (see prune)
//
// It returns 1, or 0 when the token is new and the line holds the bound
// after lapsed entries were dropped. A new token's score is one more than
// the last's, so the order is the order of the calls as Redis ran them.
var orderJoinScript = redisscript.New(orderLib + `
local t = now()
local hold = tonumber(ARGV[2])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[2], t + hold, ARGV[1])
  keep(2 * hold)
  return 1
end
prune(t, tonumber(ARGV[4]))
local bound = tonumber(ARGV[3])
if bound > 0 and redis.call('ZCARD', KEYS[1]) >= bound then
  return 0
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local seq = 1
if last[2] then
  seq = tonumber(last[2]) + 1
end
redis.call('ZADD', KEYS[1], seq, ARGV[1])
redis.call('ZADD', KEYS[2], t + hold, ARGV[1])
keep(2 * hold)
return 1
`)

// orderTurnScript answers whether a token may run now.
//
//	ARGV[2]  the hold in ms
//	ARGV[3]  the most lapsed entries to drop (see prune)
//
// It returns 1 when the token is first in the line, or not in it (its own
// hold ended, whether or not prune reached it, counts as not in it), else
// 0; it renews a token it finds live.
var orderTurnScript = redisscript.New(orderLib + `
local t = now()
local hold = tonumber(ARGV[2])
prune(t, tonumber(ARGV[3]))
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 1
end
local e = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not e or tonumber(e) <= t then
  drop({ARGV[1]})
  return 1
end
redis.call('ZADD', KEYS[2], t + hold, ARGV[1])
keep(2 * hold)
if redis.call('ZRANGE', KEYS[1], 0, 0)[1] == ARGV[1] then
  return 1
end
return 0
`)

// orderLeaveScript removes a token from a line; Redis deletes a sorted set
// left empty. It returns 1.
var orderLeaveScript = redisscript.New(orderLib + `
drop({ARGV[1]})
return 1
`)
