package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/workflows"
)

// HistoryBudget is the most events any workflow of a wave may have: a fifth of Temporal's
// hard limit of 51,200, so that retries, signals and resolutions have room.
const HistoryBudget = 10240

// Defaults of a run. The limits are those of workflows.Limits' defaults, written out so that
// the raw run can copy them; flags override them.
const (
	DefaultPackages       = 100000
	DefaultShardSize      = wire.DefaultShardSize
	DefaultShards         = 4
	DefaultBuildsPerShard = 64
	// DefaultPoolConns sizes the Postgres pool for hundreds of builds in flight: pgx's own
	// default (4 connections on two cores) makes every BuildPackage queue for a connection
	// and halves the rate.
	DefaultPoolConns = 32
)

// Options configures a run; zero fields take defaults.
type Options struct {
	// Packages is the size of the rebuild set (the whole synthetic collection).
	Packages int
	// Builder is "noop" (builds pass at once: the benchmark measures Crest's own overhead)
	// or "model" (each build sleeps its modelled duration × TimeScale, and the result
	// compares the build round's makespan with its lower bound).
	Builder string
	// TimeScale is the model builder's real seconds per modelled second (0:
	// DefaultTimeScale); the no-op builder takes none.
	TimeScale float64
	// Slots sets both the BuildSet window (Limits.Builds) and the build worker's concurrent
	// activities (Workers.MaxBuilds), so that N slots run at most N builds at once, each
	// taken as soon as one is free (0: DefaultModelSlots with the model builder; the no-op
	// builder keeps the window and worker defaults).
	Slots int
	// Graph is the recorded Debian graph (default: FindGraph).
	Graph string
	// Limits of the wave; the raw run uses the same shard size and concurrency.
	Limits workflows.Limits
	// Workers are the in-process workers' options.
	Workers WorkerOptions
	// Dir is where the run's temporary directory goes (default: the system's).
	Dir string
	// PostgresBinDir and PostgresRunAs are passed to deploy/postgres.
	PostgresBinDir, PostgresRunAs string
	// PoolConns is the Postgres connection pool's size (0: DefaultPoolConns).
	PoolConns int
	// TemporalConfig overrides dynamic config keys of the embedded server.
	TemporalConfig map[string]any
	// SkipRaw leaves out the raw run (the ratio is then 0).
	SkipRaw bool
	// FailShare is the share of packages (0 to 1) whose own build fails, chosen by a hash
	// of the package key (Fails), so that every run fails the same ones. Their dependents
	// become dependency-failed; the wave's policy (FailPolicy) marks the failures broken
	// after a one-second grace period, so the wave still tags.
	FailShare float64
	// Progress receives a line every ProgressEvery while a run goes on (nil: silent).
	Progress      io.Writer
	ProgressEvery time.Duration
}

// WorkerOptions are the in-process workers' concurrency knobs; zero takes the SDK's default
// unless said otherwise.
type WorkerOptions struct {
	// MaxBuilds is the build worker's concurrent activities (0: shards × builds per shard,
	// so no-op builders are never what waits).
	MaxBuilds int `json:"max_builds"`
	// MaxActivities is the workflow worker's concurrent activities (0: 200, crest worker's
	// default worker.max_activities).
	MaxActivities int `json:"max_activities"`
	// MaxWorkflowTasks is the workflow worker's concurrent workflow tasks.
	MaxWorkflowTasks int `json:"max_workflow_tasks,omitempty"`
	// WorkflowPollers and ActivityPollers are the pollers per worker.
	WorkflowPollers int `json:"workflow_pollers,omitempty"`
	ActivityPollers int `json:"activity_pollers,omitempty"`
}

