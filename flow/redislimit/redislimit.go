// Package redislimit is a flow.LimitStore on Redis: the concurrency and
// rate limits of flow.NewLimit hold across every replica sharing the Redis
// server, for each limit Name.
//
//	store := redislimit.New(rdb)
//	mux.Handle("customer.*", flow.NewLimit(crm, flow.LimitConfig{Name: "crm", MaxInFlight: 4, PerSecond: 10, Store: store}))
//
// One script admits a call atomically, on Redis's clock (TIME), so replicas
// with skewed clocks agree:
//
//   - concurrency: a sorted set of the calls in flight, each with a lease;
//     a call whose replica died before releasing it is forgotten when its
//     lease lapses (Lease, which must exceed the handler timeout);
//   - rate: a generic cell rate algorithm (one key, the theoretical arrival
//     time), allowing PerSecond on average with bursts of Burst.
//
// Keys, for a limit named "crm" with the default prefix:
//
//	hookwise:{flow:crm}:slots   sorted set of calls in flight, scored by lease end (ms)
//	hookwise:{flow:crm}:tat     the rate's theoretical arrival time (ms), expiring when idle
//
// Both share a hash tag, so on Redis Cluster they live in one slot.
//
// When Redis does not answer within CallTimeout the Limit defers the event
// (flow.ReasonUnavailable) rather than exceed the downstream's quota: events
// wait, their attempts kept, until Redis is back.
package redislimit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookwise/hookwise/flow"
	"github.com/hookwise/hookwise/internal/redisscript"
)

// Defaults of a Store.
const (
	DefaultPrefix      = "hookwise"
	DefaultLease       = 2 * time.Minute
	DefaultCallTimeout = time.Second
)

// Store is a flow.LimitStore on Redis. It is safe for concurrent use.
type Store struct {
	rdb     redis.UniversalClient
	prefix  string
	lease   time.Duration
	timeout time.Duration
}

var _ flow.LimitStore = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// Prefix sets the prefix of the keys (default DefaultPrefix).
func Prefix(p string) Option { return func(s *Store) { s.prefix = p } }

// Lease sets how long a call counts as in flight when its replica never
// releases it (it crashed): longer than the handler timeout (default
// DefaultLease).
func Lease(d time.Duration) Option { return func(s *Store) { s.lease = d } }

// CallTimeout bounds each call to Redis (default DefaultCallTimeout).
func CallTimeout(d time.Duration) Option { return func(s *Store) { s.timeout = d } }

// New returns a Store on rdb, which the caller owns.
func New(rdb redis.UniversalClient, opts ...Option) *Store {
	s := &Store{rdb: rdb, prefix: DefaultPrefix, lease: DefaultLease, timeout: DefaultCallTimeout}
	for _, o := range opts {
		o(s)
	}
	if s.lease <= 0 {
		s.lease = DefaultLease
	}
	if s.timeout <= 0 {
		s.timeout = DefaultCallTimeout
	}
	return s
}

// ErrNoName is returned by Acquire for a limit without a Name: a shared
// limit is known by its name.
var ErrNoName = errors.New("redislimit: a shared limit needs a Name")

// acquireScript admits one call.
//
//	KEYS[1]  the slots (sorted set: token → lease end, ms)
//	KEYS[2]  the theoretical arrival time (ms)
//	ARGV[1]  MaxInFlight (0: no limit)
//	ARGV[2]  the lease (ms)
//	ARGV[3]  the emission interval, 1000/PerSecond (ms, 0: no limit)
//	ARGV[4]  Burst
//	ARGV[5]  the call's token
//
// It returns {1, 0} when admitted, {0, wait ms} when the rate is spent, and
// {2, 0} when MaxInFlight calls are in flight. Nothing changes unless the
// call is admitted.
var acquireScript = redisscript.New(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max = tonumber(ARGV[1])
if max > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZCARD', KEYS[1]) >= max then
    return {2, 0}
  end
end
local interval = tonumber(ARGV[3])
if interval > 0 then
  local burst = tonumber(ARGV[4])
  local tat = tonumber(redis.call('GET', KEYS[2]) or now) or now
  if tat < now then tat = now end
  local nxt = tat + interval
  local allowed = nxt - burst * interval
  if allowed > now then
    return {0, math.ceil(allowed - now)}
  end
  redis.call('SET', KEYS[2], string.format('%.3f', nxt), 'PX', math.ceil(nxt - now) + 1000)
end
if max > 0 then
  local lease = tonumber(ARGV[2])
  redis.call('ZADD', KEYS[1], now + lease, ARGV[5])
  redis.call('PEXPIRE', KEYS[1], lease * 2)
end
return {1, 0}
`)

// Acquire admits one call under cfg, shared by every Limit with cfg.Name on
// this Redis server.
func (s *Store) Acquire(ctx context.Context, cfg flow.LimitConfig) (func(), time.Duration, string, error) {
	if cfg.Name == "" {
		return nil, 0, "", ErrNoName
	}
	burst := cfg.Burst
	var interval float64
	if cfg.PerSecond > 0 {
		interval = 1000 / cfg.PerSecond
		if burst < 1 {
			burst = 1
		}
	}
	slots, tat := s.keys(cfg.Name)
	token := rand.Text()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	res, err := acquireScript.Run(cctx, nil, s.rdb.Process, []string{slots, tat},
		cfg.MaxInFlight, s.lease.Milliseconds(), strconv.FormatFloat(interval, 'f', 6, 64), burst, token).Int64Slice()
	if err != nil {
		return nil, 0, "", fmt.Errorf("redislimit: acquire: %w", err)
	}
	if len(res) != 2 {
		return nil, 0, "", errors.New("redislimit: acquire: unexpected reply")
	}
	switch res[0] {
	case 1:
	case 2:
		return nil, cfg.RetryIn, flow.ReasonConcurrency, nil
	default:
		return nil, time.Duration(res[1]) * time.Millisecond, flow.ReasonRate, nil
	}
	if cfg.MaxInFlight <= 0 {
		return func() {}, 0, "", nil
	}
	return func() {
		// Best effort: a slot not released lapses with its lease.
		rctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		defer cancel()
		_ = s.rdb.ZRem(rctx, slots, token).Err()
	}, 0, "", nil
}

// InFlight returns how many calls of the limit named name are in flight
// across replicas (leases not lapsed).
func (s *Store) InFlight(ctx context.Context, name string) (int, error) {
	slots, _ := s.keys(name)
	ms := strconv.FormatInt(time.Now().UnixMilli(), 10)
	n, err := s.rdb.ZCount(ctx, slots, "("+ms, "+inf").Result()
	return int(n), err
}

func (s *Store) keys(name string) (slots, tat string) {
	base := s.prefix + ":{flow:" + name + "}"
	return base + ":slots", base + ":tat"
}
