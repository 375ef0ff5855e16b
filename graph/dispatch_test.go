package graph

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// diamond: a feeds b and c, which feed d; e stands alone.
//
//	a(10) → b(5)  → d(1)
//	      → c(20) ↗
//	e(30)
func diamond(t testing.TB) *BuildSet {
	t.Helper()
	s, err := NewBuildSet([]Build{
		{Key: "a", Seconds: 10},
		{Key: "b", Seconds: 5, Deps: []int{0}},
		{Key: "c", Seconds: 20, Deps: []int{0, 0}}, // repeated: merged
		{Key: "d", Seconds: 1, Deps: []int{2, 1}},
		{Key: "e", Seconds: 30},
	})
	require.NoError(t, err)
	return s
}

func TestBuildSetBottomLevelsAndBounds(t *testing.T) {
	t.Parallel()
	s := diamond(t)
	var bottom []float64
	var depth []int
	for i := range s.Len() {
		bottom = append(bottom, s.BottomLevel(i))
		depth = append(depth, s.Depth(i))
	}
	require.Equal(t, []float64{31, 6, 21, 1, 30}, bottom)
	require.Equal(t, []int{0, 1, 1, 2, 0}, depth)
	require.Equal(t, []int{0}, s.Deps(2))
	require.Equal(t, []int{1, 2}, s.Deps(3))
	require.Equal(t, []int{1, 2}, s.Dependents(0))
	require.Equal(t, 66.0, s.WorkSeconds())
	require.Equal(t, 31.0, s.CriticalPathSeconds())
	require.Equal(t, 33.0, s.LowerBound(2))
	require.Equal(t, 66.0, s.LowerBound(0), "0 builders count as one")
}

func TestDispatcherOrders(t *testing.T) {
	t.Parallel()
	s := diamond(t)
	drain := func(order Order) []string {
		d := NewDispatcher(s, order)
		var seq []string
		for !d.Finished() {
			for _, v := range d.Next(1) {
				seq = append(seq, s.Key(v))
				require.NoError(t, d.Done(v))
			}
		}
		return seq
	}
	require.Equal(t, []string{"a", "e", "c", "b", "d"}, drain(CriticalPathFirst))
	require.Equal(t, []string{"e", "a", "c", "b", "d"}, drain(LongestFirst))
}

func TestSimulateDiamond(t *testing.T) {
	t.Parallel()
	s := diamond(t)
	cases := []struct {
		builders         int
		makespan, layerd float64
	}{
		{1, 66, 66},
		// a,e at 0; c at 10; b at 30 when e and c are done; d at 35. Layered waits for e.
		{2, 36, 51},
		{5, 31, 51},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.builders), func(t *testing.T) {
			sch := Simulate(s, c.builders, CriticalPathFirst)
			require.Equal(t, c.makespan, sch.Makespan)
			checkSchedule(t, s, sch, CriticalPathFirst)
			lay := SimulateLayered(s, c.builders)
			require.Equal(t, c.layerd, lay.Makespan)
			require.Len(t, lay.Start, s.Len(), "gates are cut off")
		})
	}
	sch := Simulate(s, 2, CriticalPathFirst)
	require.Equal(t, []float64{0, 30, 10, 35, 0}, sch.Start)
}

func TestNewBuildSetErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		builds []Build
		want   string
	}{
		{"cycle", []Build{{Key: "x"}, {Key: "a", Deps: []int{2}}, {Key: "b", Deps: []int{1}}, {Key: "c", Deps: []int{2}}},
			"dependency cycle a -> b -> a"},
		{"range", []Build{{Key: "a", Deps: []int{3}}}, "a: dependency 3: out of range 0..0"},
		{"self", []Build{{Key: "a", Deps: []int{0}}}, "a: depends on itself"},
		{"negative", []Build{{Key: "a", Seconds: -1}}, "a: cost -1 seconds"},
		{"nan", []Build{{Key: "a", Seconds: math.NaN()}}, "a: cost NaN seconds"},
		{"inf", []Build{{Key: "a", Seconds: math.Inf(1)}}, "a: cost +Inf seconds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewBuildSet(c.builds)
			require.ErrorContains(t, err, c.want)
		})
	}
}

