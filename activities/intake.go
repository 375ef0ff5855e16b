package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/tracker"
	"github.com/crestwaves/crest/activities/wire"
)

// IntakeBy is who the intake submits and withdraws as, in the queue's records: a change
// withdrawn by it (its pull request stopped being ready) may be submitted again at the
// same head once the pull request is ready again; one a person withdrew is not.
const IntakeBy = "crest-intake"

// reportBatch is how many outcomes one QueueReport delivers at most.
const reportBatch = 50

// PullIntake is where a collection's merge queue takes approved pull requests from, and
// where their results go: the open pull requests into the queue's branch that carry Label
// and are approved.
type PullIntake struct {
	Collection string
	Label      string
	Pulls      tracker.Pulls
}

// QueueUpdates sends a merge queue the updates `crest queue` sends (Submit, Withdraw),
// from an activity: workflows cannot send updates to other workflows. A refusal by the
// queue matches wire.ErrRefused; anything else is trouble reaching it. workflows.QueueClient
// implements it (the worker wires it: activities do not know the workflows).
type QueueUpdates interface {
	Submit(ctx context.Context, s wire.QueueSubmission) (wire.QueueSubmitResult, error)
	Withdraw(ctx context.Context, collection, branch, workflowID string, id int64, reason, by string) error
}

// QueuePulls reads the pull requests ready for the queue (approved, labelled, into its
// branch) and what the queue holds of them, and plans (planIntake) what to submit and
// withdraw. A worker without an intake for the collection returns an empty plan.
func (a *Activities) QueuePulls(ctx context.Context, in wire.QueuePullsInput) (wire.QueuePullsResult, error) {
	intake := a.Intake
	if intake == nil || intake.Pulls == nil || intake.Collection != in.Collection {
		return wire.QueuePullsResult{}, nil
	}
	repo := intake.Pulls.Repo()
	defer keepAlive(ctx, "reading the pull requests of "+repo)() // a rate limit may make it wait
	ready, err := intake.Pulls.Ready(ctx, in.Branch, intake.Label)
	if err != nil {
		return wire.QueuePullsResult{}, trackerError("pull requests of "+repo, err)
	}
	numbers := make([]int64, len(ready))
	for i, p := range ready {
		numbers[i] = p.Number
	}
	changes, err := a.Store.PullChanges(ctx, in.Collection, in.Branch, repo, numbers)
	if err != nil {
		return wire.QueuePullsResult{}, err
	}
	return planIntake(repo, in.Branch, intake.Label, ready, changes), nil
}

// planIntake decides, from the ready pull requests and the queue's changes of them, what
// to submit and withdraw. A pull request is submitted at its head once: not again while a
// change of that head exists (queued, merged, ejected, or withdrawn by a person), only
// after the intake itself withdrew it (it stopped being ready, and is ready again). A new
// head replaces the waiting change of the older one; while the older one is being built it
// cannot be withdrawn, and the new head waits for it to end. A waiting change whose pull
// request is no longer ready is withdrawn.
func planIntake(repo, branch, label string, ready []tracker.PullRequest, changes []store.QueueChange) wire.QueuePullsResult {
	out := wire.QueuePullsResult{Repo: repo, Ready: len(ready)}
	heads := map[int64]string{}
	replaced := map[int64]bool{}
	for _, p := range ready {
		heads[p.Number] = p.Head
		var replaces int64
		generation, submitted, held := 0, false, ""
		for _, c := range changes {
			switch {
			case c.PullNumber != p.Number:
			case c.Commit == p.Head && withdrawnByIntake(c):
				generation++
			case c.Commit == p.Head:
				submitted = true
			case c.State == store.QueueQueued:
				replaces = c.ID
			case c.State == store.QueueBatched:
				held = fmt.Sprintf("#%d at %s waits for change %d (its head %s) to finish building", p.Number, short(p.Head), c.ID, short(c.Commit))
			}
		}
		switch {
		case submitted:
			continue
		case held != "":
			out.Held = append(out.Held, held)
			continue
		}
		// The branch is in the key: a pull request retargeted to another branch is another
		// queue's change.
		key := fmt.Sprintf("pull:%s#%d@%s/%s", repo, p.Number, p.Head, branch)
		if generation > 0 {
			key += fmt.Sprintf("/%d", generation)
		}
		replaced[replaces] = true
		out.Submit = append(out.Submit, wire.QueuePullSubmission{Key: key,
			Pull:  wire.PullRequest{Repo: repo, Number: p.Number, Head: p.Head, URL: p.URL},
			Title: p.Title, Author: p.Author, Labels: p.Labels, Replaces: replaces})
	}
	for _, c := range changes {
		if c.State != store.QueueQueued || replaced[c.ID] {
			continue
		}
		head, ok := heads[c.PullNumber]
		switch {
		case !ok:
			out.Withdraw = append(out.Withdraw, wire.QueuePullWithdrawal{ID: c.ID,
				Reason: fmt.Sprintf("pull request #%d is no longer open, approved and labelled %s", c.PullNumber, label)})
		case head != c.Commit:
			out.Withdraw = append(out.Withdraw, wire.QueuePullWithdrawal{ID: c.ID,
				Reason: fmt.Sprintf("pull request #%d moved on to %s", c.PullNumber, short(head))})
		}
	}
	return out
}

