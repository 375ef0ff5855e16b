package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/policy"
	"github.com/crestwaves/crest/workflows"
)

// fakeQueue stands in for git, Nix and Postgres behind the queue's activities, for the
// loop logic under the time-skipping suite (the real parts run in queue_e2e_test.go). A
// commit is named by the changes it merges ("c:1,2"); a build of a commit that has the
// culprit fails libhttp.
type fakeQueue struct {
	mu       sync.Mutex
	env      *testsuite.TestWorkflowEnvironment
	culprit  int64
	next     int64
	batches  [][]int64
	merged   []int64
	ejected  []wire.QueueEjection
	head     string
	probes   int
	batchAt  []time.Time // when each batch started, in workflow time
	requeued []int64
	troubles int // builds that fail for infrastructure before any succeeds
}

func commitOf(ids []wire.QueueRef) string {
	parts := make([]string, len(ids))
	for i, r := range ids {
		parts[i] = fmt.Sprint(r.ID)
	}
	return "c:" + strings.Join(parts, ",")
}

func (f *fakeQueue) register(acts *activities.Activities) {
	env := f.env
	env.RegisterActivity(acts)
	env.OnActivity(acts.LoadCollection, mock.Anything, mock.Anything).Return(
		wire.Collection{Name: "demo", Systems: []string{"x86_64-linux"}, MainBranch: "main"}, nil)
	env.OnActivity(acts.QueueSubmit, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.QueueSubmitInput) (wire.QueueSubmitResult, error) {
			if in.Ref == "nope" {
				return wire.QueueSubmitResult{}, temporal.NewNonRetryableApplicationError(`ref "nope" not found`, wire.ErrInvalidInput, nil)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			f.next++
			return wire.QueueSubmitResult{ID: f.next, Commit: fmt.Sprint("x", f.next)}, nil
		})
	env.OnActivity(acts.QueueLane, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.QueueLaneInput) (wire.QueueLaneResult, error) {
			d, err := policy.ChooseLane(policy.Change{ID: fmt.Sprint(in.ID), Rebuilds: 3, Labels: in.Labels}, policy.QueueSettings{})
			return wire.QueueLaneResult{Lane: d.Lane, Reason: d.Reason, Rebuilds: 3}, err
		})
	env.OnActivity(acts.QueueCandidate, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.QueueCandidateInput) (wire.QueueCandidateResult, error) {
			return wire.QueueCandidateResult{Base: "base", Commit: commitOf(in.Changes)}, nil
		})
	env.OnActivity(acts.QueueStartBatch, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.QueueBatchInput) (int64, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.batches = append(f.batches, in.Members)
			f.batchAt = append(f.batchAt, env.Now())
			return int64(len(f.batches)), nil
		})
	env.OnActivity(acts.Evaluate, mock.Anything, mock.Anything).Return(wire.EvaluateResult{EvaluationID: 1}, nil)
	env.OnActivity(acts.QueuePrepareBuild, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.QueueBuildInput) (wire.QueueBuildLayout, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.troubles > 0 {
				f.troubles--
				return wire.QueueBuildLayout{}, temporal.NewNonRetryableApplicationError("builders out of retries", "Trouble", nil)
			}
			if in.Probe != nil {
				f.probes++
			}
			return wire.QueueBuildLayout{WaveID: 1, MinorWaveID: 1}, nil // nothing for BuildSet: the outcome is decided below
		})
	env.OnActivity(acts.QueueProbeDone, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.QueueProbeInput) ([]string, error) {
			if f.culprit != 0 && slices.Contains(strings.Split(strings.TrimPrefix(in.Commit, "c:"), ","), fmt.Sprint(f.culprit)) {
				return []string{"libhttp"}, nil
			}
			return nil, nil
		})
	env.OnActivity(acts.QueueFastForward, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.QueueFastForwardInput) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.head = in.Commit
			return nil
		})
	env.OnActivity(acts.QueueFinishBatch, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.QueueFinishInput) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.merged = append(f.merged, in.Merged...)
			f.ejected = append(f.ejected, in.Ejected...)
			f.requeued = append(f.requeued, in.Requeued...)
			return nil
		})
}

func newFakeQueue(t *testing.T, culprit int64) (*testsuite.TestWorkflowEnvironment, *fakeQueue) {
	t.Helper()
	env := newTestEnv()
	f := &fakeQueue{env: env, culprit: culprit}
	f.register(&activities.Activities{})
	return env, f
}

// submitAt sends Submit at a moment of workflow time.
func submitAt(env *testsuite.TestWorkflowEnvironment, after time.Duration, r workflows.SubmitRequest, out *error) {
	env.RegisterDelayedCallback(func() {
		updateSeq++
		env.UpdateWorkflow(workflows.UpdateSubmit, fmt.Sprint("s", updateSeq), &testsuite.TestUpdateCallback{
			OnReject: func(err error) { *out = err }, OnAccept: func() {},
			OnComplete: func(_ any, err error) { *out = err },
		}, r)
	}, after)
}

