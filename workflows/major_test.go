package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/workflows"
)

func registerMajor(env *testsuite.TestWorkflowEnvironment, plan wire.PlanResult) {
	acts := &activities.Activities{}
	env.OnActivity(acts.StartWave, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.StartWaveInput) (wire.StartWaveResult, error) {
			return wire.StartWaveResult{WaveID: 1, Number: 1, Name: "wave-1", Branch: "wave-1", BaseCommit: "base",
				Collection: wire.Collection{Name: in.Collection, Systems: []string{"x86_64-linux"}},
				Policy:     []byte(sevenDays)}, nil
		})
	env.OnActivity(acts.ValidateWave, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(acts.Plan, mock.Anything, mock.Anything).Return(plan, nil)
	env.RegisterWorkflow(workflows.MinorWave)
	env.RegisterWorkflow(workflows.BuildShard)
}

func majorStatus(t *testing.T, env *testsuite.TestWorkflowEnvironment) workflows.MajorStatus {
	t.Helper()
	v, err := env.QueryWorkflow(workflows.QueryStatus)
	require.NoError(t, err)
	var st workflows.MajorStatus
	require.NoError(t, v.Get(&st))
	return st
}

func TestMajorWaveForwardsValidatedRequestsToItsMinorWave(t *testing.T) {
	env := newTestEnv()
	f := newFakeWave(env, libhttp())
	f.register(t)
	registerMajor(env, wire.PlanResult{Minor: []wire.PlannedMinor{{Number: 1, Name: "wave-1-1",
		Updates: []wire.Update{{Package: "libnet", Ref: "update/libnet-2"}}, Builds: 11}}})
	rejected := map[string]*updateResult{}
	var paused, resumed, resolved *updateResult
	env.RegisterDelayedCallback(func() {
		st := majorStatus(t, env)
		require.Equal(t, workflows.PhaseWaiting, st.Phase)
		require.Equal(t, workflows.PhaseWaiting, st.Minor[0].Phase)
		paused = update(env, workflows.UpdatePause, workflows.PauseRequest{Reason: "infra maintenance"})
	}, time.Hour)
	env.RegisterDelayedCallback(func() {
		require.True(t, majorStatus(t, env).Paused)
		rejected["already paused"] = update(env, workflows.UpdatePause, workflows.PauseRequest{})
		rejected[`wave-1-1: resolve nosuch: package: unknown package`] = update(env,
			workflows.UpdateResolve, workflows.ResolveRequest{Package: "nosuch", Resolution: "wont-fix", Reason: "r", By: "erin"})
		rejected[`resolution "later"`] = update(env, workflows.UpdateResolve,
			workflows.ResolveRequest{Package: "libhttp", Resolution: "later", Reason: "r", By: "erin"})
		rejected["minor: wave-1 has no minor wave 9"] = update(env, workflows.UpdateRetry,
			workflows.RetryRequest{Package: "libhttp", Minor: 9})
		rejected[`"libnet" is already updated`] = update(env, workflows.UpdateAddUpdate,
			workflows.AddUpdateRequest{Package: "libnet", Ref: "update/libnet-3"})
		rejected["package and ref are required"] = update(env, workflows.UpdateAddUpdate, workflows.AddUpdateRequest{Package: "zlib"})
		resumed = update(env, workflows.UpdateResume, workflows.PauseRequest{})
	}, 2*time.Hour)
	env.RegisterDelayedCallback(func() {
		for want, r := range rejected {
			require.True(t, r.done, want)
			require.ErrorContains(t, r.rejected, want)
		}
		resolved = update(env, workflows.UpdateResolve, workflows.ResolveRequest{Package: "libhttp", Resolution: "wont-fix",
			Reason: "replaced by libhttp2", By: "erin"})
	}, 3*time.Hour)

	env.ExecuteWorkflow(workflows.MajorWave, workflows.MajorWaveInput{Collection: "demo",
		Updates: []wire.Update{{Package: "libnet", Ref: "update/libnet-2"}}})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res workflows.MajorWaveResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, []string{"wave-1-1"}, res.Tags)
	require.Equal(t, workflows.PhaseDone, res.Phase)
	for _, r := range []*updateResult{paused, resumed, resolved} {
		require.NoError(t, r.rejected)
	}
	require.Contains(t, resolved.text, "wave-1-1: resolve request for libhttp accepted")
	require.Len(t, f.resolved, 1)
	require.Equal(t, "erin", f.resolved[0].Actor)
}

