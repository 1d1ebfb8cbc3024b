package receiver

import (
	"container/list"
	"context"
	"sync"
)

// DefaultDeadLetterCapacity is the number of dead letters a
// MemoryDeadLetters keeps when none is given.
const DefaultDeadLetterCapacity = 10000

// MemoryDeadLetters is the default, in-process DeadLetterStore. It keeps up
// to its capacity, dropping the oldest beyond it (and logging nothing: use a
// durable store where dead letters must outlive the process). It is safe for
// concurrent use.
type MemoryDeadLetters struct {
	mu    sync.Mutex
	cap   int
	order *list.List               // of DeadLetter, oldest first
	index map[string]*list.Element // by provider:id
}

var _ DeadLetterStore = (*MemoryDeadLetters)(nil)

// NewMemoryDeadLetters returns a store of up to capacity dead letters
// (DefaultDeadLetterCapacity when capacity ≤ 0).
func NewMemoryDeadLetters(capacity int) *MemoryDeadLetters {
	if capacity <= 0 {
		capacity = DefaultDeadLetterCapacity
	}
	return &MemoryDeadLetters{cap: capacity, order: list.New(), index: make(map[string]*list.Element)}
}

func dlKey(provider, id string) string { return provider + "\x00" + id }

// Put stores d, replacing an earlier dead letter of the same event.
func (s *MemoryDeadLetters) Put(_ context.Context, d DeadLetter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := dlKey(d.Event.Provider, d.Event.ID)
	if el, ok := s.index[k]; ok {
		s.order.Remove(el)
	}
	s.index[k] = s.order.PushBack(d)
	for s.order.Len() > s.cap {
		old := s.order.Remove(s.order.Front()).(DeadLetter)
		delete(s.index, dlKey(old.Event.Provider, old.Event.ID))
	}
	return nil
}

// List returns up to limit dead letters, oldest first (all when limit ≤ 0).
func (s *MemoryDeadLetters) List(_ context.Context, limit int) ([]DeadLetter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]DeadLetter, 0, min(max(limit, 0), s.order.Len()))
	for el := s.order.Front(); el != nil && (limit <= 0 || len(out) < limit); el = el.Next() {
		out = append(out, el.Value.(DeadLetter))
	}
	return out, nil
}

// Delete removes the dead letter of event (provider, id), if any.
func (s *MemoryDeadLetters) Delete(_ context.Context, provider, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := dlKey(provider, id)
	if el, ok := s.index[k]; ok {
		s.order.Remove(el)
		delete(s.index, k)
	}
	return nil
}
