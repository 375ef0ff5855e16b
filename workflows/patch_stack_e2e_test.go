package workflows_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/workflows"
)

// TestSecurityPatchStacksFixes: security fixes of different packages stack on a finished
// tag, since crest pin answers its newest security tag. wave-1-1 is grafted with
// libcrypto's fix (wave-1-1-security-1). A patch of libnet's fix starts and is held on its
// build; meanwhile a rebuild of pkgtool's fix stacks on libcrypto's (wave-1-1-security-3:
// both fixes, rebuilt, the earlier grafts retired). The held libnet patch then refuses to
// tag, since its tag would drop pkgtool's fix, and started again it stacks on both: libnet
// alone is built from source, and the grafts of wave-1-1-security-4 rewrite references to
// every fixed package; its programs refer to and run with the fixes, and nix-build of the
// tag reproduces them.
func TestSecurityPatchStacksFixes(t *testing.T) {
	release := make(chan struct{})
	s := newStack(t, func(s *stack) {
		s.acts.Builder = gatedBuilder{inner: s.acts.Builder, gate: "libnet-1.9.1", open: release}
	})
	ctx := context.Background()
	s.greenWave(t, 1, "calc", demo.FixCalcPrecision)
	first, err := s.patch(t, "demo/patch-stack-1", workflows.SecurityPatchInput{Package: "libcrypto", Ref: demo.SecurityLibcrypto251,
		Strategy: "replace-dependency", Severity: "critical", Advisory: "CVE-2026-0001"})
	require.NoError(t, err)
	require.Equal(t, "wave-1-1-security-1", first.Tags[0].Tag)
	_, sum1 := s.securitySummary(t, "wave-1-1-security-1")
	require.Empty(t, sum1.Carries)

	held := s.startPatch(t, "demo/patch-stack-2", workflows.SecurityPatchInput{Package: "libnet", Ref: demo.SecurityLibnet191,
		Strategy: "replace-dependency", Severity: "high", Advisory: "CVE-2026-0003"})
	s.patchUntil(t, "demo/patch-stack-2", func(st workflows.PatchStatus) bool { return st.Phase == workflows.PatchPhaseBuilding })

	// A rebuild stacks too: pkgtool's fix carries libcrypto's, and rebuilding what both
	// change retires the grafts of wave-1-1-security-1.
	third, err := s.patch(t, "demo/patch-stack-3", workflows.SecurityPatchInput{Package: "pkgtool", Ref: demo.FixPkgtoolLibcrypto3,
		Strategy: "rebuild", Severity: "high"})
	require.NoError(t, err)
	require.Equal(t, workflows.PatchPhaseDone, third.Phase, third.Reason)
	require.Equal(t, "wave-1-1-security-3", third.Tags[0].Tag)
	msg3, sum3 := s.securitySummary(t, "wave-1-1-security-3")
	require.Contains(t, msg3, "Carries the earlier fix of libcrypto from "+demo.SecurityLibcrypto251+" (wave-1-1-security-1).")
	require.Equal(t, []wire.CarriedFix{{Package: "libcrypto", Ref: demo.SecurityLibcrypto251, Tag: "wave-1-1-security-1"}}, sum3.Carries)
	for file, version := range map[string]string{"libraries/libcrypto": "2.5.1", "libraries/libnet": "1.9.0", "os/pkgtool": "1.1.0"} {
		require.Contains(t, run(t, "git", "-C", s.demo.Remote, "show", "wave-1-1-security-3:pkgs/"+file+"/default.nix"), `"`+version+`"`)
	}
	require.NotContains(t, run(t, "git", "-C", s.demo.Remote, "ls-tree", "--name-only", "wave-1-1-security-3"), activities.GraftsDir,
		"a rebuild carries the fixes, not the earlier grafts")
	require.Contains(t, sum3.Rebuilt, "libcrypto")
	require.Contains(t, sum3.Rebuilt, "backup")
	debt, err := s.st.Grafts(ctx, first.PatchID)
	require.NoError(t, err)
	for _, g := range debt {
		require.Equal(t, "wave-1-1-security-3", g.RetiredBy, "libcrypto's graft of %s", g.Package)
	}

	// The held libnet patch was merged onto wave-1-1-security-1's fixes: tagged now, it
	// would drop pkgtool's. It refuses and tags nothing.
	close(release)
	_, err = finishPatch(t, held)
	require.ErrorContains(t, err, "wave-1-1-security-3 was tagged while this patch ran (the fix of pkgtool from "+demo.FixPkgtoolLibcrypto3+
		"); wave-1-1-security-2 would drop it for everyone who pins wave-1-1: start the patch again to stack on it")
	require.Empty(t, run(t, "git", "-C", s.demo.Remote, "tag", "-l", "wave-1-1-security-2"), "no tag pushed")

	id := "demo/patch-stack-4"
	start := time.Now()
	second, err := s.patch(t, id, workflows.SecurityPatchInput{Package: "libnet", Ref: demo.SecurityLibnet191,
		Strategy: "replace-dependency", Severity: "high", Advisory: "CVE-2026-0003"})
	require.NoError(t, err)
	t.Logf("patch start → pushed tag wave-1-1-security-4 (graft stacked on 2 fixes, %d grafts): %v", second.Tags[0].Grafts,
		time.Since(start).Round(time.Millisecond))
	require.Equal(t, workflows.PatchPhaseDone, second.Phase, second.Reason)
	tag := second.Tags[0]
	require.Equal(t, "wave-1-1-security-4", tag.Tag)
	built, err := s.st.PatchBuilds(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []string{"libnet"}, built, "exactly one package built from source")

	msg, sum := s.securitySummary(t, tag.Tag)
	require.Contains(t, msg, "Carries the earlier fix of pkgtool from "+demo.FixPkgtoolLibcrypto3+" (wave-1-1-security-3).")
	require.Equal(t, []wire.CarriedFix{{Package: "libcrypto", Ref: demo.SecurityLibcrypto251, Tag: "wave-1-1-security-1"},
		{Package: "pkgtool", Ref: demo.FixPkgtoolLibcrypto3, Tag: "wave-1-1-security-3"}}, sum.Carries)
	require.Len(t, sum.Stacked, 2)
	require.Equal(t, sum1.Patched, sum.Stacked[0], "libcrypto's old and fixed outputs, as its own tag has them")
	require.Equal(t, "pkgtool", sum.Stacked[1].Package)
	require.True(t, strings.HasSuffix(sum.Patched.New, "-libnet-1.9.1"), sum.Patched.New)
	for file, version := range map[string]string{"libraries/libcrypto": "2.5.1", "libraries/libnet": "1.9.1", "os/pkgtool": "1.1.0"} {
		require.Contains(t, run(t, "git", "-C", s.demo.Remote, "show", tag.Tag+":pkgs/"+file+"/default.nix"), `"`+version+`"`)
	}

	grafted := map[string]activities.GraftedPath{}
	for _, g := range sum.Grafts {
		grafted[g.Package] = g
	}
	for _, pkg := range []string{"libtls", "libhttp", "backup", "fetch", "webd", "default-system"} {
		require.Contains(t, grafted, pkg)
	}
	require.NotContains(t, grafted, "pkgtool", "a carried package is its build with the fix, not a graft")
	// fetch's grafted closure has the fixed libraries and neither vulnerable one, and the
	// grafted system has the fixed pkgtool.
	fetch := grafted["fetch"].New
	closure := strings.Fields(run(t, "nix-store", "-q", "--requisites", fetch))
	for _, p := range []string{sum.Patched.New, sum1.Patched.New} {
		require.Contains(t, closure, p)
	}
	for _, p := range []string{sum.Patched.Old, sum1.Patched.Old} {
		require.NotContains(t, closure, p)
	}
	system := strings.Fields(run(t, "nix-store", "-q", "--requisites", grafted["default-system"].New))
	require.Contains(t, system, sum.Stacked[1].New)
	require.NotContains(t, system, sum.Stacked[1].Old)
	require.Contains(t, run(t, filepath.Join(fetch, "bin", "fetch")), "TLS by libcrypto 2.5.1 (fixes CVE-2026-0001)")
	dir := t.TempDir()
	require.NoError(t, s.demo.Export(ctx, tag.Tag, dir))
	again := run(t, "nix-build", filepath.Join(dir, "default.nix"), "-A", "fetch", "--no-out-link",
		"--option", "build-users-group", "", "--option", "substituters", "", "--option", "sandbox", "false")
	require.Equal(t, fetch, again, "nix-build of the tag reproduces the stacked grafts")

	pin, err := s.st.Pin(ctx, "demo", "fetch", store.PinOptions{})
	require.NoError(t, err)
	require.Equal(t, tag.Tag, pin.Tag)
	// Each graft is debt of the fix it carries: libnet's where the package refers to it.
	debt, err = s.st.Grafts(ctx, second.PatchID)
	require.NoError(t, err)
	require.Len(t, debt, tag.Grafts)
	roots := map[string]string{}
	for _, g := range debt {
		roots[g.Package] = g.PatchedPackage
	}
	require.Equal(t, "libnet", roots["fetch"])
	require.Equal(t, "libnet", roots["default-system"])
}

