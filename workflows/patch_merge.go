package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/crestwaves/crest/activities/wire"
)

// Signals between a security patch and the running major waves it reaches.
const (
	signalMergeFix  = "crest.merge-fix"  // security patch → major wave: MergeFixRequest
	signalFixMerged = "crest.fix-merged" // major wave → security patch: MergeFixResult
)

// fixMergeWait bounds how long a patch waits for a running wave to answer its fix: a wave
// takes it at its next turn (between minor waves' steps, not after them), so only a wave
// that ended meanwhile never answers.
const fixMergeWait = time.Hour

// MergeFixRequest asks a running major wave to merge a security fix onto its branch.
type MergeFixRequest struct {
	// Patch is the patch's workflow ID: the wave answers it there (MergeFixResult).
	Patch    string `json:"patch"`
	PatchID  int64  `json:"patch_id"`
	Package  string `json:"package"`
	Ref      string `json:"ref"`
	Advisory string `json:"advisory,omitempty"`
}

// MergeFixResult is a major wave's answer to a MergeFixRequest: the branch's head with
// the fix, or why it was refused (a conflict: nothing on the branch changed).
type MergeFixResult struct {
	Wave   string `json:"wave"`
	Commit string `json:"commit,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// MergedFix is a security fix a major wave took (MajorStatus.Fixes): merged onto its
// branch at Commit, or refused with Reason; Minor is the first minor wave started after
// the merge, which rebuilds the package's dependents against the fix (and so retires
// the patch's graft debt).
type MergedFix struct {
	MergeFixRequest
	Commit string `json:"commit,omitempty"`
	Reason string `json:"reason,omitempty"`
	Minor  string `json:"minor,omitempty"`
	// Answered: the patch was told.
	Answered bool `json:"answered,omitempty"`
}

func (f MergedFix) pending() bool { return f.Commit == "" && f.Reason == "" }

// takeFix queues a security fix for the wave's loop (mergeFixes); a patch asking again
// is not queued twice.
func (w *majorWave) takeFix(r MergeFixRequest) {
	for _, f := range w.st.Fixes {
		if f.Patch == r.Patch {
			return
		}
	}
	w.st.Fixes = append(w.st.Fixes, MergedFix{MergeFixRequest: r})
	w.changed++
}

// mergeFixes merges the security fixes patches sent onto the wave branch, one at a time,
// in the wave's own loop before it starts another minor wave: so the merge is serialized
// with the wave's branch writes (a minor wave's merge is the first thing it does, and the
// git lock orders the rest), and the next minor wave evaluates the fix and rebuilds the
// fixed package's dependents, even those other minor waves locked in (startMinor passes
// them as Fixed). MergeRefs is idempotent (a fix already on the branch merges to the same
// head). A conflict refuses the fix with its files: the branch is left as it was, and the
// patch hears why. When no minor wave is left to start, a minor wave of the fix itself is
// planned (fixMinor): the wave does not end with the fix merged and its dependents unbuilt.
func (w *majorWave) mergeFixes(ctx workflow.Context) error {
	for i := 0; i < len(w.st.Fixes); i++ {
		if w.st.Fixes[i].pending() {
			workflow.GetVersion(ctx, versionPatchRunningWaves, workflow.DefaultVersion, 1)
			// Not while AddUpdate re-plans the pending minor waves: fixMinor adds one.
			if err := w.mu.Lock(ctx); err != nil {
				return err
			}
			f := w.st.Fixes[i]
			var head string
			err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityMergeRefs, wire.MergeInput{Collection: w.in.Collection,
				Branch: w.st.Start.Branch, Sources: []wire.Update{{Package: f.Package, Ref: f.Ref}},
				Message: fmt.Sprintf("%s: security fix of %s (%s)", w.st.Start.Name, f.Package, f.Patch)}).Get(ctx, &head)
			if app, ok := nonRetryable(err); ok {
				w.st.Fixes[i].Reason = fmt.Sprintf("%s refused the fix of %s: %s; the branch is unchanged: resolve the conflict on a branch of %s and patch again with that ref",
					w.st.Start.Name, f.Package, app.Message(), w.st.Start.Branch)
			} else if err != nil {
				w.mu.Unlock()
				return err
			} else {
				w.st.Fixes[i].Commit = head
				w.fixMinor(f)
			}
			w.mu.Unlock()
			w.changed++
		}
		if !w.st.Fixes[i].Answered {
			f := w.st.Fixes[i]
			// The patch may be gone (cancelled): it would not read the answer anyway.
			_ = workflow.SignalExternalWorkflow(ctx, f.Patch, "", signalFixMerged,
				MergeFixResult{Wave: w.st.Start.Name, Commit: f.Commit, Reason: f.Reason}).Get(ctx, nil)
			w.st.Fixes[i].Answered = true
		}
	}
	return nil
}

// fixMinor plans a minor wave of a merged fix when no minor wave is left to start (none
// pending, the wave not stopping): after every unfinished one, with the fix as its update
// (already on the branch, so its merge changes nothing), it rebuilds the fixed package's
// dependents (Fixed) and its tag retires the patch's grafts.
func (w *majorWave) fixMinor(f MergedFix) {
	if w.st.Cancelled || slices.ContainsFunc(w.st.Minor, func(m minorEntry) bool { return m.Status.Phase == PhasePending }) {
		return
	}
	n := 0
	var after []int
	for _, m := range w.st.Minor {
		n = max(n, m.Plan.Number)
		if m.Status.Phase != PhaseDone {
			after = append(after, m.Plan.Number)
		}
	}
	pm := wire.PlannedMinor{Number: n + 1, Name: fmt.Sprintf("%s-%d", w.st.Start.Name, n+1),
		Updates: []wire.Update{{Package: f.Package, Ref: f.Ref}}, After: after}
	w.st.Minor = append(w.st.Minor, minorEntry{Plan: pm, Status: MinorStatus{Name: pm.Name, Number: pm.Number, Phase: PhasePending, Updates: pm.Updates}})
	w.st.Plan.Minor = append(w.st.Plan.Minor, pm)
}

// fixedFor hands the minor wave about to start the packages whose fixes were merged since
// the previous one started: it rebuilds their dependents even where locked in.
func (w *majorWave) fixedFor(name string) []string {
	var fixed []string
	for i := range w.st.Fixes {
		if f := &w.st.Fixes[i]; f.Commit != "" && f.Minor == "" {
			f.Minor = name
			fixed = append(fixed, f.Package)
		}
	}
	return fixed
}

// mergeIntoRunningWaves brings the fix to the running major waves whose base contains
// the package (PatchRunningWaves), but for a patch narrowed with --tags only to the
// running waves it names (ValidatePatch checked them; before versionPatchTagsRunning it
// reached none: --tags named finished tags only), and never to a wave it forked (forks):
// its fork has the fix. Each wave merges it onto its branch itself (signalMergeFix, answered by signalFixMerged), so
// its next minor wave rebuilds the dependents against the fix and retires the grafts this
// patch left. Each wave gets a PatchTagStatus (Running) and a record (RecordPatchMerge).
// A wave that refused the fix (a conflict) is the reason returned; the others merged.
func (p *securityPatch) mergeIntoRunningWaves(ctx workflow.Context, forks []*forking) (string, error) {
	bctx := bookkeeping(ctx)
	var waves []wire.RunningWave
	if len(p.in.Tags) > 0 {
		if workflow.GetVersion(ctx, versionPatchTagsRunning, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
			return "", nil
		}
		waves = p.named
	} else if err := workflow.ExecuteActivity(bctx, wire.ActivityPatchRunningWaves, wire.RunningWavesInput{Collection: p.in.Collection,
		Package: p.in.Package}).Get(ctx, &waves); err != nil {
		return "", err
	}
	waves = slices.DeleteFunc(slices.Clone(waves), func(wv wire.RunningWave) bool {
		return slices.ContainsFunc(forks, func(f *forking) bool { return f.wave.WaveID == wv.WaveID && len(f.tags) > 0 })
	})
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	answers := map[string]MergeFixResult{} // by wave name; looked up, never ranged
	asked := 0
	replies := workflow.GetSignalChannel(ctx, signalFixMerged)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var r MergeFixResult
			replies.Receive(ctx, &r)
			answers[r.Wave] = r
		}
	})
	var reached []wire.RunningWave
	for _, wv := range waves {
		if slices.ContainsFunc(p.st.Tags, func(t PatchTagStatus) bool { return t.Wave == wv.Name }) {
			continue // a wave this patch started (a duplicate wave, a fork) has the fix
		}
		p.st.Phase = PatchPhaseMerging
		st := PatchTagStatus{Covers: wv.Name, Wave: wv.Name, Running: true, Strategy: "merge"}
		err := workflow.SignalExternalWorkflow(ctx, wv.WorkflowID, "", signalMergeFix, MergeFixRequest{Patch: id,
			PatchID: p.st.PatchID, Package: p.in.Package, Ref: p.in.Ref, Advisory: p.in.Advisory}).Get(ctx, nil)
		if err != nil {
			// Ended since it was listed: nothing to merge into.
			st.Reason = fmt.Sprintf("%s ended before the fix reached it: %s", wv.Name, errorText(err))
		} else {
			st.Reason = "asked " + wv.Name + " to merge the fix into its branch " + wv.Branch
			reached = append(reached, wv)
			asked++
		}
		p.st.Tags = append(p.st.Tags, st)
	}
	if asked == 0 {
		return "", nil
	}
	if _, err := workflow.AwaitWithTimeout(ctx, fixMergeWait, func() bool { return len(answers) >= asked || p.cancelled }); err != nil {
		return "", err
	}
	var refused []string
	for _, wv := range reached {
		st := p.runningStatus(wv.Name)
		r, ok := answers[wv.Name]
		switch {
		case !ok:
			st.Reason = fmt.Sprintf("%s did not answer within %s (it may have ended); the fix is not known to be on %s", wv.Name, fixMergeWait, wv.Branch)
			refused = append(refused, st.Reason)
			continue
		case r.Reason != "":
			st.Reason = r.Reason
			refused = append(refused, r.Reason)
		default:
			st.Commit, st.Done = r.Commit, true
			st.Reason = fmt.Sprintf("merged into running wave %s (branch %s): its next minor wave rebuilds %s's dependents against the fix and retires the grafts",
				wv.Name, wv.Branch, p.in.Package)
		}
		if err := workflow.ExecuteActivity(bctx, wire.ActivityRecordPatchMerge, wire.PatchMergeInput{PatchID: p.st.PatchID,
			WorkflowID: id, Package: p.in.Package, Ref: p.in.Ref, Wave: wv, Commit: r.Commit, Reason: r.Reason}).Get(ctx, nil); err != nil {
			return "", err
		}
	}
	return strings.Join(refused, "; "), nil
}

// runningStatus is the status entry of a running wave the patch reached.
func (p *securityPatch) runningStatus(wave string) *PatchTagStatus {
	for i := range p.st.Tags {
		if p.st.Tags[i].Running && p.st.Tags[i].Covers == wave {
			return &p.st.Tags[i]
		}
	}
	return nil
}
