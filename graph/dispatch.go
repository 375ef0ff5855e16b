package graph

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Build is one entry of a set of builds given to NewBuildSet.
type Build struct {
	Key     string  // names the build in errors and results
	System  string  // the builders that can run it ("" is a system like any other)
	Seconds float64 // what it costs on one builder, from the cost model
	Deps    []int   // indices (into the same list) of the builds it waits for
	// Virtual marks a gate that costs nothing and takes no builder: the dispatcher passes it
	// the moment its dependencies are done. Simulations use gates for "this minor wave
	// starts after those" and for the barriers between dependency layers.
	Virtual bool
}

// BuildSet is a set of builds ready for dispatch: builds numbered 0..Len()-1, their
// dependencies inside the set (dependencies outside it are taken as already built), what
// each costs and on which system it runs, and each build's bottom level. It is immutable
// and acyclic.
//
// The bottom level of a build is its remaining critical path: its own cost plus the most
// expensive chain of dependents after it. Starting the ready build with the highest bottom
// level first is the classic list-scheduling rule (HLFET); on build graphs, where a few long
// chains (toolchains, then everything that needs them) decide the makespan, it keeps those
// chains moving while the short builds fill the gaps.
type BuildSet struct {
	keys    []string
	cost    []float64
	virtual []bool
	sys     []int32  // build → index into systems
	systems []string // distinct systems, ascending

	// depOff/deps and revOff/revs hold the edges both ways in compressed rows, ascending.
	depOff, deps []int32
	revOff, revs []int32

	order  []int32   // a topological order, dependencies first
	bottom []float64 // remaining critical path, own cost included
	depth  []int32   // dependency layer: 0 for no dependencies in the set

	real int     // builds that are not Virtual
	work float64 // total cost of the builds
}

