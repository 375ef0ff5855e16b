package policy

import (
	"slices"
	"time"
)

// Action is what a Decision tells the workflow to do. The values are stable: they are
// stored in the audit log.
type Action string

// The actions the rules decide.
const (
	// ActionBuild: every dependency of the package built; build it now.
	ActionBuild Action = "build"
	// ActionWait: nothing to do yet. From Gate: dependencies are still building. From
	// Grace: the grace period runs until Until, or (Until zero) has not started because the
	// maintainers were not notified yet.
	ActionWait Action = "wait"
	// ActionDependencyFailed: do not build the package; a dependency did not build.
	// BlockedBy names the root causes.
	ActionDependencyFailed Action = "dependency-failed"
	// ActionMarkBroken: the grace period ended without a fix; mark the package broken
	// (Resolution marked-broken) so the minor wave goes on without it.
	ActionMarkBroken Action = "mark-broken"
	// ActionBlock: the package is protected and failed; it is never marked broken, so the
	// minor wave waits for a fix or a person's resolution.
	ActionBlock Action = "block"
	// ActionResolve: settle the package with Resolution, by a person's request or because
	// every root cause blocking it was settled.
	ActionResolve Action = "resolve"
	// ActionRebuild: a root cause blocking the package was fixed; reset the package to
	// pending and gate it again.
	ActionRebuild Action = "rebuild"
)

// Decision is one outcome of a rule, in the shape the audit log records. Every decision
// carries a Reason a person can read without looking anything up.
type Decision struct {
	Action  Action `json:"action"`
	Package string `json:"package"`
	Reason  string `json:"reason"`
	// Until is the deadline while waiting for a grace period to end; zero otherwise
	// (including while waiting for a notification, which has no deadline).
	Until time.Time `json:"until,omitzero"`
	// Resolution is set by ActionResolve and ActionMarkBroken.
	Resolution Resolution `json:"resolution,omitempty"`
	// BlockedBy names the root causes, in key order, behind ActionDependencyFailed,
	// ActionRebuild and a dependent's ActionResolve.
	BlockedBy []string `json:"blocked_by,omitempty"`
}

// String renders the decision on one line, for logs: "libhttp: mark-broken: grace period …".
func (d Decision) String() string {
	return d.Package + ": " + string(d.Action) + ": " + d.Reason
}

// Equal reports whether two decisions are the same, comparing Until as an instant so that
// a location or monotonic reading does not make equal deadlines differ.
func (d Decision) Equal(o Decision) bool {
	return d.Action == o.Action && d.Package == o.Package && d.Reason == o.Reason &&
		d.Until.Equal(o.Until) && d.Resolution == o.Resolution && slices.Equal(d.BlockedBy, o.BlockedBy)
}
