package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/graph"
)

// Defaults of a model-builder run.
const (
	// DefaultTimeScale turns a modelled second into real seconds: at 0.002 a modelled hour
	// takes 7.2 s, so a 5,000-package set of the Debian graph (1.87 million modelled
	// seconds of work, 16.3 h on 32 builders) has a lower bound of about two minutes, and
	// its shortest builds (about 250 modelled seconds) sleep half a second. The engine's
	// dispatch loop (a build's end to the next start in its slot, Latency) is a fixed real
	// time, so a larger scale shrinks its share of the makespan; a continue-as-new drain
	// waits for modelled time and keeps its share whatever the scale.
	DefaultTimeScale = 0.002
	// DefaultModelSlots is the build slots of a model-builder run: the BuildSet window and the
	// build worker's concurrent activities.
	DefaultModelSlots = 32
	// modelHeartbeat is how often a sleeping build heartbeats, well inside the default
	// heartbeat timeout of a minute.
	modelHeartbeat = 10 * time.Second
)

// Model is what a model-builder run measured: the build round's makespan against the
// lower bound computed from the durations the builds slept. Seconds are real seconds (the
// modelled ones × TimeScale).
type Model struct {
	TimeScale float64 `json:"time_scale"`
	// Slots is the build slots: the BuildSet window (limits.builds) and the build worker's
	// concurrent activities, both.
	Slots int `json:"slots"`
	// Builds is how many packages the builder ran (the set the bound is computed over:
	// dependency-failed packages are not built).
	Builds int `json:"builds"`
	// WorkSeconds, CriticalPathSeconds and LowerBoundSeconds are the built set's total work,
	// most expensive dependency chain and max(critical path, work / slots), from the graph
	// package's BuildSet with the same durations the builds slept.
	WorkSeconds         float64 `json:"work_seconds"`
	CriticalPathSeconds float64 `json:"critical_path_seconds"`
	LowerBoundSeconds   float64 `json:"lower_bound_seconds"`
	// SimulatedSeconds is the makespan of graph.Simulate on the same set, durations and
	// slots, critical path first: what the engine's dispatch discipline gives with no
	// overhead at all.
	SimulatedSeconds float64 `json:"simulated_seconds"`
	// MakespanSeconds runs from the first build's start to the last build's end, on the
	// builder's own clock.
	MakespanSeconds float64 `json:"makespan_seconds"`
	// Ratio is MakespanSeconds / LowerBoundSeconds; SimulatedRatio the simulation's.
	Ratio          float64 `json:"ratio"`
	SimulatedRatio float64 `json:"simulated_ratio"`
	// BusySeconds sums the time the builds slept; over Slots × MakespanSeconds it is how
	// busy the slots were.
	BusySeconds float64 `json:"busy_seconds"`
	// PeakBuilds is the most builds that slept at once.
	PeakBuilds int `json:"peak_builds"`
	// Load is the machine's load average while the minor wave ran.
	Load Load `json:"load"`
	// Losses says where the time above the simulated makespan went.
	Losses Losses `json:"losses"`
	// Latency times the steps of the dispatch loop.
	Latency Latency `json:"latency"`
}

// Load samples /proc/loadavg's one-minute figure while a run goes on.
type Load struct {
	Mean    float64 `json:"mean"`
	Max     float64 `json:"max"`
	Samples int     `json:"samples"`
	CPUs    int     `json:"cpus"`
}

// modelBuilder sleeps each build's modelled duration (graph.DefaultCost, as the frontier
// prices it) × scale, heartbeating, then hands the build to the builder it wraps (the no-op
// builder that fails the chosen share), so a failing build also takes its time.
type modelBuilder struct {
	activities.Builder
	seconds map[string]float64 // modelled seconds by the key in the derivation (failKey)
	scale   float64

	mu                sync.Mutex
	first, last       time.Time
	busy              time.Duration
	running, peak     int
	built             map[string]int       // builds per package key (failKey)
	spans             map[string]buildSpan // each package's build, for Losses
	unknownDrvs, errs int
}

// newModelBuilder prices every package of col.
func newModelBuilder(col Collection, scale float64, inner activities.Builder) (*modelBuilder, error) {
	g, _, err := graph.New(col.Packages, graph.Options{Lenient: true})
	if err != nil {
		return nil, err
	}
	b := &modelBuilder{Builder: inner, scale: scale, seconds: make(map[string]float64, len(col.Packages)),
		built: make(map[string]int, len(col.Packages)), spans: make(map[string]buildSpan, len(col.Packages))}
	for i := range col.Packages {
		p := &col.Packages[i]
		b.seconds[failKey(p.Key)] = graph.DefaultCost.Seconds(p, g)
	}
	return b, nil
}

