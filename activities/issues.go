package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

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
		Dependents: r.Dependents, Deadline: r.Deadline, Protected: r.Protected, Patch: r.Patch, Wave: r.Wave,
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
		System: r.System, Commit: r.Commit, Reason: reason, Wave: r.Wave,
	})
	if errors.Is(err, filer.ErrNoOpenIssue) {
		return nil // never filed (no tracker then), or closed already: nothing to write
	}
	return err
}

// RequestTag files (or finds, while open) the issue asking an upstream for a wave's tag.
func (f FilerIssues) RequestTag(ctx context.Context, r TagRequest) (string, error) {
	// One request per package, upstream and tag: the fingerprint is not a failure's, so it
	// is not normalized (which would fold wave numbers together).
	sum := sha256.Sum256([]byte(r.Package + "\x00" + r.Repo + "\x00" + r.Tag))
	fp := "upstream-tag:" + hex.EncodeToString(sum[:16])
	var ups []string
	for _, u := range r.Updates {
		ups = append(ups, fmt.Sprintf("- %s (%s)", u.Package, u.Ref))
	}
	body := fmt.Sprintf(`Crest's major wave %[1]s of %[2]s reaches %[3]s, whose upstream takes part in waves.

Please tag the commit of %[4]s that is ready for this wave as **%[5]s**:

    git tag %[5]s <commit> && git push origin %[5]s

The wave updates, upstream of %[3]s:
%[6]s

When the tag is there, the next plan of a wave updates %[3]s to it; until then %[3]s is
rebuilt from the collection as it is.
`, r.Wave, r.Collection, r.Package, r.Repo, r.Tag, strings.Join(ups, "\n"))
	ref, _, err := f.Filer.Tracker.Open(ctx, fp, tracker.Issue{
		Title:     fmt.Sprintf("%s: please tag %s for %s", r.Package, r.Tag, r.Wave),
		Body:      body,
		Labels:    []string{"crest", "upstream-tag"},
		Assignees: r.Maintainers,
	})
	if err != nil {
		return "", err
	}
	if ref.URL != "" {
		return ref.URL, nil
	}
	return fmt.Sprintf("%s#%d", ref.Tracker, ref.Number), nil
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

// issueError is trackerError for the issue of a package.
func issueError(pkg string, err error) error { return trackerError("issue for "+pkg, err) }

// trackerError keeps tracker failures that will not heal (bad credentials, an unknown
// repository or pull request) from being retried forever; the rest retry. Tracker errors
// carry no credentials.
func trackerError(what string, err error) error {
	if tracker.IsPermanent(err) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v", what, err), "IssueTrackerRejected", err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