func TestDispatcherRejectsWhatIsNotRunning(t *testing.T) {
	t.Parallel()
	s := diamond(t)
	d := NewDispatcher(s, CriticalPathFirst)
	err := d.Done(3)
	require.ErrorIs(t, err, ErrNotRunning)
	require.EqualError(t, err, "record d as succeeded: it is waiting: not running")
	_, err = d.Failed(0)
	require.ErrorIs(t, err, ErrNotRunning, "a is ready, not running")
	require.Error(t, d.Done(17))
	v := d.Next(1)[0]
	require.NoError(t, d.Done(v))
	require.ErrorIs(t, d.Done(v), ErrNotRunning, "done twice")
	require.Equal(t, BuildSucceeded, d.State(v))
	require.Equal(t, "dependency-failed", BuildDependencyFailed.String())
}

func TestDispatcherFailureStopsDependentsAtOnce(t *testing.T) {
	t.Parallel()
	s := diamond(t)
	d := NewDispatcher(s, CriticalPathFirst)
	require.Equal(t, []int{0, 4}, d.Next(5))
	dead, err := d.Failed(0)
	require.NoError(t, err)
	require.Equal(t, []int{1, 2, 3}, dead)
	for _, v := range dead {
		require.Equal(t, BuildDependencyFailed, d.State(v))
	}
	require.Empty(t, d.Next(5), "nothing downstream of a failure ever starts")
	require.False(t, d.Finished(), "e still runs")
	require.NoError(t, d.Done(4))
	require.True(t, d.Finished())
}

func TestDispatcherPerSystem(t *testing.T) {
	t.Parallel()
	s, err := NewBuildSet([]Build{
		{Key: "x1", System: "x86_64-linux", Seconds: 5},
		{Key: "x2", System: "x86_64-linux", Seconds: 50},
		{Key: "a1", System: "aarch64-linux", Seconds: 10},
		{Key: "a2", System: "aarch64-linux", Seconds: 1, Deps: []int{0}},
	})
	require.NoError(t, err)
	require.Equal(t, []string{"aarch64-linux", "x86_64-linux"}, s.Systems())
	d := NewDispatcher(s, CriticalPathFirst)
	require.Equal(t, 2, d.ReadyOn("x86_64-linux"))
	require.Equal(t, 1, d.ReadyOn("aarch64-linux"))
	require.Equal(t, 0, d.ReadyOn("riscv64-linux"))
	require.Equal(t, []int{2}, d.NextOn("aarch64-linux", 4))
	require.Empty(t, d.NextOn("aarch64-linux", 4))
	require.Nil(t, d.NextOn("riscv64-linux", 4))
	require.Equal(t, []int{1}, d.Next(1), "across systems, the best first")
	require.Equal(t, []int{0}, d.NextOn("x86_64-linux", 4))
	require.NoError(t, d.Done(0))
	require.Equal(t, []int{3}, d.NextOn("aarch64-linux", 4), "a2 ready once x1 is done, on its own system")
}

// randomSet makes a random acyclic build set with ties in cost (to exercise tie-breaking),
// zero costs, several systems and a few gates.
func randomSet(rng *rand.Rand, n, deg int) []Build {
	builds := make([]Build, n)
	for i := range builds {
		b := Build{Key: fmt.Sprintf("b%04d", i), Seconds: float64(rng.IntN(8)), System: []string{"x", "y"}[rng.IntN(2)]}
		if rng.IntN(10) == 0 {
			b.Seconds = float64(100 + rng.IntN(1000))
		}
		b.Virtual = rng.IntN(20) == 0
		for range rng.IntN(2*deg + 1) {
			if i > 0 {
				b.Deps = append(b.Deps, rng.IntN(i))
			}
		}
		builds[i] = b
	}
	// Number them in a random order, so that numbers say nothing about dependency order.
	perm := rng.Perm(n)
	out := make([]Build, n)
	for i, b := range builds {
		for j := range b.Deps {
			b.Deps[j] = perm[b.Deps[j]]
		}
		out[perm[i]] = b
	}
	return out
}

func TestSimulatePropertiesOnRandomSets(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(10, 3))
	for iter := range 60 {
		n := 1 + rng.IntN(300)
		s, err := NewBuildSet(randomSet(rng, n, 1+rng.IntN(4)))
		require.NoError(t, err)
		for _, b := range []int{1, 2, 3, 8, 1000} {
			for _, order := range []Order{CriticalPathFirst, LongestFirst} {
				sch := Simulate(s, b, order)
				checkSchedule(t, s, sch, order)
				again := Simulate(s, b, order)
				require.Equal(t, sch, again, "iteration %d: same input, same schedule", iter)
			}
			lay := SimulateLayered(s, b)
			checkLayered(t, s, lay)
		}
	}
}

