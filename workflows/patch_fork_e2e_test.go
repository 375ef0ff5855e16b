package workflows_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/workflows"
)

// TestSecurityPatchForksRunningWaveEndToEnd: wave-11 (libhttp's fix, then pkgtool's) has
// tagged wave-11-1 and is building wave-11-2 (held) when a duplicate-wave patch of
// libcrypto arrives. The patch forks the running wave onto the fix: wave-11-1 gets
// wave-11-1-security-1-unfinished with the fix at once (crest pin never answers it), wave-11
// is superseded (cancelled, its reason naming the fork, its tag kept), and the fork wave-12
// re-verifies wave-11-1 as wave-12-1 (the fix and wave-11-1's tag merged onto wave-11's base);
// once wave-12-1 is tagged, wave-11-1-security-1 is finished at its commit while the fork
// carries on with pkgtool (wave-12-2, held), and finishes when released.
// Its waves are numbered 11 and 12 (21 and 22 in the next test): minor wave IDs are never
// reused (ALLOW_DUPLICATE_FAILED_ONLY), and the package's tests share one Temporal server.
func TestSecurityPatchForksRunningWaveEndToEnd(t *testing.T) {
	s := newStack(t, oneBuildInFlight)
	ctx := context.Background()
	waveID := "demo/wave-11" // stable IDs: their histories are recorded
	_, st, release := s.heldWave(t, waveID, 11, "-pkgtool-1.1.0", 2)
	require.Equal(t, "wave-11-1", st.Minor[0].Tag)

	id := "demo/patch-fork"
	start := time.Now()
	wf, err := s.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: s.queue}, workflows.SecurityPatch,
		workflows.SecurityPatchInput{Collection: "demo", Package: "libcrypto", Ref: demo.SecurityLibcrypto251, Strategy: "duplicate-wave",
			Severity: "critical", Advisory: "CVE-2026-0001", Limits: s.limits})
	require.NoError(t, err)

	// At once: the unfinished tag, and the reason.
	ps := s.patchUntil(t, id, func(st workflows.PatchStatus) bool { return len(st.Tags) == 1 && st.Tags[0].Unfinished != "" })
	t.Logf("patch start → pushed tag wave-11-1-security-1-unfinished (fork of wave-11): %v", time.Since(start).Round(time.Millisecond))
	require.Equal(t, "wave-11-1-security-1-unfinished", ps.Tags[0].Unfinished)
	require.Equal(t, "wave-12", ps.Tags[0].Wave)
	require.Contains(t, ps.Tags[0].Reason, "unfinished: wave-11-1-security-1-unfinished has the fix merged, not yet built or tested")
	require.Contains(t, run(t, "git", "-C", s.demo.Remote, "show", "wave-11-1-security-1-unfinished:pkgs/libraries/libcrypto/default.nix"), `"2.5.1"`)
	pin, err := s.st.Pin(ctx, "demo", "backup", store.PinOptions{})
	require.NoError(t, err)
	require.Equal(t, "wave-11-1", pin.Tag, "crest pin answers no unfinished tag")

	// wave-11 is superseded by its fork: cancelled with the reason, wave-11-1 kept.
	require.Eventually(t, func() bool {
		st = s.status(waveID)
		return st.Phase == workflows.PhaseCancelled
	}, 2*time.Minute, 50*time.Millisecond)
	require.Equal(t, "wave-12", st.SupersededBy)
	require.Contains(t, st.Reason, "superseded by wave-12, its fork onto a security fix (demo/patch-fork)")
	require.Equal(t, "wave-11-1", st.Minor[0].Tag)
	w1 := mustWave(t, s.st, 11)
	require.Equal(t, workflows.PhaseCancelled, w1.State)

	// The fork re-verifies wave-11-1 as wave-12-1; the patch finishes while wave-12-2 (pkgtool,
	// the rest of wave-11's plan) is still held.
	out, err := awaitPatch(wf)
	require.NoError(t, err)
	t.Logf("patch start → pushed tag wave-11-1-security-1 (re-verified by the fork's first minor wave): %v", time.Since(start).Round(time.Millisecond))
	require.Equal(t, workflows.PatchPhaseDone, out.Phase)
	require.Contains(t, out.Reason, "wave-11 forked onto the fix as wave-12")
	tag := out.Tags[0]
	require.True(t, tag.Done)
	require.Equal(t, "wave-11-1-security-1", tag.Tag)
	require.Contains(t, tag.Reason, "wave-12 re-verified wave-11-1 with the fix (tag wave-12-1)")
	for _, t2 := range out.Tags {
		require.NotEqual(t, "wave-12", t2.Covers, "the fork is not merged into: it has the fix")
	}
	fork := s.waitFor("demo/wave-12", "wave-12-2 building", minorPhase(2, workflows.PhaseBuilding))
	require.Equal(t, "wave-12-1", fork.Minor[0].Tag)
	require.Equal(t, &workflows.ForkOf{Of: "wave-11", Patch: id, Reverify: 1}, fork.Fork)
	require.Equal(t, []wire.Update{{Package: "libcrypto", Ref: demo.SecurityLibcrypto251}, {Package: "libhttp", Ref: "wave-11-1"}}, fork.Minor[0].Updates)
	require.Equal(t, []wire.Update{{Package: "pkgtool", Ref: demo.FixPkgtoolLibcrypto3}}, fork.Minor[1].Updates)
	tags, err := s.st.Tags(ctx, "demo")
	require.NoError(t, err)
	require.Equal(t, "wave-12-1", tags[0].Name)
	require.Equal(t, tags[0].Commit, tag.Commit, "the security tag is the re-verifying minor wave's tag")
	require.Equal(t, tag.Commit, run(t, "git", "-C", s.demo.Remote, "rev-parse", tag.Tag+"^{commit}"))
	for file, version := range map[string]string{"pkgs/libraries/libcrypto/default.nix": `"2.5.1"`, "pkgs/libraries/libhttp/default.nix": `"1.2.1"`} {
		require.Contains(t, run(t, "git", "-C", s.demo.Remote, "show", tag.Tag+":"+file), version, file)
	}
	p, err := s.st.PatchByWorkflow(ctx, id)
	require.NoError(t, err)
	pts, err := s.st.PatchTags(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, store.PatchTagTagged, pts[0].State)
	require.Equal(t, 12, pts[0].DuplicateWave)
	sec, err := s.st.NewestSecurityTag(ctx, w1.CollectionID, "wave-11-1")
	require.NoError(t, err)
	require.Equal(t, tag.Tag, sec.Name, "finished: crest pin prefers it for wave-11-1")

	// The fork carries on with the rest of wave-11's plan.
	close(release)
	res := s.waitFor("demo/wave-12", "wave-12 done", func(st workflows.MajorStatus) bool { return st.Phase == workflows.PhaseDone })
	require.Equal(t, "wave-12-2", res.Minor[1].Tag)
	recordHistories(t, s.c, id, waveID, "demo/wave-12")
}

