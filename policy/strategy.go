package policy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Strategy is how a security patch reaches users. The values are stable: they are typed on
// the command line and stored in the audit log.
type Strategy string

// The strategies of a security patch (DESIGN.md, "Security patches").
const (
	// StrategyAuto lets ChooseStrategy pick one of the others.
	StrategyAuto Strategy = "auto"
	// StrategyReplaceDependency builds the patched package only and grafts every dependent
	// onto it; the grafts are debt that a later rebuild retires.
	StrategyReplaceDependency Strategy = "replace-dependency"
	// StrategyRebuild rebuilds the patched package and its whole reverse closure.
	StrategyRebuild Strategy = "rebuild"
	// StrategyDuplicateWave forks the running major wave onto the patched base, its minor
	// waves re-verified one by one.
	StrategyDuplicateWave Strategy = "duplicate-wave"
)

// Severity is the advisory's rating of the vulnerability a patch fixes.
type Severity string

// Severities, from least to most urgent.
const (
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// rank orders severities; 0 is unknown.
func (s Severity) rank() int {
	switch s {
	case SeverityLow:
		return 1
	case SeverityMedium:
		return 2
	case SeverityHigh:
		return 3
	case SeverityCritical:
		return 4
	}
	return 0
}

// Defaults of StrategySettings.
const (
	// DefaultSmallClosure is one hour of builder time: a reverse closure that rebuilds
	// within it reaches users about as fast as a graft would after its tests, without
	// leaving graft debt behind.
	DefaultSmallClosure = time.Hour
	// DefaultGraftSeverity is high: below it, users can wait for a rebuild, which is
	// always the safer fix.
	DefaultGraftSeverity = SeverityHigh
	// DefaultMaxGraftLines is 200 changed lines: a patch larger than a typical backported
	// CVE fix is likely to change the package's interface, which a graft cannot survive.
	// A critical fix is grafted whatever its size; the dependents' tests still run.
	DefaultMaxGraftLines = 200
)

// StrategySettings are the thresholds of ChooseStrategy (the policy section's
// "security" part). Nil means "not set": DefaultStrategySettings fills it in. A person
// types them as JSON:
//
//	{"small_closure": "1h", "graft_severity": "high", "max_graft_lines": 200}
type StrategySettings struct {
	// SmallClosure is the rebuild cost (builder time of the reverse closure, from the
	// planner's cost model) at or below which a patch is rebuilt rather than grafted.
	SmallClosure *Duration `json:"small_closure,omitempty"`
	// GraftSeverity is the least severity that is grafted when the closure is large.
	GraftSeverity *Severity `json:"graft_severity,omitempty"`
	// MaxGraftLines is the largest patch (changed lines) grafted below critical severity.
	MaxGraftLines *int `json:"max_graft_lines,omitempty"`
}

// DefaultStrategySettings returns the thresholds used where nothing else is set.
func DefaultStrategySettings() StrategySettings {
	return StrategySettings{
		SmallClosure:  ptr(Duration(DefaultSmallClosure)),
		GraftSeverity: ptr(DefaultGraftSeverity),
		MaxGraftLines: ptr(DefaultMaxGraftLines),
	}
}

// effective returns s with unset fields from DefaultStrategySettings.
func (s StrategySettings) effective() StrategySettings {
	e := DefaultStrategySettings()
	if s.SmallClosure != nil {
		e.SmallClosure = clonePtr(s.SmallClosure)
	}
	if s.GraftSeverity != nil {
		e.GraftSeverity = clonePtr(s.GraftSeverity)
	}
	if s.MaxGraftLines != nil {
		e.MaxGraftLines = clonePtr(s.MaxGraftLines)
	}
	return e
}

// Validate checks the thresholds, each problem a *FieldError.
func (s StrategySettings) Validate() error {
	e := s.effective()
	var errs []error
	if *e.SmallClosure < 0 {
		errs = append(errs, &FieldError{Field: "small_closure", Value: strconv.Quote(e.SmallClosure.String()), Rule: "must not be negative"})
	}
	if e.GraftSeverity.rank() == 0 {
		errs = append(errs, &FieldError{Field: "graft_severity", Value: strconv.Quote(string(*e.GraftSeverity)), Rule: "want low, medium, high or critical"})
	}
	if *e.MaxGraftLines < 0 {
		errs = append(errs, &FieldError{Field: "max_graft_lines", Value: strconv.Itoa(*e.MaxGraftLines), Rule: "must not be negative"})
	}
	return errors.Join(errs...)
}

// Graftability is what the graft check (activities/graft) found about the dependents of
// the patched package. Its zero value is "not graftable", so that a caller that did not
// check can never get a graft.
type Graftability struct {
	// SameNameLength: the patched output's store path name has the length of the old one
	// ("libcrypto-2.5.0" → "libcrypto-2.5.1"), so references can be rewritten in place.
	SameNameLength bool `json:"same_name_length"`
	// EmbeddedBy names dependents that embed the old output's content (a copy of its
	// files, a static link) rather than referring to it; a graft cannot fix them.
	EmbeddedBy []string `json:"embedded_by,omitempty"`
}

// reason says why a graft is unsafe; empty when it is safe.
func (g Graftability) reason() string {
	switch {
	case !g.SameNameLength:
		return "the patched store path name differs in length from the old one, so references cannot be rewritten in place"
	case len(g.EmbeddedBy) > 0:
		verb := "embed"
		if len(g.EmbeddedBy) == 1 {
			verb = "embeds"
		}
		return strings.Join(g.EmbeddedBy, ", ") + " " + verb + " the old output rather than referring to it"
	}
	return ""
}

// StrategyInput is what ChooseStrategy decides from.
type StrategyInput struct {
	Package  string   `json:"package"`
	Severity Severity `json:"severity"`
	// Requested is the person's choice; empty or auto lets the policy choose.
	Requested Strategy `json:"requested,omitempty"`
	// ChangedLines is the size of the patch.
	ChangedLines int `json:"changed_lines"`
	// OldVersion and NewVersion are the package's versions before and after the patch; a
	// different leading number is a major version change.
	OldVersion string `json:"old_version,omitempty"`
	NewVersion string `json:"new_version,omitempty"`
	// RebuildSeconds is the builder time of the package's reverse closure in the covered
	// tags, from the planner's cost model (graph.CostModel).
	RebuildSeconds float64          `json:"rebuild_seconds"`
	Graft          Graftability     `json:"graft"`
	Settings       StrategySettings `json:"settings,omitzero"`
}

// StrategyDecision is ChooseStrategy's answer, in the shape the audit log records.
type StrategyDecision struct {
	Package  string   `json:"package"`
	Strategy Strategy `json:"strategy,omitempty"`
	Reason   string   `json:"reason"`
	// ScheduleRebuild: a graft is debt; a rebuild of the dependents must follow.
	ScheduleRebuild bool `json:"schedule_rebuild,omitempty"`
	// Refused: the requested strategy is unsafe (or the input invalid); Strategy is empty
	// and Offer names the strategy the person may choose instead.
	Refused bool     `json:"refused,omitempty"`
	Offer   Strategy `json:"offer,omitempty"`
}

// String renders the decision on one line, for logs.
func (d StrategyDecision) String() string {
	if d.Refused {
		return d.Package + ": refused: " + d.Reason
	}
	return d.Package + ": " + string(d.Strategy) + ": " + d.Reason
}

// majorChange reports whether the leading numbers of two versions differ; versions
// without one are compared as a whole prefix up to the first dot.
func majorChange(old, new string) bool {
	if old == "" || new == "" {
		return false
	}
	major := func(v string) string {
		v = strings.TrimPrefix(v, "v")
		if i := strings.IndexAny(v, ".-+"); i >= 0 {
			return v[:i]
		}
		return v
	}
	return major(old) != major(new)
}

// ChooseStrategy decides how a security patch of in.Package reaches users, with its reason.
// A person's explicit strategy wins, except a graft that is unsafe: that is refused with
// its reason and rebuild (or duplicate-wave, for a major version change) is offered.
// Otherwise, in order: a major version change duplicates the wave (the interface may have
// changed, dependents must be re-verified wave by wave); a reverse closure that rebuilds
// within SmallClosure is rebuilt; a graftable patch that is critical, or at least
// GraftSeverity and at most MaxGraftLines, is grafted now with a rebuild scheduled; anything
// else is rebuilt. Never replace-dependency when the graft is unsafe.
func ChooseStrategy(in StrategyInput) StrategyDecision {
	d := StrategyDecision{Package: in.Package}
	refuse := func(offer Strategy, reason string) StrategyDecision {
		d.Refused, d.Offer, d.Reason = true, offer, reason
		return d
	}
	if err := in.Settings.Validate(); err != nil {
		return refuse("", "invalid security settings: "+err.Error())
	}
	if in.Severity.rank() == 0 {
		return refuse("", fmt.Sprintf("severity %q: want low, medium, high or critical", in.Severity))
	}
	if in.ChangedLines < 0 || in.RebuildSeconds < 0 {
		return refuse("", "patch size and rebuild cost must not be negative")
	}
	s := in.Settings.effective()
	major := majorChange(in.OldVersion, in.NewVersion)
	fallback := StrategyRebuild
	if major {
		fallback = StrategyDuplicateWave
	}
	unsafe := in.Graft.reason()

	switch in.Requested {
	case "", StrategyAuto:
	case StrategyReplaceDependency:
		if unsafe != "" {
			return refuse(fallback, "graft refused: "+unsafe+"; use "+string(fallback))
		}
		d.Strategy, d.ScheduleRebuild = StrategyReplaceDependency, true
		d.Reason = "requested by a person; the grafts are debt until a rebuild of the dependents"
		return d
	case StrategyRebuild, StrategyDuplicateWave:
		d.Strategy, d.Reason = in.Requested, "requested by a person"
		return d
	default:
		return refuse("", fmt.Sprintf("strategy %q: want auto, replace-dependency, rebuild or duplicate-wave", in.Requested))
	}

	cost := Duration(time.Duration(in.RebuildSeconds * float64(time.Second)))
	switch {
	case major:
		d.Strategy = StrategyDuplicateWave
		d.Reason = fmt.Sprintf("%s → %s changes the major version: dependents must be re-verified wave by wave", in.OldVersion, in.NewVersion)
	case cost <= *s.SmallClosure:
		d.Strategy = StrategyRebuild
		d.Reason = fmt.Sprintf("rebuilding the reverse closure costs %s, within small_closure %s", cost, *s.SmallClosure)
	case unsafe != "":
		d.Strategy = StrategyRebuild
		d.Reason = "not graftable: " + unsafe
	case in.Severity == SeverityCritical:
		d.Strategy, d.ScheduleRebuild = StrategyReplaceDependency, true
		d.Reason = fmt.Sprintf("critical and graftable: graft now, rebuild the reverse closure (%s) later", cost)
	case in.Severity.rank() < s.GraftSeverity.rank():
		d.Strategy = StrategyRebuild
		d.Reason = fmt.Sprintf("severity %s is below graft_severity %s: users can wait for the rebuild (%s)", in.Severity, *s.GraftSeverity, cost)
	case in.ChangedLines > *s.MaxGraftLines:
		d.Strategy = StrategyRebuild
		d.Reason = fmt.Sprintf("the patch changes %d lines, more than max_graft_lines %d: too likely to change the interface for a graft", in.ChangedLines, *s.MaxGraftLines)
	default:
		d.Strategy, d.ScheduleRebuild = StrategyReplaceDependency, true
		d.Reason = fmt.Sprintf("severity %s, %d changed lines and graftable: graft now, rebuild the reverse closure (%s) later", in.Severity, in.ChangedLines, cost)
	}
	return d
}

// StrongerStrategy combines the decisions for one covered tag on two of a collection's
// systems (b's on system): a security tag is made one way on every system, the way the
// system that needs the most needs. A refusal on either refuses; otherwise duplicate-wave
// over rebuild over replace-dependency. The reason of b, when it wins, says its system.
func StrongerStrategy(a, b StrategyDecision, system string) StrategyDecision {
	rank := map[Strategy]int{StrategyReplaceDependency: 1, StrategyRebuild: 2, StrategyDuplicateWave: 3}
	if a.Refused || (!b.Refused && rank[b.Strategy] <= rank[a.Strategy]) {
		return a
	}
	b.Reason = "on " + system + ": " + b.Reason
	return b
}