func TestMajorWaveRejectsBadInput(t *testing.T) {
	env := newTestEnv()
	env.ExecuteWorkflow(workflows.MajorWave, workflows.MajorWaveInput{Updates: []wire.Update{{Package: "libnet"},
		{Package: "libfoo", Ref: "wave-1", Repo: "https://alice:s3cr3t-tok@git.example/foo.git"}}, Minors: [][]wire.Update{{}}})
	err := env.GetWorkflowError()
	require.ErrorContains(t, err, "collection: required")
	require.ErrorContains(t, err, "minors[0]: at least one update")
	require.ErrorContains(t, err, "updates[0]: package and ref are required")
	require.ErrorContains(t, err, "updates[1] (libfoo): repository https://***@git.example/foo.git carries credentials")
	require.NotContains(t, err.Error(), "s3cr3t-tok")
}

func TestMajorWaveAddUpdateReplansWhatHasNotStarted(t *testing.T) {
	env := newTestEnv()
	f := newFakeWave(env, libhttp())
	f.register(t)
	acts := &activities.Activities{}
	env.OnActivity(acts.ValidateWave, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(acts.StartWave, mock.Anything, mock.Anything).Return(wire.StartWaveResult{WaveID: 1, Number: 1,
		Name: "wave-1", Branch: "wave-1", Collection: wire.Collection{Name: "demo", Systems: []string{"x86_64-linux"}},
		Policy: []byte(sevenDays)}, nil)
	var plans []wire.PlanInput
	env.OnActivity(acts.Plan, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.PlanInput) (wire.PlanResult, error) {
			plans = append(plans, in)
			var out wire.PlanResult
			for i, u := range in.Updates {
				out.Minor = append(out.Minor, wire.PlannedMinor{Number: in.FirstMinor + i, Updates: []wire.Update{u}})
			}
			return out, nil
		})
	env.RegisterWorkflow(workflows.MinorWave)
	var added *updateResult
	env.RegisterDelayedCallback(func() {
		st := majorStatus(t, env)
		require.Len(t, st.Minor, 1)
		added = update(env, workflows.UpdateAddUpdate, workflows.AddUpdateRequest{Package: "zlib", Ref: "update/zlib-2"})
	}, time.Hour)
	env.RegisterDelayedCallback(func() {
		st := majorStatus(t, env)
		require.Len(t, st.Minor, 2, "the new update gets a minor wave of its own")
		require.Equal(t, "wave-1-2", st.Minor[1].Name)
		update(env, workflows.UpdateResolve, workflows.ResolveRequest{Package: "libhttp", Resolution: "wont-fix", Reason: "r", By: "erin"})
	}, 2*time.Hour)
	env.ExecuteWorkflow(workflows.MajorWave, workflows.MajorWaveInput{Collection: "demo",
		Updates: []wire.Update{{Package: "libnet", Ref: "update/libnet-2"}}})
	require.NoError(t, env.GetWorkflowError())
	require.NoError(t, added.rejected)
	require.Contains(t, added.text, "zlib added")
	require.Len(t, plans, 2)
	require.Equal(t, 2, plans[1].FirstMinor, "the running minor wave keeps its number")
	require.Equal(t, []wire.Update{{Package: "zlib", Ref: "update/zlib-2"}}, plans[1].Updates,
		"only what has not started is planned again")
	var res workflows.MajorWaveResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, []string{"wave-1-1", "wave-1-2"}, res.Tags)
}

