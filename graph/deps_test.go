package graph

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestImportsStayInward holds the dependency rule of STYLE.md: graph imports only the
// standard library and gonum; planview adds graph and gonum/plot (with what plot needs to
// draw), and neither knows cobra, viper, Temporal or any other package of ours.
func TestImportsStayInward(t *testing.T) {
	t.Parallel()
	list := func(pkg string) []string {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
		require.NoError(t, err)
		return strings.Fields(string(out))
	}
	for _, dep := range list("github.com/crestwaves/crest/graph") {
		ok := strings.HasPrefix(dep, "gonum.org/v1/gonum/") || dep == "github.com/crestwaves/crest/graph"
		require.True(t, ok, "graph depends on %s", dep)
	}
	for _, dep := range list("github.com/crestwaves/crest/graph/planview") {
		if strings.HasPrefix(dep, "github.com/crestwaves/crest/") {
			require.Contains(t, []string{"github.com/crestwaves/crest/graph", "github.com/crestwaves/crest/graph/planview"}, dep)
		}
		for _, banned := range []string{"spf13", "temporal", "jackc", "viper"} {
			require.NotContains(t, dep, banned)
		}
	}
}
