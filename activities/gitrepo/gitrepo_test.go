package gitrepo_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/gitrepo"
	"github.com/crestwaves/crest/deploy/demo"
)

// setup makes a demo collection remote and opens a working repository of it.
func setup(t *testing.T) (demo.Repo, *gitrepo.Repo) {
	t.Helper()
	ctx := context.Background()
	d, err := demo.Create(ctx, t.TempDir())
	require.NoError(t, err)
	r, err := gitrepo.Open(ctx, gitrepo.Config{Remote: d.Remote, Dir: filepath.Join(t.TempDir(), "work.git")})
	require.NoError(t, err)
	return d, r
}

// gitOut runs git on a bare repository, for looking at what the adapter did.
func gitOut(t *testing.T, gitDir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"--git-dir=" + gitDir}, args...)...).CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

func fileAt(t *testing.T, r *gitrepo.Repo, commit, path string) string {
	t.Helper()
	return gitOut(t, r.Dir(), "show", commit+":"+path)
}

func TestOpenAndResolve(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, r := setup(t)

	for branch, commit := range d.Commits {
		got, err := r.ResolveRef(ctx, branch)
		require.NoError(t, err, branch)
		require.Equal(t, commit, got, branch)
	}
	got, err := r.ResolveRef(ctx, d.Commits[demo.UpdateLibnet2])
	require.NoError(t, err)
	require.Equal(t, d.Commits[demo.UpdateLibnet2], got)
	_, err = r.ResolveRef(ctx, "update/nothing")
	require.ErrorIs(t, err, gitrepo.ErrRefNotFound)
	_, err = r.ResolveRef(ctx, "--help")
	require.ErrorIs(t, err, gitrepo.ErrRefNotFound)

	// Opening again reuses the clone.
	again, err := gitrepo.Open(ctx, gitrepo.Config{Remote: d.Remote, Dir: r.Dir()})
	require.NoError(t, err)
	got, err = again.ResolveRef(ctx, demo.MainBranch)
	require.NoError(t, err)
	require.Equal(t, d.Commits[demo.MainBranch], got)
	require.NoError(t, again.Fetch(ctx))
}