func (o Options) withDefaults() (Options, error) {
	if o.Packages == 0 {
		o.Packages = DefaultPackages
	}
	if o.Packages < 0 {
		return o, fmt.Errorf("packages: must be positive (got %d)", o.Packages)
	}
	switch o.Builder {
	case "", "noop":
		o.Builder = "noop"
		if o.TimeScale != 0 {
			return o, errors.New("time scale: only the model builder sleeps")
		}
	case "model":
		if o.TimeScale == 0 {
			o.TimeScale = DefaultTimeScale
		}
		if o.TimeScale < 0 {
			return o, fmt.Errorf("time scale: must be positive (got %g)", o.TimeScale)
		}
		if o.Slots == 0 {
			o.Slots = DefaultModelSlots
		}
		// The raw run compares no-op rates; builds that sleep have no rate to compare.
		o.SkipRaw = true
	default:
		return o, fmt.Errorf("builder %q: the benchmark supports noop and model (it measures Crest, not Nix)", o.Builder)
	}
	if o.Slots < 0 {
		return o, fmt.Errorf("slots: must be positive (got %d)", o.Slots)
	}
	if o.Slots > 0 {
		if o.Workers.MaxBuilds > 0 && o.Workers.MaxBuilds != o.Slots {
			return o, fmt.Errorf("slots %d and max builds %d: slots sets the build worker's concurrency, give one of them", o.Slots, o.Workers.MaxBuilds)
		}
		if o.Limits.Builds > 0 && o.Limits.Builds != o.Slots {
			return o, fmt.Errorf("slots %d and limits.builds %d: slots sets the BuildSet window, give one of them", o.Slots, o.Limits.Builds)
		}
		o.Workers.MaxBuilds, o.Limits.Builds = o.Slots, o.Slots
	}
	if o.FailShare < 0 || o.FailShare >= 1 {
		return o, fmt.Errorf("fail share: must be at least 0 and below 1 (got %g)", o.FailShare)
	}
	l := &o.Limits
	if l.ShardSize <= 0 {
		l.ShardSize = DefaultShardSize
	}
	if l.Shards <= 0 {
		l.Shards = DefaultShards
	}
	if l.BuildsPerShard <= 0 {
		l.BuildsPerShard = DefaultBuildsPerShard
	}
	if l.BuildTimeout <= 0 {
		l.BuildTimeout = workflows.Duration(2 * time.Hour)
	}
	if l.HeartbeatTimeout <= 0 {
		l.HeartbeatTimeout = workflows.Duration(time.Minute)
	}
	if l.BuildQueuePrefix == "" {
		l.BuildQueuePrefix = "crest-build"
	}
	if o.Workers.MaxBuilds <= 0 {
		o.Workers.MaxBuilds = l.Shards * l.BuildsPerShard
	}
	if o.Workers.MaxActivities <= 0 {
		o.Workers.MaxActivities = 200
	}
	if o.PoolConns <= 0 {
		o.PoolConns = DefaultPoolConns
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 10 * time.Second
	}
	if o.Graph == "" {
		p, err := FindGraph()
		if err != nil {
			return o, err
		}
		o.Graph = p
	}
	return o, nil
}

// Result is what a run measured.
type Result struct {
	Packages int    `json:"packages"`
	Builder  string `json:"builder"`
	// Collection says how the synthetic collection was derived.
	Collection string `json:"collection"`
	Update     string `json:"update"`
	Edges      int    `json:"edges"`
	Layers     int    `json:"layers"`
	Shards     int    `json:"shards"`
	// LayerTimes times each dependency layer of the build round (each waits for the last).
	LayerTimes []LayerTime `json:"layer_times,omitempty"`

	// Crest is the minor wave that rebuilt everything.
	Crest Phase `json:"crest"`
	// Raw is the same number of no-op activities without Crest.
	Raw Phase `json:"raw"`
	// Ratio is Crest's rate over the raw rate (0 without a raw run).
	Ratio float64 `json:"ratio"`
	// CPURatio compares CPU time instead of wall time: the raw run's CPU per activity over
	// the major wave's CPU per package (this process and Postgres). Other load on the
	// machine moves it less than Ratio.
	CPURatio float64 `json:"cpu_ratio"`

	// Model compares the build round with its lower bound (the model builder only).
	Model *Model `json:"model,omitempty"`

	// FailShare is the share of packages chosen to fail (Options.FailShare).
	FailShare float64 `json:"fail_share,omitempty"`
	// Builds is how many builds the builder ran (dependency-failed packages are not built);
	// Failed how many of them failed, DependencyFailed how many packages were not built
	// because a dependency failed.
	Builds           int64 `json:"builds"`
	Failed           int   `json:"failed"`
	DependencyFailed int   `json:"dependency_failed"`
	// MarkedBroken counts the failures the policy resolved (marked-broken, dependents
	// following).
	MarkedBroken int `json:"marked_broken"`
	// Retried counts the activity attempts of the run's workflows that were retries, and
	// RetryErrors lists the first distinct failures that caused them (a retried
	// BuildPackage runs the builder again when its first attempt built but did not record).
	Retried     int      `json:"retried,omitempty"`
	RetryErrors []string `json:"retry_errors,omitempty"`

	// MaxHistory is the longest history of any workflow of the run, raw ones included.
	MaxHistory History `json:"max_history"`
	// MaxPayload is the largest history event of any workflow of the run (its encoded
	// size, payloads included), read with GetWorkflowHistory.
	MaxPayload Payload `json:"max_payload"`
	// Workflows counts the executions whose history was read.
	Workflows int `json:"workflows"`
	// Types sums up the histories by workflow type.
	Types []TypeHistory `json:"types"`

	Limits  workflows.Limits `json:"limits"`
	Workers WorkerOptions    `json:"workers"`
	// PoolConns is the Postgres connection pool's size.
	PoolConns int `json:"pool_conns"`
	// Verified lists the correctness facts checked after the run.
	Verified []string `json:"verified"`
	// Tag is the minor wave's tag, on the collection's remote.
	Tag string `json:"tag"`

	PeakRSSBytes int64   `json:"peak_rss_bytes"`
	Postgres     string  `json:"postgres"`
	TotalSeconds float64 `json:"total_seconds"` // the whole run, stack start to stop
}