// TestSecurityPatchAutoForksRunningWaveEndToEnd: an auto patch updating libcrypto to 3.0.0
// (a major version: policy.ChooseStrategy picks duplicate-wave) arrives while wave-21 has
// tagged wave-21-1 and holds wave-21-2 (pkgtool's port to libcrypto 3). It forks wave-21 as an
// explicit duplicate-wave patch does: wave-22-1 re-verifies what wave-21-1 locked in, now
// with libcrypto 3, and wave-21-1-security-1 is finished at its tag; pkgtool, which breaks
// with libcrypto 3, was not locked in by wave-21-1 and is left, as there, to the minor
// wave that ports it (wave-22-2), which passes once released.
func TestSecurityPatchAutoForksRunningWaveEndToEnd(t *testing.T) {
	s := newStack(t, oneBuildInFlight)
	ctx := context.Background()
	waveID := "demo/wave-21" // stable IDs: their histories are recorded
	_, st, release := s.heldWave(t, waveID, 21, "-pkgtool-1.1.0", 2)
	require.Equal(t, "wave-21-1", st.Minor[0].Tag)

	id := "demo/patch-fork-auto"
	wf, err := s.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: s.queue}, workflows.SecurityPatch,
		workflows.SecurityPatchInput{Collection: "demo", Package: "libcrypto", Ref: demo.UpdateLibcrypto3, Severity: "high",
			Advisory: "CVE-2026-0003", Limits: s.limits})
	require.NoError(t, err)
	ps := s.patchUntil(t, id, func(st workflows.PatchStatus) bool { return len(st.Tags) == 1 && st.Tags[0].Unfinished != "" })
	require.Equal(t, "duplicate-wave", ps.Tags[0].Strategy, "policy's choice for a major version")
	require.Equal(t, "wave-21-1-security-1-unfinished", ps.Tags[0].Unfinished)
	require.Equal(t, "wave-22", ps.Tags[0].Wave)
	require.Eventually(t, func() bool { return s.status(waveID).Phase == workflows.PhaseCancelled }, 2*time.Minute, 50*time.Millisecond)
	require.Equal(t, "wave-22", s.status(waveID).SupersededBy)

	out, err := awaitPatch(wf)
	require.NoError(t, err)
	require.Equal(t, workflows.PatchPhaseDone, out.Phase, out.Reason)
	require.Contains(t, out.Reason, "wave-21 forked onto the fix as wave-22")
	tag := out.Tags[0]
	require.True(t, tag.Done)
	require.Equal(t, "wave-21-1-security-1", tag.Tag)
	require.Contains(t, tag.Reason, "wave-22 re-verified wave-21-1 with the fix (tag wave-22-1)")
	require.Contains(t, run(t, "git", "-C", s.demo.Remote, "show", tag.Tag+":pkgs/libraries/libcrypto/default.nix"), `"3.0.0"`)
	fork := s.status("demo/wave-22")
	require.Equal(t, "wave-22-1", fork.Minor[0].Tag)
	require.Equal(t, []wire.Update{{Package: "libcrypto", Ref: demo.UpdateLibcrypto3}, {Package: "libhttp", Ref: "wave-21-1"}}, fork.Minor[0].Updates)

	close(release) // pkgtool 1.1.0, ported to libcrypto 3, may build now
	res := s.waitFor("demo/wave-22", "wave-22 done", func(st workflows.MajorStatus) bool { return st.Phase == workflows.PhaseDone })
	require.Equal(t, []string{"wave-22-1", "wave-22-2"}, []string{res.Minor[0].Tag, res.Minor[1].Tag})
	s.waitRecorded(t, 22, 2, "pkgtool", "passed")
	recordHistories(t, s.c, id, waveID, "demo/wave-22")
}