func TestMergeTagPush(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, r := setup(t)
	const branch = "wave/1"

	base, err := r.PrepareBranch(ctx, branch, demo.MainBranch)
	require.NoError(t, err)
	require.Equal(t, d.Commits[demo.MainBranch], base)
	again, err := r.PrepareBranch(ctx, branch, demo.UpdateLibnet2)
	require.NoError(t, err)
	require.Equal(t, base, again, "an existing branch is left alone")

	c1, err := r.Merge(ctx, branch, demo.UpdateLibcore2, "wave-1-1: merge update/libcore-2")
	require.NoError(t, err)
	require.Equal(t, base+" "+d.Commits[demo.UpdateLibcore2], strings.TrimPrefix(gitOut(t, r.Dir(), "rev-list", "--parents", "-n1", c1), c1+" "))
	require.Equal(t, "Crest <crest@localhost>|Crest <crest@localhost>|wave-1-1: merge update/libcore-2",
		gitOut(t, r.Dir(), "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s", c1))
	same, err := r.Merge(ctx, branch, demo.UpdateLibcore2, "again")
	require.NoError(t, err)
	require.Equal(t, c1, same, "merging a ref already in the branch is a no-op")

	c2, err := r.Merge(ctx, branch, demo.UpdateLibnet2, "")
	require.NoError(t, err)
	require.Equal(t, "Merge update/libnet-2 into wave/1", gitOut(t, r.Dir(), "log", "-1", "--format=%s", c2))
	c3, err := r.Merge(ctx, branch, demo.FixLibhttpLibnet2, "fix libhttp")
	require.NoError(t, err)
	same, err = r.Merge(ctx, branch, d.Commits[demo.UpdateLibnet2], "by commit")
	require.NoError(t, err)
	require.Equal(t, c3, same)
	require.Contains(t, fileAt(t, r, c3, "pkgs/libraries/libcore/default.nix"), `version = "2.0.0"`)
	require.Contains(t, fileAt(t, r, c3, "pkgs/libraries/libnet/default.nix"), `version = "2.0.0"`)
	require.Contains(t, fileAt(t, r, c3, "pkgs/libraries/libhttp/default.nix"), `version = "1.2.1"`)
	head, err := r.ResolveRef(ctx, branch)
	require.NoError(t, err)
	require.Equal(t, c3, head)

	const summary = "wave-1-1\n\n{\"wave\":\"wave-1-1\",\"packages\":{\"tetrix\":\"wont-fix\"}}\n"
	require.NoError(t, r.Tag(ctx, "wave-1-1", c3, summary))
	require.NoError(t, r.Tag(ctx, "wave-1-1", branch, "another message"), "the tag is already at that commit")
	err = r.Tag(ctx, "wave-1-1", c1, summary)
	require.ErrorIs(t, err, gitrepo.ErrTagExists)
	var tc *gitrepo.TagConflictError
	require.ErrorAs(t, err, &tc)
	require.Equal(t, c3, tc.Existing)
	msg, err := r.TagMessage(ctx, "wave-1-1")
	require.NoError(t, err)
	require.Equal(t, summary, msg)
	_, err = r.TagMessage(ctx, "wave-0-0")
	require.ErrorIs(t, err, gitrepo.ErrRefNotFound)

	for _, tag := range []string{"wave-1-2", "wave-1-10", "wave-1-9"} {
		require.NoError(t, r.Tag(ctx, tag, c3, tag+"\n"))
	}
	tags, err := r.ListTags(ctx, "wave-1-*")
	require.NoError(t, err)
	require.Equal(t, []string{"wave-1-1", "wave-1-2", "wave-1-9", "wave-1-10"}, tags)

	exists, err := r.RemoteTagExists(ctx, "", "wave-1-1")
	require.NoError(t, err)
	require.False(t, exists)
	require.NoError(t, r.Push(ctx, branch, "wave-1-1"))
	require.NoError(t, r.Push(ctx, "refs/heads/"+branch, "refs/tags/wave-1-1"), "pushing again is a no-op")
	require.ErrorIs(t, r.Push(ctx, "wave-7-7"), gitrepo.ErrRefNotFound)

	require.Equal(t, c3, gitOut(t, d.Remote, "rev-parse", "refs/heads/"+branch))
	require.Equal(t, c3, gitOut(t, d.Remote, "rev-parse", "wave-1-1^{commit}"))
	require.Equal(t, "tag", gitOut(t, d.Remote, "cat-file", "-t", "wave-1-1"))
	require.Equal(t, strings.TrimSpace(summary), gitOut(t, d.Remote, "for-each-ref", "--format=%(contents)", "refs/tags/wave-1-1"))
	require.Equal(t, "Crest <crest@localhost>", gitOut(t, d.Remote, "for-each-ref", "--format=%(taggername) %(taggeremail)", "refs/tags/wave-1-1"))
	exists, err = r.RemoteTagExists(ctx, d.Remote, "wave-1-1")
	require.NoError(t, err)
	require.True(t, exists)
	exists, err = r.RemoteTagExists(ctx, "", "wave-1-2")
	require.NoError(t, err)
	require.False(t, exists, "only pushed tags are on the remote")
}

func TestMergeConflictChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, r := setup(t)
	const branch = "wave/2"
	_, err := r.PrepareBranch(ctx, branch, demo.MainBranch)
	require.NoError(t, err)
	head, err := r.Merge(ctx, branch, demo.UpdateLibcore2, "")
	require.NoError(t, err)

	_, err = r.Merge(ctx, branch, demo.UpdateLibcore2RC1, "")
	var ce *gitrepo.ConflictError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, []string{"pkgs/libraries/libcore/default.nix"}, ce.Files)
	require.Equal(t, head, ce.Head)
	require.Equal(t, d.Commits[demo.UpdateLibcore2RC1], ce.Commit)
	require.Contains(t, err.Error(), "conflict in pkgs/libraries/libcore/default.nix")

	after, err := r.ResolveRef(ctx, branch)
	require.NoError(t, err)
	require.Equal(t, head, after, "the branch did not move")
	require.NoFileExists(t, filepath.Join(r.Dir(), "MERGE_HEAD"), "no merge is left in progress")
	require.Equal(t, "bare", strings.Fields(gitOut(t, r.Dir(), "worktree", "list", "--porcelain"))[2], "no work tree to leave dirty")

	// The branch takes further merges as before.
	next, err := r.Merge(ctx, branch, demo.FixCalcPrecision, "")
	require.NoError(t, err)
	require.NotEqual(t, head, next)
}

