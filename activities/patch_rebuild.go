package activities

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wavename"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/graph"
)

// ErrRebuildFailed is the error type of a rebuild that is not green: a package of the
// covered tag failed to build or its tests failed with the fix, or the rebuild was stopped.
// Nothing is tagged; the message names the root causes.
const ErrRebuildFailed = "RebuildFailed"

// PreparePatchRebuild lays out the rebuild of a covered tag for the build engine: a build
// round of its own (store.OpenBuildRound, as a queue build) holding what the merged fix
// changed in the tag — graph.RebuildSet of the tag's and the merged commit's evaluations:
// the patched package and its reverse closure, exactly what Nix rebuilds — less what is
// built already (in.Built) and meta.broken packages, those in the closure of the
// collection's protected roots marked protected. It returns the collection's effective
// policy and the covered tag's numbers, which the rebuild's failures are settled and
// filed by. A fix that changes nothing of the package in the tag is refused. Idempotent:
// a round laid out already is returned as it is.
func (a *Activities) PreparePatchRebuild(ctx context.Context, in wire.PatchRebuildInput) (wire.PatchRebuildLayout, error) {
	var out wire.PatchRebuildLayout
	col, err := a.LoadCollection(ctx, in.Collection)
	if err != nil {
		return out, err
	}
	if out.Policy, err = EffectivePolicy(col, nil); err != nil {
		return out, invalid("%v", err)
	}
	if out.Major, out.Minor, err = coveredWave(col, in.Tag.Tag); err != nil {
		return out, err
	}
	tagGraph, patched, err := a.patchGraphs(ctx, in.GraftsInput)
	if err != nil {
		return out, err
	}
	closure, err := tagGraph.ReverseClosure(in.Package)
	if err != nil {
		return out, invalid("package %s: not in %s: %v", in.Package, in.Tag.Tag, err)
	}
	out.ReverseClosure = len(closure)
	changed := graph.RebuildSet(tagGraph, patched).Keys()
	if !slices.Contains(changed, in.Package) {
		return out, invalid("%s does not change %s in %s (merged already?): nothing to rebuild", in.Ref, in.Package, in.Tag.Tag)
	}
	round, err := a.Store.OpenBuildRound(ctx, store.BuildRoundSpec{Collection: in.Collection, Key: in.Key, Name: in.Prepared.Name,
		Kind: store.BuildRoundPatch, Commit: in.Prepared.Commit, EvaluationID: in.PatchedEvaluation})
	if err != nil {
		return out, err
	}
	out.WaveID, out.MinorWaveID = round.WaveID, round.MinorWaveID
	if err := a.Store.SetPatchTagRound(ctx, in.PatchID, in.Tag.Tag, in.Strategy, round.MinorWaveID); err != nil {
		return out, err
	}
	for i, sin := range in.GraftsInput.PerSystem() {
		if i > 0 { // the collection's other systems: what the fix changes there
			if tagGraph, patched, err = a.patchGraphs(ctx, sin); err != nil {
				return out, err
			}
			changed = graph.RebuildSet(tagGraph, patched).Keys()
		}
		n, err := a.laidOut(ctx, round.MinorWaveID, sin.Tag.System)
		if err != nil {
			return out, err
		}
		if n == 0 {
			want := slices.DeleteFunc(changed, func(k string) bool { return slices.Contains(in.Built, k) })
			protected, err := protectedSet(patched, out.Policy)
			if err != nil {
				return out, err
			}
			if n, err = a.putBuildRound(ctx, round.MinorWaveID, sin.Tag.System, patched, want, protected); err != nil {
				return out, err
			}
		}
		out.Packages += n
		if i > 0 && n > 0 {
			out.Systems = append(out.Systems, sin.Tag.System)
		}
	}
	return out, nil
}

// coveredWave reads the numbers of a covered tag, <prefix>-N-M, which name it in issues.
func coveredWave(col wire.Collection, tag string) (major, minor int, err error) {
	major, minor, ok := wavename.Parse(col.TagPrefix, tag)
	if !ok || minor == 0 {
		return 0, 0, invalid("covered tag %s: not a minor wave's tag of %s", tag, col.Name)
	}
	return major, minor, nil
}

