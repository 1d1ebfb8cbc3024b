package kit_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/internal/kit"
	"github.com/hookwise/hookwise/verify"
)

func TestSourceCache(t *testing.T) {
	src, err := provider.NewSecrets("one", "two")
	require.NoError(t, err)
	var mu sync.Mutex
	builds := 0
	c, err := kit.NewSourceCache(src, func(secrets []string) (string, error) {
		mu.Lock()
		builds++
		mu.Unlock()
		if secrets[0] == "refused" {
			return "", errors.New("refused")
		}
		return strings.Join(secrets, "+"), nil
	})
	require.NoError(t, err)

	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				v, err := c.Get()
				if assert.NoError(t, err) {
					assert.Contains(t, []string{"one+two", "three"}, v)
				}
			}
		}()
	}
	require.NoError(t, src.Set("three"))
	wg.Wait()
	v, err := c.Get()
	require.NoError(t, err)
	assert.Equal(t, "three", v)
	assert.Equal(t, 2, builds, "built once per list, not per call")

	// A list build refuses fails closed, and a good one recovers.
	require.NoError(t, src.Set("refused"))
	_, err = c.Get()
	assert.Error(t, err)
	require.NoError(t, src.Set("four"))
	v, err = c.Get()
	require.NoError(t, err)
	assert.Equal(t, "four", v)

	// An invalid list fails closed with verify.ErrNoSecret.
	_, err = c.Get()
	require.NoError(t, err)
	bad := badSource{}
	_, err = kit.NewSourceCache(bad, func([]string) (int, error) { return 1, nil })
	assert.ErrorIs(t, err, verify.ErrNoSecret)
}

type badSource struct{}

func (badSource) Secrets() []string { return []string{"ok", " "} }