func TestWorktreesForConcurrentEvaluations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, r := setup(t)
	refs := []string{demo.MainBranch, demo.UpdateLibcore2, demo.UpdateLibnet2, d.Commits[demo.FixCalcPrecision]}
	dirs := make([]string, len(refs))
	cleanups := make([]func() error, len(refs))
	var wg sync.WaitGroup
	errs := make([]error, len(refs))
	for i, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirs[i], cleanups[i], errs[i] = r.Worktree(ctx, ref)
		}()
	}
	wg.Wait()
	for i := range refs {
		require.NoError(t, errs[i])
	}
	libcore := func(dir string) string {
		b, err := os.ReadFile(filepath.Join(dir, "pkgs/libraries/libcore/default.nix"))
		require.NoError(t, err)
		return string(b)
	}
	require.Contains(t, libcore(dirs[0]), `version = "1.4.0"`)
	require.Contains(t, libcore(dirs[1]), `version = "2.0.0"`)
	require.FileExists(t, filepath.Join(dirs[2], "index.nix"))
	calc, err := os.ReadFile(filepath.Join(dirs[3], "pkgs/applications/calc/default.nix"))
	require.NoError(t, err)
	require.Contains(t, string(calc), `version = "1.0.1"`)
	require.NoDirExists(t, filepath.Join(dirs[0], "scenarios"), "scenario files are not part of the collection")

	for i := range refs {
		require.NoError(t, cleanups[i]())
		require.NoError(t, cleanups[i](), "cleaning up twice is fine")
		require.NoDirExists(t, dirs[i])
	}
	require.NotContains(t, gitOut(t, r.Dir(), "worktree", "list"), ".worktrees")
}

func TestWaveBranchResumesFromRemote(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, a := setup(t)
	const branch = "wave/3"
	_, err := a.PrepareBranch(ctx, branch, demo.MainBranch)
	require.NoError(t, err)
	head, err := a.Merge(ctx, branch, demo.UpdateLibcrypto3, "")
	require.NoError(t, err)
	require.NoError(t, a.Push(ctx, branch))

	// Another worker with an empty cache picks the wave up where it is, not at the base.
	b, err := gitrepo.Open(ctx, gitrepo.Config{Remote: d.Remote, Dir: filepath.Join(t.TempDir(), "b.git")})
	require.NoError(t, err)
	got, err := b.PrepareBranch(ctx, branch, demo.MainBranch)
	require.NoError(t, err)
	require.Equal(t, head, got)

	// Both go on; the second push of a diverged branch is rejected, never forced.
	_, err = a.Merge(ctx, branch, demo.FixPkgtoolLibcrypto3, "")
	require.NoError(t, err)
	require.NoError(t, a.Push(ctx, branch))
	_, err = b.Merge(ctx, branch, demo.FixCalcPrecision, "")
	require.NoError(t, err)
	err = b.Push(ctx, branch)
	var ge *gitrepo.GitError
	require.ErrorAs(t, err, &ge)
	require.Contains(t, ge.Stderr, "rejected")

	// A ref pushed to the remote after the last fetch is fetched when merged.
	require.NoError(t, a.Tag(ctx, "fix-from-elsewhere", d.Commits[demo.FixLibhttpLibnet2], "x"))
	require.NoError(t, a.Push(ctx, "fix-from-elsewhere"))
	_, err = b.PrepareBranch(ctx, "wave/4", demo.MainBranch)
	require.NoError(t, err)
	_, err = b.Merge(ctx, "wave/4", "fix-from-elsewhere", "")
	require.NoError(t, err)
}

