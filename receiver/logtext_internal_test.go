package receiver

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLogText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"plain reason", 64, "plain reason"},
		{"", 64, ""},
		{"a\r\nb\x00c\x1b[31m", 64, `a\x0d\x0ab\x00c\x1b[31m`},
		{`back\slash`, 64, `back\\slash`},
		{"é", 64, `\xc3\xa9`},
		{strings.Repeat("a", 10), 10, strings.Repeat("a", 10)},
		{strings.Repeat("a", 11), 10, strings.Repeat("a", 7) + "…"},
		{"abcdefg\x00", 10, "abcdefg…"}, // the escape would cross the bound: cut before it
		{"abc\x00", 7, `abc\x00`},       // the escape ends at the bound exactly
		{"abcd\x00", 7, "abcd…"},        // one byte more and it does not fit
		{strings.Repeat("\n", 100), 10, `\x0a…`},
	} {
		got := logText(tc.in, tc.max)
		assert.Equal(t, tc.want, got, "%q", tc.in)
		assert.LessOrEqual(t, len(got), tc.max, "%q", tc.in)
	}
}

// FuzzLogText checks the bound and the escaping for any input: at most max
// bytes, printable ASCII but for a final "…", and the input itself when it
// is short printable ASCII without backslashes.
func FuzzLogText(f *testing.F) {
	for _, s := range []string{"", "reason", "a\r\nb", `\`, "é…", strings.Repeat("x\x00", 300)} {
		f.Add(s, 16)
		f.Add(s, maxReasonBytes)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 3 || max > 1<<16 {
			return
		}
		got := logText(s, max)
		require.LessOrEqual(t, len(got), max, "logText(%q, %d)", s, max)
		cut := strings.TrimSuffix(got, "…")
		for i := 0; i < len(cut); i++ {
			c := cut[i]
			require.True(t, c >= 0x20 && c <= 0x7e, "logText(%q, %d) = %q holds %#x", s, max, got, c)
		}
		if len(s) <= max && isPlainText(s) {
			require.Equal(t, s, got, "logText(%q, %d): want the input", s, max)
		}
		if cut == got && len(s) > 0 && !strings.Contains(got, `\`) {
			require.Equal(t, s, got, "logText(%q, %d): changed without escaping or cutting", s, max)
		}
	})
}
