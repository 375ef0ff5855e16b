package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/policy"
)

// ErrPatchFailed is the error type of a security patch that ended without tagging every
// covered tag; its message says why and what to do.
const ErrPatchFailed = "PatchFailed"

// Phases of a security patch (PatchStatus.Phase).
const (
	PatchPhaseValidating = "validating"
	PatchPhaseMerging    = "merging"
	PatchPhaseEvaluating = "evaluating"
	PatchPhaseBuilding   = "building"
	PatchPhaseGrafting   = "grafting"
	// PatchPhaseTesting: the collection's system tests run against the grafts.
	PatchPhaseTesting    = "testing"
	PatchPhaseRebuilding = "rebuilding"
	// PatchPhaseWaiting: a rebuild's failures wait to be settled (Resolve, Retry, policy).
	PatchPhaseWaiting = "waiting"
	// PatchPhaseReverifying: a duplicate wave re-verifies the fix; the covered tag is
	// unfinished until it finishes.
	PatchPhaseReverifying = "re-verifying"
	PatchPhaseDone        = "done"
	PatchPhaseFailed      = "failed"
	PatchPhaseCancelled   = "cancelled"
)

// SecurityPatchInput is a security patch, as typed in the Web UI's Start Workflow form
// (workflow type SecurityPatch) or given by `crest patch start`.
type SecurityPatchInput struct {
	Collection string `json:"collection"`
	// Package is the patched package (a key, attribute or name).
	Package string `json:"package"`
	// Ref is the branch, tag or commit of the collection's repository with the fix.
	Ref string `json:"ref"`
	// Strategy is auto (default: policy.ChooseStrategy decides), replace-dependency,
	// rebuild or duplicate-wave.
	Strategy string `json:"strategy,omitempty"`
	// Severity is low, medium, high or critical (default high).
	Severity string `json:"severity,omitempty"`
	Advisory string `json:"advisory,omitempty"`
	// Tags narrows what the patch covers to the finished tags and running major waves
	// (wave-N) it names; default: every finished tag with the package, and every running
	// wave whose base has it.
	Tags   []string `json:"tags,omitempty"`
	By     string   `json:"by,omitempty"`
	Limits Limits   `json:"limits,omitempty"`
}

func (in SecurityPatchInput) withDefaults() SecurityPatchInput {
	if in.Strategy == "" {
		in.Strategy = string(policy.StrategyAuto)
	}
	if in.Severity == "" {
		in.Severity = string(policy.SeverityHigh)
	}
	return in
}

// PatchTagStatus is one covered tag of a patch.
type PatchTagStatus struct {
	Covers string `json:"covers"`
	Tag    string `json:"tag,omitempty"` // <covers>-security-K, once allocated
	Commit string `json:"commit,omitempty"`
	Grafts int    `json:"grafts"`
	Done   bool   `json:"done"`
	Reason string `json:"reason,omitempty"` // why it failed
	// Strategy is how it is patched, once decided.
	Strategy string `json:"strategy,omitempty"`
	// Rebuild is a rebuild's build round: how many packages it builds; Rebuilt how many it
	// built (tagged), Retired the grafts of the covered tag it retired.
	Rebuild int `json:"rebuild,omitempty"`
	Rebuilt int `json:"rebuilt,omitempty"`
	Retired int `json:"retired,omitempty"`
	// Failures are a rebuild's root causes, unresolved first (at most
	// wire.MaxFailuresListed), with how each is settled or what it waits for and its
	// issue; Round is the rebuild's latest build round (0, then one per retry).
	Failures []wire.Failure `json:"failures,omitempty"`
	Round    int            `json:"round,omitempty"`
	// Wave is a duplicate wave's name (wave-N): it re-verifies the fix; Unfinished the tag
	// of the fix people may pin meanwhile (merged, not yet built or tested).
	Wave       string `json:"wave,omitempty"`
	Unfinished string `json:"unfinished,omitempty"`
	// SystemTests are the collection's system tests (PACKAGE.TEST) that passed on the
	// grafts before they were tagged.
	SystemTests []string `json:"system_tests,omitempty"`
	// Running: Covers is a running major wave (wave-N), not a tag; the fix is merged into
	// its branch (Commit, the branch's head with it; Done once merged) so its next minor
	// wave rebuilds the dependents, or Reason says why not (since versionPatchRunningWaves).
	Running bool `json:"running,omitempty"`
}

