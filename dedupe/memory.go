package dedupe

import (
	"context"
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// DefaultMemoryMaxEntries is the default bound of a Memory store.
const DefaultMemoryMaxEntries = 1_000_000

// sweepPerOp is how many entries at the front of each of a shard's lists an
// operation checks for expiry. More than one, so that reclaiming outpaces
// inserting.
const sweepPerOp = 2

// maxShards bounds the number of shards; minShardEntries keeps small stores
// in few shards, so that their bound and eviction order stay close to exact.
const (
	maxShards       = 64
	minShardEntries = 1024
)

// Memory is the in-process Store: the default when a receiver runs as a single
// replica. It is safe for concurrent use.
//
// Every operation is O(1). Keys are spread over up to 64 shards, each with its
// own lock, so concurrent calls scale with cores. Memory owns no goroutine:
// an entry whose lease or retention has lapsed is reclaimed lazily, when its
// key is used again, or by a bounded sweep that each operation runs over the
// oldest entries of its shard. A claim keeps a 56-bit hash of its token, not
// the token (see Store for the states of a key), and every entry keeps a
// 128-bit hash of its key, not the key (see memKey).
//
// The store holds at most its maximum of entries (WithMemoryMaxEntries),
// split evenly over the shards. A new key in a full shard evicts, in order:
// the entry completed longest ago (even though its retention has not
// lapsed, so a very late redelivery of that event may then be processed
// again); otherwise the claim admitted longest ago, if its lease has lapsed;
// otherwise the claim confirmed longest ago, if its lease has lapsed. An
// admitted or confirmed claim whose lease has not lapsed is never evicted:
// when the shard holds only such claims, Claim and Complete of a new key
// return ErrFull rather than drop a claim in progress.
//
// An entry costs about 78 bytes whatever its key and state (the key is kept
// as a fixed-size hash, and entries hold no pointers, so the garbage
// collector does not scan them), as BenchmarkMemoryBytesPerEntry measures
// it, up to half again as much just after a shard's map grew. The default
// bound of a million entries is therefore about 78 to 120 MB at most; set WithMemoryMaxEntries to the
// number of events received within the retention, with some headroom.
//
// A context that is already done makes every call return its error without
// doing anything, as Redis does; Memory never blocks otherwise. After Close
// every call returns ErrClosed.
type Memory struct {
	now    func() time.Time
	base   time.Time
	seed   maphash.Seed // token hashes, and the key hash's first half
	seed2  maphash.Seed // the key hash's second half
	mask   uint64
	shards []memShard
}

// MemoryOption configures a Memory store.
type MemoryOption func(*memoryConfig)

type memoryConfig struct {
	max int
	now func() time.Time
}

// WithMemoryMaxEntries bounds the number of keys held; the default is
// DefaultMemoryMaxEntries. It panics if n is less than 1.
func WithMemoryMaxEntries(n int) MemoryOption {
	if n < 1 {
		panic("dedupe: WithMemoryMaxEntries expects n >= 1")
	}
	return func(c *memoryConfig) { c.max = n }
}

// WithMemoryClock sets the clock leases and retentions are measured with;
// the default is time.Now. Tests pass a fake clock. It panics if now is nil.
func WithMemoryClock(now func() time.Time) MemoryOption {
	if now == nil {
		panic("dedupe: WithMemoryClock expects a non-nil clock")
	}
	return func(c *memoryConfig) { c.now = now }
}

// NewMemory returns an empty Memory store.
func NewMemory(opts ...MemoryOption) *Memory {
	cfg := memoryConfig{max: DefaultMemoryMaxEntries}
	for _, o := range opts {
		o(&cfg)
	}
	n := maxShards
	for n > 1 && cfg.max/n < minShardEntries {
		n /= 2
	}
	base := time.Now()
	if cfg.now != nil {
		base = cfg.now()
	}
	m := &Memory{
		now:    cfg.now,
		base:   base,
		seed:   maphash.MakeSeed(),
		seed2:  maphash.MakeSeed(),
		mask:   uint64(n - 1),
		shards: make([]memShard, n),
	}
	for i := range m.shards {
		s := &m.shards[i]
		s.cap = cfg.max / n
		if i < cfg.max%n {
			s.cap++
		}
		s.index = make(map[memKey]uint32)
		s.slots = make([]memEntry, 1, 1+min(s.cap, 64)) // slot 0 is the nil link
	}
	return m
}

// Claim admits key for token for lease, unless another token holds it or
// it is done; see Store.
func (m *Memory) Claim(ctx context.Context, key, token string, lease time.Duration) (Outcome, error) {
	if token == "" {
		return 0, ErrInvalidToken
	}
	if lease <= 0 {
		return 0, ErrInvalidDuration
	}
	tok := m.tokenHash(token)
	s, k, now, err := m.lock(ctx, key)
	if err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	if i, ok := s.index[k]; ok {
		e := &s.slots[i]
		if now < e.exp {
			switch {
			case e.state() == stateDone:
				return Duplicate, nil
			case e.tok() == tok:
				return Claimed, nil
			case e.state() == stateAdmitted:
				return Pending, nil
			}
			return Duplicate, nil
		}
		s.move(i, stateAdmitted, tok, addSat(now, lease))
		return Claimed, nil
	}
	if err := s.insert(k, stateAdmitted, tok, now, addSat(now, lease)); err != nil {
		return 0, err
	}
	return Claimed, nil
}

// Confirm extends token's claim of key to lease from now; see Store.
func (m *Memory) Confirm(ctx context.Context, key, token string, lease time.Duration) (bool, error) {
	if token == "" {
		return false, ErrInvalidToken
	}
	if lease <= 0 {
		return false, ErrInvalidDuration
	}
	s, k, now, err := m.lock(ctx, key)
	if err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	i, ok := s.holder(k, m.tokenHash(token), now)
	if !ok {
		return false, nil
	}
	s.move(i, stateConfirmed, s.slots[i].tok(), addSat(now, lease))
	return true, nil
}

// Complete marks key done for retention, unless another token holds it; see
// Store.
func (m *Memory) Complete(ctx context.Context, key, token string, retention time.Duration) error {
	if retention <= 0 {
		return ErrInvalidDuration
	}
	s, k, now, err := m.lock(ctx, key)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	i, ok := s.index[k]
	if !ok {
		return s.insert(k, stateDone, 0, now, addSat(now, retention))
	}
	if e := &s.slots[i]; token != "" && now < e.exp && (e.state() == stateDone || e.tok() != m.tokenHash(token)) {
		return nil // done already, or another token's claim
	}
	s.move(i, stateDone, 0, addSat(now, retention))
	return nil
}

// Release forgets key if token holds it, or whatever holds it if token is
// empty; see Store. Releasing an unknown key does nothing.
func (m *Memory) Release(ctx context.Context, key, token string) error {
	return m.removeIf(ctx, key, func(e *memEntry, now int64) bool {
		// A lapsed entry is as good as absent: removing it changes nothing.
		return token == "" || now >= e.exp || e.state() != stateDone && e.tok() == m.tokenHash(token)
	})
}

// ReleaseAdmitted forgets key if token holds it admitted; see
// AdmittedReleaser.
func (m *Memory) ReleaseAdmitted(ctx context.Context, key, token string) error {
	if token == "" {
		return ErrInvalidToken
	}
	return m.removeIf(ctx, key, func(e *memEntry, now int64) bool {
		return now < e.exp && e.state() == stateAdmitted && e.tok() == m.tokenHash(token)
	})
}

// removeIf removes key's entry, if it has one, when drop reports true of it
// at now (under the shard's lock).
func (m *Memory) removeIf(ctx context.Context, key string, drop func(e *memEntry, now int64) bool) error {
	s, k, now, err := m.lock(ctx, key)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	if i, ok := s.index[k]; ok && drop(&s.slots[i], now) {
		s.remove(i)
	}
	return nil
}

// tokenHash returns the 56-bit hash an entry keeps of a claim token, in the
// high bits of a uint64 (the low byte holds the entry's state).
func (m *Memory) tokenHash(token string) uint64 { return maphash.String(m.seed, token) &^ 0xff }

// lock returns key's shard, locked and swept, key's hash, and the time now;
// the caller unlocks the shard. It fails with ctx's error or, after Close,
// ErrClosed.
func (m *Memory) lock(ctx context.Context, key string) (*memShard, memKey, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, memKey{}, 0, err
	}
	k := m.keyHash(key)
	s := &m.shards[k[0]&m.mask]
	now := m.clock()
	s.mu.Lock()
	if s.index == nil {
		s.mu.Unlock()
		return nil, memKey{}, 0, ErrClosed
	}
	s.sweep(now)
	return s, k, now, nil
}

