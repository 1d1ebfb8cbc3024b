// Package pattern is the one grammar of event-type patterns, shared by the
// receiver's Mux and the schema registry so that a pattern means the same
// in both:
//
//   - "invoice.paid" (a name with a dot) matches exactly "invoice.paid";
//   - "invoice.*" matches every type that starts with "invoice.";
//   - "issues" (a bare name, no dot) matches "issues" and every type that
//     starts with "issues." (GitHub's event.action style);
//   - "*" matches every type.
//
// A wildcard anywhere else, an empty pattern and ".*" are refused.
package pattern

import (
	"errors"
	"strings"
)

// ErrInvalid matches the error of a pattern outside the grammar.
var ErrInvalid = errors.New("invalid event-type pattern")

// Pattern is a parsed pattern.
type Pattern struct {
	Raw    string // the pattern as written
	Exact  string // the type matched exactly, or ""
	Prefix string // the prefix matched, ending in ".", or ""
	Any    bool   // "*"
}

// Parse parses p, or returns an error matching ErrInvalid.
func Parse(p string) (Pattern, error) {
	switch {
	case p == "":
		return Pattern{}, errors.New("empty event-type pattern: " + ErrInvalid.Error())
	case p == "*":
		return Pattern{Raw: p, Any: true}, nil
	case strings.HasSuffix(p, ".*"):
		base := strings.TrimSuffix(p, "*")
		if base == "." || strings.Contains(base, "*") {
			return Pattern{}, &invalidError{p}
		}
		return Pattern{Raw: p, Prefix: base}, nil
	case strings.Contains(p, "*"):
		return Pattern{}, &invalidError{p}
	case strings.Contains(p, "."):
		return Pattern{Raw: p, Exact: p}, nil
	default:
		return Pattern{Raw: p, Exact: p, Prefix: p + "."}, nil
	}
}

type invalidError struct{ p string }

func (e *invalidError) Error() string {
	return "invalid event-type pattern " + quote(e.p) + ": a wildcard may only end a pattern after a dot, as in \"invoice.*\", or stand alone"
}
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return `"` + s + `"`
}

// Rank reports whether typ matches p, and how specifically: an exact match
// ranks above every prefix match, a longer prefix above a shorter one, and
// "*" lowest. It is 0 when typ does not match.
func (p Pattern) Rank(typ string) int {
	switch {
	case p.Exact != "" && typ == p.Exact:
		return 1 << 20
	case p.Prefix != "" && strings.HasPrefix(typ, p.Prefix):
		return 1 + len(p.Prefix)
	case p.Any:
		return 1
	}
	return 0
}