// TagRebuild makes the security tag of a covered tag with the rebuild strategy, once its
// build round is green, or settled as a minor wave is (policy.Settled: every failure
// fixed by a retry, or resolved wont-fix, cant-fix or marked-broken, its dependents
// following): it tags the merged commit <tag>-security-K (annotated with the packages
// rebuilt, the failures settled and how, and a JSON summary without grafts), pushes it,
// records it with the grafts of the covered tag it retires (those of packages now rebuilt
// against the fix), in one transaction, and writes each root cause's settlement to its
// issue (a fix closes it). A round that is neither is a non-retryable RebuildFailed error
// naming the root causes, and nothing is tagged. Idempotent, as TagGrafts.
func (a *Activities) TagRebuild(ctx context.Context, in wire.PatchRebuildInput) (wire.SecurityTagResult, error) {
	var outcome store.RoundOutcome // every system's: a package passed on one and failed on another counts both
	for _, sin := range in.GraftsInput.PerSystem() {
		o, err := a.Store.RoundOutcomeOf(ctx, in.MinorWaveID, sin.Tag.System)
		if err != nil {
			return wire.SecurityTagResult{}, err
		}
		outcome.Passed = append(outcome.Passed, o.Passed...)
		outcome.Failures = append(outcome.Failures, o.Failures...)
		outcome.Unbuilt = append(outcome.Unbuilt, o.Unbuilt...)
	}
	round, roots, err := a.summary(ctx, in.MinorWaveID)
	if err != nil {
		return wire.SecurityTagResult{}, err
	}
	if !outcome.Green() && !round.Settled {
		return wire.SecurityTagResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("the rebuild of %s with %s is not green: %s; nothing tagged: fix the patch and start it again",
				in.Tag.Tag, in.Ref, rebuildTrouble(outcome)), ErrRebuildFailed, nil)
	}
	sum, repo, err := a.tagging(ctx, in.GraftsInput)
	if err != nil {
		return wire.SecurityTagResult{}, err
	}
	sum.Rebuilt = slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(outcome.Passed), in.Built...))))
	sum.Settled = round.Failures
	var body strings.Builder
	fmt.Fprintf(&body, "%s of %s: %d packages rebuilt from source against %s %s, no grafts.\n", in.Strategy, in.Tag.Tag,
		len(sum.Rebuilt), in.Package, sum.NewVersion)
	for _, k := range sum.Rebuilt {
		fmt.Fprintf(&body, "  %s\n", k)
	}
	if len(round.Failures) > 0 {
		fmt.Fprintf(&body, "%d of %d packages passed, %d settled by resolution; root causes and how they were settled:\n",
			round.Counts.Passed, round.Counts.Total, round.Counts.Resolved)
		writeFailures(&body, round.Failures)
	}
	retired, err := a.pushSecurityTag(ctx, repo, in.GraftsInput, securityTag{commit: in.Prepared.Commit, body: body.String(), sum: sum,
		round: in.MinorWaveID, audit: fmt.Sprintf("%s: %d packages rebuilt against %s %s, %d failures settled, no graft debt",
			in.Prepared.Name, len(sum.Rebuilt), in.Package, sum.NewVersion, len(round.Failures))})
	if err != nil {
		return wire.SecurityTagResult{}, err
	}
	if len(roots) > 0 {
		col, err := a.LoadCollection(ctx, in.Collection)
		if err != nil {
			return wire.SecurityTagResult{}, err
		}
		major, minor, err := coveredWave(col, in.Tag.Tag)
		if err != nil {
			return wire.SecurityTagResult{}, err
		}
		if err := a.settleIssues(ctx, IssueReport{Collection: in.Collection, Major: major, Minor: minor, Commit: in.Prepared.Commit,
			Branch: in.Prepared.Branch, Patch: patchName(in.WorkflowID), Wave: in.Prepared.Name}, roots); err != nil {
			return wire.SecurityTagResult{}, err
		}
	}
	return wire.SecurityTagResult{Tag: in.Prepared.Name, Commit: in.Prepared.Commit, Rebuilt: len(sum.Rebuilt), Retired: int(retired)}, nil
}

// patchName is how people name a patch (patch-N): the last part of its workflow ID.
func patchName(workflowID string) string { return path.Base(workflowID) }

// rebuildTrouble says why a rebuild round is not green: its root causes (failed builds
// and tests) by name, how many packages they blocked, and what was never built.
func rebuildTrouble(o store.RoundOutcome) string {
	var roots []string
	blocked := 0
	for _, f := range o.Failures {
		switch f.Status {
		case store.StatusFailed:
			roots = append(roots, f.Package+" failed to build")
		case store.StatusTestFailed:
			roots = append(roots, f.Package+"'s tests failed")
		default:
			blocked++
		}
	}
	var parts []string
	if len(roots) > 0 {
		parts = append(parts, strings.Join(roots, ", "))
	}
	if blocked > 0 {
		parts = append(parts, fmt.Sprintf("%d more blocked by them", blocked))
	}
	if len(o.Unbuilt) > 0 {
		parts = append(parts, fmt.Sprintf("%d packages not built (the rebuild was stopped)", len(o.Unbuilt)))
	}
	return strings.Join(parts, "; ")
}
