package store_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/testenv"
	"github.com/crestwaves/crest/graph"
)

// TestPatchRecords: a patch is registered once per workflow, its security tags are
// numbered per covered tag whichever patch made them, and a recorded tag carries its
// grafts as open debt and is the newest security tag of the covered tag.
func TestPatchRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	col, err := st.UpsertCollection(ctx, store.Collection{Name: "demo"})
	require.NoError(t, err)
	w, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "demo/wave-1", BaseRef: "main", State: "done"})
	require.NoError(t, err)

	in := store.Patch{Collection: "demo", WorkflowID: "demo/patch-1", Package: "libcrypto", Ref: "security/libcrypto-2.5.1",
		Strategy: "replace-dependency", Severity: "critical", Advisory: "CVE-2026-0001"}
	p, err := st.CreatePatch(ctx, in, store.AuditEntry{Key: "demo/patch-1/start", Actor: "person:alice", Action: "patch-started"})
	require.NoError(t, err)
	require.Equal(t, store.PatchRunning, p.State)
	again, err := st.CreatePatch(ctx, in, store.AuditEntry{Key: "demo/patch-1/start", Actor: "person:alice", Action: "patch-started"})
	require.NoError(t, err)
	require.Equal(t, p.ID, again.ID, "the same workflow gets its patch back")
	_, err = st.NewestSecurityTag(ctx, col, "wave-1-1")
	require.ErrorIs(t, err, store.ErrNotFound)

	pt, err := st.StartPatchTag(ctx, p.ID, "wave-1-1")
	require.NoError(t, err)
	require.Equal(t, "wave-1-1-security-1", pt.Name)
	require.Equal(t, "security/wave-1-1-security-1", pt.Branch)
	pt, err = st.StartPatchTag(ctx, p.ID, "wave-1-1")
	require.NoError(t, err)
	require.Equal(t, 1, pt.Number, "idempotent")

	sum := json.RawMessage(`{"schema":"crest.security-tag/v1"}`)
	retired, err := st.RecordPatchTag(ctx, store.TaggedPatch{PatchID: p.ID, CoveredTag: "wave-1-1", Commit: "c0ffee", Summary: sum,
		Grafts: []store.GraftDebt{{WaveID: w.ID, System: "x86_64-linux", Package: "backup", PatchedPackage: "libcrypto",
			PatchedDrv: "/nix/store/x-libcrypto-2.5.1.drv", VulnerableVersion: "2.5.0", OldPath: "/nix/store/a-backup", NewPath: "/nix/store/b-backup"}},
		Audit: store.AuditEntry{Key: "demo/patch-1/tag/wave-1-1", Actor: "crest", Action: "security-tagged"}})
	require.NoError(t, err)
	require.Zero(t, retired, "a graft retires nothing")
	sec, err := st.NewestSecurityTag(ctx, col, "wave-1-1")
	require.NoError(t, err)
	require.JSONEq(t, `{"schema": "crest.security-tag/v1"}`, string(sec.Summary), "with its summary")
	sec.Summary = nil
	require.Equal(t, store.SecurityTag{Name: "wave-1-1-security-1", Commit: "c0ffee", Package: "libcrypto", Ref: "security/libcrypto-2.5.1"}, sec, "with the patch that made it")
	debt, err := st.Grafts(ctx, p.ID)
	require.NoError(t, err)
	require.Len(t, debt, 1)
	require.Equal(t, "backup", debt[0].Package)
	require.Nil(t, debt[0].RetiredAt, "open debt")

	// A second patch of the same tag gets K = 2.
	p2, err := st.CreatePatch(ctx, store.Patch{Collection: "demo", WorkflowID: "demo/patch-2", Package: "libtls", Ref: "x",
		Strategy: "auto", Severity: "high"}, store.AuditEntry{Key: "demo/patch-2/start", Actor: "crest", Action: "patch-started"})
	require.NoError(t, err)
	pt2, err := st.StartPatchTag(ctx, p2.ID, "wave-1-1")
	require.NoError(t, err)
	require.Equal(t, "wave-1-1-security-2", pt2.Name)
	require.NoError(t, st.FailPatchTag(ctx, p2.ID, "wave-1-1", "graft of backup refused", store.AuditEntry{Actor: "crest", Action: "security-tag-failed"}))
	sec, err = st.NewestSecurityTag(ctx, col, "wave-1-1")
	require.NoError(t, err)
	require.Equal(t, "wave-1-1-security-1", sec.Name, "a failed one is never the newest")

	require.NoError(t, st.SetPatchState(ctx, p.ID, store.PatchDone, "", "tagged wave-1-1-security-1",
		store.AuditEntry{Actor: "crest", Action: "patch-done"}))
	all, err := st.Patches(ctx, "demo")
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, "demo/patch-2", all[0].WorkflowID, "newest first")
	require.Equal(t, store.PatchDone, all[1].State)
	require.Equal(t, "replace-dependency", all[1].Strategy)
}

