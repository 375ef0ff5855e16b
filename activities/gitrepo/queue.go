package gitrepo

import (
	"context"
	"errors"
	"fmt"
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
