package faultproxy

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"sync"
	"time"
)

// Matcher decides whether a rule applies to a command. cmd holds the
// command's arguments; cmd[0] is the command name, upper-cased by the proxy.
// A Matcher is called from the proxy's goroutines, concurrently, and must
// not call the Proxy.
type Matcher func(cmd []string) bool

// Command matches commands by name, case-insensitively. A name of two words,
// such as "CLIENT SETINFO", matches the command and its first argument.
func Command(names ...string) Matcher {
	type want struct{ name, sub string }
	ws := make([]want, 0, len(names))
	for _, n := range names {
		f := strings.Fields(n)
		switch len(f) {
		case 0:
			continue
		case 1:
			ws = append(ws, want{name: f[0]})
		default:
			ws = append(ws, want{name: f[0], sub: f[1]})
		}
	}
	return func(cmd []string) bool {
		if len(cmd) == 0 {
			return false
		}
		for _, w := range ws {
			if !strings.EqualFold(cmd[0], w.name) {
				continue
			}
			if w.sub == "" || (len(cmd) > 1 && strings.EqualFold(cmd[1], w.sub)) {
				return true
			}
		}
		return false
	}
}

// Script matches the runs of one Lua script: EVALSHA and EVALSHA_RO naming
// sha, and EVAL and EVAL_RO whose script's SHA-1 is sha (go-redis's
// Script.Run sends EVALSHA, then EVAL after NOSCRIPT).
func Script(sha string) Matcher {
	sha = strings.ToLower(sha)
	return func(cmd []string) bool {
		if len(cmd) < 2 {
			return false
		}
		switch cmd[0] {
		case "EVALSHA", "EVALSHA_RO":
			return strings.EqualFold(cmd[1], sha)
		case "EVAL", "EVAL_RO":
			sum := sha1.Sum([]byte(cmd[1]))
			return hex.EncodeToString(sum[:]) == sha
		}
		return false
	}
}

// ScriptSource is Script for the SHA-1 of the script's source.
func ScriptSource(src string) Matcher {
	sum := sha1.Sum([]byte(src))
	return Script(hex.EncodeToString(sum[:]))
}

// All matches commands matched by every one of ms.
func All(ms ...Matcher) Matcher {
	return func(cmd []string) bool {
		for _, m := range ms {
			if !m(cmd) {
				return false
			}
		}
		return true
	}
}

// Any matches commands matched by at least one of ms.
func Any(ms ...Matcher) Matcher {
	return func(cmd []string) bool {
		for _, m := range ms {
			if m(cmd) {
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

// Rule is one armed fault. It is matched by the next n matching commands
// across all connections (in the order the proxy reads them), then disarms.
// A matched command's fault fires when Redis's reply to it reaches the
// proxy; a matched command whose connection ends before its reply never
// fires.
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

// Matched is the number of commands the rule has claimed so far.
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

// Disarm stops the rule from matching further commands. Commands it already
// matched still get their fault.
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
	Matched   int  // commands claimed
	Fired     int  // faults that took effect
	Remaining int  // matches left before the rule disarms
}

// Stats is a snapshot of what the proxy has seen.
type Stats struct {
	// Commands counts the commands read from clients by upper-cased name
	// (cmd[0]: "CLIENT SETINFO" counts as "CLIENT"), forwarded or not.
	Commands map[string]int
	// Rules holds every rule ever added, in the order added.
	Rules []RuleStats
	// Connections counts the client connections accepted.
	Connections int
	// Cuts counts connections closed by CutAfterApply rules and CutAll.
	Cuts int
}
