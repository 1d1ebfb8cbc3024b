package redisq

import (
	"github.com/hookwise/hookwise/internal/redisclaim"
	"github.com/hookwise/hookwise/internal/redisscript"
)

// Every script touches only the keys it is given, which share one hash tag,
// so each runs on one Cluster node. Times come from the server's clock
// (TIME), so instances with skewed clocks agree on when a retry is due.
// Enqueue's and the workers' scripts run with EVALSHA in the queue's shared
// pipelines (redisscript.Script.Run through q.batch.Do), the others on their
// own; both send the source once when the server answers NOSCRIPT.

// enqueueScript adds an entry once per delivery attempt, unless the backlog
// is at its bound.
//
//	KEYS[1]  the stream
//	KEYS[2]  the delayed set
//	KEYS[3]  the delivery's idempotency key (the stream's hash tag, ":enq:"
//	         and the event's claim token)
//	ARGV[1]  the bound on stream entries plus scheduled retries (0: none)
//	ARGV[2]  how long the idempotency key lives, in milliseconds
//	ARGV[3…] field, value, …
//
// It returns the entry ID: a new one, or, when the idempotency key exists,
// the one an earlier run of the same call added. go-redis re-sends a command
// whose connection broke before the reply, and Redis may have applied the
// first send: the re-sent script then adds nothing. It returns false when
// the backlog is full.
var enqueueScript = redisscript.New(`
local id = redis.call('GET', KEYS[3])
if id then
  return id
end
` + boundLua + `id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3))
redis.call('SET', KEYS[3], id, 'PX', ARGV[2])
return id
`)

// boundLua returns false from a script when the backlog (stream entries
// plus scheduled retries, KEYS[1] and KEYS[2]) is at ARGV[1] (0: no bound).
const boundLua = `local bound = tonumber(ARGV[1])
if bound > 0 and redis.call('XLEN', KEYS[1]) + redis.call('ZCARD', KEYS[2]) >= bound then
  return false
end
`

// enqueueClaimScript is enqueueScript that also claims the event's dedupe
// key, as the dedupe store's claim script does (redisclaim.ClaimLua), and
// adds the entry only when the claim was taken; it runs only on a single
// Redis server (the dedupe key is in a slot of its own).
//
//	KEYS[1…2] as enqueueScript's
//	KEYS[3]   the dedupe key (the store's Redis key of the event's key)
//	ARGV[1]   as enqueueScript's
//	ARGV[2]   the delivery's claim token (new for each delivery)
//	ARGV[3]   the admission lease in milliseconds
//	ARGV[4…]  field, value, …
//
// It needs no idempotency key of its own: the claim is one. The script
// admits the key for the token in the step that adds the entry, and nothing
// else admits a new delivery's token, so a key the token already holds
// (admitted, or confirmed since by the entry's reader) means that an earlier
// run of the same call, which go-redis re-sent after a broken connection,
// added the entry: the script then adds nothing and returns claimHeld.
//
// It returns the new entry's ID, false when the backlog is full, or, adding
// nothing, claimHeld, claimPending or claimDuplicate.
var enqueueClaimScript = redisscript.New(redisclaim.ClaimLua("3", "2") + `if claim ~= 1 then
  return claim
elseif not admit then
  return 1
end
` + boundLua + `local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 4))
` + redisclaim.AdmitLua("3", "2", "3") + `return id
`)

// The outcomes enqueueClaimScript returns instead of a new entry ID:
// claimHeld when an earlier run of the same call added the entry, and those
// of dedupe.Pending and dedupe.Duplicate.
const (
	claimHeld      = 1
	claimPending   = 2
	claimDuplicate = 3
)

// confirmAheadScript confirms the dedupe claims of entries just read, as the
// dedupe store's Confirm of each would (redisclaim.ConfirmLua), in one call:
// the reader sends it before it hands the entries to the workers, so that an
// attempt does not wait for a Confirm of its own. It runs only on a single
// Redis server (the keys are in slots of their own).
//
//	KEYS[i]      an entry's dedupe key (the store's Redis key of it)
//	ARGV[2i-1]   the entry's claim token
//	ARGV[2i]     the lease in milliseconds
//
// It returns, for each key in order, 1 when the token held it (now confirmed
// for the lease) and 0 otherwise.
var confirmAheadScript = redisscript.New(`
local out = {}
for i = 1, #KEYS do` + redisclaim.ConfirmLua("i", "2 * i - 1", "2 * i") + `  out[i] = confirmed and 1 or 0
end
return out
`)

// ackScript acknowledges and deletes entries, so that the stream holds only
// entries not yet done.
//
//	KEYS[1]  the stream
//	ARGV[1]  the group
//	ARGV[2…] entry IDs
//
// It returns how many entries were still pending.
var ackScript = redisscript.New(`
local n = redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 2))
redis.call('XDEL', KEYS[1], unpack(ARGV, 2))
return n
`)

// retryScript acknowledges an entry and schedules its next attempt in one
// step, so the event is never both pending and scheduled, nor neither.
//
//	KEYS[1]  the stream
//	KEYS[2]  the delayed set
//	ARGV[1]  the group
//	ARGV[2]  the entry ID
//	ARGV[3]  the delay in milliseconds
//	ARGV[4…] the next attempt's field, value, …
//
// The member is a MessagePack array of the entry ID (unique, so equal events
// never collapse) and the fields. It returns 1, or 0 when the entry was no
// longer pending: another consumer that had reclaimed it already finished
// it, and scheduling a second retry would duplicate the event.
var retryScript = redisscript.New(`
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('XDEL', KEYS[1], ARGV[2])
local t = redis.call('TIME')
local due = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
local m = {ARGV[2]}
for i = 4, #ARGV do m[#m + 1] = ARGV[i] end
redis.call('ZADD', KEYS[2], due, cmsgpack.pack(m))
return 1
`)

// moveScript moves due retries from the delayed set back to the stream.
//
//	KEYS[1]  the stream
//	KEYS[2]  the delayed set
//	ARGV[1]  the most to move
//
// It returns {moved, unreadable}: members that do not decode are removed and
// counted, since no later call could move them either.
var moveScript = redisscript.New(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local moved, bad = 0, 0
for _, m in ipairs(due) do
  local ok, f = pcall(cmsgpack.unpack, m)
  if ok and type(f) == 'table' and #f >= 3 and #f % 2 == 1 then
    redis.call('XADD', KEYS[1], '*', unpack(f, 2))
    moved = moved + 1
  else
    bad = bad + 1
  end
  redis.call('ZREM', KEYS[2], m)
end
return {moved, bad}
`)
