package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/crestwaves/crest/graph"
	"github.com/crestwaves/crest/internal/shareddata"
)

// benchScheduleOptions are the flags of crest bench schedule. Like crest plan it reads no
// configuration: the result depends only on the graph file and these flags.
type benchScheduleOptions struct {
	graphFile string
	updates   []string
	builders  []int
	key       string
	format    string
	lenient   bool
	quiet     bool
}

// benchScheduleDefaultUpdates is how many of the graph's most expensive packages become the
// root updates when --update is not given.
const benchScheduleDefaultUpdates = 5

// benchScheduleResult is what --format json prints.
type benchScheduleResult struct {
	Graph    string   `json:"graph"`
	Packages int      `json:"packages"`
	Edges    int      `json:"edges"`
	Updates  []string `json:"updates"`
	*graph.PlanSimulation
}

func newBenchScheduleCmd(_ *app) *cobra.Command {
	var o benchScheduleOptions
	cmd := &cobra.Command{
		Use:   "schedule [--graph FILE] [--update P ...] [--builders 32,128,512]",
		Short: "Simulate a major wave's builds: layered with barriers against dependency-driven, critical path first",
		Long: `crest bench schedule plans a major wave over a recorded package graph (as crest plan does),
then simulates building it, with every build taking what Crest's default cost model says, on
each number of identical builders. Nothing is built and no server is needed.

For every minor wave (run alone) and for the whole major wave it prints the builds, the total
work, the critical path, the lower bound max(critical path, work / builders), and the
makespan and its ratio to the bound of two disciplines:

  layered  the design before the build engine: dependency layers with a barrier between
           them, longest build first within a layer; a minor wave starts when the waves in
           its After list have finished.
  new      the build engine's dispatcher: a build starts as soon as its dependencies inside
           the set are built, the ready build with the longest remaining critical path first.

For the whole major wave, "new" pipelines the minor waves: a build waits for its
dependencies wherever they are rebuilt, not for whole earlier waves, and the bound is that of
all rebuilds together. "chained" is the same dispatcher with whole-wave barriers, beside the
bound that chaining implies. Dependency cycles are bootstrapped as in crest plan: their
members do not wait for each other.

Without --graph it uses the recorded Nixpkgs apps graph (shared/data/` + shareddata.NixpkgsApps + ` here
or above, or $CREST_DATA). Without --update it updates the ` + fmt.Sprint(benchScheduleDefaultUpdates) + ` most expensive
packages under the cost model (ties by key), so the same graph always gives the same run.`,
		Example: `  crest bench schedule
  crest bench schedule --graph debian-bookworm-amd64-graph.jsonl.gz --builders 32,128,512
  crest bench schedule --graph debian.jsonl.gz --update glibc --update openssl --format json`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		Annotations:  map[string]string{"config": "none"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchSchedule(o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.graphFile, "graph", "", "package graph `FILE` (JSON Lines, plain or gzip; default: the recorded Nixpkgs apps graph)")
	f.StringSliceVar(&o.updates, "update", nil, fmt.Sprintf("package to update (repeatable, or comma-separated; default: the %d most expensive)", benchScheduleDefaultUpdates))
	f.IntSliceVar(&o.builders, "builders", []int{32, 128, 512}, "builder counts to simulate, comma-separated")
	f.StringVar(&o.key, "key", "auto", "record field that keys packages: auto, id or name")
	f.StringVar(&o.format, "format", "text", "output format: text or json")
	f.BoolVar(&o.lenient, "lenient", false, "drop unknown dependencies, duplicate keys and self-edges instead of failing")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress lines on stderr")
	return cmd
}

func runBenchSchedule(o benchScheduleOptions, stdout, stderr io.Writer) error {
	if o.format != "text" && o.format != "json" {
		return fmt.Errorf("format %q: want text or json", o.format)
	}
	if len(o.builders) == 0 {
		return errors.New("no --builders to simulate")
	}
	for _, b := range o.builders {
		if b < 1 {
			return fmt.Errorf("--builders %d: must be at least 1", b)
		}
	}
	keyMode, err := graph.ParseKeyMode(o.key)
	if err != nil {
		return err
	}
	progress := func(format string, args ...any) {
		if !o.quiet {
			fmt.Fprintf(stderr, format+"\n", args...)
		}
	}
	if o.graphFile == "" {
		if o.graphFile, err = shareddata.Path(shareddata.NixpkgsApps); err != nil {
			return fmt.Errorf("default graph: %w (or give --graph)", err)
		}
	}

	g, err := loadGraphFile(o.graphFile, keyMode, o.lenient, progress)
	if err != nil {
		return err
	}

	var updates []string
	if len(o.updates) == 0 {
		if updates, err = g.Heaviest(benchScheduleDefaultUpdates, nil); err != nil {
			return err
		}
		progress("no --update given: updating the %d most expensive packages", len(updates))
	} else if updates, err = g.ResolveAll(o.updates); err != nil {
		return fmt.Errorf("update: %w", err)
	}

	start := time.Now()
	plan, err := g.Plan(graph.PlanRequest{Updates: updates, Wave: 1, Builders: o.builders[0]})
	if err != nil {
		return err
	}
	progress("planned %d minor %s, %d builds; simulating %d builder %s ...", len(plan.Minor),
		planPlural(len(plan.Minor), "wave", "waves"), plan.Totals.Builds, len(o.builders), planPlural(len(o.builders), "count", "counts"))
	sim, err := g.SimulatePlan(plan, nil, o.builders)
	if err != nil {
		return err
	}
	progress("simulated in %s", time.Since(start).Round(time.Millisecond))

	res := benchScheduleResult{Graph: o.graphFile, Packages: g.Len(), Edges: g.EdgeCount(), Updates: plan.Updates, PlanSimulation: sim}
	if o.format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
		return nil
	}
	return writeBenchSchedule(stdout, g, res)
}

// writeBenchSchedule prints the text report: one table per minor wave, then the whole
// major wave.
func writeBenchSchedule(w io.Writer, g *graph.Graph, res benchScheduleResult) error {
	names := func(keys []string) string {
		out := make([]string, len(keys))
		for i, k := range keys {
			out[i] = k
			if p, ok := g.Package(k); ok && p.Attr != "" && p.Attr != k {
				out[i] = p.Attr // recorded Nix graphs key by derivation id
			}
		}
		return strings.Join(out, ", ")
	}
	hours := func(s float64) string { return fmt.Sprintf("%.2f h", s/3600) }
	ratio := func(r float64) string { return fmt.Sprintf("%.2f×", r) }
	chainedRatio := func(r graph.SimulatedRun) float64 {
		if r.LowerBoundSeconds == 0 {
			return 0
		}
		return r.ChainedSeconds / r.LowerBoundSeconds
	}

	fmt.Fprintf(w, "%s: %d packages, %d edges; %d root %s: %s\n", res.Graph, res.Packages, res.Edges,
		len(res.Updates), planPlural(len(res.Updates), "update", "updates"), names(res.Updates))
	fmt.Fprintf(w, "default cost model; lower bound = max(critical path, work / builders)\n")
	for _, m := range res.Minor {
		after := "-"
		if len(m.After) > 0 {
			after = strings.Join(m.After, ", ")
		}
		fmt.Fprintf(w, "\n%s: %s (after %s)\n  %d %s, work %s, critical path %s\n", m.ID, names(m.Updates), after,
			m.Builds, planPlural(m.Builds, "build", "builds"), hours(m.CostSeconds), hours(m.CriticalPathSeconds))
		t := newTable(w, "  builders\tlower bound\tlayered\tratio\tnew\tratio")
		for _, r := range m.Runs {
			fmt.Fprintf(t, "  %d\t%s\t%s\t%s\t%s\t%s\n", r.Builders, hours(r.LowerBoundSeconds),
				hours(r.LayeredSeconds), ratio(r.LayeredRatio), hours(r.MakespanSeconds), ratio(r.Ratio))
		}
		if err := t.Flush(); err != nil {
			return err
		}
	}
	m := res.Major
	fmt.Fprintf(w, "\nwhole major wave %s: %d minor %s\n  %d builds, work %s, critical path %s (across minor waves)\n", m.ID, len(res.Minor),
		planPlural(len(res.Minor), "wave", "waves"), m.Builds, hours(m.CostSeconds), hours(m.CriticalPathSeconds))
	t := newTable(w, "  builders\tlower bound\tlayered\tratio\tnew (pipelined)\tratio\tchained\tratio\tchained bound")
	for _, r := range m.Runs {
		fmt.Fprintf(t, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Builders, hours(r.LowerBoundSeconds),
			hours(r.LayeredSeconds), ratio(r.LayeredRatio), hours(r.MakespanSeconds), ratio(r.Ratio),
			hours(r.ChainedSeconds), ratio(chainedRatio(r)), hours(r.ChainedBoundSeconds))
	}
	return t.Flush()
}
