package queuesim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/crestwaves/crest/graph"
	"github.com/crestwaves/crest/policy"
)

// Strategies are the strategies Run compares, in report order.
var Strategies = []string{StrategyCrest, StrategyOneAtATime, StrategyBors}

// Result is a whole simulation: the traffic and, per strategy, the measures.
type Result struct {
	Packages   int                 `json:"packages"`
	Options    Options             `json:"options"`
	Submitted  int                 `json:"submitted"`
	ByLane     map[policy.Lane]int `json:"submitted_by_lane"`
	Strategies []StrategyResult    `json:"strategies"`
}

// StrategyResult holds one strategy's measures, overall and per lane.
type StrategyResult struct {
	Name string `json:"name"`
	LaneResult
	Lanes []LaneResult `json:"lanes"`
}

// LaneResult holds the measures of one lane (or, in StrategyResult, of all lanes).
type LaneResult struct {
	Lane            policy.Lane `json:"lane,omitempty"`
	Submitted       int         `json:"submitted"`
	Merged          int         `json:"merged"`
	Ejected         int         `json:"ejected"`
	Queued          int         `json:"queued"`
	P50Seconds      float64     `json:"p50_seconds"`
	P95Seconds      float64     `json:"p95_seconds"`
	P99Seconds      float64     `json:"p99_seconds"`
	Builds          int         `json:"builds"`
	BuildsPerMerged float64     `json:"builds_per_merged"`
	Utilization     float64     `json:"builder_utilization"`
}

// Run simulates Options.Days of traffic on g with every strategy of Strategies.
func Run(g *graph.Graph, o Options) (*Result, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("queue simulation: %w", err)
	}
	m, err := newModel(g)
	if err != nil {
		return nil, fmt.Errorf("queue simulation: %w", err)
	}
	changes, err := traffic(m, o)
	if err != nil {
		return nil, fmt.Errorf("queue simulation: %w", err)
	}
	res := &Result{Packages: m.n, Options: o, Submitted: len(changes), ByLane: map[policy.Lane]int{}}
	for _, c := range changes {
		res.ByLane[c.lane]++
	}
	for _, name := range Strategies {
		start := time.Now()
		sr, _, err := simulate(name, m, o, changes)
		if err != nil {
			return nil, fmt.Errorf("queue simulation: %s: %w", name, err)
		}
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "%s: %d merged, %d ejected, %d queued, %d builds in %s\n",
				name, sr.Merged, sr.Ejected, sr.Queued, sr.Builds, time.Since(start).Round(time.Millisecond))
		}
		res.Strategies = append(res.Strategies, *sr)
	}
	return res, nil
}

// simulate runs one strategy over the traffic.
func simulate(name string, m *model, o Options, changes []*change) (*StrategyResult, *engine, error) {
	e := newEngine(m, o, changes)
	s, check, err := newStrategy(name, e, changes)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range changes {
		e.lanes[c.lane].submitted++
		e.at(c.at, func() { s.submit(c) })
	}
	e.run()
	if err := check(); err != nil {
		return nil, nil, err
	}
	capacity := float64(o.Builders) * e.horizon
	sr := &StrategyResult{Name: name}
	var all []float64
	var allRebuilds int
	for _, l := range []policy.Lane{policy.LaneFast, policy.LaneWave, policy.LanePriority} {
		ls := e.lanes[l]
		lr := LaneResult{Lane: l, Submitted: ls.submitted, Merged: ls.merged, Ejected: ls.ejected,
			Queued: ls.submitted - ls.merged - ls.ejected, Builds: ls.builds}
		lr.P50Seconds, lr.P95Seconds, lr.P99Seconds = percentiles(ls.latencies)
		lr.BuildsPerMerged = ratio(ls.builds, ls.mergedRebuilds)
		if capacity > 0 {
			lr.Utilization = ls.busy / capacity
		}
		sr.Lanes = append(sr.Lanes, lr)
		all = append(all, ls.latencies...)
		allRebuilds += ls.mergedRebuilds
		sr.Submitted += lr.Submitted
		sr.Merged += lr.Merged
		sr.Ejected += lr.Ejected
		sr.Queued += lr.Queued
		sr.Builds += lr.Builds
	}
	sr.P50Seconds, sr.P95Seconds, sr.P99Seconds = percentiles(all)
	sr.BuildsPerMerged = ratio(sr.Builds, allRebuilds)
	if capacity > 0 {
		sr.Utilization = e.busy / capacity
	}
	return sr, e, nil
}

func ratio(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// percentiles are the nearest-rank p50, p95 and p99 (0 for no values).
func percentiles(xs []float64) (p50, p95, p99 float64) {
	if len(xs) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return rank(0.50), rank(0.95), rank(0.99)
}

// WriteText prints the comparison as a table, one row per strategy and lane.
func (r *Result) WriteText(w io.Writer) error {
	o := r.Options
	var lanes []string
	for _, l := range []policy.Lane{policy.LaneFast, policy.LaneWave, policy.LanePriority} {
		lanes = append(lanes, fmt.Sprintf("%d %s", r.ByLane[l], l))
	}
	fmt.Fprintf(w, "%d days, %g changes/day (%s), %g%% failing, %d builders, seed %d, %d packages\n\n",
		o.Days, o.ChangesPerDay, strings.Join(lanes, ", "), o.FailureRate*100, o.Builders, o.Seed, r.Packages)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "strategy\tlane\tsubmitted\tmerged\tejected\tqueued\tp50\tp95\tp99\tbuilds/merged\tutilization\t")
	row := func(name string, l LaneResult, lane string) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%.2f\t%.1f%%\t\n", name, lane, l.Submitted, l.Merged, l.Ejected, l.Queued,
			hours(l.P50Seconds, l.Merged), hours(l.P95Seconds, l.Merged), hours(l.P99Seconds, l.Merged), l.BuildsPerMerged, 100*l.Utilization)
	}
	for _, s := range r.Strategies {
		for _, l := range s.Lanes {
			row(s.Name, l, string(l.Lane))
		}
		row(s.Name, s.LaneResult, "all")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "\nlatency: submission to merge, merged changes only; builds/merged: package builds performed per package in the merged changes' own rebuild sets")
	return err
}

func hours(secs float64, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fh", secs/3600)
}

// JSON is the machine-readable form: per strategy and lane the measures, keyed by name.
func (r *Result) JSON() ([]byte, error) {
	type lane = LaneResult
	out := struct {
		*Result
		Table map[string]map[string]lane `json:"by_strategy"`
	}{Result: r, Table: map[string]map[string]lane{}}
	for _, s := range r.Strategies {
		t := map[string]lane{"all": s.LaneResult}
		for _, l := range s.Lanes {
			t[string(l.Lane)] = l
		}
		out.Table[s.Name] = t
	}
	return json.MarshalIndent(out, "", "  ")
}

// Strategy returns the named strategy's result.
func (r *Result) Strategy(name string) (StrategyResult, bool) {
	i := slices.IndexFunc(r.Strategies, func(s StrategyResult) bool { return cmp.Compare(s.Name, name) == 0 })
	if i < 0 {
		return StrategyResult{}, false
	}
	return r.Strategies[i], true
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