// TestSecurityPatchForkRefusedKeepsWaveRunningEndToEnd: the hand-over to a fork is two-step.
// wave-41 has tagged wave-41-1 and holds wave-41-2 (pkgtool), whose fix branch was deleted
// once merged, as people do. Its fork would re-merge that branch and be refused, so a
// duplicate-wave patch of libcrypto has the wave check its fork first (crest.supersede
// with the fix): the wave answers why and keeps running, wave-41-2 untouched; the patch
// fails with the reason and its unfinished tag stays; released, wave-41 finishes.
// Its waves are numbered 41 (and 42, the fork that never starts).
func TestSecurityPatchForkRefusedKeepsWaveRunningEndToEnd(t *testing.T) {
	s := newStack(t, oneBuildInFlight)
	ctx := context.Background()
	waveID := "demo/wave-41" // stable IDs: their histories are recorded
	wave, st, release := s.heldWave(t, waveID, 41, "-pkgtool-1.1.0", 2)
	require.Equal(t, "wave-41-1", st.Minor[0].Tag)
	run(t, "git", "-C", s.demo.Remote, "branch", "-D", demo.FixPkgtoolLibcrypto3)

	id := "demo/patch-fork-refused"
	_, err := s.patch(t, id, workflows.SecurityPatchInput{Package: "libcrypto", Ref: demo.SecurityLibcrypto251,
		Strategy: "duplicate-wave", Severity: "critical"})
	require.ErrorContains(t, err, "wave-41: not forked, it keeps running: its fork wave-42 would be refused: ")
	require.ErrorContains(t, err, `update pkgtool: ref "`+demo.FixPkgtoolLibcrypto3+`" not found`)
	require.ErrorContains(t, err, "wave-41-1-security-1-unfinished stay unfinished")
	st = s.status(waveID)
	require.Equal(t, workflows.PhaseRunning, st.Phase, st.Reason)
	require.Empty(t, st.SupersededBy)
	require.Equal(t, workflows.PhaseBuilding, st.Minor[1].Phase, "wave-41-2 untouched")
	require.Equal(t, "wave-41", mustWave(t, s.st, 41).Name())
	require.NotEqual(t, workflows.PhaseCancelled, mustWave(t, s.st, 41).State)
	p, err := s.st.PatchByWorkflow(ctx, id)
	require.NoError(t, err)
	require.Equal(t, store.PatchFailed, p.State)
	run(t, "git", "-C", s.demo.Remote, "rev-parse", "wave-41-1-security-1-unfinished^{commit}") // stays

	close(release)
	res, err := finish(t, wave)
	require.NoError(t, err)
	require.Equal(t, []string{"wave-41-1", "wave-41-2"}, res.Tags, "nothing lost: the wave finished its plan")
	recordHistories(t, s.c, id, waveID)
}

