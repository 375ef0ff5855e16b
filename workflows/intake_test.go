package workflows_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/workflows"
)

// TestQueueIntakeLoop runs the intake's loop over fake activities: each tick submits what
// the plan says, except a submission the queue refused at that head (remembered until the
// pull request moves on), withdraws what the plan says, and reports; trouble goes into
// Why and the next tick tries again; the intake continues as new carrying its state.
func TestQueueIntakeLoop(t *testing.T) {
	t.Parallel()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	acts := &activities.Activities{}
	env.RegisterActivity(acts)
	env.RegisterWorkflow(workflows.QueueIntake)

	a := wire.QueuePullSubmission{Key: "pull:o/r#1@aaa", Pull: wire.PullRequest{Repo: "o/r", Number: 1, Head: "aaa"}}
	b := wire.QueuePullSubmission{Key: "pull:o/r#2@bbb", Pull: wire.PullRequest{Repo: "o/r", Number: 2, Head: "bbb"}}
	b2 := wire.QueuePullSubmission{Key: "pull:o/r#2@ccc", Pull: wire.PullRequest{Repo: "o/r", Number: 2, Head: "ccc"}}
	var mu sync.Mutex
	polls := 0
	var sent []string
	var withdrawn []int64
	env.OnActivity(acts.LoadCollection, mock.Anything, mock.Anything).Return(wire.Collection{Name: "demo", MainBranch: "main"}, nil)
	env.OnActivity(acts.QueuePulls, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.QueuePullsInput) (wire.QueuePullsResult, error) {
			mu.Lock()
			defer mu.Unlock()
			require.Equal(t, wire.QueuePullsInput{Collection: "demo", Branch: "main"}, in)
			polls++
			switch polls {
			case 1: // a is taken, b refused; a waiting change of a closed pull request goes
				return wire.QueuePullsResult{Repo: "o/r", Ready: 2, Submit: []wire.QueuePullSubmission{a, b},
					Withdraw: []wire.QueuePullWithdrawal{{ID: 9, Reason: "closed"}}}, nil
			case 2: // b again at the same head: not sent again
				return wire.QueuePullsResult{Repo: "o/r", Ready: 2, Submit: []wire.QueuePullSubmission{b}}, nil
			case 3: // GitHub refuses the token: the intake does not fail, the next tick tries again
				return wire.QueuePullsResult{}, temporal.NewNonRetryableApplicationError("github: pulls: unauthorized (401)", "IssueTrackerRejected", nil)
			default: // b pushed a new head
				return wire.QueuePullsResult{Repo: "o/r", Ready: 2, Submit: []wire.QueuePullSubmission{b2}}, nil
			}
		})
	env.OnActivity(acts.QueueSubmitPull, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.QueueSubmitPullInput) (wire.QueueSubmitPullResult, error) {
			mu.Lock()
			defer mu.Unlock()
			require.Equal(t, "demo/queue/main", in.Queue)
			sent = append(sent, in.Key)
			if in.Key == b.Key {
				return wire.QueueSubmitPullResult{Refused: "ref not found"}, nil
			}
			return wire.QueueSubmitPullResult{ID: int64(len(sent)), Commit: in.Pull.Head}, nil
		})
	env.OnActivity(acts.QueueWithdrawPull, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.QueueWithdrawPullInput) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			withdrawn = append(withdrawn, in.ID)
			return "", nil
		})
	env.OnActivity(acts.QueueReport, mock.Anything, mock.Anything).Return(wire.QueueReportResult{Reported: 1}, nil)

	var third workflows.IntakeStatus
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(workflows.QueryStatus)
		require.NoError(t, err)
		require.NoError(t, v.Get(&third))
	}, 2*time.Minute+30*time.Second) // after the third tick (every minute)
	// The suite's history does not grow by itself: make it long after the fourth tick.
	env.RegisterDelayedCallback(func() { env.SetCurrentHistoryLength(100) }, 3*time.Minute+30*time.Second)
	env.ExecuteWorkflow(workflows.QueueIntake, workflows.QueueIntakeInput{Collection: "demo", HistoryEvents: 60})

	require.True(t, env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, env.GetWorkflowError(), &can)
	require.Equal(t, "QueueIntake", can.WorkflowType.Name)

	require.Equal(t, 3, third.Polls)
	require.Equal(t, "pull requests: github: pulls: unauthorized (401)", third.Why)
	require.Equal(t, "demo/queue/main", third.Queue)
	require.Equal(t, []string{b.Key}, third.Refusals)

	mu.Lock()
	defer mu.Unlock()
	require.GreaterOrEqual(t, polls, 4)
	require.Equal(t, []string{a.Key, b.Key, b2.Key}, sent, "b is sent once at its head, again at its new head")
	require.Equal(t, []int64{9}, withdrawn)
}
