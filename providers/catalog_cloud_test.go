package providers_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/providers"
	"github.com/hookwise/hookwise/verify"
)

func TestCatalogSNS(t *testing.T) {
	_, err := providers.New("sns", providers.Config{})
	assert.ErrorIs(t, err, verify.ErrNoSecret, "topics are required")
	_, err = providers.New("sns", providers.Config{Params: map[string]string{"topics": " , "}})
	assert.ErrorIs(t, err, verify.ErrNoSecret, "blank topics")
	for _, name := range []string{"sns", "amazon-sns", "aws-sns"} {
		p, err := providers.New(name, providers.Config{Params: map[string]string{
			"topics": "arn:aws:sns:us-east-1:123456789012:a, arn:aws:sns:us-east-1:123456789012:b", "auto-confirm": "true",
		}})
		require.NoError(t, err)
		assert.Equal(t, "sns", p.Name())
	}
}