// PatchStatus is where a patch stands (query Status).
type PatchStatus struct {
	PatchID  int64            `json:"patch_id"`
	Package  string           `json:"package"`
	Phase    string           `json:"phase"`
	Strategy string           `json:"strategy"`
	Reason   string           `json:"reason,omitempty"`
	Tags     []PatchTagStatus `json:"tags"`
}

// SecurityPatchResult is a finished patch: its security tags.
type SecurityPatchResult = PatchStatus

type securityPatch struct {
	in SecurityPatchInput
	// priority is its builds' on the builders (0: the default, before
	// versionPatchPriority).
	priority  int
	st        PatchStatus
	validated bool
	refused   error
	cancelled bool
	// stopped: Cancel stopped a rebuild, which tagged nothing.
	stopped bool
	// settling is the rebuild whose failures people settle with Resolve and Retry
	// (versionPatchSettle); nil while there is none. resolves and retries are the requests
	// it took and has not applied yet; events the retries, which may extend a grace period.
	settling *patchRound
	resolves []ResolveRequest
	retries  []RetryRequest
	events   []wire.PackageEvent
	// forking is the running wave the covered tag being patched belongs to, when a
	// duplicate-wave patch forks it (since versionPatchForkWave).
	forking *forking
	// reverified holds each fork's tagged minor waves (wave-M → number → tag).
	reverified map[string]map[int]string
	// named are the running waves Tags names (ValidatePatch), the only ones the fix is
	// merged into when Tags is given (since versionPatchTagsRunning).
	named []wire.RunningWave
}

// SecurityPatch brings a security fix of a package locked in by finished waves to every
// tag that contains it (DESIGN.md, "Security patches"). It validates the input first
// (ValidatePatch: nothing is allocated for a refused patch; `crest patch start` hears the
// refusal through the Validated update), then, per covered tag: merges the fix onto the
// tag's commit, evaluates, builds and tests the patched package alone (BuildPackage on
// the builders, as every build), checks the grafts of its dependents (CheckGrafts), lets
// policy.ChooseStrategy decide (recorded in history), and with replace-dependency writes
// the grafts into the collection and tags <tag>-security-K (TagGrafts); since
// versionPatchSystemTests the grafts are committed first and the collection's system tests
// of grafted packages must pass on them (systemTests), else the graft is refused. With rebuild
// (since versionPatchRebuild) the build engine rebuilds the package and its reverse
// closure in the tag instead, and a green rebuild is tagged the same way (TagRebuild).
// With duplicate-wave (since versionPatchDuplicateWave) the fix is tagged unfinished at
// once and a major wave started from the tag with the fix as its update re-verifies it;
// its last tag becomes the security tag (TagDuplicateWave). An unsafe graft, a failed
// build or a duplicate wave that does not finish ends the patch failed with the reason,
// nothing (more) tagged. A rebuild's failures (since versionPatchSettle) are settled as a
// minor wave's instead: one issue per root cause, the Resolve and Retry updates (the
// minor wave's request types and checks, with policy.ValidatePatchResolve's rule for
// protected packages), policy's grace; the rebuild tags once they are settled. Since
// versionPatchForkWave a duplicate-wave patch of finished tags of a running major wave
// forks that wave instead (fork): unfinished tags at once, the running wave superseded,
// and a fork that re-verifies its finished minor waves one by one and carries on. Since
// versionPatchRunningWaves the fix finally reaches every other running major wave whose
// base contains the package (mergeIntoRunningWaves), whose next minor wave rebuilds the
// dependents against it and so retires the graft debt.
func SecurityPatch(ctx workflow.Context, in SecurityPatchInput) (SecurityPatchResult, error) {
	p := &securityPatch{in: in.withDefaults()}
	p.st = PatchStatus{Package: p.in.Package, Phase: PatchPhaseValidating, Strategy: p.in.Strategy}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (PatchStatus, error) { return p.st, nil }); err != nil {
		return p.st, err
	}
	if err := workflow.SetUpdateHandler(ctx, UpdateValidated, func(ctx workflow.Context) (string, error) {
		if err := workflow.Await(ctx, func() bool { return p.validated }); err != nil {
			return "", err
		}
		if p.refused != nil {
			return "", refusal(p.refused)
		}
		return fmt.Sprintf("patch of %s from %s accepted", p.in.Package, p.in.Ref), nil
	}); err != nil {
		return p.st, err
	}
	if err := p.takeRequests(ctx); err != nil {
		return p.st, err
	}
	cancels := workflow.GetSignalChannel(ctx, SignalCancel)
	workflow.Go(ctx, func(ctx workflow.Context) {
		cancels.Receive(ctx, nil)
		p.cancelled = true
	})
	return p.run(ctx)
}

