package faultproxy

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"

	"github.com/hookwise/hookwise/internal/faultcore"
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
func All(ms ...Matcher) Matcher { return faultcore.All(ms...) }

// Any matches commands matched by at least one of ms.
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

// Rule is one armed fault. It is matched by the next n matching commands
// across all connections (in the order the proxy reads them), then disarms.
// A matched command's fault fires when Redis's reply to it reaches the
// proxy; a matched command whose connection ends before its reply never
// fires.
//
// Its methods: ID (its number in the order rules were added to its proxy,
// from 1), Kind, Matched (the commands it has claimed so far), Fired (the
// times its fault has taken effect), Done (closed once it has fired n
// times) and Disarm (stops it from matching further commands; those it
// already matched still get their fault).
type Rule = faultcore.Rule[[]string]

// RuleStats is a snapshot of one rule's counts: ID, Kind, Matched
// (commands claimed), Fired (faults that took effect) and Remaining
// (matches left before the rule disarms).
type RuleStats = faultcore.RuleStats

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
