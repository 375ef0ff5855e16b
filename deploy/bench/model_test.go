package bench

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/graph"
	"github.com/crestwaves/crest/workflows"
)

// TestRunSmallModel runs a real minor wave of a few hundred packages whose builds sleep
// their modelled durations, and checks what holds whatever the machine's speed: every
// package built once, never more builds at once than slots, and a makespan no shorter than
// the lower bound (the builds slept at least their durations, on at most that many slots).
func TestRunSmallModel(t *testing.T) {
	const slots = 8
	res, err := Run(context.Background(), Options{Packages: 300, Builder: "model", TimeScale: 0.0005, Slots: slots,
		Limits: smallLimits, Progress: testWriter{t}})
	require.NoError(t, err)
	require.NoError(t, res.WriteText(os.Stdout))
	require.Equal(t, "wave-1-1", res.Tag)
	require.Equal(t, int64(300), res.Builds)
	require.Equal(t, slots, res.Limits.Builds, "the BuildSet window is the slots")
	require.Equal(t, slots, res.Workers.MaxBuilds, "so is the build worker's concurrency")
	require.Zero(t, res.Raw.Seconds, "no raw run beside sleeping builds")
	m := res.Model
	require.NotNil(t, m)
	require.Equal(t, 300, m.Builds)
	require.Equal(t, slots, m.Slots)
	require.Positive(t, m.LowerBoundSeconds)
	require.InDelta(t, max(m.CriticalPathSeconds, m.WorkSeconds/slots), m.LowerBoundSeconds, 1e-9)
	require.GreaterOrEqual(t, m.BusySeconds, m.WorkSeconds, "no build sleeps less than its duration")
	require.GreaterOrEqual(t, m.MakespanSeconds, m.LowerBoundSeconds)
	require.GreaterOrEqual(t, m.SimulatedSeconds, m.LowerBoundSeconds)
	require.InDelta(t, m.MakespanSeconds/m.LowerBoundSeconds, m.Ratio, 1e-9)
	require.LessOrEqual(t, m.PeakBuilds, slots)
	require.Positive(t, m.Load.Samples)
	require.Len(t, res.Verified, 8, "the six checks of every run and the model builder's two")
}

// TestRunSmallModelWithFailures fails a fifth of the packages after their modelled time:
// the bound covers what was built, dependency-failed packages are not.
func TestRunSmallModelWithFailures(t *testing.T) {
	res, err := Run(context.Background(), Options{Packages: 300, Builder: "model", TimeScale: 0.0002, Slots: 16,
		Limits: smallLimits, FailShare: 0.2, Progress: testWriter{t}})
	require.NoError(t, err)
	require.NoError(t, res.WriteText(os.Stdout))
	require.Equal(t, "wave-1-1", res.Tag)
	require.Positive(t, res.Failed)
	require.Positive(t, res.DependencyFailed)
	require.Equal(t, res.Failed, res.MarkedBroken)
	m := res.Model
	require.NotNil(t, m)
	require.Equal(t, 300-res.DependencyFailed, m.Builds)
	require.Equal(t, int64(m.Builds), res.Builds)
	require.GreaterOrEqual(t, m.MakespanSeconds, m.LowerBoundSeconds)
	require.Positive(t, m.LowerBoundSeconds)
}

func TestModelOptions(t *testing.T) {
	t.Parallel()
	o, err := Options{Builder: "model", Graph: "g"}.withDefaults()
	require.NoError(t, err)
	require.Equal(t, DefaultTimeScale, o.TimeScale)
	require.Equal(t, DefaultModelSlots, o.Slots)
	require.Equal(t, DefaultModelSlots, o.Limits.Builds)
	require.Equal(t, DefaultModelSlots, o.Workers.MaxBuilds)
	require.True(t, o.SkipRaw)

	o, err = Options{Graph: "g"}.withDefaults()
	require.NoError(t, err)
	require.Zero(t, o.Limits.Builds, "the no-op run keeps the workflow's default window")
	require.Equal(t, o.Limits.Shards*o.Limits.BuildsPerShard, o.Workers.MaxBuilds)

	for _, bad := range []Options{
		{Builder: "noop", TimeScale: 0.1},
		{Builder: "model", TimeScale: -1},
		{Builder: "model", Slots: 8, Workers: WorkerOptions{MaxBuilds: 16}},
		{Builder: "model", Slots: 8, Limits: workflows.Limits{Builds: 16}},
		{Builder: "model", Slots: -2},
		{Builder: "nix"},
	} {
		bad.Graph = "g"
		_, err := bad.withDefaults()
		require.Error(t, err, "%+v", bad)
	}
}

