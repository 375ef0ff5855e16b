package queuesim

import (
	"container/heap"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/crestwaves/crest/graph"
	"github.com/crestwaves/crest/policy"
)

// Defaults of Options.
const (
	DefaultDays          = 365
	DefaultChangesPerDay = 100.0
	DefaultFailureRate   = 0.1
	DefaultSecurityRate  = 0.01
	DefaultBuilders      = 64
	DefaultSeed          = 1
	DefaultLeafShare     = 0.8
	DefaultLeafSize      = 4
)

// Options configure a simulation. Zero fields take the defaults above (FailureRate and
// SecurityRate included: set them negative for none).
type Options struct {
	Days          int     `json:"days"`
	ChangesPerDay float64 `json:"changes_per_day"`
	FailureRate   float64 `json:"failure_rate"`
	SecurityRate  float64 `json:"security_rate"`
	Builders      int     `json:"builders"`
	Seed          uint64  `json:"seed"`
	// LeafShare of changes touch a near-leaf: a package whose reverse closure has at most
	// LeafSize packages. The rest touch any package.
	LeafShare float64 `json:"leaf_share"`
	LeafSize  int     `json:"leaf_size"`
	// Queue are the merge queue's settings for the crest strategy.
	Queue policy.QueueSettings `json:"queue"`
	// Progress, when set, receives a line per strategy.
	Progress io.Writer `json:"-"`
}