// TestSecurityPatchDuplicateWaveStacksEndToEnd: a duplicate wave of a tag grafted with
// libnet's fix re-verifies libcrypto's fix together with libnet's, which its security tag
// carries: the wave's one update is the fixes merged without grafts, and the tag it
// finishes has both. Waves 81 and 82: wave IDs are never reused on the package's
// Temporal server.
func TestSecurityPatchDuplicateWaveStacksEndToEnd(t *testing.T) {
	s := newStack(t)
	s.runWave(t, s.queue+"/wave-81", workflows.MajorWaveInput{Collection: "demo", Limits: s.limits, Wave: 81,
		Updates: []wire.Update{{Package: "calc", Ref: demo.FixCalcPrecision}}})
	graft, err := s.patch(t, "demo/patch-dup-stack-1", workflows.SecurityPatchInput{Package: "libnet", Ref: demo.SecurityLibnet191,
		Strategy: "replace-dependency", Severity: "high"})
	require.NoError(t, err)
	require.Equal(t, "wave-81-1-security-1", graft.Tags[0].Tag)

	out, err := s.patch(t, "demo/patch-dup-stack-2", workflows.SecurityPatchInput{Package: "libcrypto", Ref: demo.SecurityLibcrypto251,
		Strategy: "duplicate-wave", Severity: "critical"})
	require.NoError(t, err)
	require.Equal(t, workflows.PatchPhaseDone, out.Phase, out.Reason)
	tag := out.Tags[0]
	require.Equal(t, "wave-81-1-security-2", tag.Tag)
	require.Equal(t, "wave-82", tag.Wave)
	wave := s.status("demo/wave-82")
	require.Len(t, wave.Minor, 1)
	require.Equal(t, "libcrypto", wave.Minor[0].Updates[0].Package)
	require.NotEqual(t, demo.SecurityLibcrypto251, wave.Minor[0].Updates[0].Ref, "the fixes merged, not the fix alone")
	for _, name := range []string{tag.Unfinished, tag.Tag} {
		for file, version := range map[string]string{"libcrypto": "2.5.1", "libnet": "1.9.1"} {
			require.Contains(t, run(t, "git", "-C", s.demo.Remote, "show", name+":pkgs/libraries/"+file+"/default.nix"), `"`+version+`"`, name)
		}
		require.NotContains(t, run(t, "git", "-C", s.demo.Remote, "ls-tree", "--name-only", name), activities.GraftsDir,
			"the fixes, not libnet's grafts: the wave rebuilt its dependents")
	}
	_, sum := s.securitySummary(t, tag.Tag)
	require.Equal(t, []wire.CarriedFix{{Package: "libnet", Ref: demo.SecurityLibnet191, Tag: "wave-81-1-security-1"}}, sum.Carries)
}