func TestBuildSetOfAGraphIgnoresInputOrderAndCycles(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(4, 4))
	for range 20 {
		pkgs := randomPackages(rng, 200, 3, true)
		for i := range pkgs {
			pkgs[i].Cost.BuildSeconds = float64(1 + rng.IntN(50))
		}
		g := mustNewLenient(t, pkgs)
		keys := g.Keys()
		rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		keys = keys[:100]
		s, err := g.BuildSet(keys, nil)
		require.NoError(t, err, "cycle edges are left out")
		g2 := mustNewLenient(t, shufflePackages(rng, pkgs))
		rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		s2, err := g2.BuildSet(append(keys, keys[0]), nil)
		require.NoError(t, err)
		require.Equal(t, s.keys, s2.keys)
		require.Equal(t, Simulate(s, 4, CriticalPathFirst), Simulate(s2, 4, CriticalPathFirst))
		// The critical path is the planner's.
		cp, _, err := g.CriticalPath(keys, nil)
		require.NoError(t, err)
		require.InDelta(t, cp, s.CriticalPathSeconds(), 1e-9)
		checkSchedule(t, s, Simulate(s, 4, CriticalPathFirst), CriticalPathFirst)
	}
	_, err := mustNew(t, []Package{pk("a")}).BuildSet([]string{"a", "nope"}, nil)
	var unknown *UnknownKeysError
	require.ErrorAs(t, err, &unknown)
}

func TestDispatcherFailuresOnRandomSets(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	for range 60 {
		n := 1 + rng.IntN(300)
		s, err := NewBuildSet(randomSet(rng, n, 1+rng.IntN(3)))
		require.NoError(t, err)
		d := NewDispatcher(s, CriticalPathFirst)
		var running, failed []int
		marked := map[int]bool{}
		for !d.Finished() {
			for _, v := range d.Next(1 + rng.IntN(4)) {
				require.False(t, s.Virtual(v), "gates never reach a builder")
				for _, u := range s.Deps(v) {
					require.Equal(t, BuildSucceeded, d.State(u), "%s started before %s", s.Key(v), s.Key(u))
				}
				running = append(running, v)
			}
			require.NotEmpty(t, running, "not finished, so something runs")
			i := rng.IntN(len(running))
			v := running[i]
			running = slices.Delete(running, i, i+1)
			if rng.IntN(6) == 0 {
				dead, err := d.Failed(v)
				require.NoError(t, err)
				failed = append(failed, v)
				for _, w := range dead {
					require.False(t, marked[w], "reported twice")
					marked[w] = true
				}
			} else {
				require.NoError(t, d.Done(v))
			}
		}
		require.Zero(t, d.Ready())
		require.Zero(t, d.Running())
		// Exactly the transitive dependents of the failures are dependency-failed.
		want := map[int]bool{}
		stack := slices.Clone(failed)
		for len(stack) > 0 {
			v := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, w := range s.Dependents(v) {
				if !want[w] {
					want[w] = true
					stack = append(stack, w)
				}
			}
		}
		for v := range s.Len() {
			wantDead := want[v] && !s.Virtual(v)
			require.Equal(t, wantDead, marked[v], s.Key(v))
			switch {
			case want[v]:
				require.Equal(t, BuildDependencyFailed, d.State(v))
			case slices.Contains(failed, v):
				require.Equal(t, BuildFailed, d.State(v))
			default:
				require.Equal(t, BuildSucceeded, d.State(v))
			}
		}
	}
}

func TestSimulatePropertiesOnRecordedGraphs(t *testing.T) {
	t.Parallel()
	for _, file := range []string{helloFile, appsFile, debianFile} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			g := loadData(t, file)
			s, err := g.BuildSet(g.Keys(), nil)
			require.NoError(t, err)
			require.Equal(t, g.Len(), s.Builds())
			for _, b := range []int{1, 32, 512} {
				sch := Simulate(s, b, CriticalPathFirst)
				checkSchedule(t, s, sch, CriticalPathFirst)
				checkLayered(t, s, SimulateLayered(s, b))
			}
		})
	}
}

