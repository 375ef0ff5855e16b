package activities_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/testenv"
	"github.com/crestwaves/crest/graph"
)

// quickBuilder passes every build after a pause shorter than a heartbeat timeout, without
// heartbeating (as a build shorter than its first beat does not).
type quickBuilder struct {
	pause time.Duration
	runs  atomic.Int32
}

func (b *quickBuilder) Build(context.Context, string, []string, func()) (wire.BuildResult, error) {
	b.runs.Add(1)
	time.Sleep(b.pause)
	return wire.BuildResult{Status: store.StatusPassed}, nil
}

// TestBuildSlotBuildsARoundAndStaysAlive: one slot builds a chain of quick builds that
// together last several heartbeat timeouts: it heartbeats between builds (a busy slot
// whose builds are each shorter than their first beat was timed out and retried, building
// again), builds each package once in dependency order, and ends with the round done.
func TestBuildSlotBuildsARoundAndStaysAlive(t *testing.T) {
	ctx := context.Background()
	st := testenv.Store(t)
	const sys, n = "x86_64-linux", 24
	col, err := st.UpsertCollection(ctx, store.Collection{Name: "c"})
	require.NoError(t, err)
	var pkgs []graph.Package
	var round []store.RoundRow
	var front []store.FrontierRow
	for i := range n {
		k := fmt.Sprintf("p%02d", i)
		p := graph.Package{Key: k, Name: k, Drv: "/nix/store/" + k + ".drv"}
		r := store.FrontierRow{Package: k, Priority: float64(n - i)}
		if i > 0 {
			prev := fmt.Sprintf("p%02d", i-1)
			p.Deps, r.Deps = []string{prev}, []string{prev}
		}
		if i < n-1 {
			r.Dependents = []string{fmt.Sprintf("p%02d", i+1)}
		}
		pkgs, front = append(pkgs, p), append(front, r)
		round = append(round, store.RoundRow{Package: k, Drv: p.Drv, Layer: i})
	}
	ev, _, err := st.SaveEvaluation(ctx, col, "abc", sys, pkgs)
	require.NoError(t, err)
	w, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "c/wave-1", BaseRef: "main", State: "running"})
	require.NoError(t, err)
	m, err := st.StartMinorWave(ctx, w.ID, 1, "wave-1-1", nil)
	require.NoError(t, err)
	require.NoError(t, st.PutRound(ctx, m.ID, sys, 0, round))
	require.NoError(t, st.PutFrontier(ctx, m.ID, sys, 0, front))

	const heartbeatTimeout = 300 * time.Millisecond
	builder := &quickBuilder{pause: heartbeatTimeout / 6} // shorter than a build's first beat
	acts := &activities.Activities{Store: st, Builder: builder}
	slot := func(ctx workflow.Context, in wire.SlotInput) (wire.SlotResult, error) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: time.Minute, HeartbeatTimeout: heartbeatTimeout,
			RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1}, // a timeout fails the test
		})
		var res wire.SlotResult
		err := workflow.ExecuteActivity(ctx, wire.ActivityBuildSlot, in).Get(ctx, &res)
		return res, err
	}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: time.Minute})
	env.RegisterWorkflow(slot)
	activities.RegisterBuilds(env, acts)
	env.ExecuteWorkflow(slot, wire.SlotInput{WaveID: w.ID, MinorWaveID: m.ID, EvaluationID: ev.ID, System: sys,
		Collection: "c", KeyPrefix: "c/wave-1-1", Owner: "run", YieldAfter: time.Hour})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError(), "the slot stayed alive through %d builds", n)
	var res wire.SlotResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, wire.SlotResult{Passed: n, Done: true}, res)
	require.EqualValues(t, n, builder.runs.Load(), "each package built once")
	states, err := st.States(ctx, m.ID, sys)
	require.NoError(t, err)
	for _, s := range states {
		require.EqualValues(t, store.StatusPassed, s.Status, s.Package)
	}
}