// TestSecurityPatchForkCarriesRequestsEndToEnd: a fork loses nothing people gave the
// minor wave its wave had not finished. wave-51 has tagged wave-51-1 (libhttp's fix) and
// runs wave-51-2 (libcore 2): tetrix fails (resolved wont-fix by alice), calc's test fails
// (carol retries it with fix/calc-precision, whose build is held) when a duplicate-wave
// patch of libcrypto forks wave-51. The fork's wave-52-2, standing for wave-51-2, starts
// with carol's fix merged after libcore 2 and alice's resolution queued: calc passes in
// its first round, tetrix is settled wont-fix with her reason, and wave-52 finishes
// without anyone repeating either.
// Its waves are numbered 51 and 52.
func TestSecurityPatchForkCarriesRequestsEndToEnd(t *testing.T) {
	s := newStack(t, oneBuildInFlight)
	ctx := context.Background()
	libhttp, release := make(chan struct{}), make(chan struct{})
	s.gateBuilds(gatesBuilder{inner: s.acts.Builder, gates: map[string]chan struct{}{"-libhttp-1.2.1": libhttp, "-calc-1.0.1": release}})
	waveID := "demo/wave-51" // stable IDs: their histories are recorded
	// libcore goes after libhttp's minor wave: added while that one builds (the planner
	// would put libcore, which libhttp depends on, first).
	s.start(waveID, workflows.MajorWaveInput{Title: "libhttp fix, libcore 2", Wave: 51, Updates: []wire.Update{
		{Package: "libhttp", Ref: demo.FixLibhttpLibnet2}}})
	s.waitFor(waveID, "wave-51-1 building", minorPhase(1, workflows.PhaseBuilding))
	_, err := s.update(waveID, workflows.UpdateAddUpdate, workflows.AddUpdateRequest{Package: "libcore", Ref: demo.UpdateLibcore2, By: "bob"})
	require.NoError(t, err)
	close(libhttp)
	s.waitRecorded(t, 51, 2, "tetrix", store.StatusFailed)
	st := s.status(waveID)
	require.Equal(t, "wave-51-1", st.Minor[0].Tag)
	require.Equal(t, "libcore", st.Minor[1].Updates[0].Package)
	_, err = s.update(waveID, workflows.UpdateResolve, workflows.ResolveRequest{Package: "tetrix", Resolution: "wont-fix",
		Reason: "upstream dead", By: "alice"})
	require.NoError(t, err)
	s.waitRecorded(t, 51, 2, "calc", store.StatusTestFailed)
	_, err = s.update(waveID, workflows.UpdateRetry, workflows.RetryRequest{Package: "calc", Ref: demo.FixCalcPrecision, By: "carol"})
	require.NoError(t, err)

	id := "demo/patch-fork-carry"
	out, err := s.patch(t, id, workflows.SecurityPatchInput{Package: "libcrypto", Ref: demo.SecurityLibcrypto251,
		Strategy: "duplicate-wave", Severity: "critical"})
	require.NoError(t, err)
	require.Contains(t, out.Reason, "wave-51 forked onto the fix as wave-52")
	st = s.status(waveID)
	require.Equal(t, workflows.PhaseCancelled, st.Phase)
	require.Empty(t, st.Minor[1].Tag, "wave-51-2 did not finish: its plan and people's requests went to the fork")

	close(release)
	fork := s.waitFor("demo/wave-52", "wave-52 done", func(st workflows.MajorStatus) bool { return st.Phase == workflows.PhaseDone })
	require.Equal(t, "wave-52-2", fork.Minor[1].Tag)
	require.Equal(t, []wire.Update{{Package: "libcore", Ref: demo.UpdateLibcore2}}, fork.Minor[1].Updates)
	require.Contains(t, run(t, "git", "-C", s.demo.Remote, "show", "wave-52-2:pkgs/applications/calc/default.nix"), `"1.0.1"`)
	m, err := s.st.MinorWaveByNumber(ctx, mustWave(t, s.st, 52).ID, 2)
	require.NoError(t, err)
	calc, err := s.st.Results(ctx, m.ID, "calc")
	require.NoError(t, err)
	require.Equal(t, store.StatusPassed, calc[0].Status, "built with carol's fix from the first round")
	require.Zero(t, calc[0].Round)
	tetrix, err := s.st.Results(ctx, m.ID, "tetrix")
	require.NoError(t, err)
	require.Equal(t, "wont-fix", tetrix[0].Resolution)
	require.Equal(t, "upstream dead (carried from wave-51-2, superseded)", tetrix[0].Reason)
	recordHistories(t, s.c, id, waveID, "demo/wave-52")
}

