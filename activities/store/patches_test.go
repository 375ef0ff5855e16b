package store_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/testenv"
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
	require.NoError(t, st.RecordPatchTag(ctx, store.TaggedPatch{PatchID: p.ID, CoveredTag: "wave-1-1", Commit: "c0ffee", Summary: sum,
		Grafts: []store.GraftDebt{{WaveID: w.ID, System: "x86_64-linux", Package: "backup", PatchedPackage: "libcrypto",
			PatchedDrv: "/nix/store/x-libcrypto-2.5.1.drv", VulnerableVersion: "2.5.0", OldPath: "/nix/store/a-backup", NewPath: "/nix/store/b-backup"}},
		Audit: store.AuditEntry{Key: "demo/patch-1/tag/wave-1-1", Actor: "crest", Action: "security-tagged"}}))
	sec, err := st.NewestSecurityTag(ctx, col, "wave-1-1")
	require.NoError(t, err)
	require.Equal(t, store.SecurityTag{Name: "wave-1-1-security-1", Commit: "c0ffee"}, sec)
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