func (p *securityPatch) run(ctx workflow.Context) (SecurityPatchResult, error) {
	bctx := bookkeeping(ctx)
	var valid wire.ValidatePatchResult
	err := workflow.ExecuteActivity(bctx, wire.ActivityValidatePatch, wire.ValidatePatchInput{Collection: p.in.Collection,
		Package: p.in.Package, Ref: p.in.Ref, Strategy: p.in.Strategy, Severity: p.in.Severity, Tags: p.in.Tags}).Get(ctx, &valid)
	p.validated, p.refused = true, err
	if err != nil {
		_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		p.st.Phase, p.st.Reason = PatchPhaseFailed, errorText(err)
		return p.st, refusal(err)
	}
	p.in.Package, p.st.Package, p.named = valid.Package, valid.Package, valid.Running
	if workflow.GetVersion(ctx, versionPatchPriority, workflow.DefaultVersion, 1) == 1 {
		p.priority = policy.BuildPrioritySecurity
	}
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	if err := workflow.ExecuteActivity(bctx, wire.ActivityStartPatch, wire.StartPatchInput{WorkflowID: id, Collection: p.in.Collection,
		Package: p.in.Package, Ref: p.in.Ref, Strategy: p.in.Strategy, Severity: p.in.Severity, Advisory: p.in.Advisory,
		By: p.in.By}).Get(ctx, &p.st.PatchID); err != nil {
		return p.st, err
	}
	covered := bySystem(valid.Tags)
	for _, c := range covered {
		p.st.Tags = append(p.st.Tags, PatchTagStatus{Covers: c.Tag})
	}
	forkable, err := p.forkable(ctx, valid.Tags)
	if err != nil {
		return p.st, err
	}
	forks := map[int64]*forking{} // by wave ID; looked up, never ranged
	var forkOrder []*forking
	for i, c := range covered {
		t := c.CoveredTag
		if p.cancelled {
			return p.finish(ctx, PatchPhaseCancelled, "cancelled", "")
		}
		p.forking = nil
		if wv, ok := forkable[t.WaveID]; ok {
			if forks[t.WaveID] == nil {
				forks[t.WaveID] = &forking{wave: wv}
				forkOrder = append(forkOrder, forks[t.WaveID])
			}
			p.forking = forks[t.WaveID]
		}
		reason, err := p.patchTag(ctx, c, &p.st.Tags[i])
		if err != nil {
			return p.st, err
		}
		if reason != "" {
			p.st.Tags[i].Reason = reason
			if p.stopped {
				return p.finish(ctx, PatchPhaseCancelled, t.Tag+": "+reason, t.Tag)
			}
			return p.finish(ctx, PatchPhaseFailed, t.Tag+": "+reason, t.Tag)
		}
	}
	p.forking = nil
	for _, f := range forkOrder {
		reason, err := p.fork(ctx, f)
		if err != nil {
			return p.st, err
		}
		if reason != "" {
			if p.stopped {
				return p.finish(ctx, PatchPhaseCancelled, f.wave.Name+": "+reason, "")
			}
			return p.finish(ctx, PatchPhaseFailed, f.wave.Name+": "+reason, "")
		}
	}
	var tags []string
	for _, t := range p.st.Tags {
		tags = append(tags, t.Tag)
	}
	if workflow.GetVersion(ctx, versionPatchRunningWaves, workflow.DefaultVersion, 1) == 1 {
		refused, err := p.mergeIntoRunningWaves(ctx, forkOrder)
		if err != nil {
			return p.st, err
		}
		var merged, done []string
		for _, t := range p.st.Tags {
			if t.Running && t.Done {
				merged = append(merged, t.Covers)
			}
		}
		if len(tags) > 0 { // none when --tags named running waves only
			done = append(done, "tagged "+strings.Join(tags, ", "))
		}
		if forked := forkSummary(forkOrder); forked != "" {
			done = append(done, forked)
		}
		if len(merged) > 0 {
			done = append(done, "merged into running "+strings.Join(merged, ", "))
		}
		if refused != "" {
			return p.finish(ctx, PatchPhaseFailed, strings.Join(append(done, "not merged: "+refused), "; "), "")
		}
		return p.finish(ctx, PatchPhaseDone, strings.Join(done, "; "), "")
	}
	return p.finish(ctx, PatchPhaseDone, "tagged "+strings.Join(tags, ", "), "")
}