func TestConcurrentMergesSerialize(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, r := setup(t)
	// A second Repo on the same directory, as another process would have: the file lock
	// serializes it with the first.
	other, err := gitrepo.Open(ctx, gitrepo.Config{Remote: d.Remote, Dir: r.Dir()})
	require.NoError(t, err)
	const branch = "wave/5"
	_, err = r.PrepareBranch(ctx, branch, demo.MainBranch)
	require.NoError(t, err)
	refs := []string{demo.UpdateLibcore2, demo.UpdateLibnet2, demo.UpdateLibcrypto3, demo.FixCalcPrecision, demo.FixLibhttpLibnet2, demo.FixPkgtoolLibcrypto3}
	var wg sync.WaitGroup
	errs := make([]error, len(refs))
	for i, ref := range refs {
		repo := r
		if i%2 == 1 {
			repo = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = repo.Merge(ctx, branch, ref, "")
		}()
	}
	wg.Wait()
	for i := range refs {
		require.NoError(t, errs[i], refs[i])
	}
	head, err := r.ResolveRef(ctx, branch)
	require.NoError(t, err)
	for _, ref := range refs {
		gitOut(t, r.Dir(), "merge-base", "--is-ancestor", d.Commits[ref], head)
	}
	require.Equal(t, "6", gitOut(t, r.Dir(), "rev-list", "--count", "--merges", head))
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := gitrepo.Open(ctx, gitrepo.Config{Remote: filepath.Join(t.TempDir(), "nowhere.git"), Dir: filepath.Join(t.TempDir(), "w.git")})
	var ge *gitrepo.GitError
	require.ErrorAs(t, err, &ge)
	require.Contains(t, err.Error(), "nowhere.git")
	_, err = gitrepo.Open(ctx, gitrepo.Config{Remote: "x", Dir: t.TempDir(), Git: "/nonexistent/git"})
	require.ErrorIs(t, err, gitrepo.ErrGitMissing)
}

func TestMergeTakesTheLatestCommitOfAMovedBranch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, r := setup(t)
	const branch = "wave/6"
	_, err := r.PrepareBranch(ctx, branch, demo.MainBranch)
	require.NoError(t, err)
	first, err := r.Merge(ctx, branch, demo.FixCalcPrecision, "")
	require.NoError(t, err)

	// The maintainer pushes a second commit to the fix branch.
	old := d.Commits[demo.FixCalcPrecision]
	cmd := exec.Command("git", "--git-dir="+d.Remote, "commit-tree", old+"^{tree}", "-p", old, "-m", "calc: follow-up")
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=alice", "GIT_AUTHOR_EMAIL=alice@example.org",
		"GIT_COMMITTER_NAME=alice", "GIT_COMMITTER_EMAIL=alice@example.org")
	out, err := cmd.Output()
	require.NoError(t, err)
	followUp := strings.TrimSpace(string(out))
	gitOut(t, d.Remote, "update-ref", "refs/heads/"+demo.FixCalcPrecision, followUp, old)

	second, err := r.Merge(ctx, branch, demo.FixCalcPrecision, "")
	require.NoError(t, err)
	require.NotEqual(t, first, second)
	require.Equal(t, first+" "+followUp, strings.TrimPrefix(gitOut(t, r.Dir(), "rev-list", "--parents", "-n1", second), second+" "))
}

