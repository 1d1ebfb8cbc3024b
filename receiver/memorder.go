package receiver

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hookwise/hookwise/receiver/driver"
)

// DefaultOrderEntries bounds a MemoryOrder made with a bound ≤ 0.
const DefaultOrderEntries = 100_000

// MemoryOrder is the in-memory driver.OrderStore, the default of
// WithOrdering: lines of one process, for a receiver whose queue is in
// memory too. Replicas need a shared store (redisq.OrderStore,
// the PostgreSQL adapter's). It holds at most its bound of entries; Join
// beyond it returns an error matching ErrQueueFull, and the receiver
// answers 503.
type MemoryOrder struct {
	max int
	now func() time.Time

	mu    sync.Mutex
	lines map[string][]orderEntry
	n     int // entries in all lines
	joins int // Joins since the last sweep
}

type orderEntry struct {
	token   string
	expires time.Time
}

var _ driver.OrderStore = (*MemoryOrder)(nil)

// NewMemoryOrder returns an empty MemoryOrder holding at most maxEntries
// entries (DefaultOrderEntries when maxEntries ≤ 0).
func NewMemoryOrder(maxEntries int) *MemoryOrder {
	if maxEntries <= 0 {
		maxEntries = DefaultOrderEntries
	}
	return &MemoryOrder{max: maxEntries, now: time.Now, lines: map[string][]orderEntry{}}
}

// Join appends token to key's line, or renews it in place.
func (m *MemoryOrder) Join(_ context.Context, key, token string, hold time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	line := m.lines[key]
	for i := range line {
		if line[i].token == token {
			line[i].expires = now.Add(hold)
			return nil
		}
	}
	if m.joins++; m.joins >= 1024 || m.n >= m.max {
		m.sweep(now)
	}
	if m.n >= m.max {
		return fmt.Errorf("receiver: ordering lines hold their bound of %d entries: %w", m.max, ErrQueueFull)
	}
	m.lines[key] = append(line, orderEntry{token: token, expires: now.Add(hold)})
	m.n++
	return nil
}

// Turn reports whether token is first in key's line, or not in it, after
// dropping the entries whose hold passed; it renews token's entry.
func (m *MemoryOrder) Turn(_ context.Context, key, token string, hold time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	line := m.prune(key, now)
	for i := range line {
		if line[i].token == token {
			line[i].expires = now.Add(hold)
			return i == 0, nil
		}
	}
	return true, nil
}

// Leave removes token from key's line.
func (m *MemoryOrder) Leave(_ context.Context, key, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	line := m.lines[key]
	for i := range line {
		if line[i].token == token {
			m.set(key, append(line[:i:i], line[i+1:]...))
			m.n--
			return nil
		}
	}
	return nil
}

// prune drops the lapsed entries of key's line and returns what is left;
// m.mu is held.
func (m *MemoryOrder) prune(key string, now time.Time) []orderEntry {
	line := m.lines[key]
	kept := line[:0:0]
	for _, en := range line {
		if now.Before(en.expires) {
			kept = append(kept, en)
		}
	}
	if len(kept) == len(line) {
		return line
	}
	m.n -= len(line) - len(kept)
	m.set(key, kept)
	return kept
}

// set stores line as key's, deleting empty lines; m.mu is held.
func (m *MemoryOrder) set(key string, line []orderEntry) {
	if len(line) == 0 {
		delete(m.lines, key)
		return
	}
	m.lines[key] = line
}

// sweep drops the lapsed entries of every line; m.mu is held.
func (m *MemoryOrder) sweep(now time.Time) {
	m.joins = 0
	for key := range m.lines {
		m.prune(key, now)
	}
}

// Len returns the number of entries in all lines.
func (m *MemoryOrder) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}
