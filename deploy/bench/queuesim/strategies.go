package queuesim

import (
	"fmt"
	"slices"

	"github.com/crestwaves/crest/policy"
)

// The strategies compared, by name.
const (
	StrategyCrest      = "crest"
	StrategyOneAtATime = "one-at-a-time"
	StrategyBors       = "bors"
)

// strategy reacts to arrivals; the engine calls submit at each change's arrival time.
type strategy interface {
	submit(c *change)
}

// classOf is the build class of a lane.
func classOf(l policy.Lane) int {
	switch l {
	case policy.LanePriority:
		return classPriority
	case policy.LaneWave:
		return classWave
	}
	return classFast
}

// crest is the production policy: lanes, AIMD batching, failure-targeted bisection.
//
// Fast-lane and priority batches form a dependent pipeline (as Zuul's): each builds on the
// head plus the batches ahead of it and merges when it and every batch ahead are green, so
// the branch only ever moves to exactly the commit that was built. A red batch is acted on
// once it reaches the front (until then, a batch ahead may be what broke it): it leaves the
// pipeline to be bisected aside, and the batches behind it are rebuilt without it, which
// the cache makes cheap. Wave-lane batches build aside at the lowest priority, then join the
// pipeline as one already-built unit that only needs what the head has changed since.
type crest struct {
	e        *engine
	s        policy.QueueSettings
	byID     map[string]*change
	queue    []*change // priority and fast lanes, in queue order
	waves    []*change // wave lane
	pipeline []*slot
	window   policy.Window
	waving   bool // a wave-lane batch is building, bisecting or in the pipeline
	err      error
}

// slot is a batch in the pipeline.
type slot struct {
	lane    policy.Lane
	changes []*change
	base    []uint64
	gen     int // restarts; outcomes of an older generation are stale
	state   jobState
	failed  []int32
}

func newCrest(e *engine, changes []*change) (*crest, error) {
	s, err := e.o.Queue.Effective()
	if err != nil {
		return nil, err
	}
	c := &crest{e: e, s: s, byID: make(map[string]*change, len(changes)), window: policy.NewWindow(s)}
	for _, ch := range changes {
		c.byID[ch.id] = ch
	}
	return c, nil
}

func queued(cs []*change) []policy.Queued {
	out := make([]policy.Queued, len(cs))
	for i, c := range cs {
		out[i] = policy.Queued{ID: c.id, Lane: c.lane, Submitted: epoch.Add(secs(c.at))}
	}
	return out
}

func (c *crest) submit(ch *change) {
	if ch.lane == policy.LaneWave {
		c.waves = append(c.waves, ch)
	} else {
		c.queue = append(c.queue, ch)
	}
	c.cut()
}

// take removes the changes named by ids from *from and returns them in that order.
func (c *crest) take(from *[]*change, ids []string) []*change {
	out := make([]*change, len(ids))
	for i, id := range ids {
		out[i] = c.byID[id]
	}
	*from = slices.DeleteFunc(*from, func(ch *change) bool { return slices.Contains(ids, ch.id) })
	return out
}

// building counts the fast-lane and priority batches in the pipeline.
func (c *crest) building() int {
	n := 0
	for _, s := range c.pipeline {
		if s.lane != policy.LaneWave {
			n++
		}
	}
	return n
}

// cut starts every batch the policy allows now, and asks to be woken when it says so.
func (c *crest) cut() {
	for {
		d := policy.CutBatch(queued(c.queue), c.window, c.building(), c.e.clock(), c.s)
		if len(d.Changes) == 0 {
			if !d.Until.IsZero() {
				c.e.wakeAt(d.Until, c.cut)
			}
			break
		}
		c.enter(&slot{lane: d.Lane, changes: c.take(&c.queue, d.Changes)})
	}
	d := policy.CutWave(queued(c.waves), c.waving, c.e.clock(), c.s)
	if len(d.Changes) > 0 {
		c.waving = true
		batch := c.take(&c.waves, d.Changes)
		base := c.e.head
		c.e.build(base, batch, nil, false, classWave, func(r *request) {
			if failed := r.failed(); len(failed) > 0 {
				c.bisect(policy.LaneWave, batch, base, failed)
				return
			}
			c.enter(&slot{lane: policy.LaneWave, changes: batch})
		})
	} else if !d.Until.IsZero() {
		c.e.wakeAt(d.Until, c.cut)
	}
}

// enter appends a batch to the pipeline and starts its build.
func (c *crest) enter(s *slot) {
	c.pipeline = append(c.pipeline, s)
	c.restart(len(c.pipeline) - 1)
}

// restart (re)builds the batch at pipeline position i on the head plus the batches ahead.
func (c *crest) restart(i int) {
	s := c.pipeline[i]
	base := slices.Clone(c.e.head)
	for _, ahead := range c.pipeline[:i] {
		for _, ch := range ahead.changes {
			for _, p := range ch.rebuilds {
				base[p] ^= ch.token
			}
		}
	}
	s.base, s.state, s.failed = base, jobRunning, nil
	s.gen++
	gen := s.gen
	class := classOf(s.lane)
	if s.lane == policy.LaneWave {
		class = classFast // built aside already: what is left is what the head changed
	}
	c.e.build(base, s.changes, nil, false, class, func(r *request) {
		if s.gen != gen || !slices.Contains(c.pipeline, s) {
			return
		}
		s.failed = r.failed()
		s.state = jobPassed
		if len(s.failed) > 0 {
			s.state = jobFailed
		}
		c.advance()
	})
}

