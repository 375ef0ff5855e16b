package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/workflows"
)

// slowReplans registers a major wave whose first Plan answers at once and whose re-plans
// (AddUpdate) take three hours, one minor wave per update; it returns the plans asked for.
func slowReplans(env *testsuite.TestWorkflowEnvironment) *[]wire.PlanInput {
	acts := &activities.Activities{}
	env.OnActivity(acts.ValidateWave, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(acts.StartWave, mock.Anything, mock.Anything).Return(wire.StartWaveResult{WaveID: 1, Number: 1,
		Name: "wave-1", Branch: "wave-1", Collection: wire.Collection{Name: "demo", Systems: []string{"x86_64-linux"}},
		Policy: []byte(sevenDays)}, nil)
	var plans []wire.PlanInput
	plan := func(_ context.Context, in wire.PlanInput) (wire.PlanResult, error) {
		plans = append(plans, in)
		var out wire.PlanResult
		for i, u := range in.Updates {
			out.Minor = append(out.Minor, wire.PlannedMinor{Number: in.FirstMinor + i, Updates: []wire.Update{u}})
		}
		return out, nil
	}
	env.OnActivity(acts.Plan, mock.Anything, mock.Anything).Return(plan).Once()
	env.OnActivity(acts.Plan, mock.Anything, mock.Anything).Return(plan).After(3 * time.Hour)
	env.RegisterWorkflow(workflows.MinorWave)
	env.RegisterWorkflow(workflows.BuildShard)
	return &plans
}

// TestAddUpdateWhileAMinorWaveFinishes: an AddUpdate's re-plan takes hours and the running
// minor wave finishes meanwhile. Its result must not be lost: the major wave used to
// overwrite the live list of minor waves with a copy taken before the Plan activity, so the
// finished wave's entry never got its result and the major wave waited forever.
func TestAddUpdateWhileAMinorWaveFinishes(t *testing.T) {
	env := newTestEnv()
	f := newFakeWave(env, libhttp())
	f.register(t)
	plans := slowReplans(env)
	var added, resolved *updateResult
	env.RegisterDelayedCallback(func() {
		added = update(env, workflows.UpdateAddUpdate, workflows.AddUpdateRequest{Package: "zlib", Ref: "update/zlib", By: "erin"})
	}, time.Hour)
	env.RegisterDelayedCallback(func() {
		require.False(t, added.done, "the re-plan is still running")
		resolved = update(env, workflows.UpdateResolve, workflows.ResolveRequest{Package: "libhttp", Resolution: "wont-fix",
			Reason: "r", By: "erin"})
	}, 2*time.Hour)
	env.ExecuteWorkflow(workflows.MajorWave, workflows.MajorWaveInput{Collection: "demo",
		Updates: []wire.Update{{Package: "libnet", Ref: "update/libnet-2"}}})
	require.True(t, env.IsWorkflowCompleted(), "the major wave finished (it used to hang)")
	require.NoError(t, env.GetWorkflowError())
	require.NoError(t, added.rejected)
	require.NoError(t, resolved.rejected)
	var res workflows.MajorWaveResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, []string{"wave-1-1", "wave-1-2"}, res.Tags)
	require.Len(t, *plans, 2)
}

// TestTwoAddUpdatesAtOnce: two AddUpdates arrive together while re-plans are slow. Both
// updates end up in the plan (the second re-plan starts from the first's result), and a
// third AddUpdate of a package still being added is refused by the validator.
func TestTwoAddUpdatesAtOnce(t *testing.T) {
	env := newTestEnv()
	f := newFakeWave(env, libhttp())
	f.register(t)
	plans := slowReplans(env)
	var zlib, openssl, again *updateResult
	env.RegisterDelayedCallback(func() {
		zlib = update(env, workflows.UpdateAddUpdate, workflows.AddUpdateRequest{Package: "zlib", Ref: "update/zlib", By: "erin"})
		openssl = update(env, workflows.UpdateAddUpdate, workflows.AddUpdateRequest{Package: "openssl", Ref: "update/openssl", By: "frank"})
		again = update(env, workflows.UpdateAddUpdate, workflows.AddUpdateRequest{Package: "zlib", Ref: "update/zlib-2", By: "gina"})
	}, time.Hour)
	env.RegisterDelayedCallback(func() {
		st := majorStatus(t, env)
		require.Len(t, st.Minor, 3, "both added updates have a minor wave")
		update(env, workflows.UpdateResolve, workflows.ResolveRequest{Package: "libhttp", Resolution: "wont-fix", Reason: "r", By: "erin"})
	}, 10*time.Hour)
	env.ExecuteWorkflow(workflows.MajorWave, workflows.MajorWaveInput{Collection: "demo",
		Updates: []wire.Update{{Package: "libnet", Ref: "update/libnet-2"}}})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.NoError(t, zlib.rejected)
	require.NoError(t, openssl.rejected)
	require.ErrorContains(t, again.rejected, `package "zlib" is being added`)
	require.Len(t, *plans, 3)
	last := (*plans)[2]
	require.ElementsMatch(t, []wire.Update{{Package: "openssl", Ref: "update/openssl"}, {Package: "zlib", Ref: "update/zlib"}},
		last.Updates, "the second re-plan includes the first's update")
	var res workflows.MajorWaveResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, []string{"wave-1-1", "wave-1-2", "wave-1-3"}, res.Tags)
}
