package pgtest_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/internal/pgtest"
)

// A server accepts connections on its port, stops, and restarts on the
// same port with the same data directory.
func TestStartStopRestart(t *testing.T) {
	s := pgtest.Start(t)
	require.NotZero(t, s.Port)
	addr := "127.0.0.1:" + strconv.Itoa(s.Port)
	assert.True(t, answers(addr), "server not listening")
	assert.Contains(t, s.URL(""), "/postgres?")
	assert.Contains(t, s.URL("x"), "/x?")

	s.Stop()
	assert.False(t, answers(addr), "server still listening after Stop")
	s.Stop() // a second Stop does nothing

	require.NoError(t, s.Restart())
	assert.True(t, answers(addr), "server not listening after Restart")
	assert.Error(t, s.Restart(), "Restart of a running server")
}

// The binaries are found where Debian installs them.
func TestBinDir(t *testing.T) {
	d, err := pgtest.BinDir()
	if err != nil {
		pgtest.Fail(t, err)
	}
	_, err = os.Stat(filepath.Join(d, "postgres"))
	assert.NoError(t, err)
}

func answers(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
