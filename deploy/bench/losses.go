package bench

import (
	"cmp"
	"encoding/json"
	"slices"
	"time"

	historypb "go.temporal.io/api/history/v1"

	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/graph"
)

// Losses explains, from the builds' own timeline, a makespan above the simulated one: how
// long slots stood free while something could have been built.
type Losses struct {
	// Runs is how many dispatcher runs (a BuildSet, and one more per continue-as-new)
	// started builds.
	Runs int `json:"runs"`
	// DrainSeconds sums, over each continue-as-new, the time from the last build a run
	// started to the first build of the next: the dispatcher takes nothing while it waits
	// for its builds in flight to finish, then starts afresh.
	DrainSeconds float64 `json:"drain_seconds"`
	// LongestDrainSeconds is the longest of them.
	LongestDrainSeconds float64 `json:"longest_drain_seconds"`
	// IdleReadySeconds is the slot time during which a slot was free while a package was
	// ready (every dependency it waits for had ended) but not started, over the slots: how
	// much of the makespan the engine's dispatch cost. DrainIdleReadySeconds is the part
	// of it that fell in drains.
	IdleReadySeconds      float64 `json:"idle_ready_seconds"`
	DrainIdleReadySeconds float64 `json:"drain_idle_ready_seconds"`
}

// losses sweeps the timeline of set's builds (spans by key, as built; keyOf maps a set key
// to the spans' keys) on slots slots.
func losses(set *graph.BuildSet, spans map[string]buildSpan, keyOf func(string) string, slots int) Losses {
	n := set.Len()
	sp := make([]buildSpan, n)
	var first time.Time
	for i := range n {
		sp[i] = spans[keyOf(set.Key(i))]
		if first.IsZero() || sp[i].start.Before(first) {
			first = sp[i].start
		}
	}
	secs := func(t time.Time) float64 { return t.Sub(first).Seconds() }

	// Drains: between a run's last start and the next run's first start.
	type runSpan struct{ first, last float64 }
	runs := map[string]*runSpan{}
	for i := range n {
		t := secs(sp[i].start)
		r := runs[sp[i].run]
		if r == nil {
			runs[sp[i].run] = &runSpan{t, t}
			continue
		}
		r.first, r.last = min(r.first, t), max(r.last, t)
	}
	ordered := make([]runSpan, 0, len(runs))
	for _, r := range runs {
		ordered = append(ordered, *r)
	}
	slices.SortFunc(ordered, func(a, b runSpan) int { return cmp.Compare(a.first, b.first) })
	out := Losses{Runs: len(ordered)}
	var drains [][2]float64
	for i := 1; i < len(ordered); i++ {
		if d := [2]float64{ordered[i-1].last, ordered[i].first}; d[1] > d[0] {
			drains = append(drains, d)
			out.DrainSeconds += d[1] - d[0]
			out.LongestDrainSeconds = max(out.LongestDrainSeconds, d[1]-d[0])
		}
	}

	// Sweep: ready (+1 waiting), start (−1 waiting, +1 running), end (−1 running).
	type event struct {
		at               float64
		waiting, running int
	}
	events := make([]event, 0, 3*n)
	for i := range n {
		ready := 0.0
		for _, d := range set.Deps(i) {
			ready = max(ready, secs(sp[d].end))
		}
		start := secs(sp[i].start)
		ready = min(ready, start)
		events = append(events, event{ready, 1, 0}, event{start, -1, 1}, event{secs(sp[i].end), 0, -1})
	}
	slices.SortFunc(events, func(a, b event) int { return cmp.Compare(a.at, b.at) })
	waiting, running, di := 0, 0, 0
	for i, e := range events {
		waiting += e.waiting
		running += e.running
		if i+1 == len(events) {
			break
		}
		from, to := e.at, events[i+1].at
		idle := float64(min(waiting, max(slots-running, 0)))
		if idle == 0 || to <= from {
			continue
		}
		out.IdleReadySeconds += idle * (to - from)
		for di < len(drains) && drains[di][1] <= from {
			di++
		}
		for j := di; j < len(drains) && drains[j][0] < to; j++ {
			out.DrainIdleReadySeconds += idle * (min(to, drains[j][1]) - max(from, drains[j][0]))
		}
	}
	out.IdleReadySeconds /= float64(slots)
	out.DrainIdleReadySeconds /= float64(slots)
	return out
}

