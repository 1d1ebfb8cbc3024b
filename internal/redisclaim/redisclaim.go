// Package redisclaim lets a queue on Redis take the dedupe claims of a
// dedupe.Redis store in its own enqueue script, so that the request path
// makes one round trip (claim and store in one atomic step) instead of two.
//
// Package dedupe registers how its Redis store names keys (Register, from
// an init function); package redisq asks for a store's (Of). The Lua code
// of the claim lives here once, and both the store's claim script and the
// queue's enqueue script are built from it, so that the two can never read
// or write a key's value differently.
package redisclaim

import "fmt"

// Store is what a queue needs of a dedupe store to claim its keys itself.
type Store struct {
	// Client is the store's go-redis client.
	Client any
	// Key returns the Redis key that holds the state of a dedupe key.
	Key func(key string) string
}

var of func(store any) (Store, bool)

// Register sets the function that Of asks. Package dedupe calls it once,
// from an init function.
func Register(f func(store any) (Store, bool)) { of = f }

// Of returns how store keeps its keys in Redis, when store is a dedupe
// store on Redis whose claims a script can take.
func Of(store any) (Store, bool) {
	if of == nil {
		return Store{}, false
	}
	return of(store)
}

// ClaimLua returns the Lua code of a claim of KEYS[k], the dedupe key's
// Redis key, for the token ARGV[t] (k and t are Lua expressions: "1", "i",
// "2 * i - 1"). It sets the local claim to 1 (Claimed:
// the key was absent, or the token holds it already, left as it is), 2
// (Pending: another token admitted it) or 3 (Duplicate: another token
// confirmed it, or it is done), and the local admit to true when the key was
// absent: the script then writes the admission (AdmitLua) once it decided to.
//
// A key's value is "a:<token>" (admitted), "c:<token>" (confirmed) or "d"
// (done); any other value reads as another token's admission, the safe
// reading.
func ClaimLua(k, t string) string {
	return fmt.Sprintf(`
local held = redis.call('GET', KEYS[%[1]s])
local claim, admit = 1, false
if not held then
  admit = true
elseif held == 'a:' .. ARGV[%[2]s] or held == 'c:' .. ARGV[%[2]s] then
  claim = 1
elseif held == 'd' or string.sub(held, 1, 2) == 'c:' then
  claim = 3
else
  claim = 2
end
`, k, t)
}

// AdmitLua returns the Lua statement that admits KEYS[k] for the token
// ARGV[t] for ARGV[l] milliseconds.
func AdmitLua(k, t, l string) string {
	return fmt.Sprintf("redis.call('SET', KEYS[%s], 'a:' .. ARGV[%s], 'PX', ARGV[%s])\n", k, t, l)
}

// ConfirmLua returns the Lua code of a confirmation of KEYS[k] for the token
// ARGV[t] for ARGV[l] milliseconds: when the token holds the key (admitted
// or confirmed), it is now confirmed for the lease and the local confirmed
// is true; otherwise nothing changes and confirmed is false.
func ConfirmLua(k, t, l string) string {
	return fmt.Sprintf(`
local held = redis.call('GET', KEYS[%[1]s])
local confirmed = held == 'a:' .. ARGV[%[2]s] or held == 'c:' .. ARGV[%[2]s]
if confirmed then
  redis.call('SET', KEYS[%[1]s], 'c:' .. ARGV[%[2]s], 'PX', ARGV[%[3]s])
end
`, k, t, l)
}
