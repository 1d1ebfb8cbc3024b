package receiver

// maxReasonBytes bounds the reason a rejection logs. The built-in providers
// quote nothing from the request in their errors, but a provider of one's
// own may (strconv's and url's errors quote their input), and anyone can
// send the requests that are rejected.
const maxReasonBytes = 256

// logText returns s fit for a log line whatever it holds: bytes outside
// printable ASCII and backslashes escaped (\xNN, \\), and cut with "…" so
// that the result has at most max bytes. max must be at least 3.
func logText(s string, max int) string {
	if len(s) <= max && isPlainText(s) {
		return s
	}
	const hex = "0123456789abcdef"
	const ellipsis = "…"
	b := make([]byte, 0, max+4)
	cut := 0 // the longest escaped prefix that leaves room for the ellipsis
	for i := 0; i < len(s); i++ {
		if len(b) <= max-len(ellipsis) {
			cut = len(b)
		}
		switch c := s[i]; {
		case c == '\\':
			b = append(b, '\\', '\\')
		case c < 0x20 || c > 0x7e:
			b = append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
		if len(b) > max {
			return string(b[:cut]) + ellipsis
		}
	}
	return string(b)
}

// isPlainText reports whether s is printable ASCII without backslashes.
func isPlainText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '\\' {
			return false
		}
	}
	return true
}
