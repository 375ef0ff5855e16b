package policy

import (
	"slices"
	"time"
)

// Review applies Grace to every waiting root cause of a minor wave at once, at now: one
// batch of decisions per review (in the order of failures), so that a wave with thousands
// of failures records one decision batch rather than one per root cause. A failure Grace
// cannot judge (a status that is not a failure, a broken protection chain) is blocked with
// the error as its reason: it waits for a person, who is told why. Wake is the earliest
// deadline among the failures still waiting (zero: none).
func Review(failures []Failure, s Settings, now time.Time) (decisions []Decision, wake time.Time) {
	decisions = make([]Decision, 0, len(failures))
	for _, f := range failures {
		d, err := Grace(f, s, now)
		if err != nil {
			d = Decision{Action: ActionBlock, Package: f.Package, Reason: err.Error()}
		}
		if d.Action == ActionWait && !d.Until.IsZero() && (wake.IsZero() || d.Until.Before(wake)) {
			wake = d.Until
		}
		decisions = append(decisions, d)
	}
	return decisions, wake
}

// RetryTakes lists the packages a retry of the retried packages builds again with them: the
// dependency-failed packages any of them blocks (they may build once their root cause is
// fixed), in key order. The retried packages themselves are the caller's.
func RetryTakes(states []State, retried []string) []string {
	var out []string
	for _, s := range states {
		if s.Status != StatusDependencyFailed || slices.Contains(retried, s.Package) {
			continue
		}
		if slices.ContainsFunc(s.BlockedBy, func(r string) bool { return slices.Contains(retried, r) }) {
			out = append(out, s.Package)
		}
	}
	return sortedUnique(out)
}
