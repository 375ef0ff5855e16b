package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ProbeKind says what a bisection probe checks. The values are stable: probes are recorded.
type ProbeKind string

// The kinds of probes.
const (
	// ProbeBase builds the failed packages on the batch's base (Prefix 0): a package that
	// fails there too failed before the batch and is pre-existing.
	ProbeBase ProbeKind = "base"
	// ProbeRebuild builds the failed packages of the whole candidate again, the same
	// derivations: a package that passes now is flaky.
	ProbeRebuild ProbeKind = "rebuild"
	// ProbePrefix builds the packages on the base plus the first Prefix changes.
	ProbePrefix ProbeKind = "prefix"
)

// Probe is one build of a bisection: Packages (and whatever they need that is not built
// yet, which Nix's cache decides) at the candidate commit made of the batch's base and its
// first Prefix changes.
type Probe struct {
	Round    int       `json:"round"`
	Kind     ProbeKind `json:"kind"`
	Prefix   int       `json:"prefix"`
	Packages []string  `json:"packages"`
}

// String reads "round 2: prefix 5 (openssl, curl)".
func (p Probe) String() string {
	return fmt.Sprintf("round %d: %s %d (%s)", p.Round, p.Kind, p.Prefix, listNames(p.Packages))
}

// ProbeRecord is a probe with its outcome: which of its packages did not build (their own
// failure or a dependency's); the others passed.
type ProbeRecord struct {
	Probe  Probe    `json:"probe"`
	Failed []string `json:"failed,omitempty"`
}

// Bisection is the state of a failure-targeted bisection of one failed batch. It is a
// plain value: NextProbes, Record and Culprit are pure functions of it, so a workflow keeps
// it in its state and a replay reaches the same probes.
//
// The search keeps an interval of prefixes (Lo, Hi]: prefix Lo builds every package of
// Targets, prefix Hi fails one of them. Each round probes up to Parallelism prefixes
// evenly spread inside it (a k-way split), and keeps the part between the last passing
// probe below the first failing one and that failing one. The first round also builds the
// failed packages on the base and rebuilds them on the whole candidate, to set aside
// pre-existing and flaky failures, so it splits with Parallelism-2 probes. When Hi is
// Lo+1, change Hi is the culprit: adding it to a prefix that built the targets breaks them.
// No monotony is assumed: if a later change repaired what an earlier one broke, the
// culprit is still a change that turns a green prefix red.
//
// A batch of B changes needs at most 1+⌈log₂ B⌉ rounds with Parallelism 2 (a first round of
// checks, then halving) and fewer with more: roughly 1+log_(P+1) B.
type Bisection struct {
	Changes     []string `json:"changes"`
	Failed      []string `json:"failed"`
	Parallelism int      `json:"parallelism"`

	Round int `json:"round"` // the round in progress, from 1
	Lo    int `json:"lo"`
	Hi    int `json:"hi"`
	// Targets are the packages the search follows: those failing at prefix Hi that are
	// neither pre-existing nor flaky. Empty until the first round ends.
	Targets     []string `json:"targets,omitempty"`
	Preexisting []string `json:"preexisting,omitempty"`
	Flaky       []string `json:"flaky,omitempty"`
	// Recorded are the outcomes of the current round's probes; History those of earlier
	// rounds, kept as evidence.
	Recorded []ProbeRecord `json:"recorded,omitempty"`
	History  []ProbeRecord `json:"history,omitempty"`
	Done     bool          `json:"done,omitempty"`
}

// NewBisection starts the bisection of a batch (changes in candidate order) whose
// candidate failed to build the packages failed. parallelism is QueueSettings.Parallelism
// (0 for the default).
func NewBisection(changes, failed []string, parallelism int) (Bisection, error) {
	if parallelism == 0 {
		parallelism = DefaultParallelism
	}
	var errs []error
	if len(changes) == 0 {
		errs = append(errs, errors.New("no changes to bisect"))
	}
	seen := make(map[string]bool, len(changes))
	for _, c := range changes {
		if c == "" || seen[c] {
			errs = append(errs, fmt.Errorf("change %q: empty or listed twice", c))
		}
		seen[c] = true
	}
	if len(failed) == 0 {
		errs = append(errs, errors.New("no failed packages: a green batch needs no bisection"))
	}
	if parallelism < 2 {
		errs = append(errs, fmt.Errorf("parallelism %d: must be at least 2", parallelism))
	}
	if err := errors.Join(errs...); err != nil {
		return Bisection{}, fmt.Errorf("bisection: %w", err)
	}
	return Bisection{
		Changes:     slices.Clone(changes),
		Failed:      sortedUnique(failed),
		Parallelism: parallelism,
		Round:       1,
		Lo:          0,
		Hi:          len(changes),
	}, nil
}