// TestMergeQueueBatchesBisectsAndMerges: three changes arriving together fill a window of
// three; change 2 breaks the candidate, the bisection (one round: base, rebuild and two
// prefixes) finds it, it is ejected with its verdict, and 1 and 3 merge in the next batch,
// the window halved; the branch ends at exactly that candidate.
func TestMergeQueueBatchesBisectsAndMerges(t *testing.T) {
	env, f := newFakeQueue(t, 2)
	errs := make([]error, 4)
	for i := range 3 {
		submitAt(env, time.Second, workflows.SubmitRequest{Ref: fmt.Sprint("change/", i)}, &errs[i])
	}
	submitAt(env, time.Second, workflows.SubmitRequest{Ref: "nope"}, &errs[3])
	env.RegisterDelayedCallback(env.CancelWorkflow, 2*time.Hour)
	env.ExecuteWorkflow(workflows.MergeQueue, workflows.MergeQueueInput{Collection: "demo",
		Settings: []byte(`{"window_start": 3, "window_min": 2, "max_wait": "1h"}`)})
	require.True(t, env.IsWorkflowCompleted())
	require.True(t, temporal.IsCanceledError(env.GetWorkflowError()), "%v", env.GetWorkflowError())
	require.NoError(t, errors.Join(errs[:3]...))
	require.ErrorContains(t, errs[3], `ref "nope" not found`)

	require.Equal(t, [][]int64{{1, 2, 3}, {1, 3}}, f.batches)
	require.Equal(t, 4, f.probes)
	require.Len(t, f.ejected, 1)
	require.Equal(t, int64(2), f.ejected[0].ID)
	require.Equal(t, "2", f.ejected[0].Verdict.Culprit)
	require.Equal(t, []string{"libhttp"}, f.ejected[0].Verdict.Broke)
	require.Equal(t, []int64{1, 3}, f.requeued)
	require.Equal(t, []int64{1, 3}, f.merged)
	require.Equal(t, "c:1,3", f.head)
}

// TestMergeQueueWaitsForAWindowThenMaxWait: a lone fast change waits for a fuller batch
// until max_wait; a security change arriving meanwhile is built alone at once.
func TestMergeQueueWaitsForAWindowThenMaxWait(t *testing.T) {
	env, f := newFakeQueue(t, 0)
	var e1, e2 error
	submitAt(env, time.Minute, workflows.SubmitRequest{Ref: "small"}, &e1)
	submitAt(env, 5*time.Minute, workflows.SubmitRequest{Ref: "fix", Labels: []string{"security"}}, &e2)
	env.RegisterDelayedCallback(env.CancelWorkflow, 3*time.Hour)
	start := env.Now()
	env.ExecuteWorkflow(workflows.MergeQueue, workflows.MergeQueueInput{Collection: "demo",
		Settings: []byte(`{"window_start": 8, "max_wait": "30m"}`)})
	require.NoError(t, errors.Join(e1, e2))
	require.Equal(t, [][]int64{{2}, {1}}, f.batches, "the security fix first and alone, then the small change")
	require.Less(t, f.batchAt[0].Sub(start), 6*time.Minute)
	require.GreaterOrEqual(t, f.batchAt[1].Sub(start), 31*time.Minute, "the small change waited max_wait")
	require.Equal(t, []int64{2, 1}, f.merged)
}

// TestMergeQueueContinuesAsNewWithItsQueue: when its history is full the queue waits for
// its handlers and continues as new carrying what waits.
func TestMergeQueueContinuesAsNewWithItsQueue(t *testing.T) {
	env, _ := newFakeQueue(t, 0)
	var e1 error
	submitAt(env, time.Second, workflows.SubmitRequest{Ref: "small"}, &e1)
	// Temporal suggests continue-as-new once the change waits.
	env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, time.Minute)
	env.ExecuteWorkflow(workflows.MergeQueue, workflows.MergeQueueInput{Collection: "demo",
		Settings: []byte(`{"window_start": 8, "max_wait": "1h"}`)})
	require.NoError(t, e1)
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, env.GetWorkflowError(), &can)
	var next workflows.MergeQueueInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	require.Len(t, next.State.Waiting, 1)
	require.Equal(t, int64(1), next.State.Waiting[0].ID)
	require.Equal(t, policy.LaneFast, next.State.Waiting[0].Lane)
	require.Equal(t, "main", next.Branch)
}

// TestMergeQueueSurvivesInfrastructureTrouble: a batch whose build fails for a reason that
// is not a build failure does not fail the queue: it says why, waits, and makes the batch
// again, which merges.
func TestMergeQueueSurvivesInfrastructureTrouble(t *testing.T) {
	env, f := newFakeQueue(t, 0)
	f.troubles = 1
	var e1 error
	submitAt(env, time.Second, workflows.SubmitRequest{Ref: "small"}, &e1)
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Hour)
	env.ExecuteWorkflow(workflows.MergeQueue, workflows.MergeQueueInput{Collection: "demo",
		Settings: []byte(`{"window_start": 1}`)})
	require.True(t, temporal.IsCanceledError(env.GetWorkflowError()), "%v", env.GetWorkflowError())
	require.NoError(t, e1)
	require.Equal(t, [][]int64{{1}, {1}}, f.batches)
	require.GreaterOrEqual(t, f.batchAt[1].Sub(f.batchAt[0]), time.Minute)
	require.Equal(t, []int64{1}, f.merged)
	require.Equal(t, "c:1", f.head)
}