// Build sleeps the derivation's modelled duration × scale, then builds it with the wrapped
// builder. A derivation the collection does not have fails: there is no duration to model.
func (b *modelBuilder) Build(ctx context.Context, drv string, tests []string, heartbeat func()) (wire.BuildResult, error) {
	key, ok := keyOfDrv(drv)
	secs, known := b.seconds[key]
	if !ok || !known {
		b.mu.Lock()
		b.unknownDrvs++
		b.mu.Unlock()
		return wire.BuildResult{Status: store.StatusFailed, ExitCode: 1, LogTail: "crest bench: no modelled duration for " + drv}, nil
	}
	run := ""
	if activity.IsActivity(ctx) {
		run = activity.GetInfo(ctx).WorkflowExecution.RunID
	}
	start := b.begin()
	err := sleep(ctx, time.Duration(secs*b.scale*float64(time.Second)), heartbeat)
	b.end(key, run, start, err)
	if err != nil {
		return wire.BuildResult{}, err
	}
	return b.Builder.Build(ctx, drv, tests, heartbeat)
}

func (b *modelBuilder) begin() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if b.first.IsZero() {
		b.first = now
	}
	b.running++
	b.peak = max(b.peak, b.running)
	return now
}

func (b *modelBuilder) end(key, run string, start time.Time, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.running--
	b.busy += now.Sub(start)
	if now.After(b.last) {
		b.last = now
	}
	if err != nil {
		b.errs++
		return
	}
	b.built[key]++
	b.spans[key] = buildSpan{start: start, end: now, run: run}
}

// buildSpan is when one build slept, and the dispatcher run (BuildSet, a new one after each
// continue-as-new) that started it.
type buildSpan struct {
	start, end time.Time
	run        string
}

// sleep waits d, heartbeating every modelHeartbeat, unless ctx ends first.
func sleep(ctx context.Context, d time.Duration, heartbeat func()) error {
	done := time.NewTimer(d)
	defer done.Stop()
	tick := time.NewTicker(modelHeartbeat)
	defer tick.Stop()
	for {
		select {
		case <-done.C:
			return nil
		case <-tick.C:
			heartbeat()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// result measures the run against the lower bound of the packages the builder ran, priced
// as they slept.
func (b *modelBuilder) result(col Collection, slots int, traces []*tracer) (*Model, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	byKey := make(map[string]string, len(col.Packages))
	for _, p := range col.Packages {
		byKey[failKey(p.Key)] = p.Key
	}
	keys := make([]string, 0, len(b.built))
	for k := range b.built {
		keys = append(keys, byKey[k])
	}
	m := &Model{TimeScale: b.scale, Slots: slots, Builds: len(keys), PeakBuilds: b.peak, BusySeconds: b.busy.Seconds()}
	if len(keys) == 0 {
		return m, nil
	}
	g, _, err := graph.New(col.Packages, graph.Options{Lenient: true})
	if err != nil {
		return nil, err
	}
	scaled := graph.CostFunc(func(p *graph.Package, g *graph.Graph) float64 { return graph.DefaultCost.Seconds(p, g) * b.scale })
	set, err := g.BuildSet(keys, scaled)
	if err != nil {
		return nil, err
	}
	m.WorkSeconds, m.CriticalPathSeconds, m.LowerBoundSeconds = set.WorkSeconds(), set.CriticalPathSeconds(), set.LowerBound(slots)
	m.SimulatedSeconds = graph.Simulate(set, slots, graph.CriticalPathFirst).Makespan
	m.Losses = losses(set, b.spans, failKey, slots)
	runs := make([][]traceEvent, len(traces))
	for i, t := range traces {
		runs[i] = t.events
	}
	m.Latency = latency(runs, b.spans, failKey)
	m.MakespanSeconds = b.last.Sub(b.first).Seconds()
	if m.LowerBoundSeconds > 0 {
		m.Ratio = m.MakespanSeconds / m.LowerBoundSeconds
		m.SimulatedRatio = m.SimulatedSeconds / m.LowerBoundSeconds
	}
	return m, nil
}

// verify checks what a model run must have done: each package slept once, never more
// builds at once than slots, nothing unpriced.
func (b *modelBuilder) verify(slots int, check func(bool, string, ...any)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	twice := 0
	for _, n := range b.built {
		twice += b2i(n > 1)
	}
	check(twice == 0 && b.errs == 0 && b.unknownDrvs == 0,
		"the model builder slept once for each of %d packages (%d more than once, %d interrupted, %d without a modelled duration)",
		len(b.built), twice, b.errs, b.unknownDrvs)
	check(b.peak <= slots, "at most %d builds ran at once (%d slots)", b.peak, slots)
}

// loadSampler reads the one-minute load average every interval until stopped.
func loadSampler(interval time.Duration) (stop func() Load) {
	var l Load
	var sum float64
	l.CPUs = runtime.NumCPU()
	sample := func() {
		if v, ok := loadAverage(); ok {
			sum += v
			l.Max = max(l.Max, v)
			l.Samples++
		}
	}
	stopTicking := every(interval, func(time.Time) { sample() })
	return func() Load {
		stopTicking()
		sample()
		if l.Samples > 0 {
			l.Mean = sum / float64(l.Samples)
		}
		return l
	}
}

// loadAverage is /proc/loadavg's one-minute figure.
func loadAverage() (float64, bool) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return v, err == nil
}

// describeScale says what a time scale means, for people.
func describeScale(scale float64) string {
	return fmt.Sprintf("a modelled hour sleeps %s", time.Duration(scale*float64(time.Hour)).Round(time.Millisecond))
}
