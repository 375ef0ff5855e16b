package workflows_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/workflows"
)

// TestSecurityPatchReachesRunningWaveEndToEnd: while wave-2 (libhttp's and pkgtool's
// fixes, one minor wave each) is running, its first minor wave held building libhttp, a
// replace-dependency patch of libcrypto grafts the finished tag wave-1-1 and is merged
// into wave-2's branch by wave-2 itself. wave-2-1 had evaluated before the fix and tags
// without it; wave-2-2, the next minor wave, rebuilds libcrypto's dependents against the
// fix — libhttp, fetch, webd and feedreader too, which wave-2-1 had locked in against
// the vulnerable libcrypto — and so retires every graft of the patch with its tag. A second
// fix that conflicts with the one now on wave-2's branch is refused with the conflict's
// files, the branch unchanged and the patch failed with the reason; its security tag stays.
func TestSecurityPatchReachesRunningWaveEndToEnd(t *testing.T) {
	s := newStack(t, oneBuildInFlight)
	ctx := context.Background()
	s.finishedTag(t)
	waveID := "demo/wave-running" // stable IDs: their histories are recorded
	wave, st, release := s.heldWave(t, waveID, 0, "-libhttp-1.2.1", 1)
	require.Equal(t, "wave-2", st.Name)
	require.Len(t, st.Minor, 2)
	branch := st.Branch
	before := run(t, "git", "-C", s.demo.Remote, "rev-parse", branch)

	id := "demo/patch-running"
	start := time.Now()
	out, err := s.patch(t, id, workflows.SecurityPatchInput{Package: "libcrypto", Ref: demo.SecurityLibcrypto251,
		Strategy: "replace-dependency", Severity: "critical", Advisory: "CVE-2026-0001"})
	require.NoError(t, err)
	t.Logf("patch start → wave-1-1-security-1 pushed and the fix merged into running wave-2: %v", time.Since(start).Round(time.Millisecond))
	require.Equal(t, workflows.PatchPhaseDone, out.Phase)
	require.Contains(t, out.Reason, "tagged wave-1-1-security-1; merged into running wave-2")
	require.Len(t, out.Tags, 2)
	require.Equal(t, "wave-1-1-security-1", out.Tags[0].Tag)
	require.True(t, out.Tags[0].Done)
	reached := out.Tags[1]
	require.Equal(t, "wave-2", reached.Covers)
	require.True(t, reached.Running)
	require.True(t, reached.Done)
	require.Contains(t, reached.Reason, "merged into running wave wave-2")
	// The fix is on wave-2's branch, on top of what the wave had merged.
	head := run(t, "git", "-C", s.demo.Remote, "rev-parse", branch)
	require.Equal(t, reached.Commit, head)
	run(t, "git", "-C", s.demo.Remote, "merge-base", "--is-ancestor", before, head)
	require.Contains(t, run(t, "git", "-C", s.demo.Remote, "show", head+":pkgs/libraries/libcrypto/default.nix"), `"2.5.1"`)
	st = s.status(waveID)
	require.Len(t, st.Fixes, 1)
	require.Equal(t, head, st.Fixes[0].Commit)
	require.Equal(t, id, st.Fixes[0].Patch)
	require.Equal(t, workflows.PhaseBuilding, st.Minor[0].Phase, "wave-2-1 still held: the fix went in while it ran")
	p, err := s.st.PatchByWorkflow(ctx, id)
	require.NoError(t, err)
	merges, err := s.st.PatchMerges(ctx, p.ID)
	require.NoError(t, err)
	require.Len(t, merges, 1)
	require.Equal(t, store.PatchMergeMerged, merges[0].State)
	require.Equal(t, head, merges[0].Commit)
	debt, err := s.st.Grafts(ctx, p.ID)
	require.NoError(t, err)
	require.Len(t, debt, out.Tags[0].Grafts)
	grafted := map[string]bool{}
	for _, g := range debt {
		require.Nil(t, g.RetiredAt, g.Package)
		grafted[g.Package] = true
	}
	require.True(t, grafted["libhttp"] && grafted["fetch"] && grafted["pkgtool"] && grafted["backup"], "%v", grafted)

	// A fix that conflicts with the one on wave-2's branch (libcrypto 2.5.2 from main) is
	// refused by the wave, with the conflict's files; nothing on the branch changes.
	s.libcryptoBranch(t, demo.MainBranch, "2.5.0", "2.5.2")
	conflict := "demo/patch-running-conflict"
	_, err = s.patch(t, conflict, workflows.SecurityPatchInput{Package: "libcrypto", Ref: "security/libcrypto-2.5.2",
		Strategy: "replace-dependency", Severity: "high"})
	require.ErrorContains(t, err, "tagged wave-1-1-security-2; not merged: wave-2 refused the fix of libcrypto")
	require.ErrorContains(t, err, "does not merge onto "+branch+": conflicts in pkgs/libraries/libcrypto/default.nix")
	require.ErrorContains(t, err, "the branch is unchanged")
	require.Equal(t, head, run(t, "git", "-C", s.demo.Remote, "rev-parse", branch), "a refused fix changes nothing")
	pc, err := s.st.PatchByWorkflow(ctx, conflict)
	require.NoError(t, err)
	require.Equal(t, store.PatchFailed, pc.State)
	require.Contains(t, pc.Reason, "conflicts in pkgs/libraries/libcrypto/default.nix")
	merges, err = s.st.PatchMerges(ctx, pc.ID)
	require.NoError(t, err)
	require.Len(t, merges, 1)
	require.Equal(t, store.PatchMergeRefused, merges[0].State)
	require.Empty(t, merges[0].Commit)
	pts, err := s.st.PatchTags(ctx, pc.ID)
	require.NoError(t, err)
	require.Equal(t, store.PatchTagTagged, pts[0].State, "the security tag it made stays")
	st = s.status(waveID)
	require.Len(t, st.Fixes, 2)
	require.Contains(t, st.Fixes[1].Reason, "conflicts in pkgs/libraries/libcrypto/default.nix")

	// wave-2-1 finishes without the fix (it evaluated before); wave-2-2 rebuilds
	// libcrypto's dependents against it, and its tag retires the first patch's grafts.
	close(release)
	released := time.Now()
	res, err := finish(t, wave)
	t.Logf("builds released → wave-2 finished, wave-2-2 retiring the graft debt: %v", time.Since(released).Round(time.Millisecond))
	require.NoError(t, err)
	require.Equal(t, []string{"wave-2-1", "wave-2-2"}, res.Tags)
	require.Contains(t, run(t, "git", "-C", s.demo.Remote, "show", "wave-2-1:pkgs/libraries/libcrypto/default.nix"), `"2.5.0"`)
	require.Contains(t, run(t, "git", "-C", s.demo.Remote, "show", "wave-2-2:pkgs/libraries/libcrypto/default.nix"), `"2.5.1"`)
	st = s.status(waveID)
	require.Equal(t, "wave-2-2", st.Fixes[0].Minor, "the first minor wave started after the merge rebuilds against it")
	debt, err = s.st.Grafts(ctx, p.ID)
	require.NoError(t, err)
	require.Len(t, debt, out.Tags[0].Grafts)
	for _, g := range debt {
		require.NotNil(t, g.RetiredAt, g.Package)
		require.Equal(t, "wave-2-2", g.RetiredBy, g.Package)
	}
	recordHistories(t, s.c, id, conflict, waveID)
}

