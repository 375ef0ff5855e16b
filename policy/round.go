package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/crestwaves/crest/graph"
)

// Status is the outcome of one package in one build round. The values are stable: they are
// stored per package.
type Status string

// The outcomes of a build round.
const (
	// StatusPending: not built yet.
	StatusPending Status = "pending"
	// StatusPassed: built, and its tests (passthru.tests) passed.
	StatusPassed Status = "passed"
	// StatusFailed: its own build failed although every dependency built.
	StatusFailed Status = "failed"
	// StatusTestFailed: built, but its tests failed. The output exists, so dependents
	// build; the package is a root cause all the same.
	StatusTestFailed Status = "test-failed"
	// StatusDependencyFailed: not built, because a dependency did not build.
	StatusDependencyFailed Status = "dependency-failed"
)

// Valid reports whether s is one of the statuses above.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusPassed, StatusFailed, StatusTestFailed, StatusDependencyFailed:
		return true
	}
	return false
}

// Built reports whether the package's output exists, so that its dependents can build:
// passed or test-failed.
func (s Status) Built() bool { return s == StatusPassed || s == StatusTestFailed }

// Failed reports whether the package failed by itself (its build or its tests): the
// statuses of root causes.
func (s Status) Failed() bool { return s == StatusFailed || s == StatusTestFailed }

// DepState is what Gate needs to know about one direct dependency in the current round.
type DepState struct {
	Key    string `json:"key"`
	Status Status `json:"status"`
	// BlockedBy are the root causes blocking the dependency, when it is dependency-failed.
	BlockedBy []string `json:"blocked_by,omitempty"`
}

// Gate decides, during a build round, what happens to pkg given the states of its
// prerequisites (see Prerequisites; dependencies outside the round count as built and need
// not be passed):
//
//   - some prerequisite is pending → ActionWait;
//   - else some prerequisite failed or is dependency-failed → ActionDependencyFailed, with
//     BlockedBy the failed prerequisites and the root causes of the dependency-failed ones;
//   - else (passed or test-failed: their outputs exist) → ActionBuild.
//
// A package is marked dependency-failed only once every prerequisite is final, even if one
// already failed: then BlockedBy is complete, and the recorded decision does not depend on
// which build happened to finish first. No builder time is lost: the package is not built
// either way.
//
// Deps may come in any order. An unknown status, or a dependency-failed prerequisite that
// names no root cause, is an error naming the prerequisite.
func Gate(pkg string, deps []DepState) (Decision, error) {
	var pending, notBuilt, testFailed []string
	blocked := make(map[string]struct{})
	for _, d := range deps {
		switch d.Status {
		case StatusPassed:
		case StatusTestFailed:
			testFailed = append(testFailed, d.Key)
		case StatusPending:
			pending = append(pending, d.Key)
		case StatusFailed:
			notBuilt = append(notBuilt, d.Key)
			blocked[d.Key] = struct{}{}
		case StatusDependencyFailed:
			if len(d.BlockedBy) == 0 {
				return Decision{}, fmt.Errorf("gate %s: dependency %s is dependency-failed but names no root cause", pkg, d.Key)
			}
			notBuilt = append(notBuilt, d.Key)
			for _, r := range d.BlockedBy {
				blocked[r] = struct{}{}
			}
		default:
			return Decision{}, fmt.Errorf("gate %s: dependency %s has unknown status %q", pkg, d.Key, d.Status)
		}
	}
	pending, notBuilt, testFailed = sortedUnique(pending), sortedUnique(notBuilt), sortedUnique(testFailed)

	switch {
	case len(pending) > 0:
		reason := fmt.Sprintf("waiting for %d %s to build: %s", len(pending), plural(len(pending), "dependency", "dependencies"), listNames(pending))
		if len(notBuilt) > 0 {
			reason += fmt.Sprintf("; %s did not build, so %s will not be built either way", listNames(notBuilt), pkg)
		}
		return Decision{Action: ActionWait, Package: pkg, Reason: reason}, nil
	case len(notBuilt) > 0:
		roots := slices.Sorted(maps.Keys(blocked))
		return Decision{
			Action:    ActionDependencyFailed,
			Package:   pkg,
			BlockedBy: roots,
			Reason: fmt.Sprintf("not built: %s %s did not build; blocked by root %s %s",
				plural(len(notBuilt), "dependency", "dependencies"), listNames(notBuilt),
				plural(len(roots), "cause", "causes"), listNames(roots)),
		}, nil
	}
	reason := "no dependencies to wait for"
	switch n := len(sortedUnique(keysOf(deps))); n {
	case 0:
	case 1:
		reason = "its only dependency built"
	default:
		reason = fmt.Sprintf("all %d dependencies built", n)
	}
	if len(testFailed) > 0 {
		reason += fmt.Sprintf("; tests of %s fail, but the %s", listNames(testFailed), plural(len(testFailed), "output exists", "outputs exist"))
	}
	return Decision{Action: ActionBuild, Package: pkg, Reason: reason}, nil
}

