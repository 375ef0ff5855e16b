package workflows_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/graph"
	"github.com/crestwaves/crest/workflows"
)

// TestSecurityPatchRebuildsEndToEnd: after a finished wave and a graft of libcrypto 2.5.1
// onto its tag, a rebuild patch of the same fix rebuilds libcrypto and its whole reverse
// closure in the tag through the build engine — each package exactly once, nothing outside
// it, the count the planner expects — and tags wave-1-1-security-2: its programs, built
// from source, show the fix, it carries no grafts, it retires the graft debt of the tag,
// and crest pin answers it. An auto patch, whose policy chooses rebuild for the demo's
// small closure, builds libcrypto alone first and the rest of the closure after, once
// each. (A rebuild that is not green waits for its failures to be settled:
// TestSecurityPatchRebuildSettlesFailures.)
func TestSecurityPatchRebuildsEndToEnd(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	_, pkgs := s.finishedTag(t)
	tagGraph, _, err := graph.New(pkgs, graph.Options{Lenient: true})
	require.NoError(t, err)
	closure, err := tagGraph.ReverseClosure("libcrypto")
	require.NoError(t, err)
	slices.Sort(closure)
	scenario, ok := s.demo.Scenario(demo.SecurityLibcrypto251)
	require.True(t, ok)
	require.Equal(t, scenario.Expect.Rebuilt, closure, "the planner's reverse closure is what the fix changes")

	// A graft first (critical: graft now, rebuild later), which leaves debt.
	grafted, err := s.patch(t, "demo/patch-rebuild-graft", workflows.SecurityPatchInput{Package: "libcrypto",
		Ref: demo.SecurityLibcrypto251, Strategy: "replace-dependency", Severity: "critical"})
	require.NoError(t, err)
	require.Equal(t, "wave-1-1-security-1", grafted.Tags[0].Tag)
	require.Positive(t, grafted.Tags[0].Grafts)

	id := "demo/patch-rebuild" // a stable ID: its history is recorded
	start := time.Now()
	out, err := s.patch(t, id, workflows.SecurityPatchInput{Package: "libcrypto", Ref: demo.SecurityLibcrypto251,
		Strategy: "rebuild", Severity: "high", Advisory: "CVE-2026-0001", By: "frank"})
	require.NoError(t, err)
	t.Logf("patch start → pushed tag %s (rebuild of %d packages): %v", out.Tags[0].Tag, out.Tags[0].Rebuilt, time.Since(start).Round(time.Millisecond))
	s.logActivityTimes(t, id)
	require.Equal(t, workflows.PatchPhaseDone, out.Phase)
	require.Equal(t, "rebuild", out.Strategy)
	require.Len(t, out.Tags, 1)
	tag := out.Tags[0]
	require.Equal(t, "wave-1-1-security-2", tag.Tag)
	require.True(t, tag.Done)
	require.Equal(t, "rebuild", tag.Strategy)
	require.Equal(t, len(closure), tag.Rebuilt)
	require.Zero(t, tag.Grafts)
	require.Equal(t, grafted.Tags[0].Grafts, tag.Retired, "the rebuild retired every graft of the tag")

	// Every package of the reverse closure was built exactly once, and nothing else.
	built, err := s.st.PatchBuilds(ctx, id)
	require.NoError(t, err)
	require.Equal(t, closure, built)

	// The tag is in the remote, annotated with its summary: rebuilt, no grafts.
	msg := run(t, "git", "-C", s.demo.Remote, "tag", "-l", "--format=%(objecttype)%0a%(contents)", tag.Tag)
	require.True(t, strings.HasPrefix(msg, "tag\n"), msg)
	require.Contains(t, msg, "rebuild of wave-1-1: 10 packages rebuilt from source against libcrypto 2.5.1, no grafts.")
	var sum activities.SecurityTagSummary
	require.NoError(t, json.Unmarshal([]byte(msg[strings.Index(msg, "{"):]), &sum), msg)
	require.Equal(t, "rebuild", sum.Strategy)
	require.Equal(t, "CVE-2026-0001", sum.Advisory)
	require.Equal(t, "requested by a person", sum.Reason)
	require.Equal(t, closure, sum.Rebuilt)
	require.Empty(t, sum.Grafts)
	require.Equal(t, "2.5.0", sum.OldVersion)
	require.Equal(t, "2.5.1", sum.NewVersion)
	require.Equal(t, tag.Commit, run(t, "git", "-C", s.demo.Remote, "rev-parse", tag.Tag+"^{commit}"))

	// nix-build of the tag gives programs built against the fix, with no graft.
	dir := t.TempDir()
	require.NoError(t, s.demo.Export(ctx, tag.Tag, dir))
	_, err = os.Stat(filepath.Join(dir, activities.GraftsDir))
	require.ErrorIs(t, err, os.ErrNotExist, "a rebuilt tag carries no grafts")
	nixBuild := func(attr string) string {
		return run(t, "nix-build", filepath.Join(dir, "default.nix"), "-A", attr, "--no-out-link",
			"--option", "build-users-group", "", "--option", "substituters", "", "--option", "sandbox", "false")
	}
	backup := nixBuild("backup")
	require.Equal(t, "backup: nothing to back up; checksums by libcrypto 2.5.1 (fixes CVE-2026-0001)", run(t, filepath.Join(backup, "bin", "backup")))
	require.Contains(t, run(t, filepath.Join(nixBuild("fetch"), "bin", "fetch")), "TLS by libcrypto 2.5.1 (fixes CVE-2026-0001)")
	require.Contains(t, strings.Fields(run(t, "nix-store", "-q", "--references", backup)), nixBuild("libcrypto"))

	// crest pin answers the rebuilt tag; the graft debt is retired by it.
	pin, err := s.st.Pin(ctx, "demo", "backup", store.PinOptions{})
	require.NoError(t, err)
	require.Equal(t, "wave-1-1-security-2", pin.Tag)
	require.Equal(t, tag.Commit, pin.Commit)
	debt, err := s.st.Grafts(ctx, grafted.PatchID)
	require.NoError(t, err)
	require.Len(t, debt, grafted.Tags[0].Grafts)
	for _, g := range debt {
		require.Equal(t, "wave-1-1-security-2", g.RetiredBy, g.Package)
	}
	pts, err := s.st.PatchTags(ctx, out.PatchID)
	require.NoError(t, err)
	require.Equal(t, "rebuild", pts[0].Strategy)
	require.NotZero(t, pts[0].MinorWaveID)
	waves, err := s.st.Waves(ctx, "demo")
	require.NoError(t, err)
	require.Len(t, waves, 1, "a rebuild's build round is not a wave")

	// auto: policy chooses rebuild; libcrypto is built alone first, then the rest, once each.
	auto := "demo/patch-rebuild-auto"
	out, err = s.patch(t, auto, workflows.SecurityPatchInput{Package: "libcrypto", Ref: demo.SecurityLibcrypto251, Severity: "low"})
	require.NoError(t, err)
	require.Equal(t, "rebuild", out.Strategy)
	require.Equal(t, "wave-1-1-security-3", out.Tags[0].Tag)
	require.Equal(t, len(closure), out.Tags[0].Rebuilt)
	built, err = s.st.PatchBuilds(ctx, auto)
	require.NoError(t, err)
	require.Equal(t, closure, built)
	msg = run(t, "git", "-C", s.demo.Remote, "tag", "-l", "--format=%(contents)", out.Tags[0].Tag)
	require.Contains(t, msg, "within small_closure", "the policy's reason")

	recordHistories(t, s.c, id, auto)
}

