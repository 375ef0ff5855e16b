package policy

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Resolution is how a package is settled in a minor wave. The values are stable: they are
// stored per package and in wave tags' summaries.
type Resolution string

// The resolutions. A dependency-failed package's resolution also names the resolutions of
// the root causes it follows: "dependency-failed/marked-broken",
// "dependency-failed/cant-fix+wont-fix" (see DependencyFailedFrom).
const (
	// ResolutionPassed: built and tested green in this minor wave.
	ResolutionPassed Resolution = "passed"
	// ResolutionFixed: green after a fix commit, on a retry.
	ResolutionFixed Resolution = "fixed"
	// ResolutionWontFix: a person decided the failure will not be fixed in this wave.
	ResolutionWontFix Resolution = "wont-fix"
	// ResolutionCantFix: a person decided the failure cannot be fixed (upstream, hardware).
	ResolutionCantFix Resolution = "cant-fix"
	// ResolutionMarkedBroken: the policy marked the package broken when its grace period
	// ended without a fix.
	ResolutionMarkedBroken Resolution = "marked-broken"
	// ResolutionDependencyFailed: not built, settled by its root causes' resolutions.
	ResolutionDependencyFailed Resolution = "dependency-failed"
)

// givesUp reports whether r settles a failure without a green build: the resolutions a
// root cause passes on to its dependents.
func (r Resolution) givesUp() bool {
	return r == ResolutionWontFix || r == ResolutionCantFix || r == ResolutionMarkedBroken
}

// Base returns r without what a dependency-failed resolution inherits:
// "dependency-failed/wont-fix" → "dependency-failed".
func (r Resolution) Base() Resolution {
	if b, _, ok := strings.Cut(string(r), "/"); ok {
		return Resolution(b)
	}
	return r
}

// Inherited returns the root causes' resolutions a dependency-failed resolution carries,
// in order; nil for any other resolution.
func (r Resolution) Inherited() []Resolution {
	b, rest, ok := strings.Cut(string(r), "/")
	if !ok || Resolution(b) != ResolutionDependencyFailed {
		return nil
	}
	var out []Resolution
	for _, p := range strings.Split(rest, "+") {
		out = append(out, Resolution(p))
	}
	return out
}

// Valid reports whether r is one of the resolutions, including dependency-failed forms
// whose inherited resolutions are wont-fix, cant-fix or marked-broken, sorted and distinct
// (as DependencyFailedFrom writes them).
func (r Resolution) Valid() bool {
	switch r {
	case ResolutionPassed, ResolutionFixed, ResolutionWontFix, ResolutionCantFix, ResolutionMarkedBroken, ResolutionDependencyFailed:
		return true
	}
	inh := r.Inherited()
	if len(inh) == 0 {
		return false
	}
	for i, x := range inh {
		if !x.givesUp() || (i > 0 && inh[i-1] >= x) {
			return false
		}
	}
	return true
}

// Green reports whether r puts the package in the tag: passed or fixed.
func (r Resolution) Green() bool { return r == ResolutionPassed || r == ResolutionFixed }

// Settable reports whether a person may set r with Resolve: wont-fix or cant-fix. The
// others come from builds (passed, fixed) or from the policy (marked-broken,
// dependency-failed), so that the record says truthfully who settled what.
func (r Resolution) Settable() bool { return r == ResolutionWontFix || r == ResolutionCantFix }

// DependencyFailedFrom returns the resolution of a dependent whose root causes were settled
// with roots: "dependency-failed/" and their distinct values, sorted, joined by "+". With
// no roots it is plain dependency-failed.
func DependencyFailedFrom(roots ...Resolution) Resolution {
	parts := make([]string, 0, len(roots))
	for _, r := range roots {
		if r != "" {
			parts = append(parts, string(r))
		}
	}
	parts = sortedUnique(parts)
	if len(parts) == 0 {
		return ResolutionDependencyFailed
	}
	return Resolution(string(ResolutionDependencyFailed) + "/" + strings.Join(parts, "+"))
}

