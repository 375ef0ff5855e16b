package workflows_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/policy"
	"github.com/crestwaves/crest/workflows"
)

// fakePatch stands in for Postgres, git and Nix behind a security patch's activities (the
// rebuild's settling goes through fakeWave's), and records what the patch asked for.
type fakePatch struct {
	*fakeWave
	mu      sync.Mutex
	calls   []string // activity names, in order
	facts   wire.GraftFacts
	failing []wire.SystemTestFailure // RunSystemTests' failures
	grafts  []wire.GraftsInput       // TagGrafts' inputs
	rebuild []wire.PatchRebuildInput // TagRebuild's inputs
	states  []wire.PatchStateInput
}

func newFakePatch(f *fakeWave, facts wire.GraftFacts) *fakePatch {
	return &fakePatch{fakeWave: f, facts: facts}
}

func (f *fakePatch) called(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
}

// register mocks the patch's activities on top of fakeWave's (Evaluate, Summarize, Review,
// Resolve, CheckRequest), one stored covered tag: wave-1-1.
func (f *fakePatch) register(t *testing.T) {
	f.fakeWave.register(t)
	acts := &activities.Activities{}
	env := f.env
	env.OnActivity(acts.ValidatePatch, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.ValidatePatchInput) (wire.ValidatePatchResult, error) {
			f.called("ValidatePatch")
			return wire.ValidatePatchResult{Package: in.Package, Tags: []wire.CoveredTag{{Tag: "wave-1-1", Commit: "t", WaveID: 1,
				System: "x86_64-linux", EvaluationID: 1}}}, nil
		})
	env.OnActivity(acts.StartPatch, mock.Anything, mock.Anything).Return(
		func(context.Context, wire.StartPatchInput) (int64, error) { f.called("StartPatch"); return 5, nil })
	env.OnActivity(acts.PreparePatchTag, mock.Anything, mock.Anything).Return(
		func(context.Context, wire.PreparePatchTagInput) (wire.PreparedPatchTag, error) {
			f.called("PreparePatchTag")
			return wire.PreparedPatchTag{Name: "wave-1-1-security-1", Branch: "security/wave-1-1-security-1", Commit: "m",
				ChangedLines: 12, Stacks: true}, nil
		})
	env.OnActivity(acts.BuildPackage, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.BuildInput) (wire.BuildResult, error) {
			f.called("BuildPackage " + in.Package)
			return wire.BuildResult{Status: "passed", Outputs: []string{"/nix/store/new-libcrypto-2.5.1"}}, nil
		})
	env.OnActivity(acts.CheckGrafts, mock.Anything, mock.Anything).Return(
		func(context.Context, wire.GraftsInput) (wire.GraftFacts, error) {
			f.called("CheckGrafts")
			return f.facts, nil
		})
	env.OnActivity(acts.CommitGrafts, mock.Anything, mock.Anything).Return(
		func(context.Context, wire.GraftsInput) (wire.GraftedCommit, error) {
			f.called("CommitGrafts")
			return wire.GraftedCommit{Commit: "g", Grafts: 9, SystemTests: []wire.SystemTest{{Package: "default-system", Test: "boot"}}}, nil
		})
	env.OnActivity(acts.RunSystemTests, mock.Anything, mock.Anything).Return(
		func(context.Context, wire.SystemTestsInput) (wire.SystemTestsResult, error) {
			f.called("RunSystemTests")
			if len(f.failing) > 0 {
				return wire.SystemTestsResult{Failures: f.failing}, nil
			}
			return wire.SystemTestsResult{Passed: []string{"default-system.boot"}}, nil
		})
	env.OnActivity(acts.TagGrafts, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.GraftsInput) (wire.SecurityTagResult, error) {
			f.called("TagGrafts")
			f.mu.Lock()
			defer f.mu.Unlock()
			f.grafts = append(f.grafts, in)
			return wire.SecurityTagResult{Tag: in.Prepared.Name, Commit: "g", Grafts: 9}, nil
		})
	env.OnActivity(acts.PreparePatchRebuild, mock.Anything, mock.Anything).Return(
		func(context.Context, wire.PatchRebuildInput) (wire.PatchRebuildLayout, error) {
			f.called("PreparePatchRebuild")
			return wire.PatchRebuildLayout{WaveID: 1, MinorWaveID: 7, Packages: 10, Major: 1, Minor: 1, Policy: []byte(sevenDays)}, nil
		})
	env.OnActivity(acts.TagRebuild, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.PatchRebuildInput) (wire.SecurityTagResult, error) {
			f.called("TagRebuild")
			f.mu.Lock()
			defer f.mu.Unlock()
			f.rebuild = append(f.rebuild, in)
			return wire.SecurityTagResult{Tag: in.Prepared.Name, Commit: "m", Rebuilt: 7}, nil
		})
	env.OnActivity(acts.PatchRunningWaves, mock.Anything, mock.Anything).Return(
		func(context.Context, wire.RunningWavesInput) ([]wire.RunningWave, error) {
			f.called("PatchRunningWaves")
			return nil, nil
		})
	env.OnActivity(acts.RecordPatchState, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.PatchStateInput) error {
			f.called("RecordPatchState " + in.State)
			f.mu.Lock()
			defer f.mu.Unlock()
			f.states = append(f.states, in)
			return nil
		})
	// The rebuild's build round: built by the build engine, which TestBuildSet* cover.
	env.OnWorkflow(workflows.BuildSet, mock.Anything, mock.Anything).Return(
		func(workflow.Context, workflows.BuildSetInput) (workflows.BuildSetResult, error) {
			f.called("BuildSet")
			return workflows.BuildSetResult{}, nil
		})
}

