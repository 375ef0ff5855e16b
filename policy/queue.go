package policy

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Lane is the path a change takes through the merge queue. The values are stable: they are
// stored with each change.
type Lane string

// The lanes of the merge queue.
const (
	// LaneFast: a small change, batched with other small changes into a candidate commit
	// on top of the branch head.
	LaneFast Lane = "fast"
	// LaneWave: a mass rebuild, batched with other mass rebuilds and built on the side
	// (or handed to the next major wave) so that it never holds up the fast lane.
	LaneWave Lane = "wave"
	// LanePriority: a security fix: never batched, ahead of every fast-lane change.
	LanePriority Lane = "priority"
)

// Defaults of QueueSettings.
const (
	// DefaultConsiderStaging is Nixpkgs' rule of thumb: a change that rebuilds 500
	// packages or more should consider staging. Crest decides by its cost when known
	// (FastBuildBudget), and sends it to the wave lane when not.
	DefaultConsiderStaging = 500
	// DefaultMassRebuild is where Nixpkgs says a change must go through staging: 1,000
	// rebuilds. Crest sends it to the wave lane whatever its cost.
	DefaultMassRebuild = 1000
	// DefaultFastBuildBudget is the builder time of a "small" change in the latency goals
	// of the merge queue: under 10 hours in total.
	DefaultFastBuildBudget = 10 * time.Hour
	// DefaultPriorityLabel is the label that puts a change in the priority lane.
	DefaultPriorityLabel = "security"

	// DefaultWindowStart, DefaultWindowMin, DefaultWindowMax and DefaultWindowStep shape the
	// AIMD window (as Zuul's): batches start at 8 changes, grow by one after every green
	// batch up to 32 and halve after every red one down to 1. A red batch costs a bisection
	// whose length grows with the batch, so a run of failures quickly makes batches small.
	DefaultWindowStart = 8
	DefaultWindowMin   = 1
	DefaultWindowMax   = 32
	DefaultWindowStep  = 1
	// DefaultMaxWait is how long the head of the fast lane may wait for a fuller batch: a
	// few minutes add little to builds that take tens of minutes and save candidates.
	DefaultMaxWait = 10 * time.Minute
	// DefaultMaxBatches is how many fast-lane batches build at once, as a dependent
	// pipeline (as Zuul's): each on top of the head and the batches ahead of it, merged in
	// order. Since a derivation depends only on the changes below it, a batch's build is
	// mostly unaffected by those ahead, and rebuilding it after one ahead fails costs little.
	DefaultMaxBatches = 8
	// DefaultWaveWait is how long mass rebuilds collect before they are built together:
	// one wave-lane batch every six hours shares the rebuild of what they have in common.
	DefaultWaveWait = 6 * time.Hour
	// DefaultWaveLane builds wave-lane batches in the queue, as the two-stage queue does.
	DefaultWaveLane = WaveLaneBuild
	// DefaultParallelism is how many probes a bisection round builds at once: four probes
	// split a batch five ways per round, and a probe builds only the failed packages.
	DefaultParallelism = 4
)

// WaveLane is what a merge queue does with wave-lane changes (QueueSettings.WaveLane).
type WaveLane string

// The ways of the wave lane.
const (
	// WaveLaneBuild is the two-stage queue: mass rebuilds collect (WaveWait), are merged
	// together on the head and built aside by the build engine, bisected when red, and the
	// green ones go back to the queue as one already-built unit, ahead of the next fast-lane
	// batch: its candidate on the head then rebuilds only what the head changed since.
	WaveLaneBuild WaveLane = "build"
	// WaveLaneHandOff leaves mass rebuilds to the next major wave as root updates: the
	// queue records them handed to the wave and lets go of them.
	WaveLaneHandOff WaveLane = "hand-off"
)

