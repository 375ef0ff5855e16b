package graph

import (
	"fmt"
	"slices"
)

// Schedule is a simulated run of a build set on identical builders in which every build
// takes exactly its cost and nothing fails.
type Schedule struct {
	Builders int
	// Start and Finish are per build, in seconds from the start; a gate's are the moment it
	// passed.
	Start, Finish []float64
	Makespan      float64
}

// Simulate runs s on builders identical builders with a Dispatcher in the given order: a
// discrete-event simulation that, whenever builders are free, starts what the dispatcher
// picks, and advances to the next finish. Builds that finish at the same moment are all
// reported before anything new starts, so the dispatcher chooses among everything ready
// then. Systems are not told apart: every builder runs every build.
func Simulate(s *BuildSet, builders int, order Order) *Schedule {
	builders = max(builders, 1)
	n := s.Len()
	sch := &Schedule{Builders: builders, Start: make([]float64, n), Finish: make([]float64, n)}
	d := NewDispatcher(s, order)
	run := binaryHeap[finishing]{before: byFinish}
	var picked []int
	now := 0.0
	for {
		picked = d.AppendNext(picked[:0], builders-len(run.h))
		for _, v := range picked {
			sch.Start[v] = now
			sch.Finish[v] = now + s.cost[v]
			run.push(finishing{at: sch.Finish[v], v: int32(v)})
		}
		if len(run.h) == 0 {
			break
		}
		now = run.h[0].at
		for len(run.h) > 0 && run.h[0].at == now {
			v := run.pop().v
			if err := d.Done(int(v)); err != nil {
				panic("graph: simulate: " + err.Error()) // the simulator only finishes what it started
			}
		}
	}
	if !d.Finished() {
		panic(fmt.Sprintf("graph: simulate: %d builds never became ready", d.nOpen))
	}
	for _, v := range s.order { // gates pass when their last dependency finishes
		if s.virtual[v] {
			t := 0.0
			for _, u := range s.depsOf(v) {
				t = max(t, sch.Finish[u])
			}
			sch.Start[v], sch.Finish[v] = t, t
		}
	}
	for v := range n {
		sch.Makespan = max(sch.Makespan, sch.Finish[v])
	}
	return sch
}

// SimulateLayered runs s the way minor waves build before the dependency-driven engine: in
// dependency layers (BuildSet.Depth) with a barrier between layers, so that nothing of
// layer L+1 starts before the last build of layer L is done, and the most expensive ready
// build first within a layer. It is the baseline the new engine is measured against.
func SimulateLayered(s *BuildSet, builders int) *Schedule {
	lb := newSetBuilder(s.Len())
	lb.addSet(s)
	lb.layers(allBuilds(s), -1)
	sch := Simulate(lb.mustBuild(), builders, LongestFirst)
	n := s.Len()
	sch.Start, sch.Finish = sch.Start[:n], sch.Finish[:n]
	return sch
}

func allBuilds(s *BuildSet) []int32 {
	vs := make([]int32, s.Len())
	for i := range vs {
		vs[i] = int32(i)
	}
	return vs
}

// setBuilder assembles a build set out of an existing one and gates.
type setBuilder struct {
	builds []Build
	base   *BuildSet
}

func newSetBuilder(capacity int) *setBuilder {
	return &setBuilder{builds: make([]Build, 0, capacity)}
}

// addSet copies the builds of s (numbers unchanged: add it first) with their dependencies.
func (b *setBuilder) addSet(s *BuildSet) {
	b.base = s
	for v := range s.Len() {
		b.builds = append(b.builds, Build{
			Key: s.keys[v], System: s.System(v), Seconds: s.cost[v], Virtual: s.virtual[v],
			Deps: toInts(s.depsOf(int32(v))),
		})
	}
}

// gate adds a gate waiting for deps and returns its number.
func (b *setBuilder) gate(key string, deps ...int) int {
	b.builds = append(b.builds, Build{Key: key, Virtual: true, Deps: deps})
	return len(b.builds) - 1
}

// layers puts barriers between the dependency layers of members (builds of the base set):
// layer 0 waits for start (unless it is -1), every later layer for the barrier after the
// one before. Depths are counted among members only. It returns the gate after the last
// layer.
func (b *setBuilder) layers(members []int32, start int) int {
	s := b.base
	depth := make(map[int32]int32, len(members))
	in := make(map[int32]bool, len(members))
	for _, v := range members {
		in[v] = true
	}
	byOrder := slices.Clone(members)
	rank := make(map[int32]int, len(members))
	for i, v := range s.order {
		if in[v] {
			rank[v] = i
		}
	}
	slices.SortFunc(byOrder, func(a, c int32) int { return rank[a] - rank[c] })
	var layers [][]int32
	for _, v := range byOrder {
		dv := int32(0)
		for _, u := range s.depsOf(v) {
			if in[u] {
				dv = max(dv, depth[u]+1)
			}
		}
		depth[v] = dv
		for int(dv) >= len(layers) {
			layers = append(layers, nil)
		}
		layers[dv] = append(layers[dv], v)
	}
	prev := start
	for li, layer := range layers {
		if prev >= 0 {
			for _, v := range layer {
				b.builds[v].Deps = append(b.builds[v].Deps, prev)
			}
		}
		prev = b.gate(fmt.Sprintf("barrier after layer %d", li), toInts(layer)...)
	}
	if prev < 0 {
		prev = b.gate("empty")
	}
	return prev
}