// Phase is one timed run.
type Phase struct {
	// What says what was timed.
	What    string  `json:"what"`
	Seconds float64 `json:"seconds"`
	PerSec  float64 `json:"per_second"`
	// Build* time the build phase alone: first shard started to last shard closed.
	BuildSeconds float64 `json:"build_seconds,omitempty"`
	BuildPerSec  float64 `json:"build_per_second,omitempty"`
	// Before and After are the minor wave's time before its first shard and after its last.
	BeforeSeconds float64 `json:"before_seconds,omitempty"`
	AfterSeconds  float64 `json:"after_seconds,omitempty"`
	// MajorSeconds is the major wave's wall time (start, base evaluation, plan, the minor wave).
	MajorSeconds float64 `json:"major_seconds,omitempty"`
	// CPUSeconds is this process's CPU (server, workers, activities) and Postgres's.
	CPUSeconds         float64 `json:"cpu_seconds"`
	PostgresCPUSeconds float64 `json:"postgres_cpu_seconds"`
}

// LayerTime is one dependency layer of the build round: its first shard's start to its last
// shard's close.
type LayerTime struct {
	Layer    int     `json:"layer"`
	Packages int     `json:"packages"`
	Shards   int     `json:"shards"`
	Seconds  float64 `json:"seconds"`
}

// TypeHistory sums up the histories of one workflow type.
type TypeHistory struct {
	Type      string `json:"type"`
	Workflows int    `json:"workflows"`
	Events    int64  `json:"events"`
	Max       int64  `json:"max"`
}

// Payload is the largest event of one workflow's history.
type Payload struct {
	WorkflowID string `json:"workflow_id"`
	EventID    int64  `json:"event_id"`
	EventType  string `json:"event_type"`
	// Activity names the activity of an activity event.
	Activity string `json:"activity,omitempty"`
	Bytes    int    `json:"bytes"`
}

// History is one workflow's history length.
type History struct {
	WorkflowID string `json:"workflow_id"`
	Type       string `json:"type"`
	Length     int64  `json:"length"`
}