// QueueSettings are the merge queue's knobs for one target branch. A zero field means
// "the default"; Effective fills them in and validates the result. Unlike Settings they do
// not layer per wave: a queue has one set, typed as JSON such as
//
//	{"consider_staging": 500, "mass_rebuild": 1000, "fast_build_budget": "10h",
//	 "priority_labels": ["security"], "max_wait": "10m", "parallelism": 4}
type QueueSettings struct {
	// ConsiderStaging is the rebuild count from which a change of unknown cost goes to
	// the wave lane.
	ConsiderStaging int `json:"consider_staging,omitempty"`
	// MassRebuild is the rebuild count from which a change always goes to the wave lane.
	MassRebuild int `json:"mass_rebuild,omitempty"`
	// FastBuildBudget is the most builder time a fast-lane change may cost.
	FastBuildBudget Duration `json:"fast_build_budget,omitempty"`
	// PriorityLabels put a change in the priority lane (any one of them).
	PriorityLabels []string `json:"priority_labels,omitempty"`

	// WindowStart, WindowMin, WindowMax and WindowStep shape the AIMD window: the most
	// fast-lane changes in one batch.
	WindowStart int `json:"window_start,omitempty"`
	WindowMin   int `json:"window_min,omitempty"`
	WindowMax   int `json:"window_max,omitempty"`
	WindowStep  int `json:"window_step,omitempty"`
	// MaxWait is how long the oldest fast-lane change waits for a full batch.
	MaxWait Duration `json:"max_wait,omitempty"`
	// MaxBatches is how many fast-lane batches build at once; a priority change does not
	// wait for a free one.
	MaxBatches int `json:"max_batches,omitempty"`
	// WaveWait is how long the oldest wave-lane change waits for others to join its batch.
	WaveWait Duration `json:"wave_wait,omitempty"`
	// WaveLane is build (the default: the two-stage queue) or hand-off (to the next major
	// wave).
	WaveLane WaveLane `json:"wave_lane,omitempty"`
	// Parallelism is how many probes a bisection round builds at once; at least 2, because
	// the first round checks the base and rebuilds the failed packages.
	Parallelism int `json:"parallelism,omitempty"`
}

// DefaultQueueSettings returns every field at its default.
func DefaultQueueSettings() QueueSettings {
	return QueueSettings{}.withDefaults()
}

// withDefaults fills the zero fields.
func (s QueueSettings) withDefaults() QueueSettings {
	set := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	setD := func(v *Duration, d time.Duration) {
		if *v == 0 {
			*v = Duration(d)
		}
	}
	set(&s.ConsiderStaging, DefaultConsiderStaging)
	set(&s.MassRebuild, DefaultMassRebuild)
	setD(&s.FastBuildBudget, DefaultFastBuildBudget)
	if s.PriorityLabels == nil {
		s.PriorityLabels = []string{DefaultPriorityLabel}
	} else {
		s.PriorityLabels = slices.Clone(s.PriorityLabels)
	}
	set(&s.WindowStart, DefaultWindowStart)
	set(&s.WindowMin, DefaultWindowMin)
	set(&s.WindowMax, DefaultWindowMax)
	set(&s.WindowStep, DefaultWindowStep)
	setD(&s.MaxWait, DefaultMaxWait)
	set(&s.MaxBatches, DefaultMaxBatches)
	setD(&s.WaveWait, DefaultWaveWait)
	if s.WaveLane == "" {
		s.WaveLane = DefaultWaveLane
	}
	set(&s.Parallelism, DefaultParallelism)
	return s
}

