package workflows_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/workflows"
)

// TestSecurityPatchTagsNameRunningWaveEndToEnd: --tags names running waves as `crest wave
// status` does. wave-31 and wave-32 (libnet 2, each waiting for libhttp's failure) run
// from main, whose libcrypto is vulnerable; a patch with --tags wave-32 alone tags nothing
// and merges the fix into wave-32's branch only: wave-31 does not get it, its branch
// unchanged. Names that cannot be patched are refused before anything starts: an unknown
// wave, a wave whose base lacks the package, a wave no longer running.
// Its waves are numbered 31 and 32: minor wave IDs are never reused on the package's
// shared Temporal server.
func TestSecurityPatchTagsNameRunningWaveEndToEnd(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	waves := []string{"demo/wave-31", "demo/wave-32"} // stable IDs: their histories are recorded
	for i, id := range waves {
		s.start(id, workflows.MajorWaveInput{Title: "libnet 2", Wave: 31 + i, Updates: []wire.Update{{Package: "libnet", Ref: demo.UpdateLibnet2}}})
	}
	branches := map[string]string{}
	for i, id := range waves {
		s.waitRecorded(t, 31+i, 1, "libhttp", store.StatusFailed)
		st := s.waitFor(id, "running", func(st workflows.MajorStatus) bool { return st.Branch != "" })
		branches[id] = run(t, "git", "-C", s.demo.Remote, "rev-parse", st.Branch)
	}

	for _, c := range []struct {
		id, pkg, tag, want string
	}{
		{"demo/patch-tags-unknown", "libcrypto", "wave-33", "tag wave-33: not a finished tag or a running wave of demo"},
		{"demo/patch-tags-nosuch", "nosuchlib", "wave-31", "wave-31: its base does not have the package"},
	} {
		_, err := s.patch(t, c.id, workflows.SecurityPatchInput{Package: c.pkg, Ref: demo.SecurityLibcrypto251, Tags: []string{c.tag}})
		require.ErrorContains(t, err, c.want)
		_, err = s.st.PatchByWorkflow(ctx, c.id)
		require.ErrorIs(t, err, store.ErrNotFound, "a refused patch allocates nothing")
	}

	id := "demo/patch-tags-running"
	out, err := s.patch(t, id, workflows.SecurityPatchInput{Package: "libcrypto", Ref: demo.SecurityLibcrypto251,
		Strategy: "replace-dependency", Severity: "critical", Tags: []string{"wave-32"}})
	require.NoError(t, err)
	require.Equal(t, workflows.PatchPhaseDone, out.Phase)
	require.Equal(t, "merged into running wave-32", out.Reason)
	require.Len(t, out.Tags, 1, "nothing tagged, one wave reached")
	reached := out.Tags[0]
	require.Equal(t, "wave-32", reached.Covers)
	require.True(t, reached.Running && reached.Done)
	st32 := s.status(waves[1])
	head := run(t, "git", "-C", s.demo.Remote, "rev-parse", st32.Branch)
	require.Equal(t, reached.Commit, head)
	run(t, "git", "-C", s.demo.Remote, "merge-base", "--is-ancestor", branches[waves[1]], head)
	require.Contains(t, run(t, "git", "-C", s.demo.Remote, "show", head+":pkgs/libraries/libcrypto/default.nix"), `"2.5.1"`)
	require.Len(t, st32.Fixes, 1)
	require.Equal(t, id, st32.Fixes[0].Patch)
	// wave-31 was not named: the fix does not reach it.
	st31 := s.status(waves[0])
	require.Empty(t, st31.Fixes)
	require.Equal(t, branches[waves[0]], run(t, "git", "-C", s.demo.Remote, "rev-parse", st31.Branch))
	p, err := s.st.PatchByWorkflow(ctx, id)
	require.NoError(t, err)
	require.Equal(t, store.PatchDone, p.State)
	pts, err := s.st.PatchTags(ctx, p.ID)
	require.NoError(t, err)
	require.Empty(t, pts, "no finished tag named: none patched")
	merges, err := s.st.PatchMerges(ctx, p.ID)
	require.NoError(t, err)
	require.Len(t, merges, 1)
	require.Equal(t, "wave-32", merges[0].Wave)

	// A wave that ended is not running: refused with the reason.
	require.NoError(t, s.c.SignalWorkflow(ctx, waves[0], "", workflows.SignalCancel, nil))
	s.waitFor(waves[0], "cancelled", func(st workflows.MajorStatus) bool { return st.Phase == workflows.PhaseCancelled })
	_, err = s.patch(t, "demo/patch-tags-ended", workflows.SecurityPatchInput{Package: "libcrypto", Ref: demo.SecurityLibcrypto251, Tags: []string{"wave-31"}})
	require.ErrorContains(t, err, "wave-31: not running (it is cancelled)")
	require.NoError(t, s.c.SignalWorkflow(ctx, waves[1], "", workflows.SignalCancel, nil))
	s.waitFor(waves[1], "cancelled", func(st workflows.MajorStatus) bool { return st.Phase == workflows.PhaseCancelled })
	recordHistories(t, s.c, id, waves[1])
}