// withdrawnByIntake tells a change the intake withdrew (see IntakeBy) from one a person did.
func withdrawnByIntake(c store.QueueChange) bool {
	return c.State == store.QueueWithdrawn && strings.HasPrefix(c.Reason, "withdrawn by "+IntakeBy+":")
}

// QueueSubmitPull submits a pull request to its queue with the Submit update (the
// submission's key as its update ID, so the queue records it once), after withdrawing
// the waiting change of its older head. A refusal by the queue is told on the pull request
// (a comment and an error status, once per head) and returned, not failed: the same head
// would be refused again.
func (a *Activities) QueueSubmitPull(ctx context.Context, in wire.QueueSubmitPullInput) (wire.QueueSubmitPullResult, error) {
	var out wire.QueueSubmitPullResult
	if a.Queues == nil {
		return out, temporal.NewNonRetryableApplicationError("this worker cannot reach merge queues (no Temporal client wired)", wire.ErrInvalidInput, nil)
	}
	defer keepAlive(ctx, fmt.Sprintf("submitting pull request #%d", in.Pull.Number))()
	if in.Replaces != 0 && !a.withdrawnAlready(ctx, in.Replaces) {
		err := a.Queues.Withdraw(ctx, in.Collection, in.Branch, in.Queue, in.Replaces,
			fmt.Sprintf("pull request #%d moved on to %s", in.Pull.Number, short(in.Pull.Head)), IntakeBy)
		if errors.Is(err, wire.ErrRefused) {
			out.Held = fmt.Sprintf("#%d at %s waits for change %d of its older head: %v", in.Pull.Number, short(in.Pull.Head), in.Replaces, err)
			return out, nil
		} else if err != nil {
			return out, err
		}
	}
	res, err := a.Queues.Submit(ctx, wire.QueueSubmission{Collection: in.Collection, Branch: in.Branch, WorkflowID: in.Queue,
		UpdateID: in.Key, Ref: fmt.Sprintf("refs/pull/%d/head", in.Pull.Number), Title: in.Title, Labels: in.Labels,
		By: "github:" + in.Author, Pull: &in.Pull})
	if errors.Is(err, wire.ErrRefused) {
		out.Refused = err.Error()
		return out, a.tellRefused(ctx, in, out.Refused)
	} else if err != nil {
		return out, err
	}
	out.ID, out.Commit = res.ID, res.Commit
	return out, nil
}

// withdrawnAlready tells whether a change is withdrawn (by an earlier attempt of this
// activity): withdrawing it again would be refused.
func (a *Activities) withdrawnAlready(ctx context.Context, id int64) bool {
	c, err := a.Store.QueueChange(ctx, id)
	return err == nil && c.State == store.QueueWithdrawn
}

