package workflows

import (
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/crestwaves/crest/activities/wire"
)

// SignalPoll makes a queue's intake poll now instead of at its next tick (no payload).
const SignalPoll = "Poll"

// defaultPollEvery is how often an intake polls when its input does not say.
const defaultPollEvery = time.Minute

// QueueIntakeWorkflowID is the ID of the intake of the merge queue whose workflow ID is
// queueID.
func QueueIntakeWorkflowID(queueID string) string { return queueID + "/intake" }

// QueueIntakeInput starts (or continues) the intake of one merge queue.
type QueueIntakeInput struct {
	Collection string `json:"collection"`
	// Branch is the queue's target branch (default: the collection's main branch).
	Branch string `json:"branch,omitempty"`
	// Queue is the merge queue's workflow ID (default: QueueWorkflowID).
	Queue string `json:"queue,omitempty"`
	// Every is the time between polls (default: a minute).
	Every Duration `json:"every,omitempty"`
	// HistoryEvents makes the intake continue as new once its history reaches that many
	// events (0: when Temporal suggests it).
	HistoryEvents int `json:"history_events,omitempty"`
	// State carries the intake across continue-as-new.
	State *IntakeState `json:"state,omitempty"`
}

// IntakeState is what an intake did so far, and what it remembers between polls.
type IntakeState struct {
	// Repo is where the pull requests come from ("" when the workers take none for the
	// collection: the intake only reports then).
	Repo      string `json:"repo,omitempty"`
	Polls     int    `json:"polls"`
	Ready     int    `json:"ready"` // approved, labelled pull requests at the last poll
	Submitted int    `json:"submitted"`
	Withdrawn int    `json:"withdrawn"`
	Refused   int    `json:"refused"`
	Reported  int    `json:"reported"`
	// Refusals are the submissions (keys: a pull request at its head) the queue refused:
	// not sent again while the pull request stays at that head.
	Refusals []string `json:"refusals,omitempty"`
	// Held are the pull requests waiting for their older head's batch to end.
	Held     []string  `json:"held,omitempty"`
	LastPoll time.Time `json:"last_poll,omitzero"`
	// Why is the trouble of the last poll ("" when there was none).
	Why string `json:"why,omitempty"`
}

// IntakeStatus is what the Status query of an intake returns.
type IntakeStatus struct {
	Collection string `json:"collection"`
	Branch     string `json:"branch"`
	Queue      string `json:"queue"`
	IntakeState
}

// QueueIntake is the companion of a merge queue, a timer loop: every Every (or on the
// Poll signal) it takes in the pull requests that are ready (QueuePulls: approved and
// labelled, into the queue's branch), submitting each to the queue at its head with the
// Submit update crest queue submit sends (QueueSubmitPull) and withdrawing the waiting
// ones that stopped being ready (QueueWithdrawPull); then it delivers the outcomes of the
// queue's changes to their authors (QueueReport: a comment and a commit status on a pull
// request, or a local issue for a change submitted by ref in crest dev). GitHub I/O and
// the updates happen in activities; trouble is recorded in the Status query's Why and
// tried again at the next tick: the intake never fails for it. It continues as new when
// Temporal suggests it.
func QueueIntake(ctx workflow.Context, in QueueIntakeInput) error {
	var st IntakeState
	if in.State != nil {
		st = *in.State
	}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (IntakeStatus, error) {
		return IntakeStatus{Collection: in.Collection, Branch: in.Branch, Queue: in.Queue, IntakeState: st}, nil
	}); err != nil {
		return err
	}
	if in.Branch == "" {
		var col wire.Collection
		if err := workflow.ExecuteActivity(bookkeeping(ctx), wire.ActivityLoadCollection, in.Collection).Get(ctx, &col); err != nil {
			return refusal(err)
		}
		in.Branch = col.MainBranch
	}
	if in.Queue == "" {
		in.Queue = QueueWorkflowID(in.Collection, in.Branch)
	}
	every := time.Duration(in.Every)
	if every <= 0 {
		every = defaultPollEvery
	}
	every = max(every, time.Second)
	_ = workflow.UpsertTypedSearchAttributes(ctx, SearchCollection.ValueSet(in.Collection), SearchPhase.ValueSet("polling"))
	poll := workflow.GetSignalChannel(ctx, SignalPoll)
	for {
		if historyFull(ctx, in.HistoryEvents) {
			for poll.ReceiveAsync(nil) {
			}
			next := in
			next.State = &st
			return workflow.NewContinueAsNewError(ctx, QueueIntake, next)
		}
		more := pollOnce(ctx, in, &st)
		if more {
			continue // reports are left: deliver them without waiting
		}
		sel := workflow.NewSelector(ctx)
		timerCtx, cancel := workflow.WithCancel(ctx)
		sel.AddFuture(workflow.NewTimer(timerCtx, every), func(workflow.Future) {})
		sel.AddReceive(poll, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			for c.ReceiveAsync(nil) {
			}
		})
		sel.Select(ctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// intakeActivity are the options of the intake's activities: a few attempts, then the
// next tick tries again.
func intakeActivity(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute, // a submission waits while the queue lanes changes
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 4,
			NonRetryableErrorTypes: []string{wire.ErrInvalidInput, "IssueTrackerRejected"},
		},
	})
}

