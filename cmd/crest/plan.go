package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/crestwaves/crest/graph"
	"github.com/crestwaves/crest/graph/planview"
)

// planOptions are the flags of crest plan. It reads no configuration: a plan depends only on
// the graph file and these flags, so that the same command line always prints the same plan.
type planOptions struct {
	graphFile string
	updates   []string
	groups    []string
	locked    []string
	key       string
	wave      int
	builders  int
	format    string
	output    string
	lenient   bool
	quiet     bool
}

// planFormats are the renderers of --format, by name.
var planFormats = map[string]func(io.Writer, *graph.Plan) error{
	"table": planview.Table,
	"json":  planview.JSON,
	"dot":   planview.DOT,
	"svg":   planview.SVG,
	"png":   planview.PNG,
}

func newPlanCmd() *cobra.Command {
	var o planOptions
	cmd := &cobra.Command{
		Use:   "plan --graph FILE --update P [--update P ...]",
		Short: "Show the minor waves a major wave would run, before building anything",
		Long: `Plan a major wave from a package graph and the packages to update: which minor waves
run, in which order, what each rebuilds, what it costs, and which may run concurrently,
compared with rebuilding everything once per update and with one staging batch. As svg or
png, the schedule is drawn as a Gantt chart: each minor wave from its estimated start to
its estimated finish with --builders builders.

The graph is JSON Lines, plain or gzip: Crest's evaluation records, or the recorded Nixpkgs
and Debian graphs. Packages are named by key, attribute path or name; unknown names get
suggestions. Progress goes to stderr, the plan to stdout or -o FILE.

Costs come from the structural model (graph.DefaultCost: a recorded build_seconds, Debian
size hints, or Nix closure size). crest plan reads no database, so it knows no measured
durations; the plan a wave stores (crest wave start) prices every package its system has
built before at its last measured duration.`,
		Example: `  crest plan --graph debian.jsonl.gz --update glibc --update openssl
  crest plan --graph nixpkgs.jsonl.gz --update openssl --update zlib --builders 32 --format svg -o wave.svg
  crest plan --graph eval.jsonl --update a --update b --group a,b --locked c --format json`,
		Args:         cobra.NoArgs,
		SilenceUsage: true, // a failed plan is not a usage mistake
		// Not a client of Temporal or Postgres: skip the root command's configuration.
		Annotations: map[string]string{"config": "none"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPlan(o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.graphFile, "graph", "", "package graph `FILE` (JSON Lines, plain or gzip)")
	f.StringSliceVar(&o.updates, "update", nil, "package to update (repeatable, or comma-separated)")
	f.StringArrayVar(&o.groups, "group", nil, "packages to update together in one minor wave, comma-separated (repeatable)")
	f.StringSliceVar(&o.locked, "locked", nil, "package already locked in this major wave: never rebuilt (repeatable)")
	f.StringVar(&o.key, "key", "auto", "record field that keys packages: auto, id or name")
	f.IntVar(&o.wave, "wave", 1, "major wave number `N`: minor waves are wave-N-1, wave-N-2, ...")
	f.IntVar(&o.builders, "builders", 8, "builders working at once, for wall-time estimates")
	f.StringVar(&o.format, "format", "table", "output format: table, json, dot, or the schedule as a Gantt chart in svg or png")
	f.StringVarP(&o.output, "output", "o", "", "write the plan to `FILE` instead of stdout")
	f.BoolVar(&o.lenient, "lenient", false, "drop unknown dependencies, duplicate keys and self-edges instead of failing")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress lines on stderr")
	_ = cmd.MarkFlagRequired("graph")
	return cmd
}

func runPlan(o planOptions, stdout, stderr io.Writer) error {
	render, ok := planFormats[o.format]
	if !ok {
		return fmt.Errorf("format %q: want table, json, dot, svg or png", o.format)
	}
	keyMode, err := graph.ParseKeyMode(o.key)
	if err != nil {
		return err
	}
	var groups [][]string
	for _, grp := range o.groups {
		var names []string
		for _, n := range strings.Split(grp, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
		groups = append(groups, names)
	}
	if len(o.updates) == 0 && len(groups) == 0 {
		return fmt.Errorf("nothing to plan: give at least one --update or --group")
	}
	progress := func(format string, args ...any) {
		if !o.quiet {
			fmt.Fprintf(stderr, format+"\n", args...)
		}
	}

	g, err := loadGraphFile(o.graphFile, keyMode, o.lenient, progress)
	if err != nil {
		return err
	}

	resolve := func(what string, names []string) ([]string, error) {
		keys, err := g.ResolveAll(names)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return keys, nil
	}
	req := graph.PlanRequest{Wave: o.wave, Builders: o.builders}
	if req.Updates, err = resolve("update", o.updates); err != nil {
		return err
	}
	for _, grp := range groups {
		keys, err := resolve("group", grp)
		if err != nil {
			return err
		}
		req.Groups = append(req.Groups, keys)
	}
	if req.Locked, err = resolve("locked", o.locked); err != nil {
		return err
	}

	start := time.Now()
	n := len(req.Updates)
	for _, grp := range req.Groups {
		n += len(grp)
	}
	progress("planning %d %s ...", n, planPlural(n, "update", "updates"))
	plan, err := g.Plan(req)
	if err != nil {
		return err
	}
	progress("planned %d minor %s, %d builds, in %s", len(plan.Minor), planPlural(len(plan.Minor), "wave", "waves"),
		plan.Totals.Builds, time.Since(start).Round(time.Millisecond))

	// Render into memory first so that a failed render leaves no half-written file.
	var buf bytes.Buffer
	if err := render(&buf, plan); err != nil {
		return err
	}
	if o.output == "" {
		if _, err := stdout.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("write plan: %w", err)
		}
		return nil
	}
	if err := os.WriteFile(o.output, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	progress("wrote %s", o.output)
	return nil
}

func planPlural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// loadGraphFile reads a recorded graph for the commands that plan or simulate over one,
// reporting progress (what was loaded, how long it took).
func loadGraphFile(file string, key graph.KeyMode, lenient bool, progress func(string, ...any)) (*graph.Graph, error) {
	start := time.Now()
	progress("loading %s ...", file)
	fh, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("open graph: %w", err)
	}
	g, rep, err := graph.Load(fh, graph.ReadOptions{Key: key}, graph.Options{Lenient: lenient})
	fh.Close()
	if err != nil {
		var invalid *graph.ValidationError
		if errors.As(err, &invalid) && !lenient {
			return nil, fmt.Errorf("%s: %w (--lenient drops them)", file, err)
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	progress("loaded %s in %s", rep, time.Since(start).Round(time.Millisecond))
	return g, nil
}