// patchTag makes the security tag of one covered tag. A reason that is not empty is why the
// patch cannot go on (a failed build, an unsafe graft, a strategy not built yet); an error
// is the workflow's own trouble.
func (p *securityPatch) patchTag(ctx workflow.Context, c coveredTag, st *PatchTagStatus) (string, error) {
	t := c.CoveredTag
	bctx := bookkeeping(ctx)
	p.st.Phase = PatchPhaseMerging
	var prepared wire.PreparedPatchTag
	if err := workflow.ExecuteActivity(bctx, wire.ActivityPreparePatchTag, wire.PreparePatchTagInput{PatchID: p.st.PatchID,
		Collection: p.in.Collection, Package: p.in.Package, Ref: p.in.Ref, Tag: t}).Get(ctx, &prepared); err != nil {
		if app, ok := nonRetryable(err); ok {
			return app.Message(), nil
		}
		return "", err
	}
	st.Tag = prepared.Name
	p.st.Phase = PatchPhaseEvaluating
	var ev wire.EvaluateResult
	if err := workflow.ExecuteActivity(bctx, wire.ActivityEvaluate, wire.EvaluateInput{Collection: p.in.Collection,
		Commit: prepared.Commit, System: t.System}).Get(ctx, &ev); err != nil {
		if app, ok := nonRetryable(err); ok {
			return app.Message(), nil
		}
		return "", err
	}

	// The merged commit on the collection's other systems (none for a collection of one).
	var others []wire.SystemPatch
	for _, o := range c.others {
		var oev wire.EvaluateResult
		if err := workflow.ExecuteActivity(bctx, wire.ActivityEvaluate, wire.EvaluateInput{Collection: p.in.Collection,
			Commit: prepared.Commit, System: o.System}).Get(ctx, &oev); err != nil {
			if app, ok := nonRetryable(err); ok {
				return o.System + ": " + app.Message(), nil
			}
			return "", err
		}
		others = append(others, wire.SystemPatch{System: o.System, Tag: o.EvaluationID, Patched: oev.EvaluationID})
	}

	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	gin := wire.GraftsInput{PatchID: p.st.PatchID, WorkflowID: id, Collection: p.in.Collection, Package: p.in.Package,
		Ref: p.in.Ref, Severity: p.in.Severity, Advisory: p.in.Advisory, Tag: t, Prepared: prepared,
		PatchedEvaluation: ev.EvaluationID, Systems: others}
	decide := func(facts wire.GraftFacts) (policy.StrategyDecision, error) {
		// The decision goes into history, so later policy changes cannot break replay.
		var d policy.StrategyDecision
		err := workflow.SideEffect(ctx, func(workflow.Context) any {
			return policy.ChooseStrategy(policy.StrategyInput{Package: p.in.Package, Severity: policy.Severity(p.in.Severity),
				Requested: policy.Strategy(p.in.Strategy), ChangedLines: prepared.ChangedLines, OldVersion: facts.OldVersion,
				NewVersion: facts.NewVersion, RebuildSeconds: facts.RebuildSeconds, Graft: facts.Graft})
		}).Get(&d)
		return d, err
	}
	rebuilds := workflow.GetVersion(ctx, versionPatchRebuild, workflow.DefaultVersion, 1) == 1
	duplicates := workflow.GetVersion(ctx, versionPatchDuplicateWave, workflow.DefaultVersion, 1) == 1
	switch {
	case rebuilds && p.in.Strategy == string(policy.StrategyRebuild),
		duplicates && p.in.Strategy == string(policy.StrategyDuplicateWave):
		// Asked for: nothing is built alone first, nor are grafts checked.
		d, err := decide(wire.GraftFacts{})
		if err != nil || d.Refused {
			return d.Reason, err
		}
		if d.Strategy == policy.StrategyRebuild {
			return p.rebuild(ctx, st, gin, d, nil)
		}
		if p.forking != nil {
			return p.unfinishedInFork(ctx, st, gin, d)
		}
		return p.duplicateWave(ctx, st, gin, d)
	}

	if reason, err := p.buildAlone(ctx, &gin); reason != "" || err != nil {
		return reason, err
	}
	p.st.Phase = PatchPhaseGrafting
	d, facts, reason, err := p.checkGrafts(ctx, gin, decide)
	if reason != "" || err != nil {
		return reason, err
	}
	switch {
	case d.Refused:
		reason := d.Reason
		if facts.Unsafe != "" {
			reason += " (" + facts.Unsafe + ")"
		}
		return reason, nil
	case d.Strategy == policy.StrategyRebuild && rebuilds:
		return p.rebuild(ctx, st, gin, d, []string{p.in.Package})
	case d.Strategy == policy.StrategyDuplicateWave && duplicates:
		if p.forking != nil { // only since versionPatchForkAuto for an auto patch
			return p.unfinishedInFork(ctx, st, gin, d)
		}
		return p.duplicateWave(ctx, st, gin, d)
	case d.Strategy != policy.StrategyReplaceDependency:
		return fmt.Sprintf("policy chose %s: %s; %s is not built yet: start the patch again with --strategy replace-dependency to graft",
			d.Strategy, d.Reason, d.Strategy), nil
	}
	p.st.Strategy = string(d.Strategy)
	gin.Strategy, gin.Reason = string(d.Strategy), d.Reason
	if workflow.GetVersion(ctx, versionPatchSystemTests, workflow.DefaultVersion, 1) == 1 {
		if reason, err := p.systemTests(ctx, t, st, &gin); reason != "" || err != nil {
			return reason, err
		}
	}
	var tagged wire.SecurityTagResult
	if err := workflow.ExecuteActivity(bctx, wire.ActivityTagGrafts, gin).Get(ctx, &tagged); err != nil {
		if app, ok := nonRetryable(err); ok {
			return app.Message(), nil
		}
		return "", err
	}
	st.Tag, st.Commit, st.Grafts, st.Done = tagged.Tag, tagged.Commit, tagged.Grafts, true
	return "", nil
}