// roundProbes are every probe of the current round, in order: base and rebuild first (round
// 1), then prefixes ascending.
func (b Bisection) roundProbes() []Probe {
	if b.Done {
		return nil
	}
	var out []Probe
	slots, targets := b.Parallelism, b.Targets
	if b.Round == 1 {
		targets = b.Failed
		out = append(out,
			Probe{Round: 1, Kind: ProbeBase, Prefix: 0, Packages: slices.Clone(b.Failed)},
			Probe{Round: 1, Kind: ProbeRebuild, Prefix: len(b.Changes), Packages: slices.Clone(b.Failed)})
		slots -= 2
	}
	n := b.Hi - b.Lo
	m := min(slots, n-1)
	for i := 1; i <= m; i++ {
		out = append(out, Probe{Round: b.Round, Kind: ProbePrefix, Prefix: b.Lo + i*n/(m+1), Packages: slices.Clone(targets)})
	}
	return out
}

// NextProbes returns the probes of the current round not recorded yet: all of them to
// start a round, the missing ones after a restart. It returns nil once the bisection is
// done.
func NextProbes(b Bisection) []Probe {
	var out []Probe
	for _, p := range b.roundProbes() {
		if !slices.ContainsFunc(b.Recorded, func(r ProbeRecord) bool { return sameProbe(r.Probe, p) }) {
			out = append(out, p)
		}
	}
	return out
}

func sameProbe(a, b Probe) bool {
	return a.Round == b.Round && a.Kind == b.Kind && a.Prefix == b.Prefix
}

// Record adds the outcome of one probe of the current round (failed: those of its
// packages that did not build) and, when that completes the round, moves the search on. A
// probe that is not outstanding in the current round, or an outcome naming a package the
// probe did not build, is an error; the state is then returned unchanged.
func Record(b Bisection, p Probe, failed []string) (Bisection, error) {
	if b.Done {
		return b, fmt.Errorf("record %s: the bisection is done", p)
	}
	want := NextProbes(b)
	i := slices.IndexFunc(want, func(q Probe) bool { return sameProbe(q, p) })
	if i < 0 {
		return b, fmt.Errorf("record %s: not an outstanding probe of round %d", p, b.Round)
	}
	p = want[i]
	for _, f := range failed {
		if !slices.Contains(p.Packages, f) {
			return b, fmt.Errorf("record %s: %s failed but the probe did not build it", p, f)
		}
	}
	b.Recorded = append(slices.Clone(b.Recorded), ProbeRecord{Probe: p, Failed: sortedUnique(failed)})
	if len(want) > 1 {
		return b, nil
	}
	return b.advance(), nil
}

// advance closes the current round.
func (b Bisection) advance() Bisection {
	recs := slices.Clone(b.Recorded)
	b.History = append(slices.Clone(b.History), recs...)
	b.Recorded = nil
	if b.Round == 1 {
		var baseFailed, rebuildFailed []string
		for _, r := range recs {
			switch r.Probe.Kind {
			case ProbeBase:
				baseFailed = r.Failed
			case ProbeRebuild:
				rebuildFailed = r.Failed
			}
		}
		b.Flaky, b.Preexisting, b.Targets = nil, nil, nil
		for _, f := range b.Failed {
			switch {
			case !slices.Contains(rebuildFailed, f):
				b.Flaky = append(b.Flaky, f)
			case slices.Contains(baseFailed, f):
				b.Preexisting = append(b.Preexisting, f)
			default:
				b.Targets = append(b.Targets, f)
			}
		}
		if len(b.Targets) == 0 {
			b.Done = true
			return b
		}
	}
	// The first failing probe bounds the interval from above; the last passing probe below
	// it from below. Outcomes arrive in any order.
	var prefixes []ProbeRecord
	for _, r := range recs {
		if r.Probe.Kind == ProbePrefix {
			prefixes = append(prefixes, r)
		}
	}
	slices.SortFunc(prefixes, func(x, y ProbeRecord) int { return x.Probe.Prefix - y.Probe.Prefix })
	hi, lo := b.Hi, b.Lo
	var hiFailed []string
	for _, r := range prefixes {
		var hit []string
		for _, f := range r.Failed {
			if slices.Contains(b.Targets, f) {
				hit = append(hit, f)
			}
		}
		if len(hit) > 0 {
			if r.Probe.Prefix < hi {
				hi, hiFailed = r.Probe.Prefix, hit
			}
			break
		}
	}
	for _, r := range prefixes {
		if r.Probe.Prefix > lo && r.Probe.Prefix < hi && !failsAny(r.Failed, b.Targets) {
			lo = r.Probe.Prefix
		}
	}
	if hi < b.Hi {
		b.Targets = hiFailed
	}
	b.Lo, b.Hi = lo, hi
	if b.Hi == b.Lo+1 {
		b.Done = true
		return b
	}
	b.Round++
	return b
}

