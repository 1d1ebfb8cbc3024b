package receiver

import (
	"container/list"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

// DefaultDeadLetterCapacity is the number of dead letters a
// MemoryDeadLetters keeps when none is given.
const DefaultDeadLetterCapacity = 10000

// MemoryDeadLetters is the default, in-process DeadLetterStore, bounded by a
// count (DefaultDeadLetterCapacity) and by the approximate size of what it
// keeps (DefaultDeadLetterMaxBytes). Dead letters are kept under their
// provider and DeadLetter.Key, so that events without IDs do not replace
// each other; a dead letter of an event already kept replaces the earlier one.
//
// When a new dead letter does not fit, the oldest ones are evicted to make
// room, and each eviction is logged at ERROR level, with the provider, key,
// type and time of failure of the evicted event (never its body or reason),
// and counted by Evicted. This store never refuses a dead letter: the
// newest failures are the ones an operator is about to investigate and
// replay, and refusing them would lose exactly those, while the oldest have
// usually been seen already. Either way an acknowledged event would be lost,
// which is why evictions are loud: alert on them, raise the bounds, or use a
// durable store (redisq.NewDeadLetters) where dead letters must outlive
// bursts of failures or the process itself. The store vanishes on exit.
//
// It is safe for concurrent use.
type MemoryDeadLetters struct {
	mu       sync.Mutex
	cap      int
	maxBytes int64
	bytes    int64
	log      *slog.Logger
	order    *list.List               // of *dlEntry, oldest first
	index    map[string]*list.Element // by provider and key
	evicted  atomic.Uint64
}

type dlEntry struct {
	d    DeadLetter
	key  string // the index key
	size int64
}

var _ DeadLetterStore = (*MemoryDeadLetters)(nil)

// MemoryDeadLettersOption configures a MemoryDeadLetters.
type MemoryDeadLettersOption func(*MemoryDeadLetters)

// DeadLettersMaxBytes bounds the approximate size (bodies, payloads, headers
// and reasons) of the dead letters a MemoryDeadLetters keeps; n ≤ 0 selects
// DefaultDeadLetterMaxBytes. A dead letter larger than the whole bound is
// kept alone.
func DeadLettersMaxBytes(n int64) MemoryDeadLettersOption {
	return func(s *MemoryDeadLetters) {
		if n > 0 {
			s.maxBytes = n
		}
	}
}

// DeadLettersLogger sets the logger evictions are reported to (default:
// discard; the receiver's default store uses the receiver's logger).
func DeadLettersLogger(l *slog.Logger) MemoryDeadLettersOption {
	return func(s *MemoryDeadLetters) {
		if l != nil {
			s.log = l
		}
	}
}

// NewMemoryDeadLetters returns a store of up to capacity dead letters
// (DefaultDeadLetterCapacity when capacity ≤ 0) and, by default,
// DefaultDeadLetterMaxBytes bytes.
func NewMemoryDeadLetters(capacity int, opts ...MemoryDeadLettersOption) *MemoryDeadLetters {
	if capacity <= 0 {
		capacity = DefaultDeadLetterCapacity
	}
	s := &MemoryDeadLetters{
		cap: capacity, maxBytes: DefaultDeadLetterMaxBytes, log: slog.New(slog.DiscardHandler),
		order: list.New(), index: make(map[string]*list.Element),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func dlKey(provider, key string) string { return provider + "\x00" + key }

func deadLetterSize(d DeadLetter) int64 {
	n := int64(len(d.Reason))
	if d.Event != nil {
		n += eventSize(d.Event)
	} else {
		n += eventOverhead
	}
	return n
}

// Put stores d under its event's provider and d.Key(), replacing an earlier
// dead letter kept there, and evicts the oldest dead letters, each logged at
// ERROR level and counted by Evicted, when the store would exceed its
// bounds. It never fails.
func (s *MemoryDeadLetters) Put(ctx context.Context, d DeadLetter) error {
	var provider string
	if d.Event != nil {
		provider = d.Event.Provider
	}
	ent := &dlEntry{d: d, key: dlKey(provider, d.Key()), size: deadLetterSize(d)}
	var evicted []*dlEntry
	s.mu.Lock()
	if el, ok := s.index[ent.key]; ok {
		s.bytes -= el.Value.(*dlEntry).size
		s.order.Remove(el)
	}
	for s.order.Len() > 0 && (s.order.Len()+1 > s.cap || s.bytes+ent.size > s.maxBytes) {
		old := s.order.Remove(s.order.Front()).(*dlEntry)
		delete(s.index, old.key)
		s.bytes -= old.size
		evicted = append(evicted, old)
	}
	s.index[ent.key] = s.order.PushBack(ent)
	s.bytes += ent.size
	s.mu.Unlock()

	for _, old := range evicted {
		s.evicted.Add(1)
		attrs := []slog.Attr{slog.String("key", old.d.Key()), slog.Time("failed_at", old.d.FailedAt)}
		if e := old.d.Event; e != nil {
			attrs = append(attrs, slog.String("provider", e.Provider), slog.String("type", e.Type), slog.Int("attempts", e.Attempt))
		}
		s.log.LogAttrs(ctx, slog.LevelError, "dead-letter store full: oldest dead letter evicted and lost", attrs...)
	}
	return nil
}

// Evicted returns how many dead letters were evicted to make room since the
// store was created.
func (s *MemoryDeadLetters) Evicted() uint64 { return s.evicted.Load() }

// Len returns the number of dead letters kept.
func (s *MemoryDeadLetters) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.order.Len()
}

// Bytes returns the approximate size of the dead letters kept.
func (s *MemoryDeadLetters) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// List returns up to limit dead letters, oldest first (all when limit ≤ 0).
func (s *MemoryDeadLetters) List(_ context.Context, limit int) ([]DeadLetter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]DeadLetter, 0, min(max(limit, 0), s.order.Len()))
	for el := s.order.Front(); el != nil && (limit <= 0 || len(out) < limit); el = el.Next() {
		out = append(out, el.Value.(*dlEntry).d)
	}
	return out, nil
}

// Delete removes the dead letter kept under (provider, key), where key is
// the dead letter's Key(), if any.
func (s *MemoryDeadLetters) Delete(_ context.Context, provider, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := dlKey(provider, key)
	if el, ok := s.index[k]; ok {
		s.bytes -= el.Value.(*dlEntry).size
		s.order.Remove(el)
		delete(s.index, k)
	}
	return nil
}