// buildAlone builds and tests the patched package alone on the builders, like every
// build, on each system the covered tag has (its own first), and puts the outputs into
// gin. A reason that is not empty is the build that failed.
func (p *securityPatch) buildAlone(ctx workflow.Context, gin *wire.GraftsInput) (string, error) {
	p.st.Phase = PatchPhaseBuilding
	limits := p.in.Limits.withDefaults()
	for i, sin := range gin.PerSystem() {
		var built wire.BuildResult
		err := workflow.ExecuteActivity(p.building(ctx, limits, sin.Tag.System), wire.ActivityBuildPackage, wire.BuildInput{
			Key:          fmt.Sprintf("%s/%s/%s/%s", gin.WorkflowID, gin.Tag.Tag, sin.Tag.System, p.in.Package),
			EvaluationID: sin.PatchedEvaluation, System: sin.Tag.System, Package: p.in.Package, Collection: p.in.Collection,
		}).Get(ctx, &built)
		var app *temporal.ApplicationError
		if errors.As(err, &app) && (app.Type() == wire.ErrBuildFailed || app.Type() == wire.ErrTestFailed) {
			on := ""
			if i > 0 {
				on = " on " + sin.Tag.System
			}
			return fmt.Sprintf("%s with %s%s: %s; fix the patch and start it again", p.in.Package, p.in.Ref, on, app.Message()), nil
		}
		if err != nil {
			return "", err
		}
		if i == 0 {
			gin.PatchedOutputs = built.Outputs
		} else {
			gin.Systems[i-1].PatchedOutputs = built.Outputs
		}
	}
	return "", nil
}

// checkGrafts asks CheckGrafts about the covered tag on each system (its own first) and
// decides with policy: every system gets one strategy, the strongest any of them needs
// (policy.StrongerStrategy). It returns the decision and the facts of the first system,
// with the first unsafe graft found on any; a reason that is not empty is a refusal of
// CheckGrafts itself.
func (p *securityPatch) checkGrafts(ctx workflow.Context, gin wire.GraftsInput,
	decide func(wire.GraftFacts) (policy.StrategyDecision, error)) (policy.StrategyDecision, wire.GraftFacts, string, error) {
	var d policy.StrategyDecision
	var facts wire.GraftFacts
	for i, sin := range gin.PerSystem() {
		in, on := sin, ""
		if i == 0 {
			in = gin // as it always was: with the other systems
		} else {
			on = sin.Tag.System + ": "
		}
		var f wire.GraftFacts
		if err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityCheckGrafts, in).Get(ctx, &f); err != nil {
			if app, ok := nonRetryable(err); ok {
				return d, facts, on + app.Message(), nil
			}
			return d, facts, "", err
		}
		ds, err := decide(f)
		if err != nil {
			return d, facts, "", err
		}
		if i == 0 {
			d, facts = ds, f
			continue
		}
		if f.Unsafe != "" && facts.Unsafe == "" {
			facts.Unsafe = on + f.Unsafe
		}
		d = policy.StrongerStrategy(d, ds, sin.Tag.System)
	}
	return d, facts, "", nil
}

