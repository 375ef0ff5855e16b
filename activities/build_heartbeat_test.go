package activities_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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

// countingBuilder passes every build and counts them.
type countingBuilder struct{ runs atomic.Int32 }

func (b *countingBuilder) Build(context.Context, string, []string, func()) (wire.BuildResult, error) {
	b.runs.Add(1)
	return wire.BuildResult{Status: store.StatusPassed}, nil
}

// TestBuildPackageHeartbeatsWhileItsRecordWaitsForLocks: recording a build can wait on row
// locks (a hub whose thousands of dependents other builds are freeing) for longer than the
// heartbeat timeout. The attempt must stay alive through the wait: timed out, it would be
// retried and the package built twice (47 of 15,373 builds at 100,000 packages did).
func TestBuildPackageHeartbeatsWhileItsRecordWaitsForLocks(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.DSN(t, false)
	st, err := store.Open(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(st.Close)
	const sys = "x86_64-linux"
	col, err := st.UpsertCollection(ctx, store.Collection{Name: "c"})
	require.NoError(t, err)
	pkgs := []graph.Package{{Key: "lib", Name: "lib", Drv: "/nix/store/lib.drv"}}
	ev, _, err := st.SaveEvaluation(ctx, col, "abc", sys, pkgs)
	require.NoError(t, err)
	w, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "c/wave-1", BaseRef: "main", State: "running"})
	require.NoError(t, err)
	m, err := st.StartMinorWave(ctx, w.ID, 1, "wave-1-1", nil)
	require.NoError(t, err)
	require.NoError(t, st.PutRound(ctx, m.ID, sys, 0, []store.RoundRow{{Package: "lib", Drv: "/nix/store/lib.drv"}}))

	// Another session holds the package's result row, as a transaction freeing a hub's
	// dependents holds theirs, for several heartbeat timeouts.
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	released := make(chan struct{})
	t.Cleanup(func() { <-released; _ = conn.Close(ctx) }) // a connection is not for two goroutines
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	tag, err := tx.Exec(ctx, `SELECT 1 FROM package_results WHERE minor_wave_id = $1 AND package = 'lib' FOR UPDATE`, m.ID)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected(), "the fixture has the row the record updates")
	const heartbeatTimeout = 400 * time.Millisecond
	go func() {
		defer close(released)
		time.Sleep(5 * heartbeatTimeout)
		_ = tx.Rollback(ctx)
	}()

	builder := &countingBuilder{}
	acts := &activities.Activities{Store: st, Builder: builder}
	build := func(ctx workflow.Context, in wire.BuildInput) (wire.BuildResult, error) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: time.Minute, HeartbeatTimeout: heartbeatTimeout,
			RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1}, // a timeout fails the test
		})
		var res wire.BuildResult
		err := workflow.ExecuteActivity(ctx, wire.ActivityBuildPackage, in).Get(ctx, &res)
		return res, err
	}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	// The suite runs with -race beside other tests on two cores: a starved dispatcher is not
	// a deadlock of this one-line workflow.
	env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: time.Minute})
	env.RegisterWorkflow(build)
	activities.RegisterBuilds(env, acts)
	env.ExecuteWorkflow(build, wire.BuildInput{Key: "wave-1-1/" + sys + "/lib/r0", MinorWaveID: m.ID,
		EvaluationID: ev.ID, System: sys, Package: "lib", Collection: "c"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError(), "the attempt survived the wait")
	require.EqualValues(t, 1, builder.runs.Load(), "built once")
	states, err := st.States(ctx, m.ID, sys)
	require.NoError(t, err)
	require.Len(t, states, 1)
	require.EqualValues(t, store.StatusPassed, states[0].Status, "recorded once the lock went")
}
