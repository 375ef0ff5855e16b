package workflows_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWorkflowsReachNoDatabase holds the import rule of the determinism boundary: workflow
// code talks to activities through activities/wire only (names and payload types), so it
// never links the activities, their store or pgx, and of Crest's own packages it reaches
// only the pure ones. A new dependency of workflows belongs in wire, graph or policy, or
// in this list after a review.
func TestWorkflowsReachNoDatabase(t *testing.T) {
	t.Parallel()
	const mod = "github.com/crestwaves/crest/"
	out, err := exec.Command("go", "list", "-deps", mod+"workflows").Output()
	require.NoError(t, err)
	ours := []string{
		mod + "workflows",
		mod + "activities/wire",
		mod + "activities/gitrepo",  // wire.CheckNoCredentials: URL parsing, standard library only
		mod + "activities/wavename", // wave and tag names: pure, standard library only
		mod + "graph",
		mod + "policy",
	}
	var deps []string
	for dep := range strings.FieldsSeq(string(out)) {
		deps = append(deps, dep)
		require.False(t, strings.HasPrefix(dep, "github.com/jackc/"), "workflows reaches %s", dep)
		if strings.HasPrefix(dep, mod) {
			require.Contains(t, ours, dep, "workflows reaches %s: only wire, graph and policy belong on this side", dep)
		}
	}
	require.Contains(t, deps, mod+"activities/wire") // the list above is the real one
}