func TestMajorWaveCancelStopsItsMinorWaves(t *testing.T) {
	env := newTestEnv()
	f := newFakeWave(env, libhttp())
	f.register(t)
	registerMajor(env, wire.PlanResult{Minor: []wire.PlannedMinor{{Number: 1, Name: "wave-1-1",
		Updates: []wire.Update{{Package: "libnet", Ref: "update/libnet-2"}}}}})
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(workflows.SignalCancel, nil) }, time.Hour)
	env.ExecuteWorkflow(workflows.MajorWave, workflows.MajorWaveInput{Collection: "demo",
		Updates: []wire.Update{{Package: "libnet", Ref: "update/libnet-2"}}})
	require.True(t, env.IsWorkflowCompleted())
	err := env.GetWorkflowError()
	require.Error(t, err)
	require.True(t, temporal.IsCanceledError(err), "cancelled, not failed: %v", err)
	require.False(t, f.tagged, "nothing is tagged after a cancel")
	require.Empty(t, f.resolved)
}

// TestMajorWaveRefusedBeforeAnythingStarts: a wave ValidateWave refuses allocates nothing
// (no StartWave), fails with the refusal's own words, and the Validated update sent with
// the start hears them.
func TestMajorWaveRefusedBeforeAnythingStarts(t *testing.T) {
	env := newTestEnv()
	acts := &activities.Activities{}
	env.RegisterActivity(acts)
	why := `update nosuchpkg: unknown package "nosuchpkg"; update libcore: ref "no/such/ref" not found in the demo repository`
	env.OnActivity(acts.ValidateWave, mock.Anything, mock.Anything).Return(
		temporal.NewNonRetryableApplicationError(why, wire.ErrInvalidInput, nil))
	started := false
	env.OnActivity(acts.StartWave, mock.Anything, mock.Anything).Return(
		func(context.Context, wire.StartWaveInput) (wire.StartWaveResult, error) {
			started = true
			return wire.StartWaveResult{}, nil
		})
	var validated *updateResult
	env.RegisterDelayedCallback(func() { validated = update(env, workflows.UpdateValidated, nil) }, 0)
	env.ExecuteWorkflow(workflows.MajorWave, workflows.MajorWaveInput{Collection: "demo",
		Updates: []wire.Update{{Package: "nosuchpkg", Ref: "update/libcore-2"}, {Package: "libcore", Ref: "no/such/ref"}}})
	require.True(t, env.IsWorkflowCompleted())
	err := env.GetWorkflowError()
	require.ErrorContains(t, err, why)
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, wire.ErrInvalidInput, app.Type())
	require.False(t, started, "nothing allocated")
	require.NotNil(t, validated)
	require.True(t, validated.done)
	require.ErrorContains(t, validated.rejected, why)
}

