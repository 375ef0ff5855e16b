package activities

import (
	"context"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
)

// PatchRunningWaves lists the running major waves of a collection whose base contains a
// patch's package (a key): the waves its fix is merged into, so their next minor waves
// rebuild the dependents against it.
func (a *Activities) PatchRunningWaves(ctx context.Context, in wire.RunningWavesInput) ([]wire.RunningWave, error) {
	waves, err := a.Store.RunningWavesWith(ctx, in.Collection, in.Package)
	if err != nil {
		return nil, err
	}
	out := make([]wire.RunningWave, len(waves))
	for i, w := range waves {
		out[i] = wire.RunningWave{WaveID: w.ID, Name: w.Name, WorkflowID: w.WorkflowID, Branch: w.Branch, UpdatesPackage: w.UpdatesPackage}
	}
	return out, nil
}

// RecordPatchMerge records that a patch's fix was merged onto a running wave's branch, or
// why it was refused, with its audit entry (crest patch status shows both).
func (a *Activities) RecordPatchMerge(ctx context.Context, in wire.PatchMergeInput) error {
	m := store.PatchMerge{PatchID: in.PatchID, WaveID: in.Wave.WaveID, Wave: in.Wave.Name, Branch: in.Wave.Branch,
		State: store.PatchMergeMerged, Commit: in.Commit, Reason: in.Reason}
	action, reason := "patch-merged", in.Package+" "+in.Ref+" merged onto "+in.Wave.Branch+" at "+short(in.Commit)
	if in.Reason != "" {
		m.State, action, reason = store.PatchMergeRefused, "patch-merge-refused", in.Reason
	}
	return a.Store.RecordPatchMerge(ctx, m, store.AuditEntry{Key: in.WorkflowID + "/merge/" + in.Wave.Name, Actor: "crest",
		Wave: in.Wave.Name, Package: in.Package, Action: action, Reason: reason})
}
