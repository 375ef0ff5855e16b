package main

import (
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/spf13/cobra"

	"github.com/crestwaves/crest/deploy/bench"
)

func newBenchChaosCmd(a *app) *cobra.Command {
	opts := bench.ChaosOptions{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Run the demo wave while killing its worker process and restarting Temporal; count duplicates and lost results",
		Long: `crest bench chaos starts, in this process, a throwaway PostgreSQL, the embedded Temporal
server on a SQLite file and the demo collection, and runs Crest's workers in a separate process
(this binary as 'crest bench chaos-worker': the queues and activities 'crest worker' serves,
with real Nix builds). It starts the demo major wave (libcore 2 + libnet 2) and answers its
failures as a release manager would (tetrix won't-fix; calc and libhttp retried with their
fixes), while it kills the worker process with SIGKILL --kills times at seeded random points
(after a few more builds are recorded, or some seconds), starting a new one each time, and
stops and starts the Temporal server --server-restarts times on the same file.

It prints the builds recorded, duplicates (derivations recorded as built twice: must be 0),
lost results (packages of a minor wave without a result: must be 0), the tags and the wall
time, and fails unless duplicates and lost results are 0 and every tag is on the remote.`,
		Example: `  crest bench chaos
  crest bench chaos --kills 5 --server-restarts 1 --seed 42 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.cfg != nil {
				opts.PostgresBinDir, opts.PostgresRunAs = a.cfg.Postgres.BinDir, a.cfg.Postgres.RunAs
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench chaos: this binary: %w", err)
			}
			opts.WorkerCommand = func() *exec.Cmd { return exec.Command(exe, "bench", "chaos-worker") }
			opts.Progress = cmd.ErrOrStderr()
			res, err := bench.RunChaos(cmd.Context(), opts)
			return printBench(cmd.OutOrStdout(), "chaos", res, asJSON, err)
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Kills, "kills", 5, "SIGKILLs of the worker process")
	f.IntVar(&opts.ServerRestarts, "server-restarts", 1, "restarts of the embedded Temporal server (negative: none)")
	f.Uint64Var(&opts.Seed, "seed", 0, "seed of the kill points (0: from the clock; printed)")
	f.DurationVar(&opts.Timeout, "timeout", 15*time.Minute, "give up after this long")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// newBenchChaosWorkerCmd is the worker process crest bench chaos starts and kills.
func newBenchChaosWorkerCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "chaos-worker",
		Short:  "The worker process of crest bench chaos (configured by " + bench.ChaosWorkerEnv + ")",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bench.RunChaosWorker(cmd.Context())
		},
	}
}