// advance merges green batches from the front of the pipeline and takes a red one out.
func (c *crest) advance() {
	for len(c.pipeline) > 0 {
		s := c.pipeline[0]
		switch s.state {
		case jobPassed:
			c.pipeline = c.pipeline[1:]
			c.e.merge(s.changes)
			if s.lane == policy.LaneWave {
				c.waving = false
			} else {
				c.window = c.window.Green(c.s)
			}
			continue
		case jobFailed:
			c.pipeline = c.pipeline[1:]
			if s.lane != policy.LaneWave {
				c.window = c.window.Red(c.s)
			}
			c.bisect(s.lane, s.changes, s.base, s.failed)
			for i := range c.pipeline {
				c.restart(i)
			}
		}
		break
	}
	c.cut()
}

// bisect runs policy.Bisection over a failed batch, probing on the batch's base.
func (c *crest) bisect(lane policy.Lane, batch []*change, base []uint64, failed []int32) {
	ids := make([]string, len(batch))
	for i, ch := range batch {
		ids[i] = ch.id
	}
	keys := make([]string, len(failed))
	for i, p := range failed {
		keys[i] = c.e.m.keys[p]
	}
	b, err := policy.NewBisection(ids, keys, c.s.Parallelism)
	if err != nil {
		c.fail(err)
		return
	}
	class := min(classOf(lane), classFast)
	inFlight := 0
	var round func()
	round = func() {
		for _, p := range policy.NextProbes(b) {
			targets := make([]int32, len(p.Packages))
			for i, k := range p.Packages {
				targets[i] = c.e.m.index[k]
			}
			inFlight++
			c.e.build(base, batch[:p.Prefix], targets, p.Kind == policy.ProbeRebuild, class, func(r *request) {
				inFlight--
				var failedKeys []string
				for _, f := range r.failed() {
					failedKeys = append(failedKeys, c.e.m.keys[f])
				}
				if b, err = policy.Record(b, p, failedKeys); err != nil {
					c.fail(err)
					return
				}
				if v := policy.Culprit(b); v.Done {
					c.conclude(lane, v)
					return
				}
				if inFlight == 0 {
					round()
				}
			})
		}
	}
	round()
}

// conclude ejects the culprit and sends the rest back to the front of their queue.
func (c *crest) conclude(lane policy.Lane, v policy.BisectVerdict) {
	if v.Culprit != "" {
		c.e.eject(c.byID[v.Culprit])
	}
	back := make([]*change, len(v.Requeue))
	for i, id := range v.Requeue {
		back[i] = c.byID[id]
	}
	if lane == policy.LaneWave {
		c.waves = append(back, c.waves...)
		c.waving = false
	} else {
		c.queue = append(back, c.queue...)
	}
	c.cut()
}

func (c *crest) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// oneAtATime builds and merges every change alone, in arrival order.
type oneAtATime struct {
	e     *engine
	queue []*change
	busy  bool
}

func (s *oneAtATime) submit(c *change) {
	s.queue = append(s.queue, c)
	s.next()
}

func (s *oneAtATime) next() {
	if s.busy || len(s.queue) == 0 {
		return
	}
	c := s.queue[0]
	s.queue = s.queue[1:]
	s.busy = true
	s.e.build(s.e.head, []*change{c}, nil, false, classFast, func(r *request) {
		if len(r.failed()) > 0 {
			s.e.eject(c)
		} else {
			s.e.merge([]*change{c})
		}
		s.busy = false
		s.next()
	})
}

// bors batches everything waiting; a red batch is split in halves, built again in full.
type bors struct {
	e       *engine
	queue   []*change
	retries [][]*change
	busy    bool
}

func (s *bors) submit(c *change) {
	s.queue = append(s.queue, c)
	s.next()
}

func (s *bors) next() {
	if s.busy {
		return
	}
	var batch []*change
	switch {
	case len(s.retries) > 0:
		batch, s.retries = s.retries[0], s.retries[1:]
	case len(s.queue) > 0:
		batch, s.queue = s.queue, nil
	default:
		return
	}
	s.busy = true
	s.e.build(s.e.head, batch, nil, false, classFast, func(r *request) {
		switch {
		case len(r.failed()) == 0:
			s.e.merge(batch)
		case len(batch) == 1:
			s.e.eject(batch[0])
		default:
			half := len(batch) / 2
			s.retries = append([][]*change{batch[:half], batch[half:]}, s.retries...)
		}
		s.busy = false
		s.next()
	})
}

func newStrategy(name string, e *engine, changes []*change) (strategy, func() error, error) {
	switch name {
	case StrategyCrest:
		c, err := newCrest(e, changes)
		if err != nil {
			return nil, nil, err
		}
		return c, func() error { return c.err }, nil
	case StrategyOneAtATime:
		return &oneAtATime{e: e}, func() error { return nil }, nil
	case StrategyBors:
		return &bors{e: e}, func() error { return nil }, nil
	}
	return nil, nil, fmt.Errorf("strategy %q: want %s, %s or %s", name, StrategyCrest, StrategyOneAtATime, StrategyBors)
}
