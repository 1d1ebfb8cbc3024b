package schema

import "github.com/hookwise/hookwise/internal/pattern"

// Event-type patterns follow the receiver Mux's grammar exactly (package
// internal/pattern holds it for both): "invoice.paid" matches that type,
// "invoice.*" every type starting with "invoice.", a bare "issues" matches
// "issues" and every "issues.*", and "*" every type.

func parsePattern(p string) (pattern.Pattern, bool) {
	pat, err := pattern.Parse(p)
	return pat, err == nil
}