// Effective fills the zero fields with their defaults and validates the result: the
// settings a queue runs with. All problems are reported together, each as a *FieldError.
func (s QueueSettings) Effective() (QueueSettings, error) {
	e := s.withDefaults()
	var errs []error
	add := func(field, value, rule string) {
		errs = append(errs, &FieldError{Field: field, Value: value, Rule: rule})
	}
	positive := func(field string, v int) {
		if v < 0 {
			add(field, strconv.Itoa(v), "must be positive")
		}
	}
	positive("consider_staging", e.ConsiderStaging)
	positive("mass_rebuild", e.MassRebuild)
	positive("window_start", e.WindowStart)
	positive("window_min", e.WindowMin)
	positive("window_max", e.WindowMax)
	positive("window_step", e.WindowStep)
	positive("max_batches", e.MaxBatches)
	if e.ConsiderStaging > e.MassRebuild {
		add("consider_staging", strconv.Itoa(e.ConsiderStaging), fmt.Sprintf("must not exceed mass_rebuild (%d)", e.MassRebuild))
	}
	if e.WindowMin > e.WindowMax {
		add("window_min", strconv.Itoa(e.WindowMin), fmt.Sprintf("must not exceed window_max (%d)", e.WindowMax))
	}
	if e.WindowStart < e.WindowMin || e.WindowStart > e.WindowMax {
		add("window_start", strconv.Itoa(e.WindowStart), fmt.Sprintf("must be between window_min (%d) and window_max (%d)", e.WindowMin, e.WindowMax))
	}
	if e.Parallelism < 2 {
		add("parallelism", strconv.Itoa(e.Parallelism), "must be at least 2: the first round checks the base and rebuilds the failed packages")
	}
	for _, d := range []struct {
		field string
		v     Duration
	}{{"fast_build_budget", e.FastBuildBudget}, {"max_wait", e.MaxWait}, {"wave_wait", e.WaveWait}} {
		if d.v < 0 {
			add(d.field, strconv.Quote(d.v.String()), "must not be negative")
		}
	}
	if e.WaveLane != WaveLaneBuild && e.WaveLane != WaveLaneHandOff {
		add("wave_lane", strconv.Quote(string(e.WaveLane)), fmt.Sprintf("must be %s or %s", WaveLaneBuild, WaveLaneHandOff))
	}
	for i, l := range e.PriorityLabels {
		if strings.TrimSpace(l) == "" {
			add(fmt.Sprintf("priority_labels[%d]", i), strconv.Quote(l), "must name a label")
		}
	}
	if err := errors.Join(errs...); err != nil {
		return QueueSettings{}, fmt.Errorf("queue settings: %w", err)
	}
	return e, nil
}

// Change is what lane and batching decisions know about one approved change.
type Change struct {
	ID string `json:"id"`
	// Rebuilds is the size of the change's rebuild set: the derivations of the candidate
	// (branch head plus this change) that differ from the head's.
	Rebuilds int `json:"rebuilds"`
	// BuildSeconds is what building the rebuild set costs in builder seconds, by the cost
	// model; 0 when unknown.
	BuildSeconds float64  `json:"build_seconds,omitempty"`
	Labels       []string `json:"labels,omitempty"`
}

// LaneDecision is the lane of a change with its reason.
type LaneDecision struct {
	Lane   Lane   `json:"lane"`
	Reason string `json:"reason"`
}

// ChooseLane decides the lane of a change, by the first rule that applies:
//
//  1. a priority label (security) → priority: never batched, ahead of the fast lane,
//     whatever its size, because a security fix must not wait for a wave;
//  2. MassRebuild rebuilds or more → wave: Nixpkgs' "must go through staging";
//  3. builds costing more than FastBuildBudget → wave: not a small change, whatever the
//     count (Nixpkgs' "consider staging" from ConsiderStaging rebuilds, decided by cost);
//  4. ConsiderStaging rebuilds or more of unknown cost → wave;
//  5. otherwise → fast.
//
// s is taken through Effective; invalid settings are an error.
func ChooseLane(c Change, s QueueSettings) (LaneDecision, error) {
	e, err := s.Effective()
	if err != nil {
		return LaneDecision{}, err
	}
	if c.Rebuilds < 0 || c.BuildSeconds < 0 {
		return LaneDecision{}, fmt.Errorf("choose lane of %s: rebuilds %d and build seconds %v must not be negative", c.ID, c.Rebuilds, c.BuildSeconds)
	}
	size := fmt.Sprintf("%d %s", c.Rebuilds, plural(c.Rebuilds, "rebuild", "rebuilds"))
	cost := ""
	if c.BuildSeconds > 0 {
		cost = " costing " + roundHours(c.BuildSeconds) + " of builds"
	}
	for _, l := range c.Labels {
		if slices.Contains(e.PriorityLabels, l) {
			return LaneDecision{Lane: LanePriority, Reason: fmt.Sprintf("labelled %s: built alone ahead of the fast lane (%s%s)", l, size, cost)}, nil
		}
	}
	budget := time.Duration(e.FastBuildBudget).Seconds()
	switch {
	case c.Rebuilds >= e.MassRebuild:
		return LaneDecision{Lane: LaneWave, Reason: fmt.Sprintf("%s%s: a mass rebuild (at least %d) goes through the wave lane", size, cost, e.MassRebuild)}, nil
	case c.BuildSeconds > budget:
		return LaneDecision{Lane: LaneWave, Reason: fmt.Sprintf("%s%s: over the fast-lane budget of %s, so not a small change; it goes through the wave lane", size, cost, e.FastBuildBudget)}, nil
	case c.Rebuilds >= e.ConsiderStaging && c.BuildSeconds == 0:
		return LaneDecision{Lane: LaneWave, Reason: fmt.Sprintf("%s of unknown cost: at least %d rebuilds go through the wave lane unless they cost under %s", size, e.ConsiderStaging, e.FastBuildBudget)}, nil
	case c.Rebuilds >= e.ConsiderStaging:
		return LaneDecision{Lane: LaneFast, Reason: fmt.Sprintf("%s%s: at least %d rebuilds, but within the fast-lane budget of %s", size, cost, e.ConsiderStaging, e.FastBuildBudget)}, nil
	}
	return LaneDecision{Lane: LaneFast, Reason: fmt.Sprintf("%s%s: under %d rebuilds, within the fast-lane budget of %s", size, cost, e.ConsiderStaging, e.FastBuildBudget)}, nil
}

