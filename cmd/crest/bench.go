package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/crestwaves/crest/deploy/bench"
)

// newBenchCmd groups the benchmarks of Crest itself.
func newBenchCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure Crest's own overhead on the embedded stack",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newBenchWavesCmd(a))
	cmd.AddCommand(newBenchQueueCmd(a))
	cmd.AddCommand(newBenchScheduleCmd(a))
	cmd.AddCommand(newBenchChaosCmd(a))
	cmd.AddCommand(newBenchChaosWorkerCmd())
	cmd.AddCommand(newBenchClusterCmd(a))
	cmd.AddCommand(newBenchTemporalServerCmd())
	return cmd
}

func newBenchWavesCmd(a *app) *cobra.Command {
	var opts bench.Options
	var asJSON bool
	var cpuProfile string
	cmd := &cobra.Command{
		Use:   "waves",
		Short: "Rebuild a synthetic collection in one minor wave with no-op builds (compared with raw Temporal) or modelled ones (compared with the lower bound)",
		Long: `crest bench waves starts, in this process, a throwaway PostgreSQL (fsync off), the embedded
Temporal server in memory and Crest's workers, and a tiny git collection whose update branch
changes every derivation of a synthetic package graph derived from the recorded Debian graph
(replicated to --packages, keeping its depth and fan-in). A major wave with that one update
rebuilds everything in one minor wave through Crest's real workflows and activities (git
merge and tag, evaluations, layout, shards, one BuildPackage with its Postgres bookkeeping per
package), with builds that do nothing.

In the same run, on the same server and workers, a minimal workflow runs as many no-op
activities with the same shard size and concurrency (the raw rate). It prints Crest's
packages/s, the raw activities/s and their ratio, the longest history of any workflow, and
the correctness checks (every package passed and recorded once, the tag on the remote).

With --fail-share F the no-op builder fails the share F of packages chosen by a hash of their
key (the same ones every run); their dependents become dependency-failed, and the wave's
policy marks each failure broken after a one-second grace period, so the wave tags. The
result then counts builds, failures and dependency failures, and names the largest history
event of any workflow.

With --builder model every build sleeps its modelled duration (the cost model's estimate, the
one the engine's priorities come from) × --time-scale, on --slots build slots (the BuildSet
window and the build worker's concurrency), and passes (or fails, with --fail-share). The
result compares the build round's makespan, from the first build's start to the last
build's end, with its lower bound max(critical path, total work / slots) computed from the
same durations, and with graph.Simulate's makespan for the same set (the dispatch discipline
with no overhead). It says where the time above the bound went (slots left free while a
package was ready, in continue-as-new drains and out of them; each step of the dispatch
loop) and the machine's load average during the wave. The raw run is left out: sleeping
builds have no rate to compare.

A 100,000-package run takes tens of minutes on two cores; a 5,000-package model run on 32
slots four to five minutes (its lower bound is two).`,
		Example: `  crest bench waves --packages 100000 --builder noop
  crest bench waves --packages 5000 --shard-size 400 --shards 4 --builds-per-shard 64 --json
  crest bench waves --packages 20000 --fail-share 0.2 --skip-raw
  crest bench waves --builder model --packages 5000 --slots 32 --time-scale 0.002`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.cfg != nil {
				opts.PostgresBinDir, opts.PostgresRunAs = a.cfg.Postgres.BinDir, a.cfg.Postgres.RunAs
			}
			opts.Progress = cmd.ErrOrStderr()
			if cpuProfile != "" {
				stop, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			res, err := bench.Run(cmd.Context(), opts)
			return printBench(cmd.OutOrStdout(), "waves", res, asJSON, err)
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Packages, "packages", bench.DefaultPackages, "packages in the synthetic collection, all rebuilt")
	f.StringVar(&opts.Builder, "builder", "noop", "builder of the packages: noop (passes at once) or model (sleeps each package's modelled duration × --time-scale); never Nix")
	f.Float64Var(&opts.TimeScale, "time-scale", 0, fmt.Sprintf("model builder: real seconds per modelled second (default %g)", bench.DefaultTimeScale))
	f.IntVar(&opts.Slots, "slots", 0, fmt.Sprintf("build slots: the BuildSet window and the build worker's concurrent activities both (default %d with the model builder; noop keeps shards x builds per shard)", bench.DefaultModelSlots))
	f.IntVar(&opts.Limits.ShardSize, "shard-size", bench.DefaultShardSize, "most packages per BuildShard workflow (limits.shard_size)")
	f.IntVar(&opts.Limits.Shards, "shards", bench.DefaultShards, "shard workflows of a layer at once (limits.shards)")
	f.IntVar(&opts.Limits.BuildsPerShard, "builds-per-shard", bench.DefaultBuildsPerShard, "builds in flight per shard (limits.builds_per_shard)")
	f.IntVar(&opts.PoolConns, "pool-conns", bench.DefaultPoolConns, "Postgres connections of the pool (pgx defaults to 4, too few for hundreds of builds in flight)")
	f.IntVar(&opts.Workers.MaxBuilds, "max-builds", 0, "concurrent build activities of the build worker (default: shards x builds per shard)")
	f.StringVar(&opts.Graph, "graph", "", "recorded Debian graph (default: shared/data/"+bench.GraphFileName+" here or above, or $CREST_BENCH_GRAPH)")
	f.Float64Var(&opts.FailShare, "fail-share", 0, "share of packages (0 to 1) whose build fails, chosen by a hash of the key; the policy marks them broken after 1s")
	f.BoolVar(&opts.SkipRaw, "skip-raw", false, "leave out the raw Temporal run (no ratio)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.StringVar(&cpuProfile, "cpu-profile", "", "write a CPU profile of the whole run (go tool pprof) to this file")
	return cmd
}

// startCPUProfile profiles this process's CPU into path until stop: where a benchmark's
// time goes (the workers, the embedded server and the store share the process).
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// printBench prints a bench's result (even a partial one next to an error) as text or JSON
// and returns the bench's error, named.
func printBench[T any, R interface {
	*T
	WriteText(io.Writer) error
}](out io.Writer, name string, res R, asJSON bool, err error) error {
	if res != nil {
		if asJSON {
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			if jerr := enc.Encode(res); jerr != nil {
				return jerr
			}
		} else if werr := res.WriteText(out); werr != nil {
			return werr
		}
	}
	if err != nil {
		return fmt.Errorf("bench %s: %w", name, err)
	}
	return nil
}