// pollOnce takes the pull requests in and reports outcomes once, recording what happened
// in st; it says whether reports are left for another round at once.
func pollOnce(ctx workflow.Context, in QueueIntakeInput, st *IntakeState) bool {
	actx := intakeActivity(ctx)
	st.Polls++
	st.LastPoll = workflow.Now(ctx)
	var why []string
	var plan wire.QueuePullsResult
	if err := workflow.ExecuteActivity(actx, wire.ActivityQueuePulls, wire.QueuePullsInput{Collection: in.Collection, Branch: in.Branch}).Get(ctx, &plan); err != nil {
		why = append(why, "pull requests: "+errorText(err))
	} else {
		st.Repo, st.Ready, st.Held = plan.Repo, plan.Ready, plan.Held
		for _, w := range plan.Withdraw {
			var refused string
			err := workflow.ExecuteActivity(actx, wire.ActivityQueueWithdrawPull, wire.QueueWithdrawPullInput{
				Collection: in.Collection, Branch: in.Branch, Queue: in.Queue, QueuePullWithdrawal: w}).Get(ctx, &refused)
			if err != nil {
				why = append(why, "withdraw: "+errorText(err))
			} else if refused == "" {
				st.Withdrawn++
			}
		}
		var keys []string
		for _, s := range plan.Submit {
			keys = append(keys, s.Key)
			if slices.Contains(st.Refusals, s.Key) {
				continue
			}
			var res wire.QueueSubmitPullResult
			err := workflow.ExecuteActivity(actx, wire.ActivityQueueSubmitPull, wire.QueueSubmitPullInput{
				Collection: in.Collection, Branch: in.Branch, Queue: in.Queue, QueuePullSubmission: s}).Get(ctx, &res)
			switch {
			case err != nil:
				why = append(why, "submit: "+errorText(err))
			case res.Refused != "":
				st.Refused++
				st.Refusals = append(st.Refusals, s.Key)
			case res.Held != "":
				st.Held = append(st.Held, res.Held)
			default:
				st.Submitted++
			}
		}
		// A refusal is remembered while its pull request stays ready at that head.
		st.Refusals = slices.DeleteFunc(st.Refusals, func(k string) bool { return !slices.Contains(keys, k) })
	}
	var rep wire.QueueReportResult
	if err := workflow.ExecuteActivity(actx, wire.ActivityQueueReport, wire.QueueReportInput{Collection: in.Collection, Branch: in.Branch}).Get(ctx, &rep); err != nil {
		why = append(why, "reports: "+errorText(err))
	} else {
		st.Reported += rep.Reported
		if rep.Error != "" {
			why = append(why, "reports: "+rep.Error)
		}
	}
	st.Why = strings.Join(why, "; ")
	return rep.More && rep.Reported > 0
}