// systemTests proves the grafts of a covered tag before they are tagged: CommitGrafts
// commits them onto the security tag's branch, the collection is evaluated there (its
// package set applies the grafts, so the tests of a grafted package are derivations of its
// graft), and RunSystemTests runs on the builders the collection's system tests of grafted
// packages (the demo's default-system.boot). A failing one refuses the graft with the
// test's name and log tail, and offers rebuild: the fix changes something the dependents
// rely on, which rewriting references cannot carry. The tests that passed go into the
// tag's summary (gin.SystemTests).
func (p *securityPatch) systemTests(ctx workflow.Context, t wire.CoveredTag, st *PatchTagStatus, gin *wire.GraftsInput) (string, error) {
	bctx := bookkeeping(ctx)
	var grafted wire.GraftedCommit
	if err := workflow.ExecuteActivity(bctx, wire.ActivityCommitGrafts, *gin).Get(ctx, &grafted); err != nil {
		if app, ok := nonRetryable(err); ok {
			return app.Message(), nil
		}
		return "", err
	}
	st.Commit = grafted.Commit
	if len(grafted.SystemTests) == 0 {
		return "", nil
	}
	p.st.Phase = PatchPhaseTesting
	systems := []string{t.System}
	for _, o := range gin.Systems {
		systems = append(systems, o.System)
	}
	var passed []string
	for _, system := range systems {
		var ev wire.EvaluateResult
		if err := workflow.ExecuteActivity(bctx, wire.ActivityEvaluate, wire.EvaluateInput{Collection: p.in.Collection,
			Commit: grafted.Commit, System: system}).Get(ctx, &ev); err != nil {
			if app, ok := nonRetryable(err); ok {
				return app.Message(), nil
			}
			return "", err
		}
		var res wire.SystemTestsResult
		if err := workflow.ExecuteActivity(p.building(ctx, p.in.Limits.withDefaults(), system), wire.ActivityRunSystemTests,
			wire.SystemTestsInput{Collection: p.in.Collection, EvaluationID: ev.EvaluationID, System: system,
				Tests: grafted.SystemTests}).Get(ctx, &res); err != nil {
			if app, ok := nonRetryable(err); ok {
				return app.Message(), nil
			}
			return "", err
		}
		if len(res.Failures) > 0 {
			var failed []string
			for _, f := range res.Failures {
				failed = append(failed, f.Test)
			}
			on := ""
			if len(systems) > 1 {
				on = " on " + system
			}
			return fmt.Sprintf("graft refused: system test %s fails%s on the grafts of %s %s, so the fix changes what its dependents rely on: %s; use --strategy rebuild",
				strings.Join(failed, ", "), on, p.in.Package, p.in.Ref, tail(res.Failures[0].LogTail, 3)), nil
		}
		for _, name := range res.Passed {
			if len(systems) > 1 {
				name += " (" + system + ")"
			}
			passed = append(passed, name)
		}
	}
	st.SystemTests, gin.SystemTests = passed, passed
	return "", nil
}

// tail keeps the last n non-empty lines of a log, on one line: what a reason quotes.
func tail(log string, n int) string {
	var lines []string
	for _, l := range strings.Split(log, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines[max(0, len(lines)-n):], " / ")
}