// roundHours renders builder seconds as hours with one decimal: "3.5h".
func roundHours(secs float64) string {
	return strconv.FormatFloat(secs/3600, 'f', 1, 64) + "h"
}

// Window is the AIMD batch window of the fast lane: the most changes one batch may take.
// It is the whole state of the batching policy, so a workflow keeps it in its state.
type Window struct {
	Size int `json:"size"`
}

// NewWindow starts a window at WindowStart.
func NewWindow(s QueueSettings) Window {
	return Window{Size: s.withDefaults().WindowStart}
}

// Green widens the window additively after a batch merged: by WindowStep, up to WindowMax.
func (w Window) Green(s QueueSettings) Window {
	e := s.withDefaults()
	return Window{Size: max(e.WindowMin, min(e.WindowMax, w.Size+e.WindowStep))}
}

// Red halves the window after a batch failed, down to WindowMin: failures come in runs
// (a broken dependency, a bad builder), and a smaller batch both bisects faster and drags
// fewer good changes into the next failure.
func (w Window) Red(s QueueSettings) Window {
	e := s.withDefaults()
	return Window{Size: max(e.WindowMin, min(e.WindowMax, w.Size/2))}
}

// Queued is a change waiting in the queue, in queue order.
type Queued struct {
	ID        string    `json:"id"`
	Lane      Lane      `json:"lane"`
	Submitted time.Time `json:"submitted"`
}

// BatchDecision is what CutBatch and CutWave decide: the changes of the next batch (none
// to wait), and until when to wait when there is something to wait for.
type BatchDecision struct {
	Lane    Lane     `json:"lane,omitempty"`
	Changes []string `json:"changes,omitempty"`
	// Until is when to ask again even if nothing arrives; zero when only an arrival or a
	// finished batch can change the decision.
	Until  time.Time `json:"until,omitzero"`
	Reason string    `json:"reason"`
}

