package schema

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// asValidation requires err to be a *ValidationError and returns it.
func asValidation(t testing.TB, err error) *ValidationError {
	t.Helper()
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	return ve
}

// hasProblem reports whether ve lists a problem at pointer for keyword.
func hasProblem(ve *ValidationError, pointer, keyword string) bool {
	for _, p := range ve.Problems {
		if p.Pointer == pointer && p.Keyword == keyword {
			return true
		}
	}
	return false
}
