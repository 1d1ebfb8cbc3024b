package pgfault

import (
	"strings"

	"github.com/hookwise/hookwise/internal/faultcore"
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
func All(ms ...Matcher) Matcher { return faultcore.All(ms...) }

// Any matches statements matched by at least one of ms.
func Any(ms ...Matcher) Matcher { return faultcore.Any(ms...) }

// Kind is the fault a Rule injects. Its String method returns the name of
// the Proxy method that adds rules of its kind.
type Kind = faultcore.Kind

// The faults a Rule can inject.
const (
	KindCutAfterApply = faultcore.KindCutAfterApply // see Proxy.CutAfterApply
	KindHoldReply     = faultcore.KindHoldReply     // see Proxy.HoldReply
	KindDropReply     = faultcore.KindDropReply     // see Proxy.DropReply
)

// Rule is one armed fault. It is matched by the next n matching statements
// across all connections (in the order the proxy reads them), then
// disarms. A matched statement's fault fires when the server's reply to it
// reaches the proxy (for CutAfterApply, when the connection is cut); a
// matched statement whose connection ends first, or that the server skips
// (an error earlier in its Sync group), never fires.
//
// Its methods: ID (its number in the order rules were added to its proxy,
// from 1), Kind, Matched (the statements it has claimed so far), Fired
// (the times its fault has taken effect), Done (closed once it has fired n
// times) and Disarm (stops it from matching further statements; those it
// already matched still get their fault).
type Rule = faultcore.Rule[string]

// RuleStats is a snapshot of one rule's counts: ID, Kind, Matched
// (statements claimed), Fired (faults that took effect) and Remaining
// (matches left before the rule disarms).
type RuleStats = faultcore.RuleStats

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
