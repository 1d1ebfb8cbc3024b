// Package textcut bounds text taken from untrusted input before it reaches
// an error, a log line or an answer.
package textcut

import "unicode/utf8"

// Ellipsis ends text that Cut shortened.
const Ellipsis = "…"

// Cut returns s when it has at most max bytes, and otherwise its longest
// prefix that ends on a rune boundary and leaves room for Ellipsis,
// followed by Ellipsis: never more than max bytes, never a split rune.
// max must be at least len(Ellipsis).
func Cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len(Ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + Ellipsis
}
