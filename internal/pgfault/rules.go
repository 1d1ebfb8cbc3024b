package pgfault

import (
	"strings"
	"sync"
	"time"
)

// Matcher decides whether a rule applies to a statement, given its query
// text: the query of a simple Query message (all its statements, as sent),
// or the query of the prepared statement an Execute runs. A Matcher is
// called from the proxy's goroutines, concurrently, and must not call the
// Proxy.
type Matcher func(query string) bool

// Contains matches queries that contain s.
func Contains(s string) Matcher {
	return func(q string) bool { return strings.Contains(q, s) }
}

// Verbs matches queries whose first keyword (see Verb) is one of verbs,
// case-insensitively: Verbs("COMMIT", "END").
func Verbs(verbs ...string) Matcher {
	want := make(map[string]bool, len(verbs))
	for _, v := range verbs {
		want[strings.ToUpper(v)] = true
	}
	return func(q string) bool { return want[Verb(q)] }
}

// All matches statements matched by every one of ms.
func All(ms ...Matcher) Matcher {
	return func(q string) bool {
		for _, m := range ms {
			if !m(q) {
				return false
			}
		}
		return true
	}
}

// Any matches statements matched by at least one of ms.
func Any(ms ...Matcher) Matcher {
	return func(q string) bool {
		for _, m := range ms {
			if m(q) {
				return true
			}
		}
		return false
	}
}

// Kind is the fault a Rule injects.
type Kind int

// The faults a Rule can inject.
const (
	KindCutAfterApply Kind = iota + 1 // see Proxy.CutAfterApply
	KindHoldReply                     // see Proxy.HoldReply
	KindDropReply                     // see Proxy.DropReply
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

// Rule is one armed fault. It is matched by the next n matching statements
// across all connections (in the order the proxy reads them), then
// disarms. A matched statement's fault fires when the server's reply to it
// reaches the proxy (for CutAfterApply, when the connection is cut); a
// matched statement whose connection ends first, or that the server skips
// (an error earlier in its Sync group), never fires.
type Rule struct {
	id    int
	kind  Kind
	match Matcher
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
func (r *Rule) ID() int { return r.id }

// Kind is the fault the rule injects.
func (r *Rule) Kind() Kind { return r.kind }

// Matched is the number of statements the rule has claimed so far.
func (r *Rule) Matched() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.matched
}

// Fired is the number of times the rule's fault has taken effect.
func (r *Rule) Fired() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fired
}

// Done is closed once the rule has fired n times.
func (r *Rule) Done() <-chan struct{} { return r.done }

// Disarm stops the rule from matching further statements. Statements it
// already matched still get their fault.
func (r *Rule) Disarm() {
	r.mu.Lock()
	r.remaining = 0
	r.mu.Unlock()
}

// claim takes one of the rule's remaining matches.
func (r *Rule) claim() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.remaining <= 0 {
		return false
	}
	r.remaining--
	r.matched++
	return true
}

func (r *Rule) armed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.remaining > 0
}

func (r *Rule) fire() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fired++
	if r.fired == r.n {
		close(r.done)
	}
}

func (r *Rule) stats() RuleStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return RuleStats{ID: r.id, Kind: r.kind, Matched: r.matched, Fired: r.fired, Remaining: r.remaining}
}

// RuleStats is a snapshot of one rule's counts.
type RuleStats struct {
	ID        int  // Rule.ID
	Kind      Kind // the fault
	Matched   int  // statements claimed
	Fired     int  // faults that took effect
	Remaining int  // matches left before the rule disarms
}

// Stats is a snapshot of what the proxy has seen.
type Stats struct {
	// Statements counts the statements read from clients (Execute
	// messages and simple Query messages), forwarded or not.
	Statements int
	// Verbs counts the same statements by their first keyword (Verb):
	// "INSERT", "WITH", "SELECT", "BEGIN", "COMMIT"; "" for none.
	Verbs map[string]int
	// Rules holds every rule ever added, in the order added.
	Rules []RuleStats
	// Connections counts the client connections accepted.
	Connections int
	// Cuts counts connections closed by CutAfterApply rules and CutAll.
	Cuts int
}