// Run builds a synthetic collection, starts the stack, runs the raw workflow and then a
// major wave that rebuilds every package, reads back every workflow's history length, and
// checks in Postgres and git that everything was built and recorded once.
func Run(ctx context.Context, opts Options) (*Result, error) {
	began := time.Now()
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	say := func(format string, args ...any) {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, format+"\n", args...)
		}
	}
	col, err := LoadCollection(opts.Graph, opts.Packages)
	if err != nil {
		return nil, err
	}
	say("collection: %s", col.Source)
	s, err := startStack(ctx, opts, col)
	if err != nil {
		return nil, err
	}
	defer s.stop()
	say("stack up in %s (in %s; embedded Temporal on %s)", time.Since(began).Round(time.Millisecond), s.dir, s.tm.FrontendAddr())

	res := &Result{Packages: opts.Packages, Builder: opts.Builder, FailShare: opts.FailShare, Collection: col.Source, Update: col.Update,
		Edges: col.Edges, Layers: col.Layers, Limits: opts.Limits, Workers: opts.Workers, PoolConns: opts.PoolConns,
		Postgres: "throwaway cluster from the system's binaries, fsync off (deploy/postgres Ephemeral)"}
	rawID, crestID := "bench/raw", "bench/wave-1"
	if !opts.SkipRaw {
		if err := s.runRaw(ctx, opts, rawID, say); err != nil {
			return nil, err
		}
	}
	if err := s.runWave(ctx, opts, col, crestID, say); err != nil {
		return nil, err
	}
	if err := s.measure(ctx, opts, res, rawID, crestID); err != nil {
		return nil, err
	}
	verr := s.verify(ctx, opts, res)
	if s.model != nil {
		if res.Model, err = s.model.result(col, opts.Slots, s.traces); err != nil {
			return nil, err
		}
		res.Model.Load = s.load
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		res.PeakRSSBytes = ru.Maxrss * 1024
	}
	// A run that broke a check still reports how long it took.
	res.TotalSeconds = time.Since(began).Seconds()
	return res, verr
}

// cpu is this process's and Postgres's CPU time so far.
type cpu struct{ self, pg time.Duration }

func (s *stack) cpu() cpu {
	var ru syscall.Rusage
	var c cpu
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	c.pg = postgresCPU()
	return c
}

func (s *stack) runRaw(ctx context.Context, opts Options, id string, say func(string, ...any)) error {
	say("raw: %d no-op activities …", opts.Packages)
	before := s.cpu()
	stop := s.progress(opts, "raw", &s.noops, say)
	run, err := s.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: taskQueue}, RawWaveName, RawInput{
		Activities: opts.Packages, ShardSize: opts.Limits.ShardSize, Shards: opts.Limits.Shards, InFlight: opts.Limits.BuildsPerShard,
		Queue:        workflows.BuildQueue(opts.Limits.BuildQueuePrefix, System),
		BuildTimeout: time.Duration(opts.Limits.BuildTimeout), HeartbeatTimeout: time.Duration(opts.Limits.HeartbeatTimeout),
	})
	if err == nil {
		err = run.Get(ctx, nil)
	}
	stop()
	if err != nil {
		return fmt.Errorf("raw run: %w", err)
	}
	s.rawCPU = s.cpu().minus(before)
	return nil
}

func (c cpu) minus(o cpu) cpu { return cpu{c.self - o.self, c.pg - o.pg} }

func (s *stack) runWave(ctx context.Context, opts Options, col Collection, id string, say func(string, ...any)) error {
	say("crest: major wave %s updating %s, rebuilding %d packages …", id, col.Update, opts.Packages)
	before := s.cpu()
	stop := s.progress(opts, "crest", &s.built, say)
	if s.model != nil {
		stopLoad := loadSampler(time.Second)
		defer func() { s.load = stopLoad() }()
	}
	run, err := s.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: taskQueue}, workflows.MajorWave,
		workflows.MajorWaveInput{Collection: CollectionName, Title: "bench: rebuild everything",
			Updates: []wire.Update{{Package: col.Update, Ref: UpdateRef}}, Limits: opts.Limits, Policy: policyOf(opts)})
	var out workflows.MajorWaveResult
	if err == nil {
		err = run.Get(ctx, &out)
	}
	stop()
	if err != nil {
		return fmt.Errorf("major wave: %w", err)
	}
	if len(out.Tags) != 1 {
		return fmt.Errorf("major wave: want one minor wave and its tag, got %v", out.Tags)
	}
	s.tag = out.Tags[0]
	s.crestCPU = s.cpu().minus(before)
	return nil
}

// progress prints how far a run is every opts.ProgressEvery until stopped.
func (s *stack) progress(opts Options, what string, done *atomic.Int64, say func(string, ...any)) func() {
	if opts.Progress == nil {
		return func() {}
	}
	start, from := time.Now(), done.Load()
	last, lastAt := from, start
	return every(opts.ProgressEvery, func(now time.Time) {
		n := done.Load()
		say("%s: %d/%d after %s (%.0f/s now)", what, n-from, opts.Packages, now.Sub(start).Round(time.Second),
			float64(n-last)/now.Sub(lastAt).Seconds())
		last, lastAt = n, now
	})
}

