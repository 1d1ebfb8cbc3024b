package provider_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestImportsOnlyStandardLibraryAndVerify keeps the contract package at the
// bottom of the graph: the receiver and every provider import it.
func TestImportsOnlyStandardLibraryAndVerify(t *testing.T) {
	goTool, err := exec.LookPath("go") // go test puts GOROOT/bin first in PATH
	require.NoError(t, err)
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	require.NoError(t, err)
	require.ElementsMatch(t,
		[]string{"github.com/hookwise/hookwise/verify", "github.com/hookwise/hookwise/provider"},
		strings.Fields(string(out)))
}