// TestSimulatePlanWithinTenPercent is the acceptance figure: on the recorded Nixpkgs
// and Debian graphs, with the five heaviest packages as root updates, the whole major wave
// built dependency-driven, critical path first, is within 1.10× of its lower bound at 32,
// 128 and 512 builders.
func TestSimulatePlanWithinTenPercent(t *testing.T) {
	t.Parallel()
	for _, file := range []string{appsFile, debianFile} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			g := loadData(t, file)
			updates, err := g.Heaviest(5, nil)
			require.NoError(t, err)
			p, err := g.Plan(PlanRequest{Updates: updates, Wave: 1})
			require.NoError(t, err)
			sim, err := g.SimulatePlan(p, nil, []int{32, 128, 512})
			require.NoError(t, err)
			require.Len(t, sim.Minor, len(p.Minor))
			require.Equal(t, p.Totals.Builds, sim.Major.Builds)
			require.InDelta(t, p.Totals.CostSeconds, sim.Major.CostSeconds, 1e-6*p.Totals.CostSeconds)
			require.InDelta(t, p.Staging.CriticalPathSeconds, sim.Major.CriticalPathSeconds, 1e-6)
			for i, w := range sim.Minor {
				require.Equal(t, p.Minor[i].Builds, w.Builds)
				require.InDelta(t, p.Minor[i].CriticalPathSeconds, w.CriticalPathSeconds, 1e-6)
				for _, r := range w.Runs {
					checkRun(t, r)
				}
			}
			for _, r := range sim.Major.Runs {
				checkRun(t, r)
				require.LessOrEqual(t, r.Ratio, 1.10, "%d builders", r.Builders)
				require.GreaterOrEqual(t, r.ChainedBoundSeconds, r.LowerBoundSeconds*(1-1e-9))
				require.GreaterOrEqual(t, r.ChainedSeconds, r.ChainedBoundSeconds*(1-1e-9))
			}
		})
	}
}

func checkRun(t *testing.T, r SimulatedRun) {
	t.Helper()
	lb := r.LowerBoundSeconds * (1 - 1e-9)
	require.GreaterOrEqual(t, r.MakespanSeconds, lb, "%d builders", r.Builders)
	require.GreaterOrEqual(t, r.LayeredSeconds, lb, "%d builders", r.Builders)
	require.InDelta(t, r.MakespanSeconds/r.LowerBoundSeconds, r.Ratio, 1e-9)
}

func TestSimulatePlanRejectsForeignPlans(t *testing.T) {
	t.Parallel()
	g := mustNew(t, []Package{pk("a"), pk("b", "a")})
	p, err := g.Plan(PlanRequest{Updates: []string{"a"}, Wave: 1})
	require.NoError(t, err)
	_, err = g.SimulatePlan(p, nil, []int{0})
	require.ErrorContains(t, err, "0 builders")
	p.Minor[0].After = []string{"wave-1-9"}
	_, err = g.SimulatePlan(p, nil, []int{1})
	require.ErrorContains(t, err, "wave-1-1 waits for wave-1-9")
}