// every calls tick every interval, in a goroutine of its own, until stop is called; stop
// returns once the last tick is done.
func every(interval time.Duration, tick func(now time.Time)) (stop func()) {
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case now := <-t.C:
				tick(now)
			}
		}
	}()
	return func() { close(quit); <-finished }
}

// execution is one workflow execution (one run) as the server describes it.
type execution struct {
	id, run, typ string
	start, close time.Time
	length       int64
}

// executions lists and describes every run of every workflow of the run (a workflow that
// continued as new has several), waiting for visibility to show at least want workflows.
func (s *stack) executions(ctx context.Context, want int) ([]execution, error) {
	deadline := time.Now().Add(time.Minute)
	type key struct{ id, run string }
	var runs []key
	for {
		runs = runs[:0]
		var token []byte
		for {
			resp, err := s.c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Namespace: s.tm.Namespace(), PageSize: 1000, NextPageToken: token})
			if err != nil {
				return nil, fmt.Errorf("list workflows: %w", err)
			}
			for _, e := range resp.GetExecutions() {
				runs = append(runs, key{e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()})
			}
			if token = resp.GetNextPageToken(); len(token) == 0 {
				break
			}
		}
		ids := map[string]bool{}
		for _, r := range runs {
			ids[r.id] = true
		}
		if len(ids) >= want || time.Now().After(deadline) {
			if len(ids) < want {
				return nil, fmt.Errorf("visibility lists %d workflows, want at least %d", len(ids), want)
			}
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	slices.SortFunc(runs, func(a, b key) int { return strings.Compare(a.id+" "+a.run, b.id+" "+b.run) })
	runs = slices.Compact(runs)
	out := make([]execution, 0, len(runs))
	for _, r := range runs {
		d, err := s.c.DescribeWorkflowExecution(ctx, r.id, r.run)
		if err != nil {
			return nil, fmt.Errorf("describe %s: %w", r.id, err)
		}
		info := d.GetWorkflowExecutionInfo()
		out = append(out, execution{id: r.id, run: r.run, typ: info.GetType().GetName(), length: info.GetHistoryLength(),
			start: info.GetStartTime().AsTime(), close: info.GetCloseTime().AsTime()})
	}
	return out, nil
}

// span merges the runs of one workflow: its first start to its last close.
func span(into **execution, e *execution) {
	if *into == nil {
		c := *e
		*into = &c
		return
	}
	if e.start.Before((*into).start) {
		(*into).start = e.start
	}
	if e.close.After((*into).close) {
		(*into).close = e.close
	}
}

// shardID finds the layer of a BuildShard workflow in its ID (…/l003/s012).
var shardID = regexp.MustCompile(`/l(\d+)/s(\d+)$`)