// rebuild makes the security tag of a covered tag with the rebuild strategy: the build
// engine builds what the fix changed in the tag, less built (PreparePatchRebuild lays it
// out in a build round of its own, as the merge queue's builds are; a BuildSet child
// builds it), and TagRebuild tags the merged commit once every package is green, retiring
// the covered tag's graft debt. Since versionPatchSettle a rebuild that is not green
// waits for its failures to be settled as a minor wave's are (settle): one issue per root
// cause, Resolve and Retry with a fix from people, policy's grace; before, a package that
// failed was the reason the patch stopped, with the root causes, and nothing was tagged.
// Cancel stops the BuildSet (builds in flight finish) or the wait, and nothing is tagged.
func (p *securityPatch) rebuild(ctx workflow.Context, st *PatchTagStatus, gin wire.GraftsInput, d policy.StrategyDecision, built []string) (string, error) {
	bctx := bookkeeping(ctx)
	p.st.Strategy, st.Strategy = string(d.Strategy), string(d.Strategy)
	gin.Strategy, gin.Reason = string(d.Strategy), d.Reason
	p.st.Phase = PatchPhaseRebuilding
	in := wire.PatchRebuildInput{GraftsInput: gin, Key: gin.WorkflowID + "/" + gin.Tag.Tag + "/rebuild", Built: built}
	var layout wire.PatchRebuildLayout
	if err := workflow.ExecuteActivity(bctx, wire.ActivityPreparePatchRebuild, in).Get(ctx, &layout); err != nil {
		if app, ok := nonRetryable(err); ok {
			return app.Message(), nil
		}
		return "", err
	}
	in.MinorWaveID, st.Rebuild = layout.MinorWaveID, layout.Packages+len(built)
	settles := workflow.GetVersion(ctx, versionPatchSettle, workflow.DefaultVersion, 1) == 1
	if settles {
		// People may settle a failure as soon as it is recorded.
		p.settling = &patchRound{WaveID: layout.WaveID, MinorWaveID: layout.MinorWaveID, Name: gin.Prepared.Name}
	}
	if layout.Packages > 0 {
		err := p.buildSet(ctx, wire.RoundInput{WaveID: layout.WaveID, MinorWaveID: layout.MinorWaveID, System: gin.Tag.System,
			EvaluationID: gin.PatchedEvaluation, Dispatch: true}, in.Key, in.Key)
		// The collection's other systems, each a BuildSet of the same build round.
		for _, sin := range gin.PerSystem()[1:] {
			if err != nil || p.cancelled || !slices.Contains(layout.Systems, sin.Tag.System) {
				continue
			}
			err = p.buildSet(ctx, wire.RoundInput{WaveID: layout.WaveID, MinorWaveID: layout.MinorWaveID, System: sin.Tag.System,
				EvaluationID: sin.PatchedEvaluation, Dispatch: true}, in.Key+"/"+sin.Tag.System, in.Key)
		}
		if err != nil {
			p.settling = nil
			return fmt.Sprintf("the rebuild stopped: %s; nothing tagged: start the patch again", errorText(err)), nil
		}
	}
	if settles && !p.cancelled {
		reason, err := p.settle(ctx, st, &in, layout)
		p.settling = nil
		if reason != "" || err != nil {
			return reason, err
		}
	}
	if p.cancelled {
		p.stopped = true
		return "cancelled while rebuilding; nothing tagged", nil
	}
	var tagged wire.SecurityTagResult
	if err := workflow.ExecuteActivity(bctx, wire.ActivityTagRebuild, in).Get(ctx, &tagged); err != nil {
		if app, ok := nonRetryable(err); ok {
			return app.Message(), nil
		}
		return "", err
	}
	st.Tag, st.Commit, st.Rebuilt, st.Retired, st.Done = tagged.Tag, tagged.Commit, tagged.Rebuilt, tagged.Retired, true
	return "", nil
}

// buildSet builds one round of a rebuild with a BuildSet child named id, whose builds'
// keys start with keyPrefix, and passes Cancel on to it.
func (p *securityPatch) buildSet(ctx workflow.Context, round wire.RoundInput, id, keyPrefix string) error {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: id, ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_TERMINATE,
	})
	set := workflow.ExecuteChildWorkflow(cctx, BuildSet, BuildSetInput{
		RoundInput: round, Collection: p.in.Collection, KeyPrefix: keyPrefix, Limits: p.in.Limits, Priority: p.priority,
	})
	return p.awaitChild(ctx, set, nil)
}

// building runs an activity on the builders of system at the patch's priority.
func (p *securityPatch) building(ctx workflow.Context, limits Limits, system string) workflow.Context {
	return prioritized(building(ctx, limits, system), p.priority)
}

// awaitChild waits for a child workflow (a rebuild's BuildSet, a duplicate wave) to end,
// with its result in out, and passes Cancel on to it if the patch is cancelled meanwhile.
func (p *securityPatch) awaitChild(ctx workflow.Context, child workflow.ChildWorkflowFuture, out any) error {
	ended := false
	workflow.Go(ctx, func(ctx workflow.Context) {
		if workflow.Await(ctx, func() bool { return p.cancelled || ended }) == nil && !ended {
			_ = child.SignalChildWorkflow(ctx, SignalCancel, nil).Get(ctx, nil)
		}
	})
	err := child.Get(ctx, out)
	ended = true
	return err
}

