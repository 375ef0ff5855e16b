package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/crestwaves/crest/deploy/bench/queuesim"
	"github.com/crestwaves/crest/graph"
	"github.com/crestwaves/crest/internal/shareddata"
)

// benchQueueOptions are the flags of crest bench queue. Like crest plan it reads no
// configuration: the result depends only on the graph file and these flags.
type benchQueueOptions struct {
	graphFile string
	key       string
	format    string
	quiet     bool
	sim       queuesim.Options
}

func newBenchQueueCmd(_ *app) *cobra.Command {
	var o benchQueueOptions
	cmd := &cobra.Command{
		Use:   "queue [--graph FILE]",
		Short: "Simulate a year of merge-queue traffic: Crest's lanes, batching and bisection against one-at-a-time and bors",
		Long: `crest bench queue is a discrete-event simulation of the merge queue on a recorded package
graph, with the production policy code for lanes, AIMD batching and failure-targeted
bisection. Changes arrive as a Poisson process; most touch near-leaf packages; each rebuilds
its reverse closure, with durations from the cost model, and a derivation built once is a
cache hit afterwards. The same traffic runs through Crest, one-at-a-time and bors-style
halving; per strategy and lane it prints p50/p95/p99 latency from approval to merge,
merged and ejected changes, builds per merged change and builder utilization.

The same flags and seed always give the same output. A year takes seconds.`,
		Example: `  crest bench queue
  crest bench queue --graph nixpkgs-apps.jsonl.gz --key id --days 365 --changes-per-day 100 --failure-rate 0.1 --builders 64 --seed 1
  crest bench queue --days 30 --format json`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		Annotations:  map[string]string{"config": "none"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchQueue(o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.graphFile, "graph", "", "package graph `FILE` (default: shared/data/"+shareddata.NixpkgsApps+" here or above, or in $CREST_DATA)")
	f.StringVar(&o.key, "key", "id", "record field that keys packages: auto, id or name")
	f.IntVar(&o.sim.Days, "days", queuesim.DefaultDays, "days of traffic")
	f.Float64Var(&o.sim.ChangesPerDay, "changes-per-day", queuesim.DefaultChangesPerDay, "mean arrivals per day (Poisson)")
	f.Float64Var(&o.sim.FailureRate, "failure-rate", queuesim.DefaultFailureRate, "share of changes that break a package they rebuild")
	f.Float64Var(&o.sim.SecurityRate, "security-rate", queuesim.DefaultSecurityRate, "share of changes labelled security (priority lane)")
	f.IntVar(&o.sim.Builders, "builders", queuesim.DefaultBuilders, "builders shared by every build")
	f.Uint64Var(&o.sim.Seed, "seed", queuesim.DefaultSeed, "seed `N` of the traffic")
	f.StringVar(&o.format, "format", "text", "output format: text or json")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress lines on stderr")
	return cmd
}

func runBenchQueue(o benchQueueOptions, stdout, stderr io.Writer) error {
	if o.format != "text" && o.format != "json" {
		return fmt.Errorf("format %q: want text or json", o.format)
	}
	keyMode, err := graph.ParseKeyMode(o.key)
	if err != nil {
		return err
	}
	for _, v := range []struct {
		name string
		ok   bool
	}{
		{"--days", o.sim.Days > 0}, {"--changes-per-day", o.sim.ChangesPerDay > 0}, {"--builders", o.sim.Builders > 0},
		{"--failure-rate", o.sim.FailureRate >= 0 && o.sim.FailureRate <= 1},
		{"--security-rate", o.sim.SecurityRate >= 0 && o.sim.SecurityRate <= 1},
	} {
		if !v.ok {
			return fmt.Errorf("%s: out of range (days, changes per day and builders must be positive; rates between 0 and 1)", v.name)
		}
	}
	// queuesim reads a zero rate as "the default"; a person who typed 0 means none.
	if o.sim.FailureRate == 0 {
		o.sim.FailureRate = -1
	}
	if o.sim.SecurityRate == 0 {
		o.sim.SecurityRate = -1
	}
	if o.graphFile == "" {
		if o.graphFile, err = shareddata.Path(shareddata.NixpkgsApps); err != nil {
			return fmt.Errorf("%w (or give --graph)", err)
		}
	}
	progress := func(format string, args ...any) {
		if !o.quiet {
			fmt.Fprintf(stderr, format+"\n", args...)
		}
	}
	g, err := loadGraphFile(o.graphFile, keyMode, false, progress)
	if err != nil {
		return err
	}
	progress("simulating %d days ...", o.sim.Days)
	if !o.quiet {
		o.sim.Progress = stderr
	}
	res, err := queuesim.Run(g, o.sim)
	if err != nil {
		return err
	}
	if o.format == "json" {
		b, err := res.JSON()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, string(b))
		return err
	}
	return res.WriteText(stdout)
}