func graftable() wire.GraftFacts {
	return wire.GraftFacts{OldVersion: "2.5.0", NewVersion: "2.5.1", RebuildSeconds: 7200, ReverseClosure: 10, Grafts: 9,
		Graft: policy.Graftability{SameNameLength: true}}
}

func patchResult(t *testing.T, f *fakePatch) workflows.SecurityPatchResult {
	t.Helper()
	require.True(t, f.env.IsWorkflowCompleted())
	var res workflows.SecurityPatchResult
	if err := f.env.GetWorkflowError(); err == nil {
		require.NoError(t, f.env.GetWorkflowResult(&res))
	}
	return res
}

// TestSecurityPatchGraftsInOrder: a replace-dependency patch validates, registers, merges,
// evaluates, builds the patched package alone, checks the grafts, lets policy decide,
// commits the grafts and runs the collection's system tests on them before it tags, then
// brings the fix to running waves and records that it is done; `crest patch start` hears
// the acceptance through the Validated update.
func TestSecurityPatchGraftsInOrder(t *testing.T) {
	env := newTestEnv()
	f := newFakePatch(newFakeWave(env), graftable())
	f.register(t)
	var validated *updateResult
	env.RegisterDelayedCallback(func() { validated = update(env, workflows.UpdateValidated, nil) }, 0)
	env.ExecuteWorkflow(workflows.SecurityPatch, workflows.SecurityPatchInput{Collection: "demo", Package: "libcrypto",
		Ref: "security/libcrypto-2.5.1", Strategy: "replace-dependency", Severity: "critical", Advisory: "CVE-2026-0001"})
	require.NoError(t, env.GetWorkflowError())
	res := patchResult(t, f)
	require.Equal(t, workflows.PatchPhaseDone, res.Phase)
	require.Equal(t, "tagged wave-1-1-security-1", res.Reason)
	require.Equal(t, []workflows.PatchTagStatus{{Covers: "wave-1-1", Tag: "wave-1-1-security-1", Commit: "g", Grafts: 9, Done: true,
		SystemTests: []string{"default-system.boot"}}}, res.Tags)
	require.Equal(t, []string{"ValidatePatch", "StartPatch", "PreparePatchTag", "BuildPackage libcrypto", "CheckGrafts", "CommitGrafts",
		"RunSystemTests", "TagGrafts", "PatchRunningWaves", "RecordPatchState done"}, f.calls)
	require.Len(t, f.grafts, 1)
	require.Equal(t, "replace-dependency", f.grafts[0].Strategy)
	require.Equal(t, "requested by a person; the grafts are debt until a rebuild of the dependents", f.grafts[0].Reason)
	require.Equal(t, []string{"default-system.boot"}, f.grafts[0].SystemTests, "the summary names the tests that passed")
	require.Equal(t, []string{"/nix/store/new-libcrypto-2.5.1"}, f.grafts[0].PatchedOutputs)
	require.NotNil(t, validated)
	require.NoError(t, validated.rejected)
	require.Equal(t, "patch of libcrypto from security/libcrypto-2.5.1 accepted", validated.text)
}

