package graph

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestImportsStayInward holds the dependency rule of STYLE.md: graph imports only the
// standard library and gonum; planview adds graph, charts and gonum/plot (with what plot
// needs to draw); charts knows no package of ours at all; none of them knows cobra, viper,
// Temporal, pgx or any other package of ours.
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
	allowed := map[string][]string{
		"github.com/crestwaves/crest/graph/planview": {"github.com/crestwaves/crest/graph", "github.com/crestwaves/crest/charts"},
		"github.com/crestwaves/crest/charts":         nil,
	}
	for pkg, ours := range allowed {
		for _, dep := range list(pkg) {
			if strings.HasPrefix(dep, "github.com/crestwaves/crest/") && dep != pkg {
				require.Contains(t, ours, dep, "%s depends on %s", pkg, dep)
			}
			for _, banned := range []string{"spf13", "temporal", "jackc", "viper"} {
				require.NotContains(t, dep, banned, "%s depends on %s", pkg, dep)
			}
		}
	}
}