// oneBuildInFlight keeps one build in flight per round: the builder's other activity
// slot stays free for a patch's own builds and system tests while a held wave's round
// holds its slot.
func oneBuildInFlight(s *stack) { s.limits.Builds = 1 }

// heldWave starts major wave id (number, 0: the next) with libhttp's and pkgtool's fixes
// (planned in that order, one minor wave each), holds builds whose derivation contains gate until the
// returned channel is closed, and waits until its minor wave number minor is building.
func (s *stack) heldWave(t *testing.T, id string, number int, gate string, minor int) (client.WorkflowRun, workflows.MajorStatus, chan struct{}) {
	t.Helper()
	release := make(chan struct{})
	s.gateBuilds(gatedBuilder{inner: s.acts.Builder, gate: gate, open: release})
	run := s.start(id, workflows.MajorWaveInput{Title: "libhttp and pkgtool fixes", Wave: number, Updates: []wire.Update{
		{Package: "pkgtool", Ref: demo.FixPkgtoolLibcrypto3}, {Package: "libhttp", Ref: demo.FixLibhttpLibnet2}}})
	st := s.waitFor(id, fmt.Sprintf("minor wave %d building", minor), minorPhase(minor, workflows.PhaseBuilding))
	require.Equal(t, "libhttp", st.Minor[0].Updates[0].Package, "libhttp's minor wave first, pkgtool's after it")
	return run, st, release
}

// gateBuilds restarts the stack's workers with b building on the builder queue, while
// the workflows' worker keeps the Nix builder (grafts run there with it).
func (s *stack) gateBuilds(b activities.Builder) {
	s.t.Helper()
	s.stop()
	gated := *s.acts
	gated.Builder = b
	main := worker.New(s.c, s.queue, worker.Options{})
	workflows.Register(main)
	activities.Register(main, s.acts)
	build := worker.New(s.c, workflows.BuildQueue(s.limits.BuildQueuePrefix, "x86_64-linux"), worker.Options{MaxConcurrentActivityExecutionSize: 2})
	activities.RegisterBuilds(build, &gated)
	require.NoError(s.t, main.Start())
	require.NoError(s.t, build.Start())
	s.stop = func() { main.Stop(); build.Stop() }
}