func keysOf(deps []DepState) []string {
	out := make([]string, len(deps))
	for i, d := range deps {
		out[i] = d.Key
	}
	return out
}

// Prerequisites returns a function giving the dependencies a package waits for in a build
// round: its direct dependencies minus the other members of its dependency cycle. Cycle
// members are built against the previous build of their partners (the way distributions
// bootstrap a cycle, and the way graph plans them), so they do not wait for each other,
// and two failing members of one cycle are both root causes rather than each other's
// consequence. The function is safe for concurrent use.
func Prerequisites(g *graph.Graph) func(key string) []string {
	cycle := make(map[string]int)
	for i, c := range g.SCCs() {
		for _, k := range c {
			cycle[k] = i
		}
	}
	return func(key string) []string {
		deps := g.Deps(key)
		ci, ok := cycle[key]
		if !ok {
			return deps
		}
		out := deps[:0:0]
		for _, d := range deps {
			if cd, in := cycle[d]; !in || cd != ci {
				out = append(out, d)
			}
		}
		return out
	}
}

// Verdict is Classify's finding about one package of a round.
type Verdict struct {
	Package string `json:"package"`
	// Status is the recorded status, except that a pending package whose prerequisites
	// are final and include a failure becomes dependency-failed, as Gate would decide, and
	// a package wrongly recorded as dependency-failed is pending (see Classify).
	Status Status `json:"status"`
	// RootCause: the package failed (build or tests) although all its prerequisites
	// built. Only root causes get issues and grace periods.
	RootCause bool `json:"root_cause,omitempty"`
	// BlockedBy are the root causes keeping a dependency-failed package from building.
	BlockedBy []string `json:"blocked_by,omitempty"`
}

// Round is a whole build round classified: every package given to Classify, root causes
// and consequences.
type Round struct {
	Verdicts   []Verdict `json:"verdicts"`    // in key order
	RootCauses []string  `json:"root_causes"` // in key order
}

// Verdict returns the verdict on key.
func (r *Round) Verdict(key string) (Verdict, bool) {
	i, ok := slices.BinarySearchFunc(r.Verdicts, key, func(v Verdict, k string) int { return strings.Compare(v.Package, k) })
	if !ok {
		return Verdict{}, false
	}
	return r.Verdicts[i], true
}

// Blocks returns, in key order, the packages the root cause keeps from building: what its
// issue lists as blocked dependents.
func (r *Round) Blocks(root string) []string {
	var out []string
	for _, v := range r.Verdicts {
		if _, ok := slices.BinarySearch(v.BlockedBy, root); ok {
			out = append(out, v.Package)
		}
	}
	return out
}

// States turns the round into the per-package states that resolutions work on, marking
// the members of protected.
func (r *Round) States(protected Set) []State {
	out := make([]State, len(r.Verdicts))
	for i, v := range r.Verdicts {
		out[i] = State{Package: v.Package, Status: v.Status, BlockedBy: slices.Clone(v.BlockedBy), Protected: protected.Has(v.Package)}
	}
	return out
}

// InconsistentError lists the packages of a round whose recorded status contradicts the
// rules (built before a prerequisite was, dependency-failed with nothing failed upstream).
type InconsistentError struct {
	Problems []string // one per package, in key order
}

// Error lists up to ten problems.
func (e *InconsistentError) Error() string {
	shown := e.Problems[:min(len(e.Problems), maxListed)]
	s := "inconsistent build round: " + strings.Join(shown, "; ")
	if n := len(e.Problems) - len(shown); n > 0 {
		s += fmt.Sprintf("; and %d more", n)
	}
	return s
}