// tellRefused tells a pull request's author the queue refused its head.
func (a *Activities) tellRefused(ctx context.Context, in wire.QueueSubmitPullInput, why string) error {
	if a.Intake == nil || a.Intake.Pulls == nil {
		return nil
	}
	pulls := a.Intake.Pulls
	body := fmt.Sprintf("**Not queued.** The merge queue of `%s` refused this pull request at `%s`:\n\n> %s\n\nPush a fix to this pull request: its new head is queued once it is approved and labelled.\n",
		in.Branch, short(in.Pull.Head), strings.ReplaceAll(strings.TrimSpace(why), "\n", "\n> "))
	key := fmt.Sprintf("crest-queue/pull-%d@%s/refused", in.Pull.Number, in.Pull.Head)
	if err := pulls.CommentPull(ctx, in.Pull.Number, key, body); err != nil {
		return trackerError(fmt.Sprintf("pull request #%d", in.Pull.Number), err)
	}
	status := tracker.CommitStatus{State: tracker.CommitError, Context: tracker.QueueStatusContext, Description: "Not queued: " + why}
	if err := pulls.SetStatus(ctx, in.Pull.Head, status); err != nil {
		return trackerError(fmt.Sprintf("status of pull request #%d", in.Pull.Number), err)
	}
	return nil
}

// QueueWithdrawPull withdraws a waiting change whose pull request is no longer ready. It
// returns the queue's refusal ("" when withdrawn): a change that started building cannot
// be withdrawn, and finishes.
func (a *Activities) QueueWithdrawPull(ctx context.Context, in wire.QueueWithdrawPullInput) (string, error) {
	if a.Queues == nil {
		return "", temporal.NewNonRetryableApplicationError("this worker cannot reach merge queues (no Temporal client wired)", wire.ErrInvalidInput, nil)
	}
	defer keepAlive(ctx, fmt.Sprintf("withdrawing change %d", in.ID))() // the queue may be laning changes
	err := a.Queues.Withdraw(ctx, in.Collection, in.Branch, in.Queue, in.ID, in.Reason, IntakeBy)
	if errors.Is(err, wire.ErrRefused) {
		return err.Error(), nil
	}
	return "", err
}

// QueueReport delivers the outcomes of a queue's changes not reported yet, oldest first:
// a pull request gets a commit status on its head (pending in the queue, success merged,
// failure ejected or in conflict, error otherwise) and, once it left the queue, a comment
// (tracker.QueueComment); a change submitted by ref gets a local issue that follows it,
// when this worker files issues locally (crest dev). Each delivery is idempotent (keyed
// comments, a status set only when it differs) and recorded as it lands; a failed one is
// recorded with its error and tried again on the next run, unless the tracker refused it
// for good.
func (a *Activities) QueueReport(ctx context.Context, in wire.QueueReportInput) (wire.QueueReportResult, error) {
	var out wire.QueueReportResult
	var pulls tracker.Pulls
	repo := ""
	if a.Intake != nil && a.Intake.Pulls != nil && a.Intake.Collection == in.Collection {
		pulls, repo = a.Intake.Pulls, a.Intake.Pulls.Repo()
	}
	if repo == "" && a.QueueIssues == nil {
		return out, nil
	}
	changes, err := a.Store.UnreportedChanges(ctx, in.Collection, in.Branch, repo, a.QueueIssues != nil, reportBatch)
	if err != nil {
		return out, err
	}
	out.More = len(changes) == reportBatch
	defer keepAlive(ctx, fmt.Sprintf("reporting %d queue outcomes", len(changes)))()
	for _, c := range changes {
		outcome := reportedOutcome(c.State)
		r := queueResult(c)
		var failed error
		if c.PullNumber > 0 {
			failed = reportPull(ctx, pulls, c, r)
		} else {
			failed = a.reportLocal(ctx, c, r)
		}
		if failed != nil {
			out.Failed++
			out.Error = fmt.Sprintf("change %d: %v", c.ID, failed)
			if err := a.Store.ReportFailed(ctx, c.ID, outcome, failed.Error(), tracker.IsPermanent(failed)); err != nil {
				return out, err
			}
			if errors.Is(failed, tracker.ErrRateLimited) {
				break // the others would wait for the same limit
			}
			continue
		}
		if err := a.Store.MarkReported(ctx, c.ID, outcome); err != nil {
			return out, err
		}
		out.Reported++
	}
	return out, nil
}

