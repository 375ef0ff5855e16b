package gitrepo_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/deploy/demo"
)

// TestCommitFilesAndChangedLines: files are committed onto a branch's head in one commit
// that keeps the rest of the tree; committing them again changes nothing; a bad path is
// refused; Ungrafted finds the commit under the grafts; ChangedLines measures a
// scenario's patch.
func TestCommitFilesAndChangedLines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, r := setup(t)
	head, err := r.PrepareBranch(ctx, "security/wave-1-1-security-1", demo.MainBranch)
	require.NoError(t, err)
	files := map[string][]byte{"grafts/grafts.json": []byte("[]\n"), "grafts/graft.sh": []byte("echo hi\n")}
	c, err := r.CommitFiles(ctx, "security/wave-1-1-security-1", files, "grafts")
	require.NoError(t, err)
	require.NotEqual(t, head, c)
	require.Equal(t, head, gitOut(t, r.Dir(), "rev-parse", c+"^"))
	require.Equal(t, "[]", fileAt(t, r, c, "grafts/grafts.json"))
	require.Equal(t, fileAt(t, r, head, "index.nix"), fileAt(t, r, c, "index.nix"), "the rest of the tree is kept")
	again, err := r.CommitFiles(ctx, "security/wave-1-1-security-1", files, "grafts")
	require.NoError(t, err)
	require.Equal(t, c, again, "no-op when the files are there")
	_, err = r.CommitFiles(ctx, "security/wave-1-1-security-1", map[string][]byte{"../x": nil}, "bad")
	require.ErrorContains(t, err, `invalid path "../x"`)

	// Ungrafted: the commit before its grafts; a commit without grafts is its own.
	u, err := r.Ungrafted(ctx, c, "grafts")
	require.NoError(t, err)
	require.Equal(t, head, u)
	u, err = r.Ungrafted(ctx, head, "grafts")
	require.NoError(t, err)
	require.Equal(t, head, u)
	twice, err := r.CommitFiles(ctx, "security/wave-1-1-security-1", map[string][]byte{"grafts/grafts.json": []byte("[1]\n")}, "more grafts")
	require.NoError(t, err)
	_, err = r.Ungrafted(ctx, twice, "grafts")
	require.ErrorContains(t, err, "has grafts/ too")

	n, err := r.ChangedLines(ctx, d.Commits[demo.MainBranch], d.Commits[demo.SecurityLibcrypto251])
	require.NoError(t, err)
	require.Positive(t, n)
	require.Less(t, n, 30)
}