// Classify recomputes a build round from the recorded statuses of its packages, by the
// same rule as Gate, visiting packages providers first: it is how the workflow verifies a
// round, and how a round is classified in one go. Packages of g missing from outcomes are
// outside the round and count as built.
//
// A package recorded as built (passed, failed, test-failed) whose prerequisites had not
// all built, or recorded dependency-failed when Gate would not have decided so, makes
// Classify return an *InconsistentError naming it, alongside the round. In the round, such
// a built package keeps its status and is no root cause, and such a dependency-failed one
// is pending. Unknown packages or statuses fail without a round.
func Classify(g *graph.Graph, outcomes map[string]Status) (*Round, error) {
	if g == nil {
		return nil, fmt.Errorf("classify round: no graph")
	}
	var unknown, badStatus []string
	for k, s := range outcomes {
		if !g.Has(k) {
			unknown = append(unknown, k)
		} else if !s.Valid() {
			badStatus = append(badStatus, fmt.Sprintf("%s has unknown status %q", k, s))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		e := &graph.UnknownKeysError{Keys: unknown, Suggestions: make(map[string][]string, len(unknown))}
		for _, k := range unknown {
			e.Suggestions[k] = g.Suggest(k, graph.MaxSuggestions)
		}
		return nil, fmt.Errorf("classify round: %w", e)
	}
	if len(badStatus) > 0 {
		slices.Sort(badStatus)
		return nil, fmt.Errorf("classify round: %s", strings.Join(badStatus, "; "))
	}

	pre := Prerequisites(g)
	found := make(map[string]DepState, len(outcomes))
	r := &Round{Verdicts: make([]Verdict, 0, len(outcomes))}
	var problems []string
	for _, k := range g.TopoOrder() {
		rec, ok := outcomes[k]
		if !ok {
			continue
		}
		var deps []DepState
		for _, d := range pre(k) {
			if s, in := found[d]; in {
				deps = append(deps, s)
			}
		}
		dec, err := Gate(k, deps)
		if err != nil {
			// Statuses were checked and BlockedBy is always filled for dependency-failed
			// verdicts, so this is a bug here, not bad input.
			return nil, fmt.Errorf("classify round: %w", err)
		}
		v := Verdict{Package: k, Status: rec}
		// next is how dependents see the package; for an inconsistent one, what the rules
		// say it is, so that one bad record does not spread (BlockedBy names only root
		// causes, and nothing waits on a root cause that is not one).
		next := DepState{Key: k, Status: rec}
		switch {
		case rec == StatusPending || rec == StatusDependencyFailed:
			switch dec.Action {
			case ActionDependencyFailed:
				v.Status, v.BlockedBy = StatusDependencyFailed, dec.BlockedBy
			case ActionWait:
				if rec == StatusDependencyFailed {
					problems = append(problems, fmt.Sprintf("%s is dependency-failed while dependencies are still pending (%s)", k, dec.Reason))
				}
				v.Status = StatusPending
			case ActionBuild:
				if rec == StatusDependencyFailed {
					problems = append(problems, fmt.Sprintf("%s is dependency-failed but %s", k, dec.Reason))
				}
				v.Status = StatusPending
			}
			next = DepState{Key: k, Status: v.Status, BlockedBy: v.BlockedBy}
		case dec.Action != ActionBuild:
			problems = append(problems, fmt.Sprintf("%s is %s but was not buildable: %s", k, rec, dec.Reason))
			if rec == StatusFailed {
				next = DepState{Key: k, Status: StatusPending}
				if dec.Action == ActionDependencyFailed {
					next = DepState{Key: k, Status: StatusDependencyFailed, BlockedBy: dec.BlockedBy}
				}
			}
		default:
			v.RootCause = rec.Failed()
		}
		r.Verdicts = append(r.Verdicts, v)
		found[k] = next
	}
	slices.SortFunc(r.Verdicts, func(a, b Verdict) int { return strings.Compare(a.Package, b.Package) })
	for _, v := range r.Verdicts {
		if v.RootCause {
			r.RootCauses = append(r.RootCauses, v.Package)
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return r, &InconsistentError{Problems: problems}
	}
	return r, nil
}