// State is what the resolution rules know about one package of a minor wave.
type State struct {
	Package string `json:"package"`
	Status  Status `json:"status"` // of the latest build round
	// Resolution is how the package was settled; empty while it is not. A passed package
	// counts as passed without one.
	Resolution Resolution `json:"resolution,omitempty"`
	// BlockedBy are the root causes keeping a dependency-failed package from building.
	BlockedBy []string `json:"blocked_by,omitempty"`
	// Protected: in the build closure of a protected root (see Set).
	Protected bool `json:"protected,omitempty"`
}

// Errors of ValidateResolve, for errors.Is; each comes inside a *ResolveError naming the
// package and the field.
var (
	ErrUnknownPackage  = errors.New("unknown package")
	ErrBadResolution   = errors.New("bad resolution")
	ErrNotFailed       = errors.New("package did not fail")
	ErrAlreadyResolved = errors.New("already resolved")
	ErrReasonRequired  = errors.New("reason required")
	ErrByRequired      = errors.New("who resolves is required")
)

// ResolveError is one problem with a person's ResolveRequest.
type ResolveError struct {
	Package string // as requested
	Field   string // the request field at fault: package, resolution, by or reason
	Value   string // the offending value, quoted, where showing it helps
	Err     error  // one of the Err… values above
	Detail  string // what exactly, in words
}