// duplicateWave makes the security tag of a covered tag with the duplicate-wave strategy:
// StartDuplicateWave tags the fix merged onto the tag <tag>-security-K-unfinished at once
// (people may pin it by name) and allocates a major wave, which this patch starts as a
// child from the covered tag's commit with the fix as its one update — everything a wave
// does, issues, resolutions, retries, policy, re-verifies it, however long people take —
// and once it finished, TagDuplicateWave tags its last tag's commit <tag>-security-K.
// The wave belongs to people once started: it outlives the patch (abandoned on close),
// and only the patch's Cancel is passed on to it. A wave that does not finish leaves the
// tag unfinished and the patch failed with the reason.
func (p *securityPatch) duplicateWave(ctx workflow.Context, st *PatchTagStatus, gin wire.GraftsInput, d policy.StrategyDecision) (string, error) {
	bctx := bookkeeping(ctx)
	p.st.Strategy, st.Strategy = string(d.Strategy), string(d.Strategy)
	gin.Strategy, gin.Reason = string(d.Strategy), d.Reason
	var dup wire.DuplicateWave
	if err := workflow.ExecuteActivity(bctx, wire.ActivityStartDuplicateWave, gin).Get(ctx, &dup); err != nil {
		if app, ok := nonRetryable(err); ok {
			return app.Message(), nil
		}
		return "", err
	}
	st.Wave, st.Unfinished = dup.Name, dup.Unfinished
	p.st.Phase = PatchPhaseReverifying
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: dup.WorkflowID, ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	fix := wire.Update{Package: p.in.Package, Ref: p.in.Ref}
	if len(gin.Prepared.Carries) > 0 {
		// The fix with the earlier ones the tag carries (stacked, merged without grafts):
		// the wave rebuilds every package they change.
		fix.Ref = gin.Prepared.Commit
	}
	wave := workflow.ExecuteChildWorkflow(cctx, MajorWave, MajorWaveInput{Collection: p.in.Collection, Wave: dup.Number,
		Title:   fmt.Sprintf("%s with %s from %s (duplicate-wave of %s)", gin.Tag.Tag, p.in.Package, p.in.Ref, gin.WorkflowID),
		BaseRef: gin.Tag.Commit, Updates: []wire.Update{fix}, Limits: p.in.Limits})
	var res MajorWaveResult
	err := p.awaitChild(ctx, wave, &res)
	switch {
	case p.cancelled:
		p.stopped = true
		return fmt.Sprintf("cancelled while %s re-verified the fix; %s stays unfinished", dup.Name, dup.Unfinished), nil
	case err != nil:
		return fmt.Sprintf("%s did not finish: %s; %s stays unfinished", dup.Name, errorText(err), dup.Unfinished), nil
	}
	var tagged wire.SecurityTagResult
	if err := workflow.ExecuteActivity(bctx, wire.ActivityTagDuplicateWave, wire.DuplicateTagInput{GraftsInput: gin, Wave: dup,
		WaveTags: res.Tags}).Get(ctx, &tagged); err != nil {
		if app, ok := nonRetryable(err); ok {
			return app.Message(), nil
		}
		return "", err
	}
	st.Tag, st.Commit, st.Done = tagged.Tag, tagged.Commit, true
	return "", nil
}

// finish records the patch's end; a patch that did not tag everything fails with the reason.
func (p *securityPatch) finish(ctx workflow.Context, phase, reason, tag string) (SecurityPatchResult, error) {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	p.st.Phase, p.st.Reason = phase, reason
	state := map[string]string{PatchPhaseDone: "done", PatchPhaseFailed: "failed", PatchPhaseCancelled: "cancelled"}[phase]
	if err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityRecordPatchState, wire.PatchStateInput{PatchID: p.st.PatchID,
		WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID, State: state, Strategy: p.st.Strategy, Reason: reason, Tag: tag,
	}).Get(ctx, nil); err != nil {
		return p.st, err
	}
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	switch phase {
	case PatchPhaseFailed:
		return p.st, temporal.NewNonRetryableApplicationError("patch of "+p.in.Package+" failed: "+reason, ErrPatchFailed, nil)
	case PatchPhaseCancelled:
		return p.st, temporal.NewCanceledError("patch of " + p.in.Package + " cancelled")
	}
	return p.st, nil
}

// coveredTag is a covered tag on the collection's systems: ValidatePatch's entry for its
// first system, and the others'.
type coveredTag struct {
	wire.CoveredTag
	others []wire.CoveredTag
}

// bySystem groups ValidatePatch's covered tags, one per tag and system, by tag: a
// security tag covers every system at once.
func bySystem(tags []wire.CoveredTag) []coveredTag {
	var out []coveredTag
	for _, t := range tags {
		if n := len(out); n > 0 && out[n-1].Tag == t.Tag {
			out[n-1].others = append(out[n-1].others, t)
			continue
		}
		out = append(out, coveredTag{CoveredTag: t})
	}
	return out
}

// nonRetryable finds an activity's final refusal (bad input, a conflict, a failed
// evaluation, an unsafe graft) in err.
func nonRetryable(err error) (*temporal.ApplicationError, bool) {
	var app *temporal.ApplicationError
	ok := errors.As(err, &app) && app.NonRetryable()
	return app, ok
}