// TestSecurityPatchRefusesGraftsThatFailSystemTests: grafts whose system test fails on them
// are refused with the test, the log's last lines and the rebuild strategy offered;
// nothing is tagged and the patch is recorded failed with that reason.
func TestSecurityPatchRefusesGraftsThatFailSystemTests(t *testing.T) {
	env := newTestEnv()
	f := newFakePatch(newFakeWave(env), graftable())
	f.failing = []wire.SystemTestFailure{{Test: "default-system.boot", LogTail: "booting\npkgtool: ABI 2.5 is not 2.6\n"}}
	f.register(t)
	env.ExecuteWorkflow(workflows.SecurityPatch, workflows.SecurityPatchInput{Collection: "demo", Package: "libcrypto",
		Ref: "security/libcrypto-2.6.0", Strategy: "replace-dependency", Severity: "critical"})
	err := env.GetWorkflowError()
	require.ErrorContains(t, err, "graft refused: system test default-system.boot fails on the grafts of libcrypto security/libcrypto-2.6.0")
	require.ErrorContains(t, err, "booting / pkgtool: ABI 2.5 is not 2.6; use --strategy rebuild")
	require.Empty(t, f.grafts, "nothing tagged")
	require.NotContains(t, f.calls, "PatchRunningWaves", "a patch that tagged nothing reaches no running wave")
	require.Equal(t, "failed", f.states[len(f.states)-1].State)
	require.Equal(t, "wave-1-1", f.states[len(f.states)-1].Tag, "the covered tag that failed")
}

// TestSecurityPatchAutoRebuildsAndSettlesByGrace: with --strategy auto, a fix whose graft
// is unsafe (store names of different lengths) and whose closure is not small is rebuilt.
// libhttp, not protected, fails in the rebuild; nobody answers, so the patch waits, saying
// what people may do, until policy marks libhttp broken after its 7-day grace period
// (skipped time), and then tags.
func TestSecurityPatchAutoRebuildsAndSettlesByGrace(t *testing.T) {
	env := newTestEnv()
	start := env.Now()
	facts := graftable()
	facts.Graft = policy.Graftability{SameNameLength: false}
	facts.Unsafe = "graft of backup refused: libcrypto-2.5.0 and libcrypto-2.5.10 differ in length"
	f := newFakePatch(newFakeWave(env, libhttp()), facts)
	f.register(t)
	var waiting workflows.PatchStatus
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(workflows.QueryStatus)
		require.NoError(t, err)
		require.NoError(t, v.Get(&waiting))
	}, 24*time.Hour)
	env.ExecuteWorkflow(workflows.SecurityPatch, workflows.SecurityPatchInput{Collection: "demo", Package: "libcrypto",
		Ref: "security/libcrypto-2.5.10", Severity: "high"})
	require.NoError(t, env.GetWorkflowError())
	res := patchResult(t, f)
	require.Equal(t, workflows.PatchPhaseDone, res.Phase)
	require.Equal(t, "rebuild", res.Strategy)
	require.Equal(t, "rebuild", res.Tags[0].Strategy)
	require.True(t, res.Tags[0].Done)

	require.Equal(t, workflows.PatchPhaseWaiting, waiting.Phase, "a day in, the failure waits")
	require.Contains(t, waiting.Reason, "1 failure wait: libhttp (failed); next: crest patch retry")
	require.Len(t, f.resolved, 1)
	require.Equal(t, "marked-broken", f.resolved[0].Resolution)
	require.Equal(t, "policy", f.resolved[0].Actor)
	require.GreaterOrEqual(t, env.Now().Sub(start), 7*24*time.Hour, "not before the grace period ended")
	require.Len(t, f.rebuild, 1)
	require.Equal(t, []string{"libcrypto"}, f.rebuild[0].Built, "built alone first, for the graft check")
	require.Contains(t, f.rebuild[0].Reason, "not graftable: ")
	require.Contains(t, f.calls, "BuildSet")
	require.Empty(t, f.grafts)
}
