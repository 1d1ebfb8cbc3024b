package textcut

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestCut(t *testing.T) {
	assert.Equal(t, "short", Cut("short", 10))
	assert.Equal(t, "exactly10!", Cut("exactly10!", 10))
	assert.Equal(t, "exactl"+Ellipsis, Cut("exactly 11!", 9))
	// A rune is never split: "é" is two bytes.
	got := Cut(strings.Repeat("é", 10), 8)
	assert.Equal(t, "éé"+Ellipsis, got)
	assert.True(t, utf8.ValidString(got))
}

func FuzzCut(f *testing.F) {
	f.Add("hello", 5)
	f.Add(strings.Repeat("é", 100), 7)
	f.Add("\xff\xfe", 3)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < len(Ellipsis) || max > 1<<20 {
			return
		}
		got := Cut(s, max)
		assert.LessOrEqual(t, len(got), max)
		if len(s) <= max {
			assert.Equal(t, s, got)
			return
		}
		assert.True(t, strings.HasSuffix(got, Ellipsis))
		assert.True(t, strings.HasPrefix(s, strings.TrimSuffix(got, Ellipsis)))
		if utf8.ValidString(s) {
			assert.True(t, utf8.ValidString(got))
		}
	})
}
