package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// CommitFiles writes files (path in the tree → content) onto the local branch's head as
// one commit and returns the branch's new head. It works in git's object database with an
// index of its own, never in a work tree. When the files are there already with that
// content, it returns the head unchanged, so running it again is a no-op.
func (r *Repo) CommitFiles(ctx context.Context, branch string, files map[string][]byte, message string) (string, error) {
	unlock, err := r.lock(ctx)
	if err != nil {
		return "", fmt.Errorf("commit onto %s: %w", branch, err)
	}
	defer unlock()
	local := "refs/heads/" + branch
	head, err := r.resolve(ctx, local, false)
	if err != nil {
		return "", fmt.Errorf("commit onto %s: the branch is not prepared: %w", branch, err)
	}
	tmp, err := os.MkdirTemp("", "crest-commit-")
	if err != nil {
		return "", fmt.Errorf("commit onto %s: %w", branch, err)
	}
	defer os.RemoveAll(tmp)
	env := []string{"GIT_INDEX_FILE=" + filepath.Join(tmp, "index")}
	git := func(args ...string) (string, error) {
		out, err := r.runGit(ctx, env, nil, args)
		return strings.TrimSpace(out), err
	}
	if _, err := git("read-tree", head); err != nil {
		return "", fmt.Errorf("commit onto %s: %w", branch, err)
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for i, p := range paths {
		if p == "" || strings.HasPrefix(p, "/") || slices.Contains(strings.Split(p, "/"), "..") {
			return "", fmt.Errorf("commit onto %s: invalid path %q", branch, p)
		}
		f := filepath.Join(tmp, strconv.Itoa(i))
		if err := os.WriteFile(f, files[p], 0o644); err != nil {
			return "", fmt.Errorf("commit onto %s: %w", branch, err)
		}
		blob, err := git("hash-object", "-w", "--", f)
		if err != nil {
			return "", fmt.Errorf("commit onto %s: %w", branch, err)
		}
		if _, err := git("update-index", "--add", "--cacheinfo", "100644,"+blob+","+p); err != nil {
			return "", fmt.Errorf("commit onto %s: %w", branch, err)
		}
	}
	tree, err := git("write-tree")
	if err != nil {
		return "", fmt.Errorf("commit onto %s: %w", branch, err)
	}
	if old, err := git("rev-parse", head+"^{tree}"); err != nil {
		return "", fmt.Errorf("commit onto %s: %w", branch, err)
	} else if old == tree {
		return head, nil
	}
	commit, err := git("commit-tree", tree, "-p", head, "-m", message)
	if err != nil {
		return "", fmt.Errorf("commit onto %s: %w", branch, err)
	}
	if _, err := git("update-ref", "-m", "crest: commit onto "+branch, local, commit, head); err != nil {
		return "", fmt.Errorf("commit onto %s: %w", branch, err)
	}
	return commit, nil
}

// ChangedLines counts the lines added and removed between two commits (git diff
// --numstat; binary files count as none): the size of a patch.
func (r *Repo) ChangedLines(ctx context.Context, from, to string) (int, error) {
	unlock, err := r.lock(ctx)
	if err != nil {
		return 0, fmt.Errorf("diff %s..%s: %w", from, to, err)
	}
	defer unlock()
	out, err := r.run(ctx, "diff", "--numstat", from, to, "--")
	if err != nil {
		return 0, fmt.Errorf("diff %s..%s: %w", from, to, err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		added, _ := strconv.Atoi(f[0]) // "-" for binary files
		removed, _ := strconv.Atoi(f[1])
		n += added + removed
	}
	return n, nil
}

// Ungrafted is commit without the files CommitFiles added under dir last: commit itself
// when its tree has no dir, else its first parent, which must have none. A security tag
// is its fixes merged, then its grafts committed under one directory; a later fix stacks
// on the fixes, not on grafts computed for another set of fixes.
func (r *Repo) Ungrafted(ctx context.Context, commit, dir string) (string, error) {
	has := func(c string) (bool, error) {
		_, err := r.run(ctx, "cat-file", "-e", c+":"+dir)
		var gerr *GitError
		if errors.As(err, &gerr) && gerr.ExitCode != 0 {
			return false, nil
		}
		return err == nil, err
	}
	if ok, err := has(commit); err != nil || !ok {
		return commit, err
	}
	parent, err := r.run(ctx, "rev-parse", "--verify", commit+"^1^{commit}")
	if err != nil {
		return "", fmt.Errorf("ungrafted %s: %w", commit, err)
	}
	parent = strings.TrimSpace(parent)
	if ok, err := has(parent); err != nil {
		return "", err
	} else if ok {
		return "", fmt.Errorf("ungrafted %s: its parent %s has %s/ too", commit, parent, dir)
	}
	return parent, nil
}