// measure times the runs from the server's own start and close times and finds the longest
// history.
func (s *stack) measure(ctx context.Context, opts Options, res *Result, rawID, crestID string) error {
	w, err := s.st.WaveByWorkflow(ctx, crestID)
	if err != nil {
		return err
	}
	minors, err := s.st.MinorWaves(ctx, w.ID)
	if err != nil {
		return err
	}
	if len(minors) != 1 {
		return fmt.Errorf("want one minor wave, got %d", len(minors))
	}
	s.minorID = minors[0].ID
	layout, err := s.st.RoundLayout(ctx, s.minorID, System, 0)
	if err != nil {
		return err
	}
	layers := map[int]*LayerTime{}
	for _, l := range layout {
		res.Shards += l.Shards
		res.LayerTimes = append(res.LayerTimes, LayerTime{Layer: l.Layer, Packages: l.Packages, Shards: l.Shards})
	}
	for i := range res.LayerTimes {
		layers[res.LayerTimes[i].Layer] = &res.LayerTimes[i]
	}
	spans := map[int][2]time.Time{}
	want := 2 + res.Shards
	// Waves started since the dispatch version build a round in one BuildSet workflow over
	// the Postgres frontier, not in layer shards: no layer times then.
	if fs, err := s.st.Frontier(ctx, s.minorID, System); err == nil && len(fs) > 0 {
		res.Shards, res.LayerTimes = 0, nil
		clear(layers)
		want = 3
	}
	if !opts.SkipRaw {
		want += 1 + (opts.Packages+opts.Limits.ShardSize-1)/opts.Limits.ShardSize
	}
	execs, err := s.executions(ctx, want)
	if err != nil {
		return err
	}
	res.Workflows = len(execs)
	var major, minor, raw *execution
	var firstShard, lastShard time.Time
	byType := map[string]*TypeHistory{}
	for i := range execs {
		e := &execs[i]
		th := byType[e.typ]
		if th == nil {
			th = &TypeHistory{Type: e.typ}
			byType[e.typ] = th
			res.Types = append(res.Types, TypeHistory{Type: e.typ})
		}
		th.Workflows++
		th.Events += e.length
		th.Max = max(th.Max, e.length)
		if e.length > res.MaxHistory.Length {
			res.MaxHistory = History{WorkflowID: e.id, Type: e.typ, Length: e.length}
		}
		var see func(*historypb.HistoryEvent)
		if s.model != nil && e.typ == "BuildSet" {
			t := newTracer()
			s.traces = append(s.traces, t)
			see = t.see
		}
		see = retryCounter(res, see)
		big, err := s.largestEvent(ctx, e.id, e.run, see)
		if err != nil {
			return err
		}
		if big.Bytes > res.MaxPayload.Bytes {
			res.MaxPayload = big
		}
		switch {
		case e.id == crestID:
			span(&major, e)
		case e.id == rawID:
			span(&raw, e)
		case e.typ == "MinorWave":
			span(&minor, e)
		case e.typ == "BuildShard" || e.typ == "BuildSet":
			if m := shardID.FindStringSubmatch(e.id); m != nil {
				l, _ := strconv.Atoi(m[1])
				sp := spans[l]
				if sp[0].IsZero() || e.start.Before(sp[0]) {
					sp[0] = e.start
				}
				if e.close.After(sp[1]) {
					sp[1] = e.close
				}
				spans[l] = sp
			}
			if firstShard.IsZero() || e.start.Before(firstShard) {
				firstShard = e.start
			}
			if e.close.After(lastShard) {
				lastShard = e.close
			}
		}
	}
	for i := range res.Types {
		res.Types[i] = *byType[res.Types[i].Type]
	}
	for l, sp := range spans {
		if lt := layers[l]; lt != nil {
			lt.Seconds = sp[1].Sub(sp[0]).Seconds()
		}
	}
	slices.SortFunc(res.Types, func(a, b TypeHistory) int { return strings.Compare(a.Type, b.Type) })
	if major == nil || minor == nil || firstShard.IsZero() || (raw == nil && !opts.SkipRaw) {
		return errors.New("the run's workflows are not all listed")
	}
	n := float64(opts.Packages)
	c := &res.Crest
	c.What = "minor wave wall time (server start to close): merge, evaluation, layout, every shard, summary, tag"
	c.Seconds = minor.close.Sub(minor.start).Seconds()
	c.PerSec = n / c.Seconds
	c.BuildSeconds = lastShard.Sub(firstShard).Seconds()
	c.BuildPerSec = n / c.BuildSeconds
	c.BeforeSeconds = firstShard.Sub(minor.start).Seconds()
	c.AfterSeconds = minor.close.Sub(lastShard).Seconds()
	c.MajorSeconds = major.close.Sub(major.start).Seconds()
	c.CPUSeconds, c.PostgresCPUSeconds = s.crestCPU.self.Seconds(), s.crestCPU.pg.Seconds()
	if raw != nil {
		r := &res.Raw
		r.What = fmt.Sprintf("one workflow running %d no-op activities (nothing else: no Postgres) in child workflows of %d, "+
			"%d children at a time, %d activities in flight in each, with the builds' activity options, task queues and workers; "+
			"timed from its start to its close", opts.Packages, opts.Limits.ShardSize, opts.Limits.Shards, opts.Limits.BuildsPerShard)
		r.Seconds = raw.close.Sub(raw.start).Seconds()
		r.PerSec = n / r.Seconds
		r.CPUSeconds, r.PostgresCPUSeconds = s.rawCPU.self.Seconds(), s.rawCPU.pg.Seconds()
		res.Ratio = c.PerSec / r.PerSec
		if crestCPU := c.CPUSeconds + c.PostgresCPUSeconds; crestCPU > 0 {
			res.CPURatio = (r.CPUSeconds + r.PostgresCPUSeconds) / crestCPU
		}
	}
	return nil
}

