package workflows_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/workflows"
)

// TestSecurityPatchKeepsEarlierFixes: wave-1-1 is grafted with libcrypto's fix
// (wave-1-1-security-1). A patch of pkgtool whose fix does not contain libcrypto's is
// refused before anything starts: its fix is merged onto wave-1-1, and its security tag,
// the newest, would take libcrypto's fix away from everyone who pins wave-1-1. The same
// pkgtool fix with libcrypto's merged into it is accepted, and its tag has both.
func TestSecurityPatchKeepsEarlierFixes(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	s.greenWave(t, 1, "calc", demo.FixCalcPrecision)
	out, err := s.patch(t, "demo/patch-stack-1", workflows.SecurityPatchInput{Package: "libcrypto", Ref: demo.SecurityLibcrypto251,
		Strategy: "replace-dependency", Severity: "critical"})
	require.NoError(t, err)
	require.Equal(t, "wave-1-1-security-1", out.Tags[0].Tag)

	_, err = s.patch(t, "demo/patch-stack-2", workflows.SecurityPatchInput{Package: "pkgtool", Ref: demo.FixPkgtoolLibcrypto3,
		Strategy: "rebuild", Severity: "high"})
	require.ErrorContains(t, err, "tag wave-1-1: its newest security tag wave-1-1-security-1 carries the fix of libcrypto from "+
		demo.SecurityLibcrypto251+", which "+demo.FixPkgtoolLibcrypto3+" does not contain")
	require.ErrorContains(t, err, "merge "+demo.SecurityLibcrypto251+" into "+demo.FixPkgtoolLibcrypto3+" and start again")
	_, err = s.st.PatchByWorkflow(ctx, "demo/patch-stack-2")
	require.ErrorIs(t, err, store.ErrNotFound, "a refused patch allocates nothing")

	// Both fixes on one branch, pushed to the collection's repository.
	work := t.TempDir()
	git(t, work, "clone", "-q", s.demo.Remote, ".")
	git(t, work, "checkout", "-q", "-b", "security/pkgtool-stacked", "origin/"+demo.FixPkgtoolLibcrypto3)
	git(t, work, "merge", "-q", "--no-edit", "origin/"+demo.SecurityLibcrypto251)
	git(t, work, "push", "-q", "origin", "security/pkgtool-stacked")
	out, err = s.patch(t, "demo/patch-stack-3", workflows.SecurityPatchInput{Package: "pkgtool", Ref: "security/pkgtool-stacked",
		Strategy: "rebuild", Severity: "high"})
	require.NoError(t, err)
	require.Equal(t, workflows.PatchPhaseDone, out.Phase, out.Reason)
	require.Equal(t, "wave-1-1-security-2", out.Tags[0].Tag)
	require.Contains(t, run(t, "git", "-C", s.demo.Remote, "show", "wave-1-1-security-2:pkgs/libraries/libcrypto/default.nix"), `"2.5.1"`)
	require.Contains(t, run(t, "git", "-C", s.demo.Remote, "show", "wave-1-1-security-2:pkgs/os/pkgtool/default.nix"), `"1.1.0"`)
}