// Error reads `resolve libhttp: resolution "fixed": bad resolution (a person may set …)`.
func (e *ResolveError) Error() string {
	field := e.Field
	if e.Value != "" {
		field += " " + e.Value
	}
	s := fmt.Sprintf("resolve %s: %s: %v", e.Package, field, e.Err)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// Unwrap returns the Err… value, for errors.Is.
func (e *ResolveError) Unwrap() error { return e.Err }

// ResolveRequest is a person's resolution of a failed package, as the wave's update
// carries it: {"package": "libhttp", "resolution": "wont-fix", "by": "alice",
// "reason": "upstream dropped support"}.
type ResolveRequest struct {
	Package    string     `json:"package"`
	Resolution Resolution `json:"resolution"`
	By         string     `json:"by"`
	Reason     string     `json:"reason"`
}

// ValidateResolve checks a person's request against the minor wave's states: the package
// exists (else close names are suggested), the resolution is one a person may set, the
// package failed (its build or tests, or it is dependency-failed) and is not resolved yet,
// and both who and why are given, since the record and the maintainers need them. All
// problems are reported together, each a *ResolveError. The rule about the package is the
// one Actions applies, so a status never invites a request this refuses.
func ValidateResolve(req ResolveRequest, states []State) error {
	idx, dups := indexStates(states)
	errs := requestProblems(req)
	add := func(field string, err error, detail string) {
		errs = append(errs, &ResolveError{Package: req.Package, Field: field, Err: err, Detail: detail})
	}
	if slices.Contains(dups, req.Package) {
		add("package", ErrUnknownPackage, "the minor wave lists it more than once")
	} else if s, ok := idx[req.Package]; !ok {
		add("package", ErrUnknownPackage, unknownDetail(req.Package, states))
	} else if err, detail := resolveRefusal(s, idx); err != nil {
		add("package", err, detail)
	}
	return errors.Join(errs...)
}

// CheckResolveRequest checks what a request says on its own — the resolution is one a
// person may set, who and why are given — without the minor wave's states: what a workflow
// can check at once, before it looks the package up.
func CheckResolveRequest(req ResolveRequest) error {
	return errors.Join(requestProblems(req)...)
}

func requestProblems(req ResolveRequest) []error {
	var errs []error
	add := func(field, value string, err error, detail string) {
		errs = append(errs, &ResolveError{Package: req.Package, Field: field, Value: value, Err: err, Detail: detail})
	}
	if strings.TrimSpace(req.Package) == "" {
		add("package", "", ErrUnknownPackage, "required")
	}
	if !req.Resolution.Settable() {
		detail := "a person may set wont-fix or cant-fix"
		switch req.Resolution.Base() {
		case ResolutionPassed, ResolutionFixed:
			detail += "; " + string(req.Resolution) + " comes from a green build"
		case ResolutionMarkedBroken, ResolutionDependencyFailed:
			detail += "; " + string(req.Resolution.Base()) + " is the policy's to set"
		}
		add("resolution", strconv.Quote(string(req.Resolution)), ErrBadResolution, detail)
	}
	if strings.TrimSpace(req.By) == "" {
		add("by", "", ErrByRequired, "name the person resolving")
	}
	if strings.TrimSpace(req.Reason) == "" {
		add("reason", "", ErrReasonRequired, "say why, for the record and the maintainers")
	}
	return errs
}

func unknownDetail(pkg string, states []State) string {
	detail := "not in this minor wave"
	if sug := closest(pkg, stateKeys(states), 3); len(sug) > 0 {
		detail += "; did you mean " + strings.Join(sug, ", ") + "?"
	}
	return detail
}

// resolveRefusal says why a person may not resolve s now (an Err… value and details), or
// nil: a package may be resolved as soon as its failure is recorded, whatever the rest of
// its minor wave is doing.
func resolveRefusal(s State, idx map[string]State) (error, string) {
	switch {
	case s.Status == StatusPassed:
		return ErrNotFailed, "it passed"
	case s.Status == StatusPending:
		return ErrNotFailed, "it is not built yet"
	case s.Resolution != "":
		return ErrAlreadyResolved, "as " + string(s.Resolution)
	}
	if st := assess(s, idx); st.settled {
		return ErrAlreadyResolved, "as " + string(st.res) + " through its root causes"
	}
	return nil, ""
}

// retryRefusal says why a package may not be retried now, or nil: a retry rebuilds a
// recorded failure of its own (its build or its tests); a dependency-failed package is
// rebuilt when its root causes are.
func retryRefusal(s State) (error, string) {
	switch s.Status {
	case StatusFailed, StatusTestFailed:
		if s.Resolution.Green() {
			return ErrAlreadyResolved, "as " + string(s.Resolution)
		}
		return nil, ""
	case StatusPassed:
		return ErrNotFailed, "it passed"
	case StatusPending:
		return ErrNotFailed, "it is not built yet"
	case StatusDependencyFailed:
		return ErrNotFailed, "it was not built because " + listNames(sortedUnique(s.BlockedBy)) + " failed: retry those"
	}
	return ErrNotFailed, fmt.Sprintf("unknown status %q", s.Status)
}

// ValidateRetry checks a person's request to build a failed package again (after merging a
// fix): the package is in the minor wave and its own build or tests failed. The rule is
// the one Actions applies.
func ValidateRetry(pkg string, states []State) error {
	idx, dups := indexStates(states)
	fail := func(err error, detail string) error {
		return &ResolveError{Package: pkg, Field: "package", Err: err, Detail: detail}
	}
	switch s, ok := idx[pkg]; {
	case strings.TrimSpace(pkg) == "":
		return fail(ErrUnknownPackage, "required")
	case slices.Contains(dups, pkg):
		return fail(ErrUnknownPackage, "the minor wave lists it more than once")
	case !ok:
		return fail(ErrUnknownPackage, unknownDetail(pkg, states))
	default:
		if err, detail := retryRefusal(s); err != nil {
			return fail(err, detail)
		}
	}
	return nil
}

// The things a person may do about a package of a minor wave.
const (
	ActionPersonResolve = "resolve"
	ActionPersonRetry   = "retry"
)

// Actions lists, by package, what a person may do now (ActionPersonResolve,
// ActionPersonRetry), by the same rules as ValidateResolve and ValidateRetry; packages with
// nothing to do are left out.
func Actions(states []State) map[string][]string {
	idx, dups := indexStates(states)
	out := make(map[string][]string)
	for k, s := range idx {
		if slices.Contains(dups, k) {
			continue
		}
		if err, _ := resolveRefusal(s, idx); err == nil {
			out[k] = append(out[k], ActionPersonResolve)
		}
		if err, _ := retryRefusal(s); err == nil {
			out[k] = append(out[k], ActionPersonRetry)
		}
	}
	return out
}

// NextStep says in words what a person may do, given Actions' list for a package.
func NextStep(actions []string) string {
	resolve := slices.Contains(actions, ActionPersonResolve)
	retry := slices.Contains(actions, ActionPersonRetry)
	switch {
	case resolve && retry:
		return "resolve (wont-fix, cant-fix) or retry with a fix"
	case resolve:
		return "resolve (wont-fix, cant-fix), or fix its root causes"
	case retry:
		return "retry with a fix"
	}
	return ""
}

// Resolve validates a person's request and returns the decision to record:
// Decision{Action: resolve, Resolution: wont-fix, Reason: "alice: upstream dropped support"}.
// Dependents follow through Follow once the decision is applied.
func Resolve(req ResolveRequest, states []State) (Decision, error) {
	if err := ValidateResolve(req, states); err != nil {
		return Decision{}, err
	}
	return Decision{
		Action:     ActionResolve,
		Package:    req.Package,
		Resolution: req.Resolution,
		Reason:     strings.TrimSpace(req.By) + ": " + strings.TrimSpace(req.Reason),
	}, nil
}

// indexStates maps packages to their states and lists the packages given more than once
// (in key order). Those are left out of the map: which of their states counts would depend
// on the input order, so no rule decides on them.
func indexStates(states []State) (map[string]State, []string) {
	idx := make(map[string]State, len(states))
	var dups []string
	for _, s := range states {
		if _, dup := idx[s.Package]; dup {
			dups = append(dups, s.Package)
		}
		idx[s.Package] = s
	}
	dups = sortedUnique(dups)
	for _, k := range dups {
		delete(idx, k)
	}
	return idx, dups
}

func stateKeys(states []State) []string {
	keys := make([]string, len(states))
	for i, s := range states {
		keys[i] = s.Package
	}
	slices.Sort(keys)
	return keys
}

// standing is where one package stands in its minor wave.
type standing struct {
	settled bool
	res     Resolution // when settled
	// For dependency-failed packages: root causes fixed since (rebuild), still open
	// (waiting), settled without a fix (with their resolutions), and without a state.
	green, open, missing []string
	gaveUp               []string
	gaveUpRes            []Resolution
	why                  string // when not settled and not merely waiting on open root causes
}

// assess decides where s stands, looking up its root causes in idx.
func assess(s State, idx map[string]State) standing {
	if s.Resolution != "" {
		switch {
		case !s.Resolution.Valid():
			return standing{why: fmt.Sprintf("unknown resolution %q", s.Resolution)}
		case s.Resolution.Green() && s.Status != StatusPassed:
			return standing{why: fmt.Sprintf("resolved as %s but its status is %s", s.Resolution, s.Status)}
		}
		return standing{settled: true, res: s.Resolution}
	}
	switch s.Status {
	case StatusPassed:
		return standing{settled: true, res: ResolutionPassed}
	case StatusPending:
		return standing{why: "not built yet"}
	case StatusFailed, StatusTestFailed:
		what := "fails to build"
		if s.Status == StatusTestFailed {
			what = "tests fail"
		}
		if s.Protected {
			return standing{why: what + "; protected, so never marked broken: waits for a fix or a person's resolution"}
		}
		return standing{why: what + "; waits for a fix, a person's resolution or the end of its grace period"}
	case StatusDependencyFailed:
	default:
		return standing{why: fmt.Sprintf("unknown status %q", s.Status)}
	}

	roots := sortedUnique(s.BlockedBy)
	if len(roots) == 0 {
		return standing{why: "dependency-failed but names no root cause"}
	}
	var st standing
	for _, r := range roots {
		rs, ok := idx[r]
		switch {
		case !ok:
			st.missing = append(st.missing, r)
		case rs.Resolution.Green() || (rs.Resolution == "" && rs.Status == StatusPassed):
			st.green = append(st.green, r)
		case rs.Resolution.givesUp():
			st.gaveUp = append(st.gaveUp, r)
			st.gaveUpRes = append(st.gaveUpRes, rs.Resolution)
		default:
			st.open = append(st.open, r)
		}
	}
	switch {
	case len(st.missing) > 0:
		st.why = fmt.Sprintf("blocked by %s, which %s no single state in this minor wave", listNames(st.missing), plural(len(st.missing), "has", "have"))
	case len(st.green) > 0:
		st.why = fmt.Sprintf("must be rebuilt: root %s %s %s fixed",
			plural(len(st.green), "cause", "causes"), listNames(st.green), plural(len(st.green), "was", "were"))
	case len(st.open) > 0:
		// Waiting on its root causes, which speak for it.
	case s.Protected:
		st.why = "dependency-failed and protected, so not resolved automatically: " + gaveUpText(st) + "; a person must resolve it"
	default:
		st.settled, st.res = true, DependencyFailedFrom(st.gaveUpRes...)
	}
	return st
}

// gaveUpText reads "blocked by libhttp (marked-broken) and tetrix (wont-fix)".
func gaveUpText(st standing) string {
	parts := make([]string, len(st.gaveUp))
	for i, r := range st.gaveUp {
		parts[i] = fmt.Sprintf("%s (%s)", r, st.gaveUpRes[i])
	}
	if len(parts) > 1 {
		return "blocked by " + listNames(parts[:len(parts)-1]) + " and " + parts[len(parts)-1]
	}
	return "blocked by " + parts[0]
}

// Follow returns what the dependency-failed packages of a minor wave do now that their
// root causes have moved on, in key order:
//
//   - a root cause was fixed (or passed on a retry) → ActionRebuild: reset the package to
//     pending and gate it again, since it may build now or be blocked by others only;
//   - every root cause was settled without a fix (wont-fix, cant-fix, marked-broken) →
//     ActionResolve with the resolution following them, e.g. dependency-failed/wont-fix. A
//     package blocked by two root causes is resolved only when both are. Protected
//     packages are never resolved this way: Settled keeps listing them for a person.
//
// Packages already resolved, still waiting for an open root cause, or whose states are
// inconsistent (a root cause without a state, listed twice) get no decision; Settled names
// them.
func Follow(states []State) []Decision {
	idx, dups := indexStates(states)
	var out []Decision
	for _, k := range sortedUnique(stateKeys(states)) {
		s := idx[k]
		if s.Status != StatusDependencyFailed || s.Resolution != "" || slices.Contains(dups, k) {
			continue
		}
		st := assess(s, idx)
		switch {
		case len(st.missing) == 0 && len(st.green) > 0:
			out = append(out, Decision{
				Action:    ActionRebuild,
				Package:   k,
				BlockedBy: sortedUnique(s.BlockedBy),
				Reason: fmt.Sprintf("root %s %s %s fixed; rebuild to see whether %s builds now",
					plural(len(st.green), "cause", "causes"), listNames(st.green), plural(len(st.green), "was", "were"), k),
			})
		case st.settled:
			out = append(out, Decision{
				Action:     ActionResolve,
				Package:    k,
				Resolution: st.res,
				BlockedBy:  sortedUnique(s.BlockedBy),
				Reason:     gaveUpText(st),
			})
		}
	}
	return out
}

// Settled reports whether a minor wave may tag: every package passed, fixed or resolved
// (dependency-failed packages through their root causes, see Follow). If not, blocking
// says what it waits for, one "package: why" per entry in key order. Dependents waiting
// for an open root cause are counted in that root cause's entry ("blocks N packages")
// rather than listed, so that the list names what people can act on.
func Settled(states []State) (bool, []string) {
	idx, dups := indexStates(states)
	keys := sortedUnique(stateKeys(states))
	stand := make(map[string]standing, len(keys))
	blocks := make(map[string]int)
	for _, k := range keys {
		st := assess(idx[k], idx)
		stand[k] = st
		if !st.settled {
			for _, r := range st.open {
				blocks[r]++
			}
		}
	}
	listed := func(k string) bool {
		st, ok := stand[k]
		return ok && !slices.Contains(dups, k) && !st.settled && st.why != ""
	}
	var blocking []string
	for _, k := range keys {
		st := stand[k]
		switch {
		case slices.Contains(dups, k):
			blocking = append(blocking, k+": listed more than once")
		case st.settled:
		case st.why != "":
			why := st.why
			if n := blocks[k]; n > 0 {
				why += fmt.Sprintf(" (blocks %d %s)", n, plural(n, "package", "packages"))
			}
			blocking = append(blocking, k+": "+why)
		case !allFunc(st.open, listed):
			// Its open root causes are not listed themselves (inconsistent states): say
			// what it waits for here, so that nothing unsettled goes unmentioned.
			blocking = append(blocking, k+": dependency-failed, waits for root causes "+listNames(st.open))
		}
	}
	return len(blocking) == 0, blocking
}

func allFunc(keys []string, f func(string) bool) bool {
	for _, k := range keys {
		if !f(k) {
			return false
		}
	}
	return true
}