// verify checks what the run must have done, whatever its speed.
func (s *stack) verify(ctx context.Context, opts Options, res *Result) error {
	var problems []string
	check := func(ok bool, fact string, args ...any) {
		msg := fmt.Sprintf(fact, args...)
		if ok {
			res.Verified = append(res.Verified, msg)
		} else {
			problems = append(problems, "not so: "+msg)
		}
	}
	counts, err := s.st.MinorWaveCounts(ctx, s.minorID)
	if err != nil {
		return err
	}
	results, err := s.st.Results(ctx, s.minorID, "")
	if err != nil {
		return err
	}
	res.Builds = s.built.Load()
	res.Failed, res.DependencyFailed = counts.Failed, counts.DependencyFailed
	if opts.FailShare <= 0 {
		check(counts.Total == opts.Packages && counts.Passed == opts.Packages,
			"every package of the collection passed in Postgres (%d of %d)", counts.Passed, opts.Packages)
		once := 0
		for _, r := range results {
			if r.Status == "passed" && r.Attempts == 1 && r.Resolution == "passed" {
				once++
			}
		}
		check(once == opts.Packages, "each recorded passed exactly once (attempts 1): %d", once)
		check(s.built.Load() == int64(opts.Packages), "the builder ran %d times for %d packages%s", s.built.Load(), opts.Packages, retries(res))
	} else {
		check(counts.Total == opts.Packages && counts.Passed+counts.Failed+counts.DependencyFailed == opts.Packages,
			"every package has a result in Postgres: %d passed, %d failed, %d dependency-failed of %d",
			counts.Passed, counts.Failed, counts.DependencyFailed, opts.Packages)
		wrong, once := 0, 0
		for _, r := range results {
			chosen := Fails(failKey(r.Package), opts.FailShare)
			switch r.Status {
			case store.StatusPassed:
				wrong += b2i(chosen)
			case store.StatusFailed:
				wrong += b2i(!chosen)
				res.MarkedBroken += b2i(r.Resolution == "marked-broken")
			}
			if r.Status != store.StatusDependencyFailed && r.Attempts == 1 {
				once++
			}
		}
		check(counts.Failed > 0 && wrong == 0, "exactly the chosen packages failed (%d failed; %d results disagree with the choice)", counts.Failed, wrong)
		check(counts.Unresolved == 0 && res.MarkedBroken == counts.Failed,
			"the policy marked every failure broken (%d of %d; %d unresolved)", res.MarkedBroken, counts.Failed, counts.Unresolved)
		check(once == counts.Passed+counts.Failed && s.built.Load() == int64(once),
			"each built package recorded once (attempts 1): %d, the builder ran %d times%s", once, s.built.Load(), retries(res))
	}
	w, err := s.st.WaveByNumber(ctx, CollectionName, 1)
	if err != nil {
		return err
	}
	dup, err := s.st.DuplicateBuilds(ctx, w.ID)
	if err != nil {
		return err
	}
	check(len(dup) == 0, "no derivation built twice (%d duplicates)", len(dup))
	if s.model != nil {
		s.model.verify(opts.Slots, check)
	}
	check(res.MaxHistory.Length <= HistoryBudget, "no workflow history above %d events (longest %d)", HistoryBudget, res.MaxHistory.Length)
	res.Tag = s.tag
	out, err := exec.CommandContext(ctx, "git", "-C", s.remote, "tag", "-l", "--format=%(objecttype)", s.tag).Output()
	check(err == nil && strings.TrimSpace(string(out)) == "tag", "annotated tag %s is on the collection's remote", s.tag)
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// postgresCPU is the CPU time of the Postgres servers this process started (the postmaster,
// its live backends, and the backends it reaped), from /proc; 0 where there is none.
func postgresCPU() time.Duration {
	self := os.Getpid()
	var total time.Duration
	for _, pm := range childrenOf(self, "postgres") {
		total += procCPU(pm, true)
		for _, b := range childrenOf(pm, "") {
			total += procCPU(b, false)
		}
	}
	return total
}

// retries says, for a check, which activity attempts were retried and why.
func retries(res *Result) string {
	if res.Retried == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d activity attempts retried after: %s)", res.Retried, strings.Join(res.RetryErrors, "; "))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
