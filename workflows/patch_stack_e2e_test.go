package workflows_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/workflows"
)

// TestSecurityPatchStacksFixes: security fixes of different packages stack on a finished
// tag, since crest pin answers its newest security tag. wave-1-1 is grafted with
// libcrypto's fix (wave-1-1-security-1); libnet's fix, from a branch that knows nothing of
// libcrypto's, is merged onto libcrypto's fix without its grafts, libnet alone is built
// from source, and the grafts of wave-1-1-security-2 rewrite references to both old
// libraries: its programs refer to and run with both fixes, and nix-build of the tag
// reproduces them. A rebuild of pkgtool's fix then carries both earlier fixes, rebuilds
// what the three change and retires the grafts of both earlier tags.
func TestSecurityPatchStacksFixes(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	s.greenWave(t, 1, "calc", demo.FixCalcPrecision)
	first, err := s.patch(t, "demo/patch-stack-1", workflows.SecurityPatchInput{Package: "libcrypto", Ref: demo.SecurityLibcrypto251,
		Strategy: "replace-dependency", Severity: "critical", Advisory: "CVE-2026-0001"})
	require.NoError(t, err)
	require.Equal(t, "wave-1-1-security-1", first.Tags[0].Tag)
	_, sum1 := s.securitySummary(t, "wave-1-1-security-1")
	require.Empty(t, sum1.Carries)

	id := "demo/patch-stack-2"
	second, err := s.patch(t, id, workflows.SecurityPatchInput{Package: "libnet", Ref: demo.SecurityLibnet191,
		Strategy: "replace-dependency", Severity: "high", Advisory: "CVE-2026-0003"})
	require.NoError(t, err)
	require.Equal(t, workflows.PatchPhaseDone, second.Phase, second.Reason)
	tag := second.Tags[0]
	require.Equal(t, "wave-1-1-security-2", tag.Tag)
	built, err := s.st.PatchBuilds(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []string{"libnet"}, built, "exactly one package built from source")

	msg, sum := s.securitySummary(t, tag.Tag)
	require.Contains(t, msg, "Carries the earlier fix of libcrypto from "+demo.SecurityLibcrypto251+" (wave-1-1-security-1).")
	require.Equal(t, []wire.CarriedFix{{Package: "libcrypto", Ref: demo.SecurityLibcrypto251, Tag: "wave-1-1-security-1"}}, sum.Carries)
	require.Equal(t, []activities.GraftedPath{sum1.Patched}, sum.Stacked, "libcrypto's old and fixed outputs, as its own tag has them")
	require.True(t, strings.HasSuffix(sum.Patched.New, "-libnet-1.9.1"), sum.Patched.New)
	require.Contains(t, run(t, "git", "-C", s.demo.Remote, "show", tag.Tag+":pkgs/libraries/libcrypto/default.nix"), `"2.5.1"`)
	require.Contains(t, run(t, "git", "-C", s.demo.Remote, "show", tag.Tag+":pkgs/libraries/libnet/default.nix"), `"1.9.1"`)

	grafted := map[string]activities.GraftedPath{}
	for _, g := range sum.Grafts {
		grafted[g.Package] = g
	}
	for _, pkg := range []string{"libtls", "libhttp", "pkgtool", "backup", "fetch", "webd", "default-system"} {
		require.Contains(t, grafted, pkg)
	}
	// fetch's grafted closure has both fixed libraries and neither vulnerable one.
	fetch := grafted["fetch"].New
	closure := strings.Fields(run(t, "nix-store", "-q", "--requisites", fetch))
	for _, p := range []string{sum.Patched.New, sum1.Patched.New} {
		require.Contains(t, closure, p)
	}
	for _, p := range []string{sum.Patched.Old, sum1.Patched.Old} {
		require.NotContains(t, closure, p)
	}
	require.Contains(t, run(t, filepath.Join(fetch, "bin", "fetch")), "TLS by libcrypto 2.5.1 (fixes CVE-2026-0001)")
	dir := t.TempDir()
	require.NoError(t, s.demo.Export(ctx, tag.Tag, dir))
	again := run(t, "nix-build", filepath.Join(dir, "default.nix"), "-A", "fetch", "--no-out-link",
		"--option", "build-users-group", "", "--option", "substituters", "", "--option", "sandbox", "false")
	require.Equal(t, fetch, again, "nix-build of the tag reproduces the stacked grafts")

	pin, err := s.st.Pin(ctx, "demo", "fetch", store.PinOptions{})
	require.NoError(t, err)
	require.Equal(t, tag.Tag, pin.Tag)
	// Each graft is debt of the fix it carries: libnet's where the package refers to it,
	// libcrypto's for those that refer only to libcrypto (pkgtool does not use libnet).
	debt, err := s.st.Grafts(ctx, second.PatchID)
	require.NoError(t, err)
	require.Len(t, debt, tag.Grafts)
	roots := map[string]string{}
	for _, g := range debt {
		roots[g.Package] = g.PatchedPackage
	}
	require.Equal(t, "libnet", roots["fetch"])
	require.Equal(t, "libcrypto", roots["pkgtool"])

	// A rebuild stacks too: pkgtool's fix carries both, and rebuilding what the three
	// change retires the grafts of both earlier tags.
	third, err := s.patch(t, "demo/patch-stack-3", workflows.SecurityPatchInput{Package: "pkgtool", Ref: demo.FixPkgtoolLibcrypto3,
		Strategy: "rebuild", Severity: "high"})
	require.NoError(t, err)
	require.Equal(t, workflows.PatchPhaseDone, third.Phase, third.Reason)
	require.Equal(t, "wave-1-1-security-3", third.Tags[0].Tag)
	_, sum3 := s.securitySummary(t, "wave-1-1-security-3")
	require.Equal(t, []string{"libcrypto", "libnet"}, slices.Sorted(func(yield func(string) bool) {
		for _, c := range sum3.Carries {
			if !yield(c.Package) {
				return
			}
		}
	}))
	for file, version := range map[string]string{"libraries/libcrypto": "2.5.1", "libraries/libnet": "1.9.1", "os/pkgtool": "1.1.0"} {
		require.Contains(t, run(t, "git", "-C", s.demo.Remote, "show", "wave-1-1-security-3:pkgs/"+file+"/default.nix"), `"`+version+`"`)
	}
	require.Contains(t, sum3.Rebuilt, "libcrypto")
	require.Contains(t, sum3.Rebuilt, "libnet")
	require.Contains(t, sum3.Rebuilt, "fetch")
	for _, p := range []workflows.SecurityPatchResult{first, second} {
		debt, err := s.st.Grafts(ctx, p.PatchID)
		require.NoError(t, err)
		for _, g := range debt {
			require.NotNil(t, g.RetiredAt, "%s's graft of %s", p.Package, g.Package)
			require.Equal(t, "wave-1-1-security-3", g.RetiredBy)
		}
	}
}