// NewBuildSet checks builds and works out their order and bottom levels. Dependencies out
// of range, on the build itself, or around a cycle fail with an error naming the builds;
// a repeated dependency is merged. Costs must be finite and not negative.
func NewBuildSet(builds []Build) (*BuildSet, error) {
	n := len(builds)
	s := &BuildSet{
		keys:    make([]string, n),
		cost:    make([]float64, n),
		virtual: make([]bool, n),
		sys:     make([]int32, n),
		depOff:  make([]int32, n+1),
	}
	for i := range builds {
		s.systems = append(s.systems, builds[i].System)
	}
	slices.Sort(s.systems)
	s.systems = slices.Compact(s.systems)
	var ids []int32
	for i := range builds {
		b := &builds[i]
		s.keys[i], s.virtual[i] = b.Key, b.Virtual
		sec := b.Seconds
		if b.Virtual {
			sec = 0
		}
		if !(sec >= 0 && sec <= maxSeconds) {
			return nil, fmt.Errorf("build set: %s: cost %v seconds: must be finite and not negative", b.Key, b.Seconds)
		}
		s.cost[i] = sec
		si, _ := slices.BinarySearch(s.systems, b.System)
		s.sys[i] = int32(si)
		ids = ids[:0]
		for _, d := range b.Deps {
			switch {
			case d < 0 || d >= n:
				return nil, fmt.Errorf("build set: %s: dependency %d: out of range 0..%d", b.Key, d, n-1)
			case d == i:
				return nil, fmt.Errorf("build set: %s: depends on itself", b.Key)
			}
			ids = append(ids, int32(d))
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
		s.deps = append(s.deps, ids...)
		s.depOff[i+1] = int32(len(s.deps))
	}
	if err := s.finish(); err != nil {
		return nil, fmt.Errorf("build set: %w", err)
	}
	return s, nil
}

// maxSeconds keeps costs finite (and NaN out: every comparison with NaN is false).
const maxSeconds = 1e300

// BuildSet returns the set of builds that rebuilds keys: one build per package (repeated
// keys count once), numbered in key order, priced by cost (nil means DefaultCost), with the
// dependencies among keys. Edges inside a dependency cycle of the graph are left out, as in
// Plan: distributions bootstrap a cycle by building each member against its partners'
// previous builds, so its members do not wait for each other.
func (g *Graph) BuildSet(keys []string, cost CostModel) (*BuildSet, error) {
	vs, err := g.nodes(keys)
	if err != nil {
		return nil, fmt.Errorf("build set: %w", err)
	}
	if cost == nil {
		cost = DefaultCost
	}
	slices.Sort(vs)
	vs = slices.Compact(vs)
	return g.buildSet(vs, cost)
}

// buildSet is BuildSet over node numbers, ascending and distinct.
func (g *Graph) buildSet(vs []int32, cost CostModel) (*BuildSet, error) {
	n := len(vs)
	pos := make(map[int32]int32, n)
	for i, v := range vs {
		pos[v] = int32(i)
	}
	c := g.components()
	s := &BuildSet{
		keys:    make([]string, n),
		cost:    make([]float64, n),
		virtual: make([]bool, n),
		sys:     make([]int32, n),
		depOff:  make([]int32, n+1),
	}
	for _, v := range vs {
		s.systems = append(s.systems, g.pkgs[v].System)
	}
	slices.Sort(s.systems)
	s.systems = slices.Compact(s.systems)
	for i, v := range vs {
		p := &g.pkgs[v]
		s.keys[i] = p.Key
		secs, err := checkedCost(cost, g, v)
		if err != nil {
			return nil, fmt.Errorf("build set: %w", err)
		}
		s.cost[i] = secs
		si, _ := slices.BinarySearch(s.systems, p.System)
		s.sys[i] = int32(si)
		for _, u := range g.depsOf(v) { // ascending, so the row stays ascending
			if j, ok := pos[u]; ok && c.comp[u] != c.comp[v] {
				s.deps = append(s.deps, j)
			}
		}
		s.depOff[i+1] = int32(len(s.deps))
	}
	if err := s.finish(); err != nil {
		// Cycle edges are gone, so this is a bug, not bad input.
		panic("graph: build set of a graph: " + err.Error())
	}
	return s, nil
}

// finish fills the dependents' rows, the order, depths and bottom levels, and rejects
// cycles.
func (s *BuildSet) finish() error {
	n := len(s.keys)
	s.revOff = make([]int32, n+1)
	for _, u := range s.deps {
		s.revOff[u+1]++
	}
	for v := range n {
		s.revOff[v+1] += s.revOff[v]
	}
	s.revs = make([]int32, len(s.deps))
	next := slices.Clone(s.revOff[:n])
	for v := range n {
		for _, u := range s.depsOf(int32(v)) {
			s.revs[next[u]] = int32(v)
			next[u]++
		}
	}

	// Kahn's algorithm, smallest number first among the free, so the order is stable.
	waiting := make([]int32, n)
	s.order = make([]int32, 0, n)
	for v := range n {
		waiting[v] = s.depOff[v+1] - s.depOff[v]
		if waiting[v] == 0 {
			s.order = append(s.order, int32(v))
		}
	}
	for i := 0; i < len(s.order); i++ {
		for _, w := range s.revsOf(s.order[i]) {
			if waiting[w]--; waiting[w] == 0 {
				s.order = append(s.order, w)
			}
		}
	}
	if len(s.order) < n {
		return s.cycleError(waiting)
	}

	s.depth = make([]int32, n)
	for _, v := range s.order {
		for _, u := range s.depsOf(v) {
			s.depth[v] = max(s.depth[v], s.depth[u]+1)
		}
	}
	s.bottom = make([]float64, n)
	for i := n - 1; i >= 0; i-- {
		v := s.order[i]
		b := 0.0
		for _, w := range s.revsOf(v) {
			b = max(b, s.bottom[w])
		}
		s.bottom[v] = b + s.cost[v]
	}
	for v := range n {
		if !s.virtual[v] {
			s.real++
			s.work += s.cost[v]
		}
	}
	return nil
}

// cycleError names one cycle among the builds Kahn's algorithm could not order: each of
// them still waits for one of them, so following those dependencies must come round.
func (s *BuildSet) cycleError(waiting []int32) error {
	start := int32(-1)
	for v, w := range waiting {
		if w > 0 {
			start = int32(v)
			break
		}
	}
	seen := map[int32]int{}
	var path []int32
	for v := start; ; {
		if at, ok := seen[v]; ok {
			path = append(path[at:], v)
			break
		}
		seen[v] = len(path)
		path = append(path, v)
		for _, u := range s.depsOf(v) {
			if waiting[u] > 0 {
				v = u
				break
			}
		}
	}
	names := make([]string, len(path))
	for i, v := range path {
		names[i] = s.keys[v]
	}
	return fmt.Errorf("dependency cycle %s: a build set must be acyclic", strings.Join(names, " -> "))
}

func (s *BuildSet) depsOf(v int32) []int32 { return s.deps[s.depOff[v]:s.depOff[v+1]] }
func (s *BuildSet) revsOf(v int32) []int32 { return s.revs[s.revOff[v]:s.revOff[v+1]] }

// Len is the number of builds, gates included.
func (s *BuildSet) Len() int { return len(s.keys) }

// Builds is the number of builds that are not gates.
func (s *BuildSet) Builds() int { return s.real }

// Key names build i.
func (s *BuildSet) Key(i int) string { return s.keys[i] }

// Seconds is what build i costs.
func (s *BuildSet) Seconds(i int) float64 { return s.cost[i] }

// Virtual reports whether build i is a gate.
func (s *BuildSet) Virtual(i int) bool { return s.virtual[i] }

// System is the system build i runs on.
func (s *BuildSet) System(i int) string { return s.systems[s.sys[i]] }

// Systems lists the systems of the builds, ascending.
func (s *BuildSet) Systems() []string { return slices.Clone(s.systems) }

// Deps lists the builds that build i waits for, ascending.
func (s *BuildSet) Deps(i int) []int { return toInts(s.depsOf(int32(i))) }

// Dependents lists the builds that wait for build i, ascending.
func (s *BuildSet) Dependents(i int) []int { return toInts(s.revsOf(int32(i))) }

// BottomLevel is build i's remaining critical path, its own cost included.
func (s *BuildSet) BottomLevel(i int) float64 { return s.bottom[i] }

// Depth is build i's dependency layer: 0 when it waits for nothing, else one more than its
// deepest dependency.
func (s *BuildSet) Depth(i int) int { return int(s.depth[i]) }

// WorkSeconds is the total cost of the builds: the work to spread over the builders.
func (s *BuildSet) WorkSeconds() float64 { return s.work }

// CriticalPathSeconds is the cost of the most expensive dependency chain: how long the set
// takes however many builders there are.
func (s *BuildSet) CriticalPathSeconds() float64 {
	cp := 0.0
	for _, b := range s.bottom {
		cp = max(cp, b)
	}
	return cp
}

// LowerBound is max(critical path, work / builders): no schedule on that many builders
// finishes sooner.
func (s *BuildSet) LowerBound(builders int) float64 {
	return max(s.CriticalPathSeconds(), s.work/float64(max(builders, 1)))
}

func toInts(vs []int32) []int {
	out := make([]int, len(vs))
	for i, v := range vs {
		out[i] = int(v)
	}
	return out
}

// Order is how a Dispatcher ranks the ready builds.
type Order int

const (
	// CriticalPathFirst starts the ready build with the highest bottom level first.
	CriticalPathFirst Order = iota
	// LongestFirst starts the most expensive ready build first: the layered baseline, which
	// cannot see past its layer's barrier.
	LongestFirst
)

// BuildState is where a build of a Dispatcher stands.
type BuildState uint8

// Build states. A build moves from waiting to ready, running, then succeeded or failed; or
// from waiting to dependency-failed when something it needs failed.
const (
	BuildWaiting BuildState = iota
	BuildReady
	BuildRunning
	BuildSucceeded
	BuildFailed
	BuildDependencyFailed
)

var stateNames = [...]string{"waiting", "ready", "running", "succeeded", "failed", "dependency-failed"}

// String is the state's name as Crest records it.
func (st BuildState) String() string {
	if int(st) < len(stateNames) {
		return stateNames[st]
	}
	return fmt.Sprintf("BuildState(%d)", st)
}

// ErrNotRunning is wrapped by Done and Failed for a build that is not running.
var ErrNotRunning = errors.New("not running")

// Dispatcher is the frontier of a build set: how many dependencies each build still waits
// for, and the ready builds, one heap per system, best first. It decides what to start next
// and nothing else: the caller starts what Next returns and reports back with Done or
// Failed. It reads no clock and no randomness, and breaks ties by build number, so the same
// set and the same sequence of calls always give the same decisions.
//
// Gates (Build.Virtual) never reach the ready heaps: they pass the moment they are free.
type Dispatcher struct {
	set     *BuildSet
	prio    []float64 // higher starts first
	waiting []int32
	state   []BuildState
	ready   []readyHeap // per system
	stack   []int32     // scratch for releases and failures

	nReady, nRunning, nOpen int // nOpen: builds not yet succeeded or failed, gates excluded
}

// NewDispatcher starts a frontier over s in which nothing has run: the builds without
// dependencies are ready.
func NewDispatcher(s *BuildSet, order Order) *Dispatcher {
	n := s.Len()
	d := &Dispatcher{
		set:     s,
		prio:    s.bottom,
		waiting: make([]int32, n),
		state:   make([]BuildState, n),
		ready:   make([]readyHeap, len(s.systems)),
		nOpen:   s.real,
	}
	if order == LongestFirst {
		d.prio = s.cost
	}
	for i := range d.ready {
		d.ready[i].before = byPriority(d.prio)
	}
	for v := range n {
		d.waiting[v] = s.depOff[v+1] - s.depOff[v]
	}
	for v := range n {
		if d.waiting[v] == 0 && d.state[v] == BuildWaiting {
			d.free(int32(v))
		}
	}
	return d
}

// free handles a build whose last dependency is done: a gate passes (and frees what waits
// for it), a build becomes ready.
func (d *Dispatcher) free(v int32) {
	d.stack = append(d.stack[:0], v)
	for len(d.stack) > 0 {
		v := d.stack[len(d.stack)-1]
		d.stack = d.stack[:len(d.stack)-1]
		if !d.set.virtual[v] {
			d.state[v] = BuildReady
			d.ready[d.set.sys[v]].push(v)
			d.nReady++
			continue
		}
		d.state[v] = BuildSucceeded
		for _, w := range d.set.revsOf(v) {
			if d.waiting[w]--; d.waiting[w] == 0 && d.state[w] == BuildWaiting {
				d.stack = append(d.stack, w)
			}
		}
	}
}

// Next starts up to free ready builds, on any system, best first, and returns them.
func (d *Dispatcher) Next(free int) []int { return d.AppendNext(nil, free) }

// AppendNext is Next appending to dst, for callers that reuse a buffer.
func (d *Dispatcher) AppendNext(dst []int, free int) []int {
	for ; free > 0 && d.nReady > 0; free-- {
		best := -1
		for si := range d.ready {
			if len(d.ready[si].h) > 0 && (best < 0 || d.ready[si].before(d.ready[si].h[0], d.ready[best].h[0])) {
				best = si
			}
		}
		dst = append(dst, int(d.start(best)))
	}
	return dst
}

// NextOn starts up to free ready builds of one system, best first, and returns them.
func (d *Dispatcher) NextOn(system string, free int) []int {
	si, ok := slices.BinarySearch(d.set.systems, system)
	if !ok {
		return nil
	}
	var out []int
	for ; free > 0 && len(d.ready[si].h) > 0; free-- {
		out = append(out, int(d.start(si)))
	}
	return out
}

func (d *Dispatcher) start(si int) int32 {
	v := d.ready[si].pop()
	d.state[v] = BuildRunning
	d.nReady--
	d.nRunning++
	return v
}

// Done records that build i succeeded and makes ready what waited only for it.
func (d *Dispatcher) Done(i int) error {
	v := int32(i)
	if err := d.finish(v, BuildSucceeded); err != nil {
		return err
	}
	for _, w := range d.set.revsOf(v) {
		if d.waiting[w]--; d.waiting[w] == 0 && d.state[w] == BuildWaiting {
			d.free(w)
		}
	}
	return nil
}

// Failed records that build i failed. Everything in the set that transitively waits for
// it becomes BuildDependencyFailed at once and will never start; Failed returns those builds
// (gates left out), ascending. Builds already dependency-failed through an earlier failure
// are not returned again.
func (d *Dispatcher) Failed(i int) ([]int, error) {
	v := int32(i)
	if err := d.finish(v, BuildFailed); err != nil {
		return nil, err
	}
	var out []int
	d.stack = append(d.stack[:0], v)
	for len(d.stack) > 0 {
		v := d.stack[len(d.stack)-1]
		d.stack = d.stack[:len(d.stack)-1]
		for _, w := range d.set.revsOf(v) {
			if d.state[w] != BuildWaiting {
				// Already dependency-failed, and its dependents with it. Nothing downstream
				// of a running build can be ready, running or done.
				continue
			}
			d.state[w] = BuildDependencyFailed
			if !d.set.virtual[w] {
				d.nOpen--
				out = append(out, int(w))
			}
			d.stack = append(d.stack, w)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (d *Dispatcher) finish(v int32, st BuildState) error {
	if v < 0 || int(v) >= len(d.state) {
		return fmt.Errorf("build %d: out of range 0..%d", v, len(d.state)-1)
	}
	if d.state[v] != BuildRunning {
		return fmt.Errorf("record %s as %s: it is %s: %w", d.set.keys[v], st, d.state[v], ErrNotRunning)
	}
	d.state[v] = st
	d.nRunning--
	d.nOpen--
	return nil
}

// State is where build i stands.
func (d *Dispatcher) State(i int) BuildState { return d.state[i] }

// Ready is how many builds are ready to start.
func (d *Dispatcher) Ready() int { return d.nReady }

// ReadyOn is how many builds of one system are ready to start.
func (d *Dispatcher) ReadyOn(system string) int {
	si, ok := slices.BinarySearch(d.set.systems, system)
	if !ok {
		return 0
	}
	return len(d.ready[si].h)
}

// Running is how many builds have started and not finished.
func (d *Dispatcher) Running() int { return d.nRunning }

// Finished reports whether every build has succeeded, failed or been dependency-failed.
func (d *Dispatcher) Finished() bool { return d.nOpen == 0 }

// binaryHeap is a binary heap of T, first the element before puts before all others. It is
// written out rather than through container/heap, whose interface boxes every element.
type binaryHeap[T any] struct {
	h      []T
	before func(a, b T) bool
}

func (b *binaryHeap[T]) push(v T) {
	b.h = append(b.h, v)
	i := len(b.h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !b.before(b.h[i], b.h[p]) {
			break
		}
		b.h[i], b.h[p] = b.h[p], b.h[i]
		i = p
	}
}

func (b *binaryHeap[T]) pop() T {
	h := b.h
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		c := l
		if r := l + 1; r < len(h) && b.before(h[r], h[l]) {
			c = r
		}
		if !b.before(h[c], h[i]) {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	b.h = h
	return top
}

// readyHeap holds ready builds by priority, then by lower build number.
type readyHeap = binaryHeap[int32]

// byPriority orders builds by prio, highest first, then by lower build number.
func byPriority(prio []float64) func(a, b int32) bool {
	return func(a, b int32) bool {
		if pa, pb := prio[a], prio[b]; pa != pb {
			return pa > pb
		}
		return a < b
	}
}