func TestFetchExternalTag(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, r := setup(t)
	// An upstream's repository tags a commit of its own as ready for wave 3.
	upstream := filepath.Join(t.TempDir(), "upstream.git")
	work := filepath.Join(t.TempDir(), "work")
	run := func(dir string, args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Up", "GIT_AUTHOR_EMAIL=up@example.org",
			"GIT_COMMITTER_NAME=Up", "GIT_COMMITTER_EMAIL=up@example.org")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
		return strings.TrimSpace(string(out))
	}
	run("", "clone", "--quiet", "--bare", d.Remote, upstream)
	run("", "clone", "--quiet", upstream, work)
	require.NoError(t, os.WriteFile(filepath.Join(work, "UPSTREAM"), []byte("ready for wave 3\n"), 0o644))
	run(work, "add", "UPSTREAM")
	run(work, "commit", "--quiet", "-m", "ready")
	run(work, "tag", "wave-3")
	run(work, "push", "--quiet", "origin", "wave-3")
	want := run(work, "rev-parse", "HEAD")

	got, err := r.FetchExternal(ctx, upstream, "refs/tags/wave-3")
	require.NoError(t, err)
	require.Equal(t, want, got)
	again, err := r.FetchExternal(ctx, upstream, "refs/tags/wave-3")
	require.NoError(t, err)
	require.Equal(t, got, again, "fetching again is a no-op")
	_, err = r.FetchExternal(ctx, upstream, "refs/tags/wave-4")
	require.ErrorIs(t, err, gitrepo.ErrRefNotFound)
	_, err = r.PrepareBranch(ctx, "wave-3", demo.MainBranch)
	require.NoError(t, err)
	head, err := r.Merge(ctx, "wave-3", got, "merge upstream")
	require.NoError(t, err)
	require.Equal(t, "ready for wave 3", fileAt(t, r, head, "UPSTREAM"))
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://alice:s3cr3t-token@git.example/org/repo.git": "https://***@git.example/org/repo.git",
		"https://ghp_tokenonly@github.example/org/repo":       "https://***@github.example/org/repo",
		"https://git.example/org/repo.git":                    "https://git.example/org/repo.git",
		"/srv/git/demo.git":                                   "/srv/git/demo.git",
		"git@github.example:org/repo.git":                     "git@github.example:org/repo.git",
	} {
		require.Equal(t, want, gitrepo.RedactURL(in), in)
	}
}

// TestTagWithHugeMessage tags with a summary larger than one command-line argument may be
// (128 KiB): a wave with thousands of failures writes such a summary.
func TestTagWithHugeMessage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, r := setup(t)
	msg := "wave-1-1\n\n" + strings.Repeat("{\"package\":\"p\",\"resolution\":\"marked-broken\"}\n", 8000)
	require.NoError(t, r.Tag(ctx, "wave-1-1", d.Commits[demo.MainBranch], msg))
	got, err := r.TagMessage(ctx, "wave-1-1")
	require.NoError(t, err)
	require.Equal(t, msg, got)
}

// TestFetchPullHead: a pull request's head lives under refs/pull/ on the remote, which the
// branch fetch leaves alone; FetchRef brings it, and follows it when it moves.
func TestFetchPullHead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, r := setup(t)
	gitOut(t, d.Remote, "update-ref", "refs/pull/7/head", d.Commits[demo.FixCalcPrecision])
	require.NoError(t, r.Fetch(ctx))
	_, err := r.ResolveRef(ctx, "refs/pull/7/head")
	require.ErrorIs(t, err, gitrepo.ErrRefNotFound, "the branch fetch does not bring pull requests")

	got, err := r.FetchRef(ctx, "refs/pull/7/head")
	require.NoError(t, err)
	require.Equal(t, d.Commits[demo.FixCalcPrecision], got)
	got, err = r.ResolveRef(ctx, d.Commits[demo.FixCalcPrecision])
	require.NoError(t, err, "its commit is here now")
	require.Equal(t, d.Commits[demo.FixCalcPrecision], got)

	gitOut(t, d.Remote, "update-ref", "refs/pull/7/head", d.Commits[demo.UpdateLibnet2])
	got, err = r.FetchRef(ctx, "refs/pull/7/head")
	require.NoError(t, err)
	require.Equal(t, d.Commits[demo.UpdateLibnet2], got, "a push to the pull request moves it")

	_, err = r.FetchRef(ctx, "refs/pull/8/head")
	require.ErrorIs(t, err, gitrepo.ErrRefNotFound)
	for _, bad := range []string{"pull/7/head", "refs/../x", "--upload-pack=x", "refs/pull/7/head:refs/heads/main", "refs/pull/"} {
		_, err = r.FetchRef(ctx, bad)
		require.ErrorIs(t, err, gitrepo.ErrRefNotFound, bad)
	}
}
