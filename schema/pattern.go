package schema

import "strings"

// pattern is an event-type pattern as in handler registration:
//
//   - "invoice.paid" matches exactly "invoice.paid";
//   - "invoice.*" matches every type starting with "invoice.";
//   - "issues" (a bare name) matches "issues" and every "issues.*" type
//     (GitHub's event.action style);
//   - "*" matches every type.
type pattern struct {
	raw    string
	exact  string // the type matched exactly ("" for prefix-only patterns)
	prefix string // the prefix matched ("" with exact set and no prefix form)
	any    bool
}

func parsePattern(p string) (pattern, bool) {
	switch {
	case p == "":
		return pattern{}, false
	case p == "*":
		return pattern{raw: p, any: true}, true
	case strings.HasSuffix(p, ".*"):
		base := strings.TrimSuffix(p, "*")
		if base == "." || strings.Contains(base, "*") {
			return pattern{}, false
		}
		return pattern{raw: p, prefix: base}, true
	case strings.Contains(p, "*"):
		return pattern{}, false
	case strings.Contains(p, "."):
		return pattern{raw: p, exact: p}, true
	default:
		return pattern{raw: p, exact: p, prefix: p + "."}, true
	}
}

// match reports whether typ matches, and how specific the match is: an
// exact match ranks above every prefix match, a longer prefix above a
// shorter one, and "*" ranks lowest. The rank is 0 when typ does not match.
func (p pattern) match(typ string) int {
	switch {
	case p.exact != "" && typ == p.exact:
		return 1 << 20
	case p.prefix != "" && strings.HasPrefix(typ, p.prefix):
		return 1 + len(p.prefix)
	case p.any:
		return 1
	}
	return 0
}
