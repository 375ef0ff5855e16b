package main

import (
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/spf13/cobra"

	"github.com/crestwaves/crest/deploy/bench"
)

func newBenchClusterCmd(a *app) *cobra.Command {
	opts := bench.ClusterOptions{}
	var asJSON bool
	var composeFile string
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Run the demo wave on a cluster of processes: Temporal, an orchestrator and two builders with Nix stores of their own",
		Long: `crest bench cluster (make cluster-demo) runs the demo major wave (libcore 2 + libnet 2) on a
cluster on this machine, every part a process of its own: a throwaway PostgreSQL, the embedded
Temporal server (this binary as 'crest bench temporal-server'), an orchestrator ('crest worker'
serving the default queue, building nothing) and two builders ('crest worker' for
x86_64-linux). Each worker has its own data directory and its own empty Nix store
(nix.store_root: /nix of its own, as on a separate host); they share only Postgres, Temporal
and a file:// binary cache signed with a key made for the run.

It answers the wave's failures as a release manager would (tetrix won't-fix; calc and libhttp
retried with their fixes) and kills the last builder (b) with SIGKILL after --kill-after
builds; the other finishes the work, fetching from the cache what b built. It prints the builds per builder (and
how many derivations Nix built: the rest came from the cache), duplicates and lost results
(must be 0), the tags, and fails unless every tagged output is rooted and valid on the tag host
(the orchestrator) and present in the cache. It also holds every derivation the builders'
Nix built (their build logs) against the cache: none may have been built after its output
was in the cache before the package build that needed it began. Needs root (mount
namespaces).

With --compose, the processes are the crest services of a compose file
(deploy/compose/compose.yaml), run without Docker: each container's command, environment and
crest.yaml as a process of this machine, its volumes as directories, its /nix as its
nix.store_root, Postgres and Temporal as above, with an .env made up for the run (passwords
and a cache key pair).`,
		Example: `  crest bench cluster
  crest bench cluster --kill-after -1 --keep
  crest bench cluster --compose deploy/compose/compose.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.cfg != nil {
				opts.PostgresBinDir, opts.PostgresRunAs = a.cfg.Postgres.BinDir, a.cfg.Postgres.RunAs
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench cluster: this binary: %w", err)
			}
			opts.Command = func(args ...string) *exec.Cmd { return exec.Command(exe, args...) }
			if composeFile != "" {
				vars, err := bench.ComposeEnv()
				if err != nil {
					return err
				}
				if opts.Topology, err = bench.ComposeTopology(composeFile, vars); err != nil {
					return fmt.Errorf("bench cluster: %w", err)
				}
			}
			opts.Progress = cmd.ErrOrStderr()
			res, err := bench.RunCluster(cmd.Context(), opts)
			return printBench(cmd.OutOrStdout(), "cluster", res, asJSON, err)
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.KillAfter, "kill-after", 4, "SIGKILL the last builder once it recorded this many builds (negative: never)")
	f.StringVar(&composeFile, "compose", "", "run the crest services of this compose file instead (deploy/compose/compose.yaml)")
	f.BoolVar(&opts.Keep, "keep", false, "keep the run's directory (configs, logs, stores, cache)")
	f.DurationVar(&opts.Timeout, "timeout", 20*time.Minute, "give up after this long")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// newBenchTemporalServerCmd is the Temporal server process of crest bench cluster.
func newBenchTemporalServerCmd() *cobra.Command {
	var db, log, namespace string
	cmd := &cobra.Command{
		Use:    "temporal-server",
		Short:  "The embedded Temporal server as a process of its own (crest bench cluster)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bench.RunTemporalServer(cmd.Context(), db, log, namespace, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&db, "db", "", "SQLite file (empty: in memory)")
	cmd.Flags().StringVar(&log, "log", "", "the server's log file (empty: discarded)")
	cmd.Flags().StringVar(&namespace, "namespace", "default", "the namespace to register, with Crest's search attributes")
	return cmd
}