func (o Options) withDefaults() Options {
	if o.Days == 0 {
		o.Days = DefaultDays
	}
	if o.ChangesPerDay == 0 {
		o.ChangesPerDay = DefaultChangesPerDay
	}
	if o.FailureRate == 0 {
		o.FailureRate = DefaultFailureRate
	}
	o.FailureRate = max(0, o.FailureRate)
	if o.SecurityRate == 0 {
		o.SecurityRate = DefaultSecurityRate
	}
	o.SecurityRate = max(0, o.SecurityRate)
	if o.Builders == 0 {
		o.Builders = DefaultBuilders
	}
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	if o.LeafShare == 0 {
		o.LeafShare = DefaultLeafShare
	}
	if o.LeafSize == 0 {
		o.LeafSize = DefaultLeafSize
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	if o.Days < 0 {
		errs = append(errs, fmt.Errorf("days %d: must be positive", o.Days))
	}
	if o.ChangesPerDay < 0 || math.IsNaN(o.ChangesPerDay) || math.IsInf(o.ChangesPerDay, 0) {
		errs = append(errs, fmt.Errorf("changes per day %v: must be positive", o.ChangesPerDay))
	}
	if o.FailureRate > 1 || o.SecurityRate > 1 || o.LeafShare < 0 || o.LeafShare > 1 {
		errs = append(errs, fmt.Errorf("failure rate %v, security rate %v, leaf share %v: must be between 0 and 1", o.FailureRate, o.SecurityRate, o.LeafShare))
	}
	if o.Builders < 0 {
		errs = append(errs, fmt.Errorf("builders %d: must be positive", o.Builders))
	}
	if _, err := o.Queue.Effective(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// change is one submitted change of the traffic, shared by every strategy (read-only).
type change struct {
	n         int
	id        string
	at        float64 // seconds from the start
	pkg       int32
	rebuilds  []int32 // reverse closure of pkg, ascending
	breaks    int32   // package it breaks, -1 for none
	security  bool
	lane      policy.Lane
	token     uint64
	buildSecs float64
}

// traffic draws the year of changes.
func traffic(m *model, o Options) ([]*change, error) {
	rng := rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15))
	var leaves []int32
	for v := range m.n {
		if len(m.revClosure(int32(v))) <= o.LeafSize {
			leaves = append(leaves, int32(v))
		}
	}
	horizon := float64(o.Days) * 86400
	rate := o.ChangesPerDay / 86400
	var out []*change
	if rate <= 0 || m.n == 0 {
		return nil, nil
	}
	for t := rng.ExpFloat64() / rate; t < horizon; t += rng.ExpFloat64() / rate {
		var v int32
		if len(leaves) > 0 && rng.Float64() < o.LeafShare {
			v = leaves[rng.IntN(len(leaves))]
		} else {
			v = int32(rng.IntN(m.n))
		}
		c := &change{n: len(out), id: fmt.Sprintf("c%06d", len(out)+1), at: t, pkg: v, rebuilds: m.revClosure(v), breaks: -1, token: rng.Uint64()}
		if rng.Float64() < o.FailureRate {
			c.breaks = c.rebuilds[rng.IntN(len(c.rebuilds))]
		}
		c.security = rng.Float64() < o.SecurityRate
		for _, p := range c.rebuilds {
			c.buildSecs += m.cost[p]
		}
		pc := policy.Change{ID: c.id, Rebuilds: len(c.rebuilds), BuildSeconds: c.buildSecs}
		if c.security {
			pc.Labels = []string{policy.DefaultPriorityLabel}
		}
		d, err := policy.ChooseLane(pc, o.Queue)
		if err != nil {
			return nil, err
		}
		c.lane = d.Lane
		out = append(out, c)
	}
	return out, nil
}

// model is the graph as the simulation needs it: dependencies and costs by node number.
type model struct {
	g     *graph.Graph
	n     int
	keys  []string
	index map[string]int32
	deps  [][]int32
	cost  []float64
	rev   map[int32][]int32
}

func newModel(g *graph.Graph) (*model, error) {
	m := &model{g: g, n: g.Len(), keys: g.Keys(), rev: map[int32][]int32{}}
	m.index = make(map[string]int32, m.n)
	for i, k := range m.keys {
		m.index[k] = int32(i)
	}
	m.deps = make([][]int32, m.n)
	m.cost = make([]float64, m.n)
	for i, k := range m.keys {
		for _, d := range g.Deps(k) {
			m.deps[i] = append(m.deps[i], m.index[d])
		}
		p, _ := g.Package(k)
		s := graph.DefaultCost.Seconds(p, g)
		if math.IsNaN(s) || math.IsInf(s, 0) || s < 0 {
			return nil, fmt.Errorf("cost of %s: %v seconds", k, s)
		}
		m.cost[i] = s
	}
	return m, nil
}

// revClosure is the rebuild set of a change to v, cached.
func (m *model) revClosure(v int32) []int32 {
	if r, ok := m.rev[v]; ok {
		return r
	}
	keys, _ := m.g.ReverseClosure(m.keys[v])
	r := make([]int32, len(keys))
	for i, k := range keys {
		r[i] = m.index[k]
	}
	slices.Sort(r)
	m.rev[v] = r
	return r
}

// Build classes, most urgent first.
const (
	classPriority = iota
	classFast
	classWave
)

type jobState uint8

const (
	jobWaiting jobState = iota
	jobReady
	jobRunning
	jobPassed
	jobFailed
	jobDepFailed
)

func (s jobState) terminal() bool { return s >= jobPassed }

type drvKey struct {
	pkg int32
	h   uint64
}

// job is the build of one derivation, shared by every request that needs it.
type job struct {
	key        drvKey
	state      jobState
	fails      bool
	depFailed  bool // a dependency did not build; decided once the others are terminal
	waitingOn  int
	dependents []*job
	requests   []*request
	class      int
	seq        int
	lane       policy.Lane
	heapIndex  int
}

// request is a set of derivations a strategy needs built: a candidate, a probe, a re-check.
type request struct {
	jobs    []*job
	targets []int32 // packages whose outcome is asked for (probes); nil: all
	pending int
	done    func(r *request)
}

// failed returns the packages that failed by themselves (targets nil) or, for a probe, the
// targets that did not build. Packages not in jobs are head derivations: built.
func (r *request) failed() []int32 {
	var out []int32
	for _, j := range r.jobs {
		switch {
		case r.targets == nil && j.state == jobFailed:
			out = append(out, j.key.pkg)
		case r.targets != nil && j.state != jobPassed && slices.Contains(r.targets, j.key.pkg):
			out = append(out, j.key.pkg)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

type event struct {
	at   float64
	seq  int
	fn   func()
	job  *job
	busy float64
}

type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

type readyHeap []*job

func (h readyHeap) Len() int { return len(h) }
func (h readyHeap) Less(i, j int) bool {
	if h[i].class != h[j].class {
		return h[i].class < h[j].class
	}
	return h[i].seq < h[j].seq
}
func (h readyHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIndex, h[j].heapIndex = i, j
}
func (h *readyHeap) Push(x any) {
	j := x.(*job)
	j.heapIndex = len(*h)
	*h = append(*h, j)
}
func (h *readyHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	*h = old[:len(old)-1]
	j.heapIndex = -1
	return j
}

// laneStats accumulates one lane's measures.
type laneStats struct {
	submitted, merged, ejected int
	latencies                  []float64
	builds                     int
	busy                       float64
	mergedRebuilds             int
}

// engine runs builds and time for one strategy.
type engine struct {
	m        *model
	o        Options
	horizon  float64
	now      float64
	seq      int
	events   eventHeap
	ready    readyHeap
	free     int
	jobs     map[drvKey]*job
	head     []uint64 // derivation hash per package at the branch head; replaced, never changed
	headVer  int
	status   []int // per change: 0 queued, 1 merged, 2 ejected
	lanes    map[policy.Lane]*laneStats
	busy     float64
	timers   map[float64]bool
	mergedOK []bool
}

func newEngine(m *model, o Options, changes []*change) *engine {
	e := &engine{
		m: m, o: o, horizon: float64(o.Days) * 86400, free: o.Builders,
		jobs: map[drvKey]*job{}, head: make([]uint64, m.n),
		status: make([]int, len(changes)), lanes: map[policy.Lane]*laneStats{}, timers: map[float64]bool{},
	}
	for _, l := range []policy.Lane{policy.LaneFast, policy.LaneWave, policy.LanePriority} {
		e.lanes[l] = &laneStats{}
	}
	return e
}

func (e *engine) at(t float64, fn func()) {
	e.seq++
	heap.Push(&e.events, event{at: t, seq: e.seq, fn: fn})
}

// wakeAt schedules fn at t once per instant.
func (e *engine) wakeAt(t time.Time, fn func()) {
	// At least a millisecond ahead: seconds as float64 and instants as time.Time do not
	// round alike, and a wake-up a hair before the policy's deadline would ask again.
	s := max(t.Sub(epoch).Seconds(), e.now+1e-3)
	if e.timers[s] {
		return
	}
	e.timers[s] = true
	e.at(s, func() { delete(e.timers, s); fn() })
}

// epoch is the simulated time zero, for the policy's time.Time parameters.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func (e *engine) clock() time.Time {
	return epoch.Add(time.Duration(e.now * float64(time.Second)))
}

// run processes events up to the horizon.
func (e *engine) run() {
	for e.events.Len() > 0 {
		ev := heap.Pop(&e.events).(event)
		if ev.at > e.horizon {
			break
		}
		e.now = ev.at
		if ev.job != nil {
			e.finish(ev.job)
		} else {
			ev.fn()
		}
		e.dispatch()
	}
	e.now = e.horizon
}

func (e *engine) dispatch() {
	for e.free > 0 && e.ready.Len() > 0 {
		j := heap.Pop(&e.ready).(*job)
		j.state = jobRunning
		e.free--
		d := e.m.cost[j.key.pkg]
		busy := max(0, min(e.now+d, e.horizon)-e.now)
		e.busy += busy
		ls := e.lanes[j.lane]
		ls.builds++
		ls.busy += busy
		e.seq++
		heap.Push(&e.events, event{at: e.now + d, seq: e.seq, job: j})
	}
}

func (e *engine) finish(j *job) {
	e.free++
	if j.fails {
		j.state = jobFailed
	} else {
		j.state = jobPassed
	}
	e.settle(j)
}

// settle tells dependents and requests that j is terminal.
func (e *engine) settle(j *job) {
	deps, reqs := j.dependents, j.requests
	j.dependents, j.requests = nil, nil
	for _, d := range deps {
		d.waitingOn--
		if j.state != jobPassed {
			d.depFailed = true
		}
		if d.waitingOn == 0 {
			e.release(d)
		}
	}
	for _, r := range reqs {
		r.pending--
		if r.pending == 0 {
			e.at(e.now, func() { r.done(r) })
		}
	}
}

// release makes a job whose dependencies are terminal ready, or dependency-failed.
func (e *engine) release(j *job) {
	if j.depFailed {
		j.state = jobDepFailed
		e.settle(j)
		return
	}
	j.state = jobReady
	heap.Push(&e.ready, j)
}

// candidate returns the derivation hashes of the packages that head+changes rebuilds, and
// for each the first change (in order) that touches it.
func (e *engine) candidate(base []uint64, changes []*change) (map[int32]uint64, map[int32]*change) {
	hs := map[int32]uint64{}
	first := map[int32]*change{}
	for _, c := range changes {
		for _, p := range c.rebuilds {
			h, ok := hs[p]
			if !ok {
				h = base[p]
				first[p] = c
			}
			hs[p] = h ^ c.token
		}
	}
	return hs, first
}

// build requests the derivations of base+changes: all that differ from base (targets nil),
// or only targets and what they need that differs. force rebuilds the targets even if
// built. done runs once every derivation asked for is terminal.
func (e *engine) build(base []uint64, changes []*change, targets []int32, force bool, class int, done func(*request)) *request {
	hs, first := e.candidate(base, changes)
	broken := map[int32]bool{}
	for _, c := range changes {
		if c.breaks >= 0 {
			broken[c.breaks] = true
		}
	}
	r := &request{targets: targets, done: done}
	made := map[int32]*job{}
	visiting := map[int32]bool{}
	var visit func(p int32, forced bool) *job
	visit = func(p int32, forced bool) *job {
		if j, ok := made[p]; ok && !forced {
			return j
		}
		visiting[p] = true
		defer delete(visiting, p)
		key := drvKey{pkg: p, h: hs[p]}
		j := e.jobs[key]
		if j == nil || forced {
			j = &job{key: key, fails: broken[p], class: class, lane: first[p].lane, heapIndex: -1}
			e.seq++
			j.seq = e.seq
			var deps []*job
			for _, d := range e.m.deps[p] {
				if _, in := hs[d]; !in || visiting[d] {
					continue // a head derivation (built), or a cycle edge (bootstrapped)
				}
				deps = append(deps, visit(d, false))
			}
			if !forced {
				e.jobs[key] = j
			}
			for _, d := range deps {
				switch {
				case d.state == jobFailed || d.state == jobDepFailed:
					j.depFailed = true
				case !d.state.terminal():
					j.waitingOn++
					d.dependents = append(d.dependents, j)
				}
			}
			if j.waitingOn == 0 {
				e.release(j)
			}
		}
		if !forced {
			made[p] = j
		}
		return j
	}
	if targets == nil {
		for _, c := range changes {
			for _, p := range c.rebuilds {
				visit(p, false)
			}
		}
	} else {
		for _, p := range targets {
			if _, in := hs[p]; in {
				r.jobs = append(r.jobs, visit(p, force))
			}
		}
	}
	for _, j := range made {
		r.jobs = append(r.jobs, j)
	}
	slices.SortFunc(r.jobs, func(a, b *job) int { return a.seq - b.seq })
	r.jobs = slices.CompactFunc(r.jobs, func(a, b *job) bool { return a == b })
	for _, j := range r.jobs {
		if !j.state.terminal() {
			r.pending++
			j.requests = append(j.requests, r)
		}
	}
	if r.pending == 0 {
		e.at(e.now, func() { done(r) })
	}
	return r
}

// merge moves the head to head+changes: only called for a candidate whose every derivation
// built green on the current head.
func (e *engine) merge(changes []*change) {
	head := slices.Clone(e.head)
	for _, c := range changes {
		for _, p := range c.rebuilds {
			head[p] ^= c.token
		}
		e.status[c.n] = 1
		ls := e.lanes[c.lane]
		ls.merged++
		ls.latencies = append(ls.latencies, e.now-c.at)
		ls.mergedRebuilds += len(c.rebuilds)
	}
	e.head = head
	e.headVer++
}

func (e *engine) eject(c *change) {
	e.status[c.n] = 2
	e.lanes[c.lane].ejected++
}

// greenOnHead reports whether every derivation head+changes has is built green.
func (e *engine) greenOnHead(changes []*change) bool {
	hs, _ := e.candidate(e.head, changes)
	for p, h := range hs {
		j := e.jobs[drvKey{pkg: p, h: h}]
		if j == nil || j.state != jobPassed {
			return false
		}
	}
	return true
}
