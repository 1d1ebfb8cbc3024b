package providers_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/hookwise/hookwise/"

// goList runs the go command's list with args in this directory and returns
// its output lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	goTool, err := exec.LookPath("go") // go test puts GOROOT/bin first in PATH
	require.NoError(t, err)
	out, err := exec.Command(goTool, append([]string{"list"}, args...)...).Output()
	var ee *exec.ExitError
	if err != nil && assert.ErrorAs(t, err, &ee) {
		t.Logf("go list: %s", ee.Stderr)
	}
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestProviderPackagesLinkNoThirdPartyModule holds every package under
// providers/ to the rule of package provider: a provider links the standard
// library and this module's small packages (provider, verify, internal
// helpers), never a third-party module and never package receiver, which
// links the Redis client and the validator. Test-support packages (a name
// ending in "test", as providertest) are imported
// only by tests and are exempt; so are _test files, which go list -deps
// leaves out.
func TestProviderPackagesLinkNoThirdPartyModule(t *testing.T) {
	standard := map[string]bool{}
	for _, p := range goList(t, "-deps", "-f", "{{if .Standard}}{{.ImportPath}}{{end}}", "./...") {
		standard[p] = true
	}
	require.True(t, standard["net/http"], "go list reports the standard library")
	checked := 0
	for _, line := range goList(t, "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}", "./...") {
		pkg, deps, _ := strings.Cut(line, " ")
		if strings.HasSuffix(pkg, "test") {
			continue
		}
		checked++
		for _, d := range strings.Fields(deps) {
			switch {
			case standard[d]:
			case !strings.HasPrefix(d, module):
				assert.Failf(t, "third-party dependency", "%s links %s", pkg, d)
			case d == module+"receiver" || d == module+"dedupe":
				assert.Failf(t, "provider links the receiver", "%s links %s (which links go-redis); import package provider instead", pkg, d)
			}
		}
	}
	// providers itself, the four providers and internal/form at least.
	assert.GreaterOrEqual(t, checked, 6, "packages checked")
}
