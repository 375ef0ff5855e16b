package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/graph"
	"github.com/crestwaves/crest/policy"
)

// PrepareRound decides what a build round of a minor wave builds for one system and lays
// it out in Postgres: dependency layers (a cycle shares one) cut into shards. The first
// round builds everything whose derivation changed since the major wave's base, except
// packages locked in by other minor waves and packages downstream of updates still to come
// (they are built once, later). A retry round builds the retried packages, the dependents
// they blocked, and whatever a fix commit changed. A first round after a security patch was
// merged onto the branch (in.Fixed) rebuilds the fixed packages' reverse closure even where
// other minor waves locked it in: they built it against the vulnerable package. Idempotent: a round laid out already is
// returned as it is.
func (a *Activities) PrepareRound(ctx context.Context, in wire.RoundInput) (wire.RoundLayout, error) {
	out := wire.RoundLayout{System: in.System, Round: in.Round}
	if layers, err := a.Store.RoundLayout(ctx, in.MinorWaveID, in.System, in.Round); err != nil {
		return out, err
	} else if len(layers) > 0 {
		out.Layers = wireLayers(layers)
		for _, l := range layers {
			out.Packages += l.Packages
		}
		return out, nil
	}
	current, err := a.loadGraph(ctx, in.EvaluationID)
	if err != nil {
		return out, err
	}
	activity.RecordHeartbeat(ctx, "diffing")
	want := map[string]bool{}
	if in.Round == 0 {
		base, err := a.loadGraph(ctx, in.BaseEvaluationID)
		if err != nil {
			return out, err
		}
		for _, k := range graph.RebuildSet(base, current).Keys() {
			want[k] = true
		}
	} else {
		if in.PreviousEvaluationID != 0 && in.PreviousEvaluationID != in.EvaluationID {
			prev, err := a.loadGraph(ctx, in.PreviousEvaluationID)
			if err != nil {
				return out, err
			}
			for _, k := range graph.RebuildSet(prev, current).Keys() {
				want[k] = true
			}
		}
		states, err := a.Store.States(ctx, in.MinorWaveID, in.System)
		if err != nil {
			return out, err
		}
		for _, k := range in.Retry {
			want[k] = true
		}
		for _, k := range policy.RetryTakes(states, in.Retry) {
			want[k] = true
		}
	}
	locked, err := a.Store.LockedIn(ctx, in.WaveID, in.System, in.MinorWaveID)
	if err != nil {
		return out, err
	}
	relocked, err := fixedClosure(current, in.Fixed)
	if err != nil {
		return out, err
	}
	for _, k := range locked {
		if want[k] && !relocked[k] {
			delete(want, k)
			out.Locked++
		}
	}
	var deferredRoots []string
	for _, k := range in.Deferred {
		if current.Has(k) {
			deferredRoots = append(deferredRoots, k)
		}
	}
	if len(deferredRoots) > 0 {
		downstream, err := current.ReverseClosure(deferredRoots...)
		if err != nil {
			return out, err
		}
		for _, k := range downstream {
			if want[k] {
				delete(want, k)
				out.Deferred++
			}
		}
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		p, ok := current.Package(k)
		switch {
		case !ok: // removed: nothing to build
		case p.Broken: // meta.broken: not scheduled, as Hydra does not
			out.Broken++
		default:
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	protected, err := protectedSet(current, in.Policy)
	if err != nil {
		return out, err
	}
	rows, err := layout(current, keys, in.ShardSize, protected)
	if err != nil {
		return out, err
	}
	activity.RecordHeartbeat(ctx, fmt.Sprintf("writing %d packages", len(rows)))
	if in.Dispatch {
		// The frontier first: a round exists once PutRound wrote it, and a retried activity
		// then returns it as it is.
		front, err := a.frontier(ctx, in.System, current, keys)
		if err != nil {
			return out, err
		}
		if err := a.Store.PutFrontier(ctx, in.MinorWaveID, in.System, in.Round, front); err != nil {
			return out, err
		}
	}
	if err := a.Store.PutRound(ctx, in.MinorWaveID, in.System, in.Round, rows); err != nil {
		return out, err
	}
	out.Packages = len(rows)
	layers, err := a.Store.RoundLayout(ctx, in.MinorWaveID, in.System, in.Round)
	out.Layers = wireLayers(layers)
	return out, err
}

// wireLayers is the store's round layout as workflows receive it (nil stays nil: the
// payload is the one recorded histories hold).
func wireLayers(ls []store.LayerLayout) []wire.LayerLayout {
	if ls == nil {
		return nil
	}
	out := make([]wire.LayerLayout, len(ls))
	for i, l := range ls {
		out[i] = wire.LayerLayout(l)
	}
	return out
}

// protectedSet is the closure of the protected roots the wave's policy names (those g
// has), whose packages policy never settles implicitly.
func protectedSet(g *graph.Graph, settingsJSON json.RawMessage) (policy.Set, error) {
	settings, err := policy.DecodeSettings(settingsJSON)
	if err != nil {
		return policy.Set{}, invalid("wave policy: %v", err)
	}
	eff, err := policy.Effective(settings)
	if err != nil {
		return policy.Set{}, invalid("wave policy: %v", err)
	}
	return policy.Protected(g, rootsIn(g, eff.ProtectedRoots))
}

// layout orders keys in dependency layers and cuts each layer into shards of at most size,
// marking the protected packages.
func layout(g *graph.Graph, keys []string, size int, protected policy.Set) ([]store.RoundRow, error) {
	if size <= 0 {
		size = wire.DefaultShardSize
	}
	sub, err := g.Subgraph(keys)
	if err != nil {
		return nil, err
	}
	sg, _, err := graph.New(sub, graph.Options{Lenient: true})
	if err != nil {
		return nil, err
	}
	rows := make([]store.RoundRow, 0, len(keys))
	for li, layer := range sg.Layers() {
		for i, k := range layer {
			p, _ := sg.Package(k)
			rows = append(rows, store.RoundRow{Package: k, Drv: p.Drv, Layer: li, Shard: i / size, Protected: protected.Has(k)})
		}
	}
	return rows, nil
}

// frontier is the dependency-driven form of a round on system: each package with its
// dependencies and dependents inside the round (cycles cut as graph.BuildSet cuts them) and
// its bottom level under the measured cost model (costModel) as priority.
func (a *Activities) frontier(ctx context.Context, system string, g *graph.Graph, keys []string) ([]store.FrontierRow, error) {
	cost, err := a.costModel(ctx, system, keys)
	if err != nil {
		return nil, err
	}
	set, err := g.BuildSet(keys, cost)
	if err != nil {
		return nil, err
	}
	rows := make([]store.FrontierRow, set.Len())
	for i := range rows {
		r := store.FrontierRow{Package: set.Key(i), Priority: set.BottomLevel(i)}
		for _, d := range set.Deps(i) {
			r.Deps = append(r.Deps, set.Key(d))
		}
		for _, d := range set.Dependents(i) {
			r.Dependents = append(r.Dependents, set.Key(d))
		}
		rows[i] = r
	}
	return rows, nil
}

// laidOut is how many packages round 0 of a build round (store.OpenBuildRound) holds: 0
// until putBuildRound wrote it.
func (a *Activities) laidOut(ctx context.Context, minorWaveID int64, system string) (int, error) {
	layers, err := a.Store.RoundLayout(ctx, minorWaveID, system, 0)
	n := 0
	for _, l := range layers {
		n += l.Packages
	}
	return n, err
}

// putBuildRound lays want out as round 0 of a build round (store.OpenBuildRound) for the
// build engine: the frontier and the pending package results a BuildSet takes from, those
// in protected marked so (a rebuild's failures are settled by policy's rules, which need
// it). Packages g does not have, and meta.broken ones, are left out. It returns how many
// packages the round builds. The queue's builds and the patches' rebuilds share it.
func (a *Activities) putBuildRound(ctx context.Context, minorWaveID int64, system string, g *graph.Graph, want []string, protected policy.Set) (int, error) {
	var keys []string
	for _, k := range want {
		if p, ok := g.Package(k); ok && !p.Broken {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	activity.RecordHeartbeat(ctx, fmt.Sprintf("writing %d packages", len(keys)))
	rows, err := layout(g, keys, wire.DefaultShardSize, protected)
	if err != nil {
		return 0, err
	}
	front, err := a.frontier(ctx, system, g, keys)
	if err != nil {
		return 0, err
	}
	// The frontier first, as PrepareRound writes it: a round exists once PutRound wrote it.
	if err := a.Store.PutFrontier(ctx, minorWaveID, system, 0, front); err != nil {
		return 0, err
	}
	if err := a.Store.PutRound(ctx, minorWaveID, system, 0, rows); err != nil {
		return 0, err
	}
	return len(rows), nil
}

// TakeReady takes up to Max packages of a dependency-driven round whose dependencies inside
// the round are final, highest priority first, for a dispatcher to build. Packages whose
// dependencies failed are marked dependency-failed instead (counted in Blocked). A retried
// attempt returns what the first took (the token).
func (a *Activities) TakeReady(ctx context.Context, in wire.TakeReadyInput) (wire.ReadyTasks, error) {
	var window int
	if in.FitCapacity {
		slots, err := a.Store.BuildSlots(ctx, in.System, store.BuilderFresh)
		if err != nil {
			return wire.ReadyTasks{}, err
		}
		if slots > 0 {
			window, in.Max = slots, max(slots-in.InFlight, 0)
		}
	}
	if in.Max == 0 {
		return wire.ReadyTasks{Window: window}, nil // every slot is busy
	}
	got, err := a.Store.TakeReady(ctx, store.FrontierTake{WaveID: in.WaveID, MinorWaveID: in.MinorWaveID, EvaluationID: in.EvaluationID,
		System: in.System, Round: in.Round, Max: in.Max, Token: in.Token, Owner: in.Owner, Reset: in.Reset})
	if err != nil {
		return wire.ReadyTasks{}, err
	}
	out := wire.ReadyTasks{Blocked: got.Blocked, Waiting: got.Waiting, Window: window, Packages: make([]string, len(got.Tasks))}
	for i, t := range got.Tasks {
		out.Packages[i] = t.Package
	}
	return out, nil
}

func (a *Activities) loadGraph(ctx context.Context, evaluationID int64) (*graph.Graph, error) {
	pkgs, err := a.Store.LoadPackages(ctx, evaluationID)
	if err != nil {
		return nil, err
	}
	g, _, err := graph.New(pkgs, graph.Options{Lenient: true})
	return g, err
}

// TakeShard returns what one shard still has to build, marking packages whose dependencies
// failed as dependency-failed (with their root causes) instead.
func (a *Activities) TakeShard(ctx context.Context, in wire.ShardInput) (wire.ShardTasks, error) {
	tasks, blocked, err := a.Store.TakeShard(ctx, in.WaveID, in.MinorWaveID, in.EvaluationID, in.System, in.Round, in.Layer, in.Shard)
	if err != nil {
		return wire.ShardTasks{}, err
	}
	out := wire.ShardTasks{Blocked: blocked, Packages: make([]string, len(tasks))}
	for i, t := range tasks {
		out.Packages[i] = t.Package
	}
	return out, nil
}

// BuildPackage builds one package and its tests and records the outcome with it, once per
// idempotency key: a retried attempt that finds the outcome recorded reports it without
// building. A real failure is recorded, then returned as a non-retryable BuildFailed or
// TestFailed error carrying the log tail; anything else retries.
func (a *Activities) BuildPackage(ctx context.Context, in wire.BuildInput) (wire.BuildResult, error) {
	// One round trip before the build and one after (there were seven, with a transaction):
	// this is what Crest adds to every build of a wave, a hundred thousand times. Both may
	// wait on row locks (a hub's dependents, freed by many builds at once) for longer than
	// the heartbeat timeout; a silent wait would time the attempt out and build again, so
	// the bookkeeping heartbeats as the builder does, but only once it is slow: a heartbeat
	// sent at once would add a round trip to the server to every build.
	defer keepAliveIfSlow(ctx, "recording "+in.Package)()
	p, rec, done, err := a.Store.StartBuild(ctx, in.EvaluationID, store.BuildRecord{Key: in.Key, MinorWaveID: in.MinorWaveID,
		System: in.System, Package: in.Package})
	if err != nil {
		return wire.BuildResult{}, err
	}
	if done {
		return outcome(in, wire.BuildResult{Status: rec.Status, Outputs: rec.Outputs, ExitCode: rec.ExitCode, LogTail: rec.LogTail})
	}
	tests := make([]string, 0, len(p.Tests))
	for _, t := range p.Tests {
		if t.Drv != "" {
			tests = append(tests, t.Drv)
		}
	}
	started := time.Now()
	heartbeat := func() { activity.RecordHeartbeat(ctx, time.Since(started).Round(time.Second).String()) }
	res, err := a.Builder.Build(ctx, p.Drv, tests, heartbeat)
	if IsUnknownDerivation(err) {
		// Evaluated elsewhere (or collected): instantiate the commit here, then build.
		if err = a.instantiate(ctx, in); err == nil {
			res, err = a.Builder.Build(ctx, p.Drv, tests, heartbeat)
		}
	}
	if err != nil {
		err = fmt.Errorf("build %s: %w", in.Package, err)
		if activity.IsActivity(ctx) && ctx.Err() == nil {
			// Retried by Temporal: say so where people look (crest wave status).
			_ = a.Store.RecordBuildTrouble(ctx, in.MinorWaveID, in.System, in.Package,
				fmt.Sprintf("attempt %d: %s", activity.GetInfo(ctx).Attempt, clip(err.Error(), 300)))
		}
		return wire.BuildResult{}, err
	}
	res.LogTail = clip(res.LogTail, 16<<10)
	if err := a.Store.RecordBuild(ctx, store.BuildRecord{
		Key: in.Key, MinorWaveID: in.MinorWaveID, System: in.System, Package: in.Package, Drv: p.Drv,
		Status: res.Status, ExitCode: res.ExitCode, LogTail: res.LogTail, Outputs: res.Outputs, StartedAt: started,
		Builder: a.Host, Built: res.Built,
	}); err != nil {
		return wire.BuildResult{}, err
	}
	return outcome(in, res)
}

func outcome(in wire.BuildInput, res wire.BuildResult) (wire.BuildResult, error) {
	details := wire.BuildFailureDetails{Package: in.Package, FailedTest: res.FailedTest, LogTail: clip(res.LogTail, 4<<10)}
	switch res.Status {
	case store.StatusFailed:
		return res, temporal.NewNonRetryableApplicationError("build of "+in.Package+" failed", wire.ErrBuildFailed, nil, details)
	case store.StatusTestFailed:
		return res, temporal.NewNonRetryableApplicationError("tests of "+in.Package+" failed", wire.ErrTestFailed, nil, details)
	}
	res.LogTail = "" // a green build's log is not worth history space
	return res, nil
}

func (a *Activities) instantiate(ctx context.Context, in wire.BuildInput) error {
	ev, err := a.Store.Evaluation(ctx, in.EvaluationID)
	if err != nil {
		return err
	}
	col, err := a.LoadCollection(ctx, in.Collection)
	if err != nil {
		return err
	}
	_, err = a.evaluateAt(ctx, col, ev.Commit, ev.System)
	return err
}

// clip keeps the last n bytes of a log.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// fixedClosure is the reverse closure in g of the packages whose security fix was merged
// onto the wave branch (those g has): what other minor waves built against the vulnerable
// packages, so locked in no longer.
func fixedClosure(g *graph.Graph, fixed []string) (map[string]bool, error) {
	var roots []string
	for _, k := range fixed {
		if g.Has(k) {
			roots = append(roots, k)
		}
	}
	out := map[string]bool{}
	if len(roots) == 0 {
		return out, nil
	}
	closure, err := g.ReverseClosure(roots...)
	for _, k := range closure {
		out[k] = true
	}
	return out, err
}
