package manifests

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestComposeMatchesK8s holds the Kubernetes manifests to the compose file, which
// TestComposeCluster (cmd/crest) runs: the same crest.yaml, and for every crest process
// (the migration, the orchestrator, each builder) the same command line, the same
// variables (with the same value wherever both write it out), as many replicas, and the
// same storage for the Nix store, data_dir and the cache. Addresses and secrets differ by
// nature: each comes from its own .env, ConfigMap or Secret.
func TestComposeMatchesK8s(t *testing.T) {
	t.Parallel()
	cfg := loadCrestConfig(t)
	cWorkers, cMigrators, cFile := composeCrest(t)
	kWorkers, kMigrators, kFile := k8sCrest(t)
	require.Equal(t, cFile, kFile, "deploy/compose/crest.yaml and the ConfigMap's crest.yaml differ")

	require.Len(t, cMigrators, 1)
	require.Len(t, kMigrators, 1)
	pairs := [][2]worker{{cMigrators[0], kMigrators[0]}}
	role := func(w worker) string {
		if w.builder {
			return w.name // crest-builder-<system> in both
		}
		return "orchestrator"
	}
	for _, c := range cWorkers {
		i := slices.IndexFunc(kWorkers, func(k worker) bool { return role(k) == role(c) })
		require.GreaterOrEqual(t, i, 0, "compose's %s has no Deployment (%s)", c.name, role(c))
		pairs = append(pairs, [2]worker{c, kWorkers[i]})
	}
	require.Len(t, kWorkers, len(cWorkers), "as many workers in both")

	for _, p := range pairs {
		c, k := p[0], p[1]
		where := "compose " + c.name + " / k8s " + k.name
		require.Equal(t, c.args, k.args, "%s: command line", where)
		require.Equal(t, crestVars(c), crestVars(k), "%s: CREST_* variables", where)
		for name := range c.literal {
			if c.literal[name] && k.literal[name] {
				require.Equal(t, c.env[name], k.env[name], "%s: %s", where, name)
			}
		}
		require.Equal(t, c.replicas, k.replicas, "%s: replicas", where)
		dirs := []string{"/nix", cfg.effectiveString(c.env, cFile, "data_dir")}
		if dir, ok := strings.CutPrefix(cfg.effectiveString(c.env, cFile, "cache.url"), "file://"); ok {
			dirs = append(dirs, dir)
		}
		for _, dir := range dirs {
			require.Equal(t, c.storageOf(dir), k.storageOf(dir), "%s: storage of %s", where, dir)
		}
	}
}

// crestVars are the CREST_* variables a manifest sets for a container.
func crestVars(w worker) []string {
	var out []string
	for name := range w.literal {
		if strings.HasPrefix(name, "CREST_") {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
