package workflows_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/workflows"
)

// otherSystem is the second system of the two-system demo: x86_64 Linux builds it
// natively (Nix's extra platforms), so the demo's programs run on either.
const otherSystem = "i686-linux"

// twoSystems registers the demo for x86_64-linux and otherSystem, with builders for both.
func (s *stack) twoSystems(t *testing.T) {
	t.Helper()
	col := s.demoCollection()
	col.Systems = append(col.Systems, otherSystem)
	require.NoError(t, s.acts.RegisterCollection(context.Background(), col))
	b := worker.New(s.c, workflows.BuildQueue(s.limits.BuildQueuePrefix, otherSystem), worker.Options{MaxConcurrentActivityExecutionSize: 2})
	activities.RegisterBuilds(b, s.acts)
	require.NoError(t, b.Start())
	t.Cleanup(b.Stop)
}

// TestSecurityPatchCoversEverySystemEndToEnd: on a collection of two systems, a graft
// patch builds libcrypto's fix alone on each, grafts each system's dependents onto its own
// fixed library, runs the system tests on both and makes one security tag for both: its
// grafts.json marks each graft with its system, nix-build of the tag for either system
// reproduces that system's graft, and the graft debt is recorded per system. A rebuild of
// the tag then rebuilds the reverse closure on both systems and retires all that debt.
func TestSecurityPatchCoversEverySystemEndToEnd(t *testing.T) {
	s := newStack(t)
	s.twoSystems(t)
	ctx := context.Background()
	s.greenWave(t, 1, "calc", demo.FixCalcPrecision)

	id := "demo/patch-systems-graft"
	start := time.Now()
	out, err := s.patch(t, id, workflows.SecurityPatchInput{Package: "libcrypto", Ref: demo.SecurityLibcrypto251,
		Strategy: "replace-dependency", Severity: "critical"})
	require.NoError(t, err)
	t.Logf("patch start → pushed tag wave-1-1-security-1 (graft on 2 systems, %d grafts): %v", out.Tags[0].Grafts,
		time.Since(start).Round(time.Millisecond))
	require.Equal(t, workflows.PatchPhaseDone, out.Phase, out.Reason)
	require.Len(t, out.Tags, 1, "one security tag for both systems")
	tag := out.Tags[0]
	require.Equal(t, "wave-1-1-security-1", tag.Tag)
	require.Equal(t, []string{"default-system.boot (x86_64-linux)", "default-system.boot (" + otherSystem + ")"}, tag.SystemTests)
	built, err := s.st.PatchBuilds(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []string{"libcrypto", "libcrypto"}, built, "the fix alone, once per system")

	_, sum := s.securitySummary(t, tag.Tag)
	require.Len(t, sum.PatchedOn, 1)
	require.Equal(t, otherSystem, sum.PatchedOn[0].System)
	require.NotEqual(t, sum.Patched.New, sum.PatchedOn[0].New)
	backup := map[string]activities.GraftedPath{}
	for _, g := range sum.Grafts {
		if g.Package == "backup" {
			backup[g.System] = g
		}
	}
	require.Len(t, backup, 2)
	for system, lib := range map[string]activities.GraftedPath{"x86_64-linux": sum.Patched, otherSystem: sum.PatchedOn[0]} {
		g := backup[system]
		refs := strings.Fields(run(t, "nix-store", "-q", "--references", g.New))
		require.Contains(t, refs, lib.New, system)
		require.NotContains(t, refs, lib.Old, system)
		require.Equal(t, "backup: nothing to back up; checksums by libcrypto 2.5.1 (fixes CVE-2026-0001)", run(t, filepath.Join(g.New, "bin", "backup")), system)
	}
	dir := t.TempDir()
	require.NoError(t, s.demo.Export(ctx, tag.Tag, dir))
	for system, g := range backup {
		again := run(t, "nix-build", filepath.Join(dir, "default.nix"), "-A", "backup", "--argstr", "system", system, "--no-out-link",
			"--option", "build-users-group", "", "--option", "substituters", "", "--option", "sandbox", "false")
		require.Equal(t, g.New, again, "nix-build of the tag for %s", system)
	}
	require.Contains(t, run(t, "git", "-C", s.demo.Remote, "show", tag.Tag+":grafts/grafts.json"), `"system": "`+otherSystem+`"`)
	debt, err := s.st.Grafts(ctx, out.PatchID)
	require.NoError(t, err)
	require.Len(t, debt, tag.Grafts)
	perSystem := map[string]int{}
	for _, g := range debt {
		perSystem[g.System]++
	}
	require.Equal(t, map[string]int{"x86_64-linux": tag.Grafts / 2, otherSystem: tag.Grafts / 2}, perSystem)

	// A rebuild builds the reverse closure on both systems, and pays both systems' debt.
	start = time.Now()
	rebuild, err := s.patch(t, "demo/patch-systems-rebuild", workflows.SecurityPatchInput{Package: "libcrypto", Ref: demo.SecurityLibcrypto251,
		Strategy: "rebuild", Severity: "high"})
	require.NoError(t, err)
	require.Equal(t, workflows.PatchPhaseDone, rebuild.Phase, rebuild.Reason)
	t.Logf("patch start → pushed tag wave-1-1-security-2 (rebuild of %d packages on 2 systems): %v", rebuild.Tags[0].Rebuild,
		time.Since(start).Round(time.Millisecond))
	require.Equal(t, "wave-1-1-security-2", rebuild.Tags[0].Tag)
	require.Equal(t, 20, rebuild.Tags[0].Rebuild, "libcrypto and its 9 dependents, on each system")
	pts, err := s.st.PatchTags(ctx, rebuild.PatchID)
	require.NoError(t, err)
	for _, system := range []string{"x86_64-linux", otherSystem} {
		o, err := s.st.RoundOutcomeOf(ctx, pts[0].MinorWaveID, system)
		require.NoError(t, err)
		require.True(t, o.Green(), system)
		require.Len(t, o.Passed, 10, system)
	}
	debt, err = s.st.Grafts(ctx, out.PatchID)
	require.NoError(t, err)
	for _, g := range debt {
		require.Equal(t, "wave-1-1-security-2", g.RetiredBy, "%s on %s", g.Package, g.System)
	}
	pin, err := s.st.Pin(ctx, "demo", "backup", store.PinOptions{})
	require.NoError(t, err)
	require.Equal(t, "wave-1-1-security-2", pin.Tag)
}