// keyHash returns the 128-bit hash an entry keeps of its key: two 64-bit
// hashes of the key under two seeds of this store.
func (m *Memory) keyHash(key string) memKey {
	return memKey{maphash.String(m.seed, key), maphash.String(m.seed2, key)}
}

// Len returns the number of keys held, including lapsed ones not yet
// reclaimed. After Close it returns 0.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.index)
		s.mu.Unlock()
	}
	return n
}

// Close drops every key and frees the memory. Later calls return ErrClosed;
// closing again does nothing.
func (m *Memory) Close() error {
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		s.index, s.slots = nil, nil
		s.admitted, s.confirmed, s.dones, s.free = memList{}, memList{}, memList{}, 0
		s.mu.Unlock()
	}
	return nil
}

// clock returns the time in nanoseconds since the store was made, on the
// monotonic clock when the clock is time.Now.
func (m *Memory) clock() int64 {
	if m.now == nil {
		// The real clock: time.Since reads only the monotonic clock, where
		// time.Now reads the wall clock too.
		return int64(time.Since(m.base))
	}
	return int64(m.now().Sub(m.base))
}

func addSat(now int64, d time.Duration) int64 {
	if int64(d) > math.MaxInt64-now {
		return math.MaxInt64
	}
	return now + int64(d)
}

