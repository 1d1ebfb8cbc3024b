package faultcore

import (
	"sync"
	"time"
)

// All matches what every one of ms matches. M is a protocol package's
// Matcher type; T the argument its matchers take.
func All[M ~func(T) bool, T any](ms ...M) M {
	return func(a T) bool {
		for _, m := range ms {
			if !m(a) {
				return false
			}
		}
		return true
	}
}

// Any matches what at least one of ms matches.
func Any[M ~func(T) bool, T any](ms ...M) M {
	return func(a T) bool {
		for _, m := range ms {
			if m(a) {
				return true
			}
		}
		return false
	}
}

// Kind is the fault a Rule injects.
type Kind int

// The faults a Rule can inject. The protocol packages' Proxy methods of the
// same names say what each does to a connection.
const (
	KindCutAfterApply Kind = iota + 1 // see faultproxy.Proxy.CutAfterApply, pgfault.Proxy.CutAfterApply
	KindHoldReply                     // see faultproxy.Proxy.HoldReply, pgfault.Proxy.HoldReply
	KindDropReply                     // see faultproxy.Proxy.DropReply, pgfault.Proxy.DropReply
)

// String returns the name of the Proxy method that adds rules of kind k.
func (k Kind) String() string {
	switch k {
	case KindCutAfterApply:
		return "CutAfterApply"
	case KindHoldReply:
		return "HoldReply"
	case KindDropReply:
		return "DropReply"
	}
	return "Kind(?)"
}

// Rule is one armed fault, matching what a Matcher of type func(T) bool is
// given: a Redis command (faultproxy), a PostgreSQL statement's query
// (pgfault). It is matched by the next n matching commands or statements
// across all connections (in the order the proxy reads them), then disarms.
// When a matched one's fault fires is the protocol package's to say.
// Its methods are safe for concurrent use.
type Rule[T any] struct {
	id    int
	kind  Kind
	match func(T) bool
	hold  time.Duration

	mu        sync.Mutex
	remaining int // matches left
	matched   int
	fired     int
	n         int
	done      chan struct{} // closed when fired reaches n
}

// ID is the rule's number in the order rules were added to its proxy,
// starting at 1.
func (r *Rule[T]) ID() int { return r.id }

// Kind is the fault the rule injects.
func (r *Rule[T]) Kind() Kind { return r.kind }

// Matched is the number of commands (or statements) the rule has claimed so
// far.
func (r *Rule[T]) Matched() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.matched
}

// Fired is the number of times the rule's fault has taken effect.
func (r *Rule[T]) Fired() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fired
}

// Done is closed once the rule has fired n times.
func (r *Rule[T]) Done() <-chan struct{} { return r.done }

// Disarm stops the rule from matching further commands (or statements).
// Those it already matched still get their fault.
func (r *Rule[T]) Disarm() {
	r.mu.Lock()
	r.remaining = 0
	r.mu.Unlock()
}

// claim takes one of the rule's remaining matches.
func (r *Rule[T]) claim() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.remaining <= 0 {
		return false
	}
	r.remaining--
	r.matched++
	return true
}

func (r *Rule[T]) armed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.remaining > 0
}

func (r *Rule[T]) fire() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fired++
	if r.fired == r.n {
		close(r.done)
	}
}

func (r *Rule[T]) stats() RuleStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return RuleStats{ID: r.id, Kind: r.kind, Matched: r.matched, Fired: r.fired, Remaining: r.remaining}
}

// RuleStats is a snapshot of one rule's counts.
type RuleStats struct {
	ID        int  // Rule.ID
	Kind      Kind // the fault
	Matched   int  // commands (or statements) claimed
	Fired     int  // faults that took effect
	Remaining int  // matches left before the rule disarms
}
