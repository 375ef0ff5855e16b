package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/crestwaves/crest/activities/filer"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/tracker"
)

// FilerIssues files issues through the filer's outbox, on whichever tracker it holds.
type FilerIssues struct{ Filer *filer.Filer }

// Report files or updates the root cause's issue and reads back what people said there.
func (f FilerIssues) Report(ctx context.Context, r IssueReport) (IssueState, error) {
	phase := tracker.PhaseBuild
	if r.Status == store.StatusTestFailed {
		phase = tracker.PhaseTest
	}
	ref, err := f.Filer.RootCause(ctx, filer.RootCauseReport{
		Collection: r.Collection, Package: r.Package, Phase: phase, Maintainers: r.Maintainers,
		Major: r.Major, Minor: r.Minor, Attempt: max(r.Attempt-1, 0), System: r.System, Commit: r.Commit, Branch: r.Branch,
		Update: filer.Update{Package: r.Update.Package, Ref: r.Update.Ref}, Drv: r.Drv, LogTail: r.LogTail,
		Dependents: r.Dependents, Deadline: r.Deadline, Protected: r.Protected,
	})
	if err != nil {
		return IssueState{}, err
	}
	out := IssueState{Ref: ref.String(), Fingerprint: ref.Fingerprint}
	st, err := f.Filer.State(ctx, ref)
	if err != nil {
		return out, err
	}
	out.LastComment = st.LastExternalComment
	return out, nil
}

// Settle writes a resolution to the root cause's issue.
func (f FilerIssues) Settle(ctx context.Context, r IssueReport, resolution, reason string) error {
	_, err := f.Filer.Resolved(ctx, filer.ResolutionReport{
		Collection: r.Collection, Package: r.Package, Fingerprint: r.Fingerprint, LogTail: r.LogTail,
		Resolution: tracker.EventKind(resolution), Major: r.Major, Minor: r.Minor, Attempt: max(r.Attempt-1, 0),
		System: r.System, Commit: r.Commit, Reason: reason,
	})
	if errors.Is(err, filer.ErrNoOpenIssue) {
		return nil // never filed (no tracker then), or closed already: nothing to write
	}
	return err
}

// settleIssue writes a resolution to its issue when Crest files issues.
func (a *Activities) settleIssue(ctx context.Context, rep IssueReport, resolution, reason string) error {
	if a.Issues == nil || rep.Fingerprint == "" {
		return nil
	}
	if err := a.Issues.Settle(ctx, rep, resolution, reason); err != nil {
		return issueError(rep.Package, err)
	}
	return nil
}

// issueError keeps tracker failures that will not heal (bad credentials, unknown
// repository) from being retried forever; the rest retry.
func issueError(pkg string, err error) error {
	if tracker.IsPermanent(err) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("issue for %s: %v", pkg, err), "IssueTrackerRejected", err)
	}
	return fmt.Errorf("issue for %s: %w", pkg, err)
}
