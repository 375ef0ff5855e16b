package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/policy"
)

// review is one policy review (waves since versionPolicyReview): the Review activity files
// and updates issues, decides about every unresolved root cause at the workflow's time and
// applies what it decided, recording one small result. It returns the earliest deadline to
// wake up at (zero: none) and whether it resolved anything.
func (w *minorWave) review(ctx workflow.Context) (time.Time, bool, error) {
	var res wire.ReviewResult
	err := workflow.ExecuteActivity(ctx, wire.ActivityReview, wire.ReviewInput{
		Collection: w.in.Collection, Wave: w.in.Name, Major: w.in.Wave, Minor: w.in.Number,
		WaveID: w.in.WaveID, MinorWaveID: w.st.MinorWaveID, Evaluations: w.st.Evaluations,
		Commit: w.st.Commit, Branch: w.in.Branch, Updates: w.in.Updates, Policy: w.in.Policy,
		Now: workflow.Now(ctx), Events: w.st.Events,
	}).Get(ctx, &res)
	return res.Wake, res.MarkedBroken > 0, err
}

// applyPolicy is the review of waves started before versionPolicyReview, kept so that
// they replay: it files or updates the issue of every root cause (ReviewFailures), then asks
// the breaking-change policy about each unresolved one: protected packages block until a
// person acts; others wait out their grace period and are then marked broken, their
// dependents following. It returns the earliest deadline to wake up at (zero: none) and
// whether it resolved anything.
func (w *minorWave) applyPolicy(ctx workflow.Context) (time.Time, bool, error) {
	var notices []wire.Notice
	if err := workflow.ExecuteActivity(ctx, wire.ActivityReviewFailures, wire.ReviewInput{
		Collection: w.in.Collection, Wave: w.in.Name, Major: w.in.Wave, Minor: w.in.Number,
		WaveID: w.in.WaveID, MinorWaveID: w.st.MinorWaveID, Evaluations: w.st.Evaluations,
		Commit: w.st.Commit, Branch: w.in.Branch, Updates: w.in.Updates, Policy: w.in.Policy,
	}).Get(ctx, &notices); err != nil {
		return time.Time{}, false, err
	}
	now := workflow.Now(ctx)
	var wake time.Time
	resolved := false
	var decisions []policy.Decision
	for _, n := range notices {
		f := n.Failure(w.st.Events)
		// The decision goes into history, so later policy changes cannot break replay.
		var d policy.Decision
		if err := workflow.SideEffect(ctx, func(workflow.Context) any {
			return decide(f, w.in.Policy, now)
		}).Get(&d); err != nil {
			return time.Time{}, false, err
		}
		decisions = append(decisions, d)
		if err := w.recordDecision(ctx, n.System, d); err != nil {
			return time.Time{}, false, err
		}
		switch d.Action {
		case policy.ActionMarkBroken:
			if err := workflow.ExecuteActivity(ctx, wire.ActivityResolve, wire.ResolveInput{
				Wave: w.in.Name, MinorWaveID: w.st.MinorWaveID, System: n.System, Package: n.Package,
				Resolution: string(policy.ResolutionMarkedBroken), Reason: d.Reason, Actor: "policy",
			}).Get(ctx, nil); err != nil {
				return time.Time{}, false, err
			}
			resolved = true
		case policy.ActionWait:
			if !d.Until.IsZero() && (wake.IsZero() || d.Until.Before(wake)) {
				wake = d.Until
			}
		}
	}
	w.st.Decisions = decisions
	return wake, resolved, nil
}

// decide is the pure policy call; a failure to decide waits for people, with the reason.
func decide(f policy.Failure, settingsJSON []byte, now time.Time) policy.Decision {
	settings := policy.Defaults()
	if len(settingsJSON) > 0 {
		s, err := policy.DecodeSettings(settingsJSON)
		if err != nil {
			return policy.Decision{Action: policy.ActionBlock, Package: f.Package, Reason: "policy settings: " + err.Error()}
		}
		settings = s
	}
	d, err := policy.Grace(f, settings, now)
	if err != nil {
		return policy.Decision{Action: policy.ActionBlock, Package: f.Package, Reason: err.Error()}
	}
	return d
}

// recordDecision writes a decision down once: the audit log keys it by package, action and
// deadline, and the workflow skips repeats it already recorded.
func (w *minorWave) recordDecision(ctx workflow.Context, system string, d policy.Decision) error {
	if slices.ContainsFunc(w.st.Decisions, func(prev policy.Decision) bool { return prev.Equal(d) }) {
		return nil
	}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{ScheduleToCloseTimeout: time.Minute})
	err := workflow.ExecuteLocalActivity(lctx, wire.ActivityRecordDecision, wire.DecisionInput{
		Wave: w.in.Name, MinorWaveID: w.st.MinorWaveID, System: system, Package: d.Package,
		Action: string(d.Action), Reason: d.Reason, Until: d.Until,
	}).Get(ctx, nil)
	if err != nil {
		return fmt.Errorf("record decision about %s: %w", d.Package, err)
	}
	return nil
}