// Latency is the mean time each step of the dispatch loop took, from the dispatcher's
// histories (the server's event times) and the builder's clock: the steps between one
// build's end and the start of the build that takes its slot.
type Latency struct {
	// RecordSeconds runs from a build's end to its BuildPackage completing: RecordBuild
	// (the result and the frontier, one transaction) and the completion's trip to the
	// server.
	RecordSeconds float64 `json:"record_seconds"`
	// ReactSeconds runs from a BuildPackage completing to the dispatcher's next TakeReady
	// being scheduled: a workflow task, and the wait for a take already in flight (the
	// dispatcher has one at a time). Completions after which the run took nothing more (a
	// drain) are left out.
	ReactSeconds float64 `json:"react_seconds"`
	// TakeSeconds runs from a TakeReady scheduled to completed: task dispatch, the
	// transaction that takes the ready packages, the completion.
	TakeSeconds float64 `json:"take_seconds"`
	// RefillSeconds runs from a TakeReady completing to the BuildPackage activities it
	// took being scheduled: a workflow task.
	RefillSeconds float64 `json:"refill_seconds"`
	// PickupSeconds runs from a BuildPackage scheduled to the build's start: matching on the
	// build queue, the build worker's poll, StartBuild.
	PickupSeconds float64 `json:"pickup_seconds"`
	// Takes counts the TakeReady calls, Builds the BuildPackage activities, of every run.
	Takes  int `json:"takes"`
	Builds int `json:"builds"`
}

// traceEvent is one activity event of a dispatcher run.
type traceEvent struct {
	at   time.Time
	kind traceKind
	pkg  string // a build's package
}

type traceKind uint8

const (
	takeScheduled traceKind = iota
	takeDone
	buildScheduled
	buildDone
)

// done is the kind of the event that ends what k scheduled.
func (k traceKind) done() traceKind {
	if k == takeScheduled {
		return takeDone
	}
	return buildDone
}

// tracer collects a dispatcher run's TakeReady and BuildPackage events, in history order.
type tracer struct {
	events    []traceEvent
	scheduled map[int64]traceEvent
}

func newTracer() *tracer { return &tracer{scheduled: map[int64]traceEvent{}} }

// see takes one history event.
func (t *tracer) see(e *historypb.HistoryEvent) {
	at := e.GetEventTime().AsTime()
	if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
		ev := traceEvent{at: at}
		switch a.GetActivityType().GetName() {
		case wire.ActivityTakeReady:
			ev.kind = takeScheduled
		case wire.ActivityBuildPackage:
			var in wire.BuildInput
			if p := a.GetInput().GetPayloads(); len(p) > 0 && json.Unmarshal(p[0].GetData(), &in) == nil {
				ev.kind, ev.pkg = buildScheduled, in.Package
			} else {
				return
			}
		default:
			return
		}
		t.scheduled[e.GetEventId()] = ev
		t.events = append(t.events, ev)
		return
	}
	var sched int64
	switch {
	case e.GetActivityTaskCompletedEventAttributes() != nil:
		sched = e.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()
	case e.GetActivityTaskFailedEventAttributes() != nil:
		sched = e.GetActivityTaskFailedEventAttributes().GetScheduledEventId()
	default:
		return
	}
	ev, ok := t.scheduled[sched]
	if !ok {
		return
	}
	ev.at, ev.kind = at, ev.kind.done()
	t.events = append(t.events, ev)
}

// latency averages the steps over every run's events, the builds' spans by key (keyOf
// maps a package to it).
func latency(runs [][]traceEvent, spans map[string]buildSpan, keyOf func(string) string) Latency {
	var out Latency
	var record, react, take, refill, pickup mean
	for _, evs := range runs {
		var takeAt time.Time
		var takeDoneAt time.Time
		var waiting []time.Time // build completions waiting for the next take
		for _, e := range evs {
			switch e.kind {
			case takeScheduled:
				out.Takes++
				takeAt = e.at
				for _, w := range waiting {
					react.add(e.at.Sub(w))
				}
				waiting = waiting[:0]
			case takeDone:
				take.add(e.at.Sub(takeAt))
				takeDoneAt = e.at
			case buildScheduled:
				out.Builds++
				if !takeDoneAt.IsZero() {
					refill.add(e.at.Sub(takeDoneAt))
					takeDoneAt = time.Time{}
				}
				if sp, ok := spans[keyOf(e.pkg)]; ok {
					pickup.add(sp.start.Sub(e.at))
				}
			case buildDone:
				waiting = append(waiting, e.at)
				if sp, ok := spans[keyOf(e.pkg)]; ok {
					record.add(e.at.Sub(sp.end))
				}
			}
		}
	}
	out.RecordSeconds, out.ReactSeconds, out.TakeSeconds = record.get(), react.get(), take.get()
	out.RefillSeconds, out.PickupSeconds = refill.get(), pickup.get()
	return out
}

type mean struct {
	sum time.Duration
	n   int
}

func (m *mean) add(d time.Duration) { m.sum += d; m.n++ }

func (m *mean) get() float64 {
	if m.n == 0 {
		return 0
	}
	return m.sum.Seconds() / float64(m.n)
}