// checkSchedule checks a simulated schedule against the rules of the dispatcher: nothing
// starts before its dependencies are done, every build takes its cost, no builder is idle
// while a build is ready, and the makespan lies between the lower bound and, for a greedy
// list schedule, Graham's bound work/B + (1 − 1/B)·critical path.
func checkSchedule(t *testing.T, s *BuildSet, sch *Schedule, order Order) {
	t.Helper()
	n := s.Len()
	readyAt := make([]float64, n)
	var ready, starts, finishes []float64
	for v := range n {
		for _, u := range s.depsOf(int32(v)) {
			readyAt[v] = max(readyAt[v], sch.Finish[u])
		}
		require.GreaterOrEqual(t, sch.Start[v], readyAt[v], "%s starts before its dependencies are done", s.Key(v))
		if s.Virtual(v) {
			require.Equal(t, readyAt[v], sch.Start[v], "gate %s passes at once", s.Key(v))
			continue
		}
		require.Equal(t, sch.Start[v]+s.Seconds(v), sch.Finish[v])
		ready = append(ready, readyAt[v])
		starts = append(starts, sch.Start[v])
		finishes = append(finishes, sch.Finish[v])
	}
	// At every moment something starts or finishes, after all that happens then: a ready
	// build that has not started means every builder is busy.
	events := slices.Concat([]float64{0}, starts, finishes)
	slices.Sort(events)
	events = slices.Compact(events)
	slices.Sort(ready)
	slices.Sort(starts)
	slices.Sort(finishes)
	upTo := func(xs []float64, at float64) int { return sort.SearchFloat64s(xs, math.Nextafter(at, math.Inf(1))) }
	for _, at := range events {
		started := upTo(starts, at)
		waiting := upTo(ready, at) - started
		running := started - upTo(finishes, at)
		require.LessOrEqual(t, running, sch.Builders)
		if waiting > 0 {
			require.Equal(t, sch.Builders, running, "at %v s, %d builds ready and %d of %d builders idle",
				at, waiting, sch.Builders-running, sch.Builders)
		}
	}
	lb := s.LowerBound(sch.Builders)
	require.GreaterOrEqual(t, sch.Makespan, lb*(1-1e-9))
	b := float64(sch.Builders)
	graham := s.WorkSeconds()/b + (1-1/b)*s.CriticalPathSeconds()
	require.LessOrEqual(t, sch.Makespan, graham*(1+1e-9)+1e-9, "order %d", order)
}

// checkLayered checks the layered baseline: dependencies respected, and no build of layer
// L+1 starts before the last build of layer L is done.
func checkLayered(t *testing.T, s *BuildSet, sch *Schedule) {
	t.Helper()
	var layerEnd []float64
	for v := range s.Len() {
		l := s.Depth(v)
		for len(layerEnd) <= l {
			layerEnd = append(layerEnd, 0)
		}
		layerEnd[l] = max(layerEnd[l], sch.Finish[v])
		for _, u := range s.depsOf(int32(v)) {
			require.GreaterOrEqual(t, sch.Start[v], sch.Finish[u])
		}
	}
	for v := range s.Len() {
		if l := s.Depth(v); l > 0 {
			require.GreaterOrEqual(t, sch.Start[v], layerEnd[l-1], "%s starts before layer %d is done", s.Key(v), l-1)
		}
	}
	require.GreaterOrEqual(t, sch.Makespan, s.LowerBound(sch.Builders)*(1-1e-9))
}

// BenchmarkDispatchDebian dispatches the whole Debian archive (34,288 builds, its
// dependency edges less those inside cycles) through one frontier, 512 builds at a time,
// every build reported done: the cost of the decisions alone, without a simulated clock.
func BenchmarkDispatchDebian(b *testing.B) {
	g := loadData(b, debianFile)
	s, err := g.BuildSet(g.Keys(), nil)
	if err != nil {
		b.Fatal(err)
	}
	benchDispatch(b, s)
}

// BenchmarkDispatchSynthetic100k is the size the engine is specified for, which no recorded
// graph reaches: 100,000 builds and about a million edges (syntheticPackages, acyclic).
func BenchmarkDispatchSynthetic100k(b *testing.B) {
	g := mustNew(b, syntheticPackages(100_000, 5, 0))
	s, err := g.BuildSet(g.Keys(), nil)
	if err != nil {
		b.Fatal(err)
	}
	benchDispatch(b, s)
}

func benchDispatch(b *testing.B, s *BuildSet) {
	b.Helper()
	buf := make([]int, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		d := NewDispatcher(s, CriticalPathFirst)
		for !d.Finished() {
			buf = d.AppendNext(buf[:0], 512)
			for _, v := range buf {
				if err := d.Done(v); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(s.Len()), "ns/build")
	b.ReportMetric(float64(s.Len()), "builds")
	b.ReportMetric(float64(len(s.deps)), "edges")
}

// BenchmarkSimulateDebian is one simulated run of the whole Debian archive on 512 builders.
func BenchmarkSimulateDebian(b *testing.B) {
	g := loadData(b, debianFile)
	s, err := g.BuildSet(g.Keys(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		Simulate(s, 512, CriticalPathFirst)
	}
}

// BenchmarkBuildSetDebian builds the set of the whole Debian archive from the loaded graph.
func BenchmarkBuildSetDebian(b *testing.B) {
	g := loadData(b, debianFile)
	keys := g.Keys()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.BuildSet(keys, nil); err != nil {
			b.Fatal(err)
		}
	}
}
