package pgtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A server runs with synchronous_commit on, and with fsync off unless
// Fsync is given (postgres records its command line in postmaster.opts).
func TestDurabilitySettings(t *testing.T) {
	for _, tc := range []struct {
		opts  []Option
		fsync string
	}{{nil, "fsync=off"}, {[]Option{Fsync()}, "fsync=on"}} {
		s := Start(t, tc.opts...)
		b, err := os.ReadFile(filepath.Join(s.data, "postmaster.opts"))
		require.NoError(t, err)
		assert.Contains(t, string(b), tc.fsync)
		assert.Contains(t, string(b), "synchronous_commit=on")
	}
}
