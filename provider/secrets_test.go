package provider_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/verify"
)

func TestSecrets(t *testing.T) {
	for _, bad := range [][]string{nil, {""}, {" \t"}, {"ok", ""}} {
		_, err := provider.NewSecrets(bad...)
		assert.ErrorIs(t, err, verify.ErrNoSecret, "%q", bad)
	}
	in := []string{"new", "old"}
	s, err := provider.NewSecrets(in...)
	require.NoError(t, err)
	in[0] = "changed"
	assert.Equal(t, []string{"new", "old"}, s.Secrets(), "Set keeps a copy")

	err = s.Set("next", "  ")
	assert.ErrorIs(t, err, verify.ErrNoSecret)
	assert.NotContains(t, err.Error(), "next")
	assert.Equal(t, []string{"new", "old"}, s.Secrets(), "a refused Set keeps the secrets")
	require.NoError(t, s.Set("next"))
	assert.Equal(t, []string{"next"}, s.Secrets())
	assert.Nil(t, (&provider.Secrets{}).Secrets(), "the zero value holds no secret")
}