// gatesBuilder holds builds whose derivation contains one of its gates until that gate's
// channel is closed.
type gatesBuilder struct {
	inner activities.Builder
	gates map[string]chan struct{}
}

func (b gatesBuilder) Build(ctx context.Context, drv string, tests []string, heartbeat func()) (wire.BuildResult, error) {
	for gate, open := range b.gates {
		if strings.Contains(drv, gate) {
			return gatedBuilder{inner: b.inner, gate: gate, open: open}.Build(ctx, drv, tests, heartbeat)
		}
	}
	return b.inner.Build(ctx, drv, tests, heartbeat)
}

// TestSecurityPatchForkCarriesStackedFixesEndToEnd: wave-71-1 is grafted with libnet's fix
// (wave-71-1-security-1, --tags naming it alone, so running wave-71 does not take it) while
// wave-71 holds wave-71-2. A duplicate-wave patch of libcrypto then forks wave-71: its
// security tag stacks on libnet's, so the fork's first minor wave merges both fixes, and
// wave-71-1-security-2 — unfinished at once, then finished at wave-72-1's tag — has both.
func TestSecurityPatchForkCarriesStackedFixesEndToEnd(t *testing.T) {
	s := newStack(t, oneBuildInFlight)
	ctx := context.Background()
	_, st, release := s.heldWave(t, "demo/wave-71", 71, "-pkgtool-1.1.0", 2)
	require.Equal(t, "wave-71-1", st.Minor[0].Tag)
	graft, err := s.patch(t, "demo/patch-fork-stack-1", workflows.SecurityPatchInput{Package: "libnet", Ref: demo.SecurityLibnet191,
		Strategy: "replace-dependency", Severity: "high", Tags: []string{"wave-71-1"}})
	require.NoError(t, err)
	require.Equal(t, "wave-71-1-security-1", graft.Tags[0].Tag)
	require.Len(t, graft.Tags, 1, "wave-71 is not named: the fix is not merged into it")

	out, err := s.patch(t, "demo/patch-fork-stack-2", workflows.SecurityPatchInput{Package: "libcrypto", Ref: demo.SecurityLibcrypto251,
		Strategy: "duplicate-wave", Severity: "critical"})
	require.NoError(t, err)
	require.Equal(t, workflows.PatchPhaseDone, out.Phase, out.Reason)
	require.Contains(t, out.Reason, "wave-71 forked onto the fix as wave-72")
	tag := out.Tags[0]
	require.Equal(t, "wave-71-1-security-2", tag.Tag)
	require.Equal(t, "wave-71-1-security-2-unfinished", tag.Unfinished)
	fork := s.status("demo/wave-72")
	require.Equal(t, []wire.Update{{Package: "libcrypto", Ref: demo.SecurityLibcrypto251}, {Package: "libnet", Ref: demo.SecurityLibnet191},
		{Package: "libhttp", Ref: "wave-71-1"}}, fork.Minor[0].Updates, "the fix, the fix it carries, then wave-71-1")
	for _, name := range []string{tag.Unfinished, tag.Tag} {
		for file, version := range map[string]string{"libcrypto": "2.5.1", "libnet": "1.9.1", "libhttp": "1.2.1"} {
			require.Contains(t, run(t, "git", "-C", s.demo.Remote, "show", name+":pkgs/libraries/"+file+"/default.nix"), `"`+version+`"`, name)
		}
	}
	_, sum := s.securitySummary(t, tag.Tag)
	require.Equal(t, []wire.CarriedFix{{Package: "libnet", Ref: demo.SecurityLibnet191, Tag: "wave-71-1-security-1"}}, sum.Carries)
	sec, err := s.st.NewestSecurityTag(ctx, mustWave(t, s.st, 71).CollectionID, "wave-71-1")
	require.NoError(t, err)
	require.Equal(t, tag.Tag, sec.Name, "crest pin prefers it for wave-71-1")

	close(release)
	res := s.waitFor("demo/wave-72", "wave-72 done", func(st workflows.MajorStatus) bool { return st.Phase == workflows.PhaseDone })
	require.Equal(t, "wave-72-2", res.Minor[1].Tag)
}
