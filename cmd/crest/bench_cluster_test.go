package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/deploy/bench"
)

// cliArgsEnv makes the test binary run one crest command line (a JSON list of arguments)
// and exit, as the crest binary would: the processes crest bench cluster starts.
const cliArgsEnv = "CREST_TEST_CLI_ARGS"

func runCLI(argsJSON string) int {
	var args []string
	if err := json.Unmarshal([]byte(argsJSON), &args); err != nil {
		fmt.Fprintln(os.Stderr, cliArgsEnv+":", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "crest:", err)
		return 1
	}
	return 0
}

// crestCommand runs this test binary as crest with args.
func crestCommand(args ...string) *exec.Cmd {
	b, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), cliArgsEnv+"="+string(b))
	return cmd
}

// TestClusterDemo is make cluster-demo: the demo wave on Temporal, an orchestrator and two
// builders, each a process of its own (crest bench temporal-server, crest worker), each
// worker with a Nix store of its own, sharing a signed binary cache. Builder b is killed
// mid-wave; the wave still reaches wave-1-1 and wave-1-2 with the README's resolutions,
// both builders built, nothing is recorded twice or lost, no builder's Nix built anything
// whose output was in the cache before the build needing it began, and every tagged output
// is rooted and valid on the tag host and present in the cache.
func TestClusterDemo(t *testing.T) {
	res, err := bench.RunCluster(t.Context(), bench.ClusterOptions{KillAfter: 4, Timeout: 15 * time.Minute,
		Progress: t.Output(), Command: crestCommand})
	requireCluster(t, res, err, []string{"builder-a", "builder-b"})
}

// TestComposeCluster runs deploy/compose/compose.yaml without Docker: its crest services
// (crest migrate up, the orchestrator, two builder replicas) become processes of this
// binary with the commands, environment, secrets and crest.yaml the file gives them, their
// volumes directories (each builder's /nix its own store, the crest-cache volume the
// shared file:// cache), against the local PostgreSQL and Temporal server standing for the
// file's; then the demo wave runs through them to its tags, as in TestClusterDemo. A field
// of the file without a stand-in fails it, so the file cannot drift from the code.
func TestComposeCluster(t *testing.T) {
	vars, err := bench.ComposeEnv()
	require.NoError(t, err)
	topo, err := bench.ComposeTopology("../../deploy/compose/compose.yaml", vars)
	require.NoError(t, err)
	res, err := bench.RunCluster(t.Context(), bench.ClusterOptions{Topology: topo, KillAfter: 4, Timeout: 15 * time.Minute,
		Progress: t.Output(), Command: crestCommand})
	requireCluster(t, res, err, []string{"crest-builder-x86-64-linux-1", "crest-builder-x86-64-linux-2"})
	require.True(t, slices.ContainsFunc(res.Events, func(e string) bool { return strings.Contains(e, "crest-migrate: crest migrate up") }),
		"the one-shot migration ran")
}

// requireCluster holds a cluster run to the demo's outcome, builders being its builders.
func requireCluster(t *testing.T, res *bench.ClusterResult, err error, builders []string) {
	t.Helper()
	if res != nil {
		require.NoError(t, res.WriteText(os.Stdout))
	}
	require.NoError(t, err)
	require.Equal(t, []string{"wave-1-1", "wave-1-2"}, res.Tags)
	require.Empty(t, res.Duplicates)
	require.Empty(t, res.Rebuilt, "no derivation built although its output was in the cache")
	require.Zero(t, res.Lost)
	require.Len(t, res.Builders, len(builders))
	for i, b := range res.Builders {
		require.Equal(t, builders[i], b.Name)
		require.Positive(t, b.Builds, b.Name)
	}
	require.True(t, res.Builders[len(builders)-1].Killed, "the last builder was killed")
	require.Positive(t, res.NixBuilt)
	require.Positive(t, res.TaggedOutputs)
	require.GreaterOrEqual(t, res.CachePaths, res.TaggedOutputs)
}