func (b *setBuilder) mustBuild() *BuildSet {
	s, err := NewBuildSet(b.builds)
	if err != nil {
		panic("graph: simulation set: " + err.Error()) // gates follow the set's own order: no cycle
	}
	return s
}

// finishing is a running build and when it finishes.
type finishing struct {
	at float64
	v  int32
}

// byFinish orders running builds by finish time, then build number.
func byFinish(a, b finishing) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.v < b.v
}

// PlanSimulation compares, for a plan and several builder counts, the layered discipline
// with the dependency-driven one, per minor wave and for the whole major wave.
type PlanSimulation struct {
	Minor []WaveSimulation `json:"minor_waves"`
	Major WaveSimulation   `json:"major_wave"`
}

// WaveSimulation is one minor wave, or the whole major wave, at each builder count.
type WaveSimulation struct {
	ID                  string         `json:"id"`
	Updates             []string       `json:"updates"`
	After               []string       `json:"after,omitempty"`
	Builds              int            `json:"builds"`
	CostSeconds         float64        `json:"cost_seconds"`
	CriticalPathSeconds float64        `json:"critical_path_seconds"`
	Runs                []SimulatedRun `json:"runs"`
}

// SimulatedRun is one builder count. See SimulatePlan for what each figure means for the
// whole major wave.
type SimulatedRun struct {
	Builders          int     `json:"builders"`
	LowerBoundSeconds float64 `json:"lower_bound_seconds"`
	LayeredSeconds    float64 `json:"layered_seconds"`
	MakespanSeconds   float64 `json:"makespan_seconds"`
	LayeredRatio      float64 `json:"layered_ratio"`
	Ratio             float64 `json:"ratio"`
	// Whole major wave only: the dependency-driven discipline with each minor wave waiting
	// for the whole of every wave in its After, and the bound that chaining implies.
	ChainedSeconds      float64 `json:"chained_seconds,omitempty"`
	ChainedBoundSeconds float64 `json:"chained_lower_bound_seconds,omitempty"`
}