// TestSecurityPatchRebuildCancel: a patch cancelled while its rebuild builds (libcrypto
// builds slowly) stops taking packages — the build in flight finishes, no dependent is
// built — ends cancelled in Temporal and in Postgres, and pushes no tag.
func TestSecurityPatchRebuildCancel(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	s.acts.Builder = slowBuilder{inner: s.acts.Builder, slow: "-libcrypto-", delay: 5 * time.Second}
	res := s.greenWave(t, 1, "calc", demo.FixCalcPrecision) // builds no libcrypto
	require.Equal(t, []string{"wave-1-1"}, res.Tags)

	id := "demo/patch-rebuild-cancel"
	wf, err := s.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: s.queue}, workflows.SecurityPatch,
		workflows.SecurityPatchInput{Collection: "demo", Package: "libcrypto", Ref: demo.SecurityLibcrypto251, Strategy: "rebuild",
			Limits: s.limits})
	require.NoError(t, err)
	key := id + "/wave-1-1/rebuild/x86_64-linux/libcrypto/r0"
	require.Eventually(t, func() bool { // libcrypto is building
		rec, _, err := s.st.BuildStatus(ctx, key)
		return err == nil && rec.Status == "running"
	}, time.Minute, 20*time.Millisecond)
	require.NoError(t, s.c.SignalWorkflow(ctx, id, "", workflows.SignalCancel, nil))
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var out workflows.SecurityPatchResult
	err = wf.Get(wctx, &out)
	require.True(t, temporal.IsCanceledError(err), "cancelled, not failed: %v", err)

	built, err := s.st.PatchBuilds(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []string{"libcrypto"}, built, "the build in flight finished; nothing else was taken")
	p, err := s.st.PatchByWorkflow(ctx, id)
	require.NoError(t, err)
	require.Equal(t, store.PatchCancelled, p.State)
	require.Contains(t, p.Reason, "cancelled while rebuilding; nothing tagged")
	require.Empty(t, run(t, "git", "-C", s.demo.Remote, "tag", "-l", "wave-1-1-security-*"), "no tag pushed")
	recordHistories(t, s.c, id)
}