// CutBatch decides the next batch of the fast lane, given the waiting changes in queue
// order (priority and fast; wave-lane entries are skipped), the window, how many batches
// are building and the time now:
//
//   - a priority change waits → it alone, the first of them, ahead of every fast change
//     and even when MaxBatches are building;
//   - MaxBatches building → nothing until one finishes;
//   - a full window of fast changes, or the oldest has waited MaxWait → the first window
//     of them, in queue order;
//   - otherwise wait until the oldest has waited MaxWait.
func CutBatch(queue []Queued, w Window, building int, now time.Time, s QueueSettings) BatchDecision {
	e := s.withDefaults()
	var fast []Queued
	for _, q := range queue {
		switch q.Lane {
		case LanePriority:
			return BatchDecision{Lane: LanePriority, Changes: []string{q.ID}, Reason: q.ID + " is in the priority lane: built alone, ahead of the fast lane"}
		case LaneFast:
			fast = append(fast, q)
		}
	}
	if building >= e.MaxBatches {
		return BatchDecision{Reason: fmt.Sprintf("%d batches building, the most at once", building)}
	}
	if len(fast) == 0 {
		return BatchDecision{Reason: "no fast-lane change waiting"}
	}
	size := max(1, w.Size)
	oldest := fast[0].Submitted
	for _, q := range fast {
		if q.Submitted.Before(oldest) {
			oldest = q.Submitted
		}
	}
	deadline := oldest.Add(time.Duration(e.MaxWait))
	take := func(why string) BatchDecision {
		n := min(size, len(fast))
		ids := make([]string, n)
		for i := range n {
			ids[i] = fast[i].ID
		}
		return BatchDecision{Lane: LaneFast, Changes: ids, Reason: fmt.Sprintf("%d %s of %d waiting (window %d): %s", n, plural(n, "change", "changes"), len(fast), size, why)}
	}
	switch {
	case len(fast) >= size:
		return take("the window is full")
	case !now.Before(deadline):
		return take(fmt.Sprintf("the oldest has waited %s", e.MaxWait))
	}
	return BatchDecision{Until: deadline, Reason: fmt.Sprintf("%d of %d changes for a full window; the oldest waits until %s", len(fast), size, formatTime(deadline))}
}

// CutWave decides the next batch of the wave lane: every waiting wave-lane change, in
// queue order, once the oldest has waited WaveWait, so that mass rebuilds arriving close
// together share one rebuild of what they have in common. building says whether a
// wave-lane batch is still building: only one builds at a time, since each rebuilds much
// of the collection.
func CutWave(queue []Queued, building bool, now time.Time, s QueueSettings) BatchDecision {
	e := s.withDefaults()
	var ids []string
	var oldest time.Time
	for _, q := range queue {
		if q.Lane != LaneWave {
			continue
		}
		if len(ids) == 0 || q.Submitted.Before(oldest) {
			oldest = q.Submitted
		}
		ids = append(ids, q.ID)
	}
	switch {
	case len(ids) == 0:
		return BatchDecision{Reason: "no wave-lane change waiting"}
	case building:
		return BatchDecision{Reason: "a wave-lane batch is building"}
	}
	deadline := oldest.Add(time.Duration(e.WaveWait))
	if now.Before(deadline) {
		return BatchDecision{Until: deadline, Reason: fmt.Sprintf("%d wave-lane %s collecting until %s", len(ids), plural(len(ids), "change", "changes"), formatTime(deadline))}
	}
	return BatchDecision{Lane: LaneWave, Changes: ids, Reason: fmt.Sprintf("%d wave-lane %s, the oldest waiting %s", len(ids), plural(len(ids), "change", "changes"), e.WaveWait)}
}

// Priorities of builds on the builders' task queue (Temporal's priority key: 1 first, 5
// last). A build slot holds its builder until it yields, so a higher priority takes effect
// within a slot's yield.
const (
	// BuildPrioritySecurity: security fixes go first, a patch's builds and a
	// priority-lane batch's.
	BuildPrioritySecurity = 1
	// BuildPriorityDefault: major waves, and the merge queue's main sequence.
	BuildPriorityDefault = 3
	// BuildPriorityAside: a wave-lane batch built aside, in what the builders have to
	// spare.
	BuildPriorityAside = 5
)

// BuildPriority is the priority of a merge queue build's slots on the builders: a
// priority-lane batch and its probes first, since security fixes go first; a wave-lane
// batch built aside last, since the two-stage queue builds mass rebuilds in what the
// builders have to spare and they must never hold up the fast lane; the rest, a wave-lane
// unit's second stage included, as a wave.
func BuildPriority(lane Lane, aside bool) int {
	switch {
	case lane == LanePriority:
		return BuildPrioritySecurity
	case aside:
		return BuildPriorityAside
	}
	return BuildPriorityDefault
}