// TestRebuildRoundRetiresItsCoveredTagsDebt: a rebuild's build round is a build round of
// its own (never a wave), green only once every package passed; the security tag it makes
// retires the grafts of its covered tag whose dependents it rebuilt against the fix, and
// no other tag's.
func TestRebuildRoundRetiresItsCoveredTagsDebt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	const sys = "x86_64-linux"
	col, err := st.UpsertCollection(ctx, store.Collection{Name: "demo"})
	require.NoError(t, err)
	w, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "demo/wave-1", BaseRef: "main", State: "done"})
	require.NoError(t, err)
	ev, _, err := st.SaveEvaluation(ctx, col, "fixed", sys, []graph.Package{
		{Key: "libcrypto", Name: "libcrypto", Version: "2.5.1", Drv: "/nix/store/libcrypto-2.5.1.drv"},
		{Key: "backup", Name: "backup", Drv: "/nix/store/backup.drv", Deps: []string{"libcrypto"}},
	})
	require.NoError(t, err)

	// A graft patch left debt on backup in two covered tags.
	graft, err := st.CreatePatch(ctx, store.Patch{Collection: "demo", WorkflowID: "demo/patch-1", Package: "libcrypto", Ref: "fix",
		Strategy: "replace-dependency", Severity: "critical"}, store.AuditEntry{Actor: "crest", Action: "patch-started"})
	require.NoError(t, err)
	for _, covered := range []string{"wave-1-1", "wave-1-2"} {
		_, err = st.StartPatchTag(ctx, graft.ID, covered)
		require.NoError(t, err)
		_, err = st.RecordPatchTag(ctx, store.TaggedPatch{PatchID: graft.ID, CoveredTag: covered, Commit: "g-" + covered, Summary: []byte(`{}`),
			Grafts: []store.GraftDebt{{WaveID: w.ID, System: sys, Package: "backup", PatchedPackage: "libcrypto",
				PatchedDrv: "/nix/store/libcrypto-2.5.1-other.drv", VulnerableVersion: "2.5.0", OldPath: "/nix/store/a-backup", NewPath: "/nix/store/b-backup"}},
			Audit: store.AuditEntry{Key: "demo/patch-1/tag/" + covered, Actor: "crest", Action: "security-tagged"}})
		require.NoError(t, err)
	}

	// A rebuild of wave-1-1.
	rebuild, err := st.CreatePatch(ctx, store.Patch{Collection: "demo", WorkflowID: "demo/patch-2", Package: "libcrypto", Ref: "fix",
		Strategy: "rebuild", Severity: "high"}, store.AuditEntry{Actor: "crest", Action: "patch-started"})
	require.NoError(t, err)
	pt, err := st.StartPatchTag(ctx, rebuild.ID, "wave-1-1")
	require.NoError(t, err)
	require.Equal(t, "wave-1-1-security-2", pt.Name)
	spec := store.BuildRoundSpec{Collection: "demo", Key: "demo/patch-2/wave-1-1/rebuild", Name: pt.Name, Kind: store.BuildRoundPatch,
		Commit: "fixed", EvaluationID: ev.ID}
	round, err := st.OpenBuildRound(ctx, spec)
	require.NoError(t, err)
	again, err := st.OpenBuildRound(ctx, spec)
	require.NoError(t, err)
	require.Equal(t, round, again, "idempotent")
	spec.Kind = "wave"
	_, err = st.OpenBuildRound(ctx, spec)
	require.ErrorContains(t, err, `unknown kind "wave"`)
	waves, err := st.Waves(ctx, "demo")
	require.NoError(t, err)
	require.Len(t, waves, 1, "a rebuild is not a wave")
	require.NoError(t, st.SetPatchTagRound(ctx, rebuild.ID, "wave-1-1", "rebuild", round.MinorWaveID))

	require.NoError(t, st.PutRound(ctx, round.MinorWaveID, sys, 0, []store.RoundRow{
		{Package: "libcrypto", Drv: "/nix/store/libcrypto-2.5.1.drv"}, {Package: "backup", Drv: "/nix/store/backup.drv", Layer: 1}}))
	out, err := st.RoundOutcomeOf(ctx, round.MinorWaveID, sys)
	require.NoError(t, err)
	require.False(t, out.Green(), "nothing built yet")
	require.Equal(t, []string{"backup", "libcrypto"}, out.Unbuilt)
	for _, pkg := range []string{"libcrypto", "backup"} {
		rec := store.BuildRecord{Key: spec.Key + "/" + pkg, MinorWaveID: round.MinorWaveID, System: sys, Package: pkg}
		p, _, _, err := st.StartBuild(ctx, ev.ID, rec)
		require.NoError(t, err)
		rec.Drv, rec.Status = p.Drv, store.StatusPassed
		require.NoError(t, st.RecordBuild(ctx, rec))
	}
	out, err = st.RoundOutcomeOf(ctx, round.MinorWaveID, sys)
	require.NoError(t, err)
	require.True(t, out.Green())
	require.Equal(t, []string{"backup", "libcrypto"}, out.Passed)

	retired, err := st.RecordPatchTag(ctx, store.TaggedPatch{PatchID: rebuild.ID, CoveredTag: "wave-1-1", Commit: "fixed", Summary: []byte(`{}`),
		Strategy: "rebuild", Name: pt.Name, MinorWaveID: round.MinorWaveID,
		Audit: store.AuditEntry{Key: "demo/patch-2/tag/wave-1-1", Actor: "crest", Action: "security-tagged"}})
	require.NoError(t, err)
	require.EqualValues(t, 1, retired)
	debt, err := st.Grafts(ctx, graft.ID)
	require.NoError(t, err)
	require.Len(t, debt, 2)
	require.Equal(t, "wave-1-2", debt[0].CoveredTag, "open first: another tag's debt stays")
	require.Nil(t, debt[0].RetiredAt)
	require.Equal(t, "wave-1-1", debt[1].CoveredTag)
	require.Equal(t, "wave-1-1-security-2", debt[1].RetiredBy)
	tags, err := st.PatchTags(ctx, rebuild.ID)
	require.NoError(t, err)
	require.Equal(t, "rebuild", tags[0].Strategy)
	require.Equal(t, round.MinorWaveID, tags[0].MinorWaveID)
	sec, err := st.NewestSecurityTag(ctx, col, "wave-1-1")
	require.NoError(t, err)
	require.Equal(t, "wave-1-1-security-2", sec.Name)
}