func failsAny(failed, targets []string) bool {
	return slices.ContainsFunc(failed, func(f string) bool { return slices.Contains(targets, f) })
}

// BisectVerdict is the outcome of a finished bisection.
type BisectVerdict struct {
	Done bool `json:"done"`
	// Culprit is the change to eject, "" when the batch is not at fault (every failure was
	// pre-existing or flaky). Position is its place in the batch, from 1.
	Culprit  string `json:"culprit,omitempty"`
	Position int    `json:"position,omitempty"`
	// Broke are the packages that fail with the culprit and built without it: the evidence,
	// with the probes in Evidence.
	Broke    []string      `json:"broke,omitempty"`
	Evidence []ProbeRecord `json:"evidence,omitempty"`
	// Requeue are the other changes of the batch, in batch order, to go back to the front
	// of the queue. None of them merges directly: a probe built only the failed packages
	// at its prefix, so the prefix before the culprit is a commit that was never built in
	// full, and only a commit whose every derivation built green may become the branch
	// head. Re-queued, they form a candidate whose derivations are mostly built already
	// (Nix's cache), so its build costs little.
	Requeue     []string `json:"requeue,omitempty"`
	Preexisting []string `json:"preexisting,omitempty"`
	Flaky       []string `json:"flaky,omitempty"`
	Rounds      int      `json:"rounds"`
	Reason      string   `json:"reason"`
}

// Culprit reads the verdict of a bisection; Done is false while probes remain.
func Culprit(b Bisection) BisectVerdict {
	rounds := b.Round
	if !b.Done {
		rounds--
	}
	v := BisectVerdict{Done: b.Done, Preexisting: slices.Clone(b.Preexisting), Flaky: slices.Clone(b.Flaky), Rounds: rounds}
	if !b.Done {
		v.Reason = fmt.Sprintf("round %d of the bisection: the culprit is among changes %d to %d", b.Round, b.Lo+1, b.Hi)
		return v
	}
	var set []string
	if len(b.Preexisting) > 0 {
		set = append(set, fmt.Sprintf("pre-existing (also fail on the base): %s", listNames(b.Preexisting)))
	}
	if len(b.Flaky) > 0 {
		set = append(set, fmt.Sprintf("flaky (passed on a rebuild): %s", listNames(b.Flaky)))
	}
	if len(b.Targets) == 0 {
		v.Requeue = slices.Clone(b.Changes)
		v.Reason = "no change is at fault: " + strings.Join(set, "; ") + "; the batch goes back to the queue"
		return v
	}
	v.Position = b.Hi
	v.Culprit = b.Changes[b.Hi-1]
	v.Broke = slices.Clone(b.Targets)
	for _, r := range b.History {
		if r.Probe.Kind == ProbeBase || r.Probe.Prefix == b.Lo || r.Probe.Prefix == b.Hi {
			v.Evidence = append(v.Evidence, r)
		}
	}
	for i, c := range b.Changes {
		if i != b.Hi-1 {
			v.Requeue = append(v.Requeue, c)
		}
	}
	without := "the base"
	if b.Lo > 0 {
		without = fmt.Sprintf("the first %d %s", b.Lo, plural(b.Lo, "change", "changes"))
	}
	v.Reason = fmt.Sprintf("%s (change %d of %d) breaks %s: they build with %s and fail with %s added; found in %d %s",
		v.Culprit, v.Position, len(b.Changes), listNames(v.Broke), without, v.Culprit, rounds, plural(rounds, "round", "rounds"))
	if len(set) > 0 {
		v.Reason += "; also " + strings.Join(set, "; ")
	}
	return v
}