// TestMajorWaveMergesSecurityFixBeforeItsNextMinorWave: a patch's fix that arrives while
// wave-1-1 waits is merged onto the wave's branch at once (not after wave-1-1), the patch
// hears the commit, and wave-1-2 — the next minor wave — rebuilds the fixed package's
// dependents (Fixed), which wave-1-1 did not.
func TestMajorWaveMergesSecurityFixBeforeItsNextMinorWave(t *testing.T) {
	env := newTestEnv()
	f := newFakeWave(env, libhttp())
	f.register(t)
	registerMajor(env, wire.PlanResult{Minor: []wire.PlannedMinor{
		{Number: 1, Name: "wave-1-1", Updates: []wire.Update{{Package: "libnet", Ref: "update/libnet-2"}}},
		{Number: 2, Name: "wave-1-2", Updates: []wire.Update{{Package: "calc", Ref: "fix/calc-precision"}}, After: []int{1}}}})
	var answers []workflows.MergeFixResult
	env.OnSignalExternalWorkflow(mock.Anything, "demo/patch-1", "", "crest.fix-merged", mock.Anything).Return(nil).Run(
		func(args mock.Arguments) { answers = append(answers, args.Get(4).(workflows.MergeFixResult)) })
	fix := workflows.MergeFixRequest{Patch: "demo/patch-1", PatchID: 1, Package: "libcrypto", Ref: "security/libcrypto-2.5.1"}
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow("crest.merge-fix", fix)
		env.SignalWorkflow("crest.merge-fix", fix) // asked twice: merged once
	}, time.Hour)
	env.RegisterDelayedCallback(func() {
		st := majorStatus(t, env)
		require.Equal(t, workflows.PhaseWaiting, st.Minor[0].Phase, "wave-1-1 still waits")
		require.Equal(t, workflows.PhasePending, st.Minor[1].Phase)
		require.Equal(t, []workflows.MergedFix{{MergeFixRequest: fix, Commit: "c0ffee", Answered: true}}, st.Fixes)
		require.Equal(t, []workflows.MergeFixResult{{Wave: "wave-1", Commit: "c0ffee"}}, answers)
		update(env, workflows.UpdateResolve, workflows.ResolveRequest{Package: "libhttp", Resolution: "wont-fix", Reason: "r", By: "erin"})
	}, 2*time.Hour)
	env.ExecuteWorkflow(workflows.MajorWave, workflows.MajorWaveInput{Collection: "demo",
		Updates: []wire.Update{{Package: "libnet", Ref: "update/libnet-2"}, {Package: "calc", Ref: "fix/calc-precision"}}})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	st := majorStatus(t, env)
	require.Equal(t, "wave-1-2", st.Fixes[0].Minor)
	require.Len(t, f.rounds, 2)
	require.Empty(t, f.rounds[0].Fixed, "wave-1-1 evaluated before the fix")
	require.Equal(t, []string{"libcrypto"}, f.rounds[1].Fixed)
	require.Len(t, answers, 1)
}

// TestMajorWaveRebuildsAFixWithNoMinorWaveLeft: a fix that arrives while the wave's last
// minor wave waits gets a minor wave of its own (wave-1-2, after wave-1-1, the fix as its
// update), which rebuilds the fixed package's dependents: the wave does not end with the
// fix merged and its dependents unbuilt.
func TestMajorWaveRebuildsAFixWithNoMinorWaveLeft(t *testing.T) {
	env := newTestEnv()
	f := newFakeWave(env, libhttp())
	f.register(t)
	registerMajor(env, wire.PlanResult{Minor: []wire.PlannedMinor{
		{Number: 1, Name: "wave-1-1", Updates: []wire.Update{{Package: "libnet", Ref: "update/libnet-2"}}}}})
	env.OnSignalExternalWorkflow(mock.Anything, "demo/patch-1", "", "crest.fix-merged", mock.Anything).Return(nil)
	fix := workflows.MergeFixRequest{Patch: "demo/patch-1", PatchID: 1, Package: "libcrypto", Ref: "security/libcrypto-2.5.1"}
	env.RegisterDelayedCallback(func() { env.SignalWorkflow("crest.merge-fix", fix) }, time.Hour)
	env.RegisterDelayedCallback(func() {
		st := majorStatus(t, env)
		require.Len(t, st.Minor, 2)
		require.Equal(t, workflows.PhasePending, st.Minor[1].Phase)
		require.Equal(t, []wire.Update{{Package: "libcrypto", Ref: "security/libcrypto-2.5.1"}}, st.Minor[1].Updates)
		update(env, workflows.UpdateResolve, workflows.ResolveRequest{Package: "libhttp", Resolution: "wont-fix", Reason: "r", By: "erin"})
	}, 2*time.Hour)
	env.ExecuteWorkflow(workflows.MajorWave, workflows.MajorWaveInput{Collection: "demo",
		Updates: []wire.Update{{Package: "libnet", Ref: "update/libnet-2"}}})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res workflows.MajorWaveResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, []string{"wave-1-1", "wave-1-2"}, res.Tags)
	require.Equal(t, "wave-1-2", majorStatus(t, env).Fixes[0].Minor)
	require.Len(t, f.rounds, 2)
	require.Equal(t, []string{"libcrypto"}, f.rounds[1].Fixed)
}