// TestGraftsPaidAlreadyAreBornRetired: a patch of an old tag after a later wave rebuilt
// the dependents against the fix makes its grafts for the people who pin the old tag, but
// the collection owes no rebuild for them: a graft whose package that wave's tag rebuilt
// green at a commit with the fixed library is recorded retired by that tag; the others
// (a package it did not rebuild, or rebuilt where the library is still vulnerable) are open.
func TestGraftsPaidAlreadyAreBornRetired(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	const sys = "x86_64-linux"
	col, err := st.UpsertCollection(ctx, store.Collection{Name: "demo"})
	require.NoError(t, err)
	w1, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "demo/wave-1", BaseRef: "main", State: "done"})
	require.NoError(t, err)
	w2, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "demo/wave-2", BaseRef: "main", State: "done"})
	require.NoError(t, err)
	// wave-2-1 rebuilt backup and chat at "fixed" (libcrypto 2.5.1); wave-1-2 rebuilt chat
	// at "vulnerable" (2.5.0).
	for _, m := range []struct {
		wave         int64
		number       int
		name, commit string
		version, drv string
		rebuilt      []string
	}{
		{w1.ID, 2, "wave-1-2", "vulnerable", "2.5.0", "/nix/store/libcrypto-2.5.0.drv", []string{"chat"}},
		{w2.ID, 1, "wave-2-1", "fixed", "2.5.1", "/nix/store/libcrypto-2.5.1.drv", []string{"backup", "chat"}},
	} {
		ev, _, err := st.SaveEvaluation(ctx, col, m.commit, sys, []graph.Package{
			{Key: "libcrypto", Name: "libcrypto", Version: m.version, Drv: m.drv},
			{Key: "backup", Name: "backup", Drv: "/nix/store/backup-" + m.commit + ".drv", Deps: []string{"libcrypto"}},
			{Key: "chat", Name: "chat", Drv: "/nix/store/chat-" + m.commit + ".drv", Deps: []string{"libcrypto"}},
		})
		require.NoError(t, err)
		mw, err := st.StartMinorWave(ctx, m.wave, m.number, m.name, nil)
		require.NoError(t, err)
		var rows []store.RoundRow
		for _, pkg := range m.rebuilt {
			rows = append(rows, store.RoundRow{Package: pkg, Drv: "/nix/store/" + pkg + "-" + m.commit + ".drv"})
		}
		require.NoError(t, st.PutRound(ctx, mw.ID, sys, 0, rows))
		for _, pkg := range m.rebuilt {
			rec := store.BuildRecord{Key: m.name + "/" + pkg, MinorWaveID: mw.ID, System: sys, Package: pkg}
			p, _, _, err := st.StartBuild(ctx, ev.ID, rec)
			require.NoError(t, err)
			rec.Drv, rec.Status = p.Drv, store.StatusPassed
			require.NoError(t, st.RecordBuild(ctx, rec))
		}
		require.NoError(t, st.FinishMinorWave(ctx, col, store.Tag{Name: m.name, Commit: m.commit, MinorWaveID: mw.ID,
			Message: m.name, Summary: []byte(`{}`)}))
	}

	p, err := st.CreatePatch(ctx, store.Patch{Collection: "demo", WorkflowID: "demo/patch-1", Package: "libcrypto", Ref: "fix",
		Strategy: "replace-dependency", Severity: "critical"}, store.AuditEntry{Actor: "crest", Action: "patch-started"})
	require.NoError(t, err)
	_, err = st.StartPatchTag(ctx, p.ID, "wave-1-1")
	require.NoError(t, err)
	var debt []store.GraftDebt
	for _, pkg := range []string{"backup", "chat", "pkgtool"} {
		debt = append(debt, store.GraftDebt{WaveID: w1.ID, System: sys, Package: pkg, PatchedPackage: "libcrypto",
			PatchedDrv: "/nix/store/libcrypto-2.5.1-graft.drv", VulnerableVersion: "2.5.0", OldPath: "/nix/store/a-" + pkg, NewPath: "/nix/store/b-" + pkg})
	}
	_, err = st.RecordPatchTag(ctx, store.TaggedPatch{PatchID: p.ID, CoveredTag: "wave-1-1", Commit: "g", Summary: []byte(`{}`), Grafts: debt,
		Audit: store.AuditEntry{Key: "demo/patch-1/tag/wave-1-1", Actor: "crest", Action: "security-tagged"}})
	require.NoError(t, err)
	got, err := st.Grafts(ctx, p.ID)
	require.NoError(t, err)
	retiredBy := map[string]string{}
	for _, g := range got {
		retiredBy[g.Package] = g.RetiredBy
	}
	require.Equal(t, map[string]string{"backup": "wave-2-1", "chat": "wave-2-1", "pkgtool": ""}, retiredBy)
}
