package workflows_test

import (
	"context"
	"path/filepath"
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

// gatedBuilder holds the builds of derivations whose path contains gate until open is
// closed, heartbeating meanwhile: a test decides when they may finish.
type gatedBuilder struct {
	inner activities.Builder
	gate  string
	open  chan struct{}
}

// Unwrap lets grafts find the Nix builder underneath.
func (b gatedBuilder) Unwrap() activities.Builder { return b.inner }

func (b gatedBuilder) Build(ctx context.Context, drv string, tests []string, heartbeat func()) (wire.BuildResult, error) {
	for strings.Contains(drv, b.gate) {
		select {
		case <-b.open:
			return b.inner.Build(ctx, drv, tests, heartbeat)
		case <-ctx.Done():
			return wire.BuildResult{}, ctx.Err()
		case <-time.After(time.Second):
			heartbeat()
		}
	}
	return b.inner.Build(ctx, drv, tests, heartbeat)
}

// patchUntil polls a running patch's status until cond holds.
func (s *stack) patchUntil(t *testing.T, id string, cond func(workflows.PatchStatus) bool) workflows.PatchStatus {
	t.Helper()
	var st workflows.PatchStatus
	require.Eventually(t, func() bool {
		v, err := s.c.QueryWorkflow(context.Background(), id, "", workflows.QueryStatus)
		return err == nil && v.Get(&st) == nil && cond(st)
	}, time.Minute, 20*time.Millisecond)
	return st
}

// TestSecurityPatchDuplicateWaveEndToEnd: a duplicate-wave patch of libcrypto tags the fix
// merged onto wave-1-1 as wave-1-1-security-1-unfinished at once, while the major wave it
// starts from wave-1-1 with the fix as its update (wave-2, a wave like any other) is still
// building; crest pin does not answer the unfinished tag. Once the wave finished,
// wave-1-1-security-1 is its last tag's commit, whose programs show the fix.
func TestSecurityPatchDuplicateWaveEndToEnd(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	release := make(chan struct{})
	s.acts.Builder = gatedBuilder{inner: s.acts.Builder, gate: "-libcrypto-", open: release}
	res := s.greenWave(t, 1, "calc", demo.FixCalcPrecision) // builds no libcrypto
	require.Equal(t, []string{"wave-1-1"}, res.Tags)

	id := "demo/patch-duplicate" // a stable ID: its history is recorded
	start := time.Now()
	wf, err := s.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: s.queue}, workflows.SecurityPatch,
		workflows.SecurityPatchInput{Collection: "demo", Package: "libcrypto", Ref: demo.SecurityLibcrypto251, Strategy: "duplicate-wave",
			Severity: "critical", Advisory: "CVE-2026-0001", Limits: s.limits})
	require.NoError(t, err)

	// At once: the unfinished tag, while the duplicate wave builds libcrypto (held).
	st := s.patchUntil(t, id, func(st workflows.PatchStatus) bool { return st.Phase == workflows.PatchPhaseReverifying })
	t.Logf("patch start → pushed tag wave-1-1-security-1-unfinished: %v", time.Since(start).Round(time.Millisecond))
	require.Equal(t, "duplicate-wave", st.Strategy)
	require.Equal(t, "wave-1-1-security-1-unfinished", st.Tags[0].Unfinished)
	require.Equal(t, "wave-2", st.Tags[0].Wave)
	require.False(t, st.Tags[0].Done)
	unfinished := st.Tags[0].Unfinished
	msg := run(t, "git", "-C", s.demo.Remote, "tag", "-l", "--format=%(contents)", unfinished)
	require.Contains(t, msg, "libcrypto 2.5.0 → 2.5.1, UNFINISHED")
	require.Contains(t, msg, "not yet built or tested: wave-2 re-verifies it")
	require.Contains(t, msg, `"unfinished": true`)
	require.Contains(t, run(t, "git", "-C", s.demo.Remote, "show", unfinished+":pkgs/libraries/libcrypto/default.nix"), `"2.5.1"`)
	p, err := s.st.PatchByWorkflow(ctx, id)
	require.NoError(t, err)
	pts, err := s.st.PatchTags(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, store.PatchTagUnfinished, pts[0].State)
	require.Equal(t, 2, pts[0].DuplicateWave)
	require.Contains(t, pts[0].Reason, "wave-2 re-verifies the fix")
	pin, err := s.st.Pin(ctx, "demo", "backup", store.PinOptions{})
	require.NoError(t, err)
	require.Equal(t, "wave-1-1", pin.Tag, "crest pin answers no unfinished tag")
	require.Eventually(t, func() bool {
		_, err := s.c.DescribeWorkflowExecution(ctx, "demo/wave-2", "")
		return err == nil
	}, time.Minute, 20*time.Millisecond)
	wave := s.waitFor("demo/wave-2", "wave-2-1 building", minorPhase(1, workflows.PhaseBuilding))
	require.Contains(t, wave.Title, "duplicate-wave of demo/patch-duplicate")

	close(release)
	out, err := awaitPatch(wf)
	require.NoError(t, err)
	t.Logf("patch start → pushed tag wave-1-1-security-1 (duplicate wave re-verified): %v", time.Since(start).Round(time.Millisecond))
	require.Equal(t, workflows.PatchPhaseDone, out.Phase)
	tag := out.Tags[0]
	require.True(t, tag.Done)
	require.Equal(t, "wave-1-1-security-1", tag.Tag)
	tags, err := s.st.Tags(ctx, "demo")
	require.NoError(t, err)
	require.Equal(t, "wave-2-1", tags[0].Name, "the duplicate wave's tag, newest")
	require.Equal(t, tags[0].Commit, tag.Commit, "the security tag is the wave's last tag")
	require.Equal(t, tag.Commit, run(t, "git", "-C", s.demo.Remote, "rev-parse", tag.Tag+"^{commit}"))
	msg = run(t, "git", "-C", s.demo.Remote, "tag", "-l", "--format=%(contents)", tag.Tag)
	require.Contains(t, msg, "duplicate-wave of wave-1-1: wave-2 re-verified the fix as a wave does (its last tag: wave-2-1)")
	sec, err := s.st.NewestSecurityTag(ctx, mustWave(t, s.st, 1).CollectionID, "wave-1-1")
	require.NoError(t, err)
	require.Equal(t, tag.Tag, sec.Name, "finished: crest pin prefers it for wave-1-1")
	pts, err = s.st.PatchTags(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, store.PatchTagTagged, pts[0].State)
	pin, err = s.st.Pin(ctx, "demo", "backup", store.PinOptions{})
	require.NoError(t, err)
	require.Equal(t, "wave-2-1", pin.Tag, "the duplicate wave's tag is the newest green one")

	dir := t.TempDir()
	require.NoError(t, s.demo.Export(ctx, tag.Tag, dir))
	backup := run(t, "nix-build", filepath.Join(dir, "default.nix"), "-A", "backup", "--no-out-link",
		"--option", "build-users-group", "", "--option", "substituters", "", "--option", "sandbox", "false")
	require.Equal(t, "backup: nothing to back up; checksums by libcrypto 2.5.1 (fixes CVE-2026-0001)", run(t, filepath.Join(backup, "bin", "backup")))
	recordHistories(t, s.c, id)
}