// TestModelBuilderSleepsAndStops checks the builder on its own: it sleeps the scaled
// duration before the wrapped builder answers, stops when its context ends, and fails a
// derivation it has no duration for.
func TestModelBuilderSleepsAndStops(t *testing.T) {
	t.Parallel()
	col, err := Derive(toy, 5, "toy")
	require.NoError(t, err)
	b, err := newModelBuilder(col, 0.0001, activities.NoopBuilder{})
	require.NoError(t, err)
	want := time.Duration(b.seconds["a"] * 0.0001 * float64(time.Second))
	require.Positive(t, want)

	began := time.Now()
	res, err := b.Build(context.Background(), "/nix/store/bench-v2-a.drv", nil, func() {})
	require.NoError(t, err)
	require.Equal(t, store.StatusPassed, res.Status)
	require.GreaterOrEqual(t, time.Since(began), want)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = b.Build(ctx, "/nix/store/bench-v2-b.drv", nil, func() {})
	require.ErrorIs(t, err, context.Canceled)

	res, err = b.Build(context.Background(), "/nix/store/bench-v2-nosuch.drv", nil, func() {})
	require.NoError(t, err)
	require.Equal(t, store.StatusFailed, res.Status)

	var failures []string
	b.verify(1, func(ok bool, f string, args ...any) {
		if !ok {
			failures = append(failures, f)
		}
	})
	require.Len(t, failures, 1, "one build interrupted and one unpriced: the once-each check fails, the slots check holds")
}

// TestLossesSweepsTheTimeline checks the diagnosis on a timeline worked out by hand: on two
// slots, b waits for a, which ends at 1 s, but starts at 1.5 s in the next dispatcher run
// while one slot is free: half a second of one slot, a quarter second of makespan, all of
// it inside the drain from the first run's last start (0 s) to the next run's first (1.5 s).
func TestLossesSweepsTheTimeline(t *testing.T) {
	t.Parallel()
	g, _, err := graph.New([]graph.Package{{Key: "a"}, {Key: "b", Deps: []string{"a"}}, {Key: "c"}}, graph.Options{})
	require.NoError(t, err)
	set, err := g.BuildSet([]string{"a", "b", "c"}, graph.UnitCost)
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	spans := map[string]buildSpan{
		"a": {start: at(0), end: at(1), run: "r1"},
		"c": {start: at(0), end: at(2), run: "r1"},
		"b": {start: at(1.5), end: at(2.5), run: "r2"},
	}
	l := losses(set, spans, func(k string) string { return k }, 2)
	require.Equal(t, 2, l.Runs)
	require.InDelta(t, 1.5, l.DrainSeconds, 1e-9)
	require.InDelta(t, 1.5, l.LongestDrainSeconds, 1e-9)
	require.InDelta(t, 0.25, l.IdleReadySeconds, 1e-9)
	require.InDelta(t, 0.25, l.DrainIdleReadySeconds, 1e-9)

	spans["b"] = buildSpan{start: at(1), end: at(2), run: "r1"} // started the moment a ended
	l = losses(set, spans, func(k string) string { return k }, 2)
	require.Equal(t, 1, l.Runs)
	require.Zero(t, l.DrainSeconds)
	require.Zero(t, l.IdleReadySeconds)
}

// TestLatencyTimesTheLoop checks the dispatch-loop means on one loop worked out by hand:
// take 100 ms, refill 50, pickup 50, a one-second build, record 50, react 50.
func TestLatencyTimesTheLoop(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	run := []traceEvent{
		{at: at(0), kind: takeScheduled},
		{at: at(100), kind: takeDone},
		{at: at(150), kind: buildScheduled, pkg: "x/a"},
		{at: at(1250), kind: buildDone, pkg: "x/a"},
		{at: at(1300), kind: takeScheduled},
		{at: at(1400), kind: takeDone},
	}
	spans := map[string]buildSpan{"x_a": {start: at(200), end: at(1200)}}
	l := latency([][]traceEvent{run}, spans, failKey)
	require.Equal(t, 2, l.Takes)
	require.Equal(t, 1, l.Builds)
	require.InDelta(t, 0.1, l.TakeSeconds, 1e-9)
	require.InDelta(t, 0.05, l.RefillSeconds, 1e-9)
	require.InDelta(t, 0.05, l.PickupSeconds, 1e-9)
	require.InDelta(t, 0.05, l.RecordSeconds, 1e-9)
	require.InDelta(t, 0.05, l.ReactSeconds, 1e-9)
}