// reportedOutcome is the outcome a change's state is reported as (see store.queueOutcome).
func reportedOutcome(state string) string {
	if state == store.QueueQueued || state == store.QueueBatched {
		return string(tracker.QueuePending)
	}
	return state
}

// reportPull sets the pull request's status and, once it left the queue, comments.
func reportPull(ctx context.Context, pulls tracker.Pulls, c store.QueueChange, r tracker.QueueResult) error {
	if r.Outcome != tracker.QueuePending {
		if err := pulls.CommentPull(ctx, c.PullNumber, r.Key(), tracker.QueueComment(r)); err != nil {
			return err
		}
	}
	return pulls.SetStatus(ctx, c.Commit, tracker.QueueStatus(r))
}

// reportLocal follows a change submitted by ref with a local issue: opened when it is
// first reported, closed with the result when it left the queue (completed when merged).
// The issue's number is recorded before it is closed, so a retry after a crash closes
// that issue rather than filing another.
func (a *Activities) reportLocal(ctx context.Context, c store.QueueChange, r tracker.QueueResult) error {
	tr := a.QueueIssues
	ref := tracker.Ref{Tracker: tr.Name(), Number: c.ReportIssue}
	if c.ReportIssue == 0 {
		opened := r
		opened.Outcome, opened.Reason = tracker.QueuePending, ""
		var err error
		ref, _, err = tr.Open(ctx, fmt.Sprintf("crest-queue/change-%d", c.ID), tracker.Issue{
			Title: tracker.QueueIssueTitle(r), Body: tracker.QueueComment(opened), Labels: []string{"merge-queue"}})
		if err != nil {
			return err
		}
		if err := a.Store.SetReportIssue(ctx, c.ID, ref.Number); err != nil {
			return err
		}
	}
	if r.Outcome == tracker.QueuePending {
		return nil
	}
	reason := tracker.ReasonNotPlanned
	if r.Outcome == tracker.QueueMerged {
		reason = tracker.ReasonCompleted
	}
	return tr.Close(ctx, ref, reason, r.Key(), tracker.QueueComment(r))
}

// queueResult is what the author of a change is told about it, from its record: for an
// ejection, the evidence QueueFinishBatch gathered (an ejection without a bisection's
// culprit did not merge or evaluate: a conflict).
func queueResult(c store.QueueChange) tracker.QueueResult {
	r := tracker.QueueResult{Change: c.ID, Collection: c.Collection, Branch: c.Branch, Title: c.Title, Ref: c.Ref,
		Commit: c.Commit, Lane: c.Lane, LaneReason: c.LaneReason, Reason: c.Reason, Pull: c.PullNumber}
	switch c.State {
	case store.QueueQueued, store.QueueBatched:
		r.Outcome, r.Reason = tracker.QueuePending, ""
	case store.QueueMerged:
		r.Outcome, r.Head = tracker.QueueMerged, c.Candidate
	case store.QueueEjected:
		r.Outcome = tracker.QueueConflict
		var ev queueEvidence
		if len(c.Evidence) > 0 && json.Unmarshal(c.Evidence, &ev) == nil && ev.Verdict.Culprit != "" {
			r.Outcome = tracker.QueueEjected
			for _, f := range ev.Failures {
				r.Failures = append(r.Failures, tracker.QueueFailure{Package: f.Package, Status: f.Status, LogTail: f.LogTail})
			}
			for _, p := range ev.Probes {
				r.Probes = append(r.Probes, tracker.QueueProbe{Round: p.Round, Kind: p.Kind, Prefix: p.Prefix, Commit: p.Commit,
					Packages: p.Packages, Failed: p.Failed})
			}
		}
	case store.QueueWithdrawn:
		r.Outcome = tracker.QueueWithdrawn
	case store.QueueHandedToWave:
		r.Outcome = tracker.QueueHandedToWave
	default:
		r.Outcome = tracker.QueueOutcome(c.State)
	}
	return r
}
