package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrBranchMoved is a fast-forward refused because the branch is no longer where the
// caller tested from: someone else pushed to it.
var ErrBranchMoved = errors.New("branch moved")

// RemoteHead fetches and returns the commit the remote's branch points at: the head a
// merge queue builds on, whatever local branches hold.
func (r *Repo) RemoteHead(ctx context.Context, branch string) (string, error) {
	unlock, err := r.lock(ctx)
	if err != nil {
		return "", fmt.Errorf("head of %s: %w", branch, err)
	}
	defer unlock()
	if err := r.fetch(ctx); err != nil {
		return "", fmt.Errorf("head of %s: %w", branch, err)
	}
	return r.resolve(ctx, "refs/remotes/"+remoteName+"/"+branch, false)
}

// FastForward moves the remote's branch to commit, which must descend from it, and only
// if the branch is still at expect: the branch becomes exactly the commit that was tested,
// never a merge of it, and a branch that moved meanwhile is left alone (ErrBranchMoved).
// Running it again after it succeeded is a no-op. The push is never forced, so the remote
// refuses anything but a fast-forward.
func (r *Repo) FastForward(ctx context.Context, branch, commit, expect string) error {
	unlock, err := r.lock(ctx)
	if err != nil {
		return fmt.Errorf("fast-forward %s: %w", branch, err)
	}
	defer unlock()
	if err := r.fetch(ctx); err != nil {
		return fmt.Errorf("fast-forward %s: %w", branch, err)
	}
	remote := "refs/remotes/" + remoteName + "/" + branch
	head, err := r.resolve(ctx, remote, false)
	if err != nil {
		return fmt.Errorf("fast-forward %s: %w", branch, err)
	}
	switch head {
	case commit:
		return nil // done already
	case expect:
	default:
		return fmt.Errorf("fast-forward %s to %s: it is at %s, not %s: %w", branch, commit, head, expect, ErrBranchMoved)
	}
	if _, err := r.run(ctx, "merge-base", "--is-ancestor", head, commit); err != nil {
		return fmt.Errorf("fast-forward %s to %s: %s is not an ancestor: %w", branch, commit, head, err)
	}
	if _, err := r.runRemote(ctx, r.cfg.Remote, "push", "--quiet", remoteName, commit+":refs/heads/"+branch); err != nil {
		if strings.Contains(err.Error(), "non-fast-forward") || strings.Contains(err.Error(), "rejected") {
			return fmt.Errorf("fast-forward %s: %w: %w", branch, ErrBranchMoved, err)
		}
		return fmt.Errorf("fast-forward %s: %w", branch, err)
	}
	if _, err := r.run(ctx, "update-ref", remote, commit); err != nil {
		return fmt.Errorf("fast-forward %s: %w", branch, err)
	}
	return nil
}

var remoteRefRE = regexp.MustCompile(`^refs/[A-Za-z0-9._/-]+$`)

// FetchRef fetches a full ref of the remote that the branch fetch does not carry, such as
// a pull request's head (refs/pull/N/head, as GitHub publishes it), into refs/crest/ (so
// that its commit stays reachable here) and returns its commit. A ref the remote does not
// have is ErrRefNotFound.
func (r *Repo) FetchRef(ctx context.Context, ref string) (string, error) {
	if !remoteRefRE.MatchString(ref) || strings.Contains(ref, "..") || strings.HasSuffix(ref, "/") {
		return "", fmt.Errorf("fetch %q: not a full ref: %w", ref, ErrRefNotFound)
	}
	unlock, err := r.lock(ctx)
	if err != nil {
		return "", fmt.Errorf("fetch %s: %w", ref, err)
	}
	defer unlock()
	local := "refs/crest/" + strings.TrimPrefix(ref, "refs/")
	if _, err := r.runRemote(ctx, r.cfg.Remote, "fetch", "--quiet", "--no-tags", remoteName, "+"+ref+":"+local); err != nil {
		var gerr *GitError
		if errors.As(err, &gerr) && strings.Contains(gerr.Stderr, "couldn't find remote ref") {
			return "", fmt.Errorf("fetch %s: %w", ref, ErrRefNotFound)
		}
		return "", fmt.Errorf("fetch %s: %w", ref, err)
	}
	return r.resolve(ctx, local, false)
}