const (
	stateFree uint8 = iota
	stateAdmitted
	stateConfirmed
	stateDone
)

// memKey is the hash a store keeps of a key: 128 bits, from two hashes
// seeded at random per store. Two distinct keys share it with probability
// 2^-128 (about 10^-27 for a store of a million keys), and since the seeds
// are secret, no one can choose keys that collide; a collision would make
// one event a Duplicate of another. Keeping the hash rather than the key
// bounds every entry's size whatever the key's length and leaves no pointer
// in an entry or the index for the garbage collector to scan.
type memKey [2]uint64

// memEntry is one key. Entries live in a shard's slot slice and link into
// one of its three lists by slot index (0 is nil), which keeps them free of
// pointers and costs no allocation per entry.
//
// A claim keeps a 56-bit hash of its token rather than the token, packed
// with the state into one word so that an entry takes 40 bytes: two distinct
// random tokens share a hash with probability 2^-56, which matters only when
// two deliveries of one event overlap, and the hash is seeded per store, so
// no one can choose tokens that collide.
type memEntry struct {
	key        memKey
	exp        int64  // clock value from which the entry has lapsed
	tag        uint64 // hash of the claim's token (0 when done) | state
	prev, next uint32
}

func (e *memEntry) state() uint8 { return uint8(e.tag) }
func (e *memEntry) tok() uint64  { return e.tag &^ 0xff }

// memList is a doubly linked list of slots, oldest first.
type memList struct{ head, tail uint32 }

type memShard struct {
	mu        sync.Mutex
	index     map[memKey]uint32 // key hash to slot; nil after Close
	slots     []memEntry
	free      uint32  // first free slot, linked by next
	cap       int     // the most keys this shard holds
	admitted  memList // admitted claims, in the order they were admitted
	confirmed memList // confirmed claims, in the order they were confirmed
	dones     memList // done markers, in the order they were completed
	_         [48]byte
}

func (s *memShard) list(state uint8) *memList {
	switch state {
	case stateDone:
		return &s.dones
	case stateConfirmed:
		return &s.confirmed
	}
	return &s.admitted
}

// holder returns the slot of key if the token whose hash is tok holds it
// (admitted or confirmed) at now.
func (s *memShard) holder(key memKey, tok uint64, now int64) (uint32, bool) {
	i, ok := s.index[key]
	if !ok {
		return 0, false
	}
	e := &s.slots[i]
	return i, now < e.exp && e.state() != stateDone && e.tok() == tok
}

func (s *memShard) pushBack(l *memList, i uint32) {
	e := &s.slots[i]
	e.prev, e.next = l.tail, 0
	if l.tail != 0 {
		s.slots[l.tail].next = i
	} else {
		l.head = i
	}
	l.tail = i
}

func (s *memShard) unlink(l *memList, i uint32) {
	e := &s.slots[i]
	if e.prev != 0 {
		s.slots[e.prev].next = e.next
	} else {
		l.head = e.next
	}
	if e.next != 0 {
		s.slots[e.next].prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next = 0, 0
}

// move gives slot i a new state, token hash and expiry, at the back of its
// new list.
func (s *memShard) move(i uint32, state uint8, tok uint64, exp int64) {
	e := &s.slots[i]
	s.unlink(s.list(e.state()), i)
	e.tag, e.exp = tok|uint64(state), exp
	s.pushBack(s.list(state), i)
}

func (s *memShard) remove(i uint32) {
	e := &s.slots[i]
	s.unlink(s.list(e.state()), i)
	delete(s.index, e.key)
	*e = memEntry{next: s.free}
	s.free = i
}

// sweep reclaims lapsed entries at the front of each list, a few at most.
func (s *memShard) sweep(now int64) {
	for _, l := range [...]*memList{&s.admitted, &s.confirmed, &s.dones} {
		for range sweepPerOp {
			h := l.head
			if h == 0 || s.slots[h].exp > now {
				break
			}
			s.remove(h)
		}
	}
}

// insert adds a new key, evicting an entry if the shard is full: the oldest
// done marker, else the oldest admitted or confirmed claim if it lapsed.
func (s *memShard) insert(key memKey, state uint8, tok uint64, now, exp int64) error {
	if len(s.index) >= s.cap {
		switch {
		case s.dones.head != 0:
			s.remove(s.dones.head)
		case s.admitted.head != 0 && s.slots[s.admitted.head].exp <= now:
			s.remove(s.admitted.head)
		case s.confirmed.head != 0 && s.slots[s.confirmed.head].exp <= now:
			s.remove(s.confirmed.head)
		default:
			return ErrFull
		}
	}
	var i uint32
	if s.free != 0 {
		i = s.free
		s.free = s.slots[i].next
	} else {
		s.slots = append(s.slots, memEntry{})
		i = uint32(len(s.slots) - 1)
	}
	s.slots[i] = memEntry{key: key, exp: exp, tag: tok | uint64(state)}
	s.index[key] = i
	s.pushBack(s.list(state), i)
	return nil
}