// SimulatePlan simulates the plan p of g (made with the same cost model) on each builder
// count.
//
// Each minor wave is simulated alone, with every builder to itself: its lower bound is
// max(its critical path, its work / builders).
//
// The whole major wave is simulated three ways, concurrent minor waves always sharing the
// builders:
//
//   - Layered (today's design): a minor wave starts when every wave in its After has
//     finished, and builds layer by layer with barriers, longest first.
//   - Chained: the same order of minor waves, but inside and across the waves that run
//     at once, each build is dispatched as soon as its dependencies are done, highest
//     bottom level first.
//   - Pipelined (MakespanSeconds): no barrier between minor waves at all; a build waits
//     for its dependencies, wherever they are rebuilt, and for nothing else. That keeps
//     what the wave order is for: every package still builds after everything upstream of
//     it that this major wave rebuilds, since the wave order only ever follows those
//     dependencies.
//
// The lower bound of the whole major wave is that of the union of the rebuild sets:
// max(its critical path, across minor waves, its total work / builders). No discipline
// can beat it, whatever it does with minor waves. The chained discipline has a higher
// bound of its own (ChainedBoundSeconds): a wave spans at least max(its critical path, its
// work / builders) and starts after its After waves end, so the longest such chain through
// After, or total work / builders.
func (g *Graph) SimulatePlan(p *Plan, cost CostModel, builders []int) (*PlanSimulation, error) {
	if cost == nil {
		cost = DefaultCost
	}
	for _, b := range builders {
		if b < 1 {
			return nil, fmt.Errorf("simulate plan: %d builders: must be at least 1", b)
		}
	}
	k := len(p.Minor)
	waveAt := make(map[string]int, k)
	for i, w := range p.Minor {
		waveAt[w.ID] = i
	}
	after := make([][]int, k)
	for i, w := range p.Minor {
		for _, id := range w.After {
			j, ok := waveAt[id]
			if !ok || j >= i {
				return nil, fmt.Errorf("simulate plan: %s waits for %s: not an earlier minor wave of the plan", w.ID, id)
			}
			after[i] = append(after[i], j)
		}
	}

	// The union of the rebuild sets, and which wave rebuilds what.
	var all []int32
	waveOfNode := map[int32]int{}
	for i, w := range p.Minor {
		vs, err := g.nodes(w.Rebuild)
		if err != nil {
			return nil, fmt.Errorf("simulate plan: %s: %w", w.ID, err)
		}
		for _, v := range vs {
			if j, dup := waveOfNode[v]; dup {
				return nil, fmt.Errorf("simulate plan: %s rebuilt by both %s and %s", g.pkgs[v].Key, p.Minor[j].ID, w.ID)
			}
			waveOfNode[v] = i
		}
		all = append(all, vs...)
	}
	slices.Sort(all)
	union, err := g.buildSet(all, cost)
	if err != nil {
		return nil, fmt.Errorf("simulate plan: %w", err)
	}
	members := make([][]int32, k) // per wave, build numbers of union
	for i, v := range all {
		w := waveOfNode[v]
		members[w] = append(members[w], int32(i))
	}

	out := &PlanSimulation{Minor: make([]WaveSimulation, k)}
	spans := make([][]float64, k) // per wave and builder count: max(cp, work/B)
	for i, w := range p.Minor {
		set, err := g.BuildSet(w.Rebuild, cost)
		if err != nil {
			return nil, fmt.Errorf("simulate plan: %s: %w", w.ID, err)
		}
		ws := WaveSimulation{
			ID: w.ID, Updates: w.Updates, After: w.After,
			Builds: set.Builds(), CostSeconds: set.WorkSeconds(), CriticalPathSeconds: set.CriticalPathSeconds(),
		}
		for _, b := range builders {
			lb := set.LowerBound(b)
			spans[i] = append(spans[i], lb)
			ws.Runs = append(ws.Runs, newRun(b, lb, SimulateLayered(set, b).Makespan, Simulate(set, b, CriticalPathFirst).Makespan))
		}
		out.Minor[i] = ws
	}

	layered := chainWaves(union, members, after, true)
	chained := chainWaves(union, members, after, false)
	out.Major = WaveSimulation{
		ID: fmt.Sprintf("wave-%d", p.Wave), Updates: p.Updates,
		Builds: union.Builds(), CostSeconds: union.WorkSeconds(), CriticalPathSeconds: union.CriticalPathSeconds(),
	}
	for bi, b := range builders {
		run := newRun(b, union.LowerBound(b),
			Simulate(layered, b, LongestFirst).Makespan, Simulate(union, b, CriticalPathFirst).Makespan)
		run.ChainedSeconds = Simulate(chained, b, CriticalPathFirst).Makespan
		ends := make([]float64, k)
		for i := range k {
			for _, j := range after[i] {
				ends[i] = max(ends[i], ends[j])
			}
			ends[i] += spans[i][bi]
			run.ChainedBoundSeconds = max(run.ChainedBoundSeconds, ends[i])
		}
		run.ChainedBoundSeconds = max(run.ChainedBoundSeconds, union.WorkSeconds()/float64(b))
		out.Major.Runs = append(out.Major.Runs, run)
	}
	return out, nil
}

func newRun(builders int, bound, layered, makespan float64) SimulatedRun {
	r := SimulatedRun{Builders: builders, LowerBoundSeconds: bound, LayeredSeconds: layered, MakespanSeconds: makespan}
	if bound > 0 {
		r.LayeredRatio, r.Ratio = layered/bound, makespan/bound
	}
	return r
}

// chainWaves returns union with a start and an end gate per minor wave: a wave starts when
// the waves it comes after have ended, and ends when all its builds are done. With layered,
// each wave also builds in dependency layers with barriers between them.
func chainWaves(union *BuildSet, members [][]int32, after [][]int, layered bool) *BuildSet {
	b := newSetBuilder(union.Len() + 4*len(members))
	b.addSet(union)
	ends := make([]int, len(members))
	for w, ms := range members {
		var deps []int
		for _, j := range after[w] {
			deps = append(deps, ends[j])
		}
		start := b.gate(fmt.Sprintf("minor wave %d starts", w+1), deps...)
		if layered {
			ends[w] = b.layers(ms, start)
			continue
		}
		for _, v := range ms {
			b.builds[v].Deps = append(b.builds[v].Deps, start)
		}
		ends[w] = b.gate(fmt.Sprintf("minor wave %d ends", w+1), toInts(ms)...)
	}
	return b.mustBuild()
}

// Heaviest returns the keys of the n packages that cost most under cost (nil means
// DefaultCost), most expensive first, ties by key: a deterministic choice of heavy root
// updates for benchmarks.
func (g *Graph) Heaviest(n int, cost CostModel) ([]string, error) {
	if cost == nil {
		cost = DefaultCost
	}
	secs := make([]float64, len(g.pkgs))
	vs := make([]int32, len(g.pkgs))
	for v := range g.pkgs {
		s, err := checkedCost(cost, g, int32(v))
		if err != nil {
			return nil, fmt.Errorf("heaviest: %w", err)
		}
		secs[v], vs[v] = s, int32(v)
	}
	slices.SortStableFunc(vs, func(a, b int32) int {
		switch {
		case secs[a] > secs[b]:
			return -1
		case secs[a] < secs[b]:
			return 1
		}
		return int(a - b)
	})
	return g.keysOf(vs[:min(n, len(vs))]), nil
}
