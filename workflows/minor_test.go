package workflows_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/policy"
	"github.com/crestwaves/crest/workflows"
)

// fakeWave stands in for Postgres, git and Nix behind a minor wave's activities: a set of
// root causes that resolutions and retries settle.
type fakeWave struct {
	mu         sync.Mutex
	env        *testsuite.TestWorkflowEnvironment
	failures   []wire.Failure
	protected  map[string][]string // package → protection chain
	notified   map[string]time.Time
	comments   map[string]time.Time // newest maintainer comment per package
	resolved   []wire.ResolveInput
	fixOnRetry map[string]bool
	tagged     bool
	rounds     []wire.RoundInput // every PrepareRound, in order
}

func newFakeWave(env *testsuite.TestWorkflowEnvironment, failures ...wire.Failure) *fakeWave {
	return &fakeWave{env: env, failures: failures, protected: map[string][]string{}, notified: map[string]time.Time{},
		comments: map[string]time.Time{}, fixOnRetry: map[string]bool{}}
}

func (f *fakeWave) summary() wire.Summary {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := wire.Summary{Failures: append([]wire.Failure(nil), f.failures...)}
	s.Counts.Total = 10
	for _, x := range f.failures {
		if x.Resolution == "" {
			s.Counts.Unresolved += 1 + x.Dependents
		} else {
			s.Counts.Resolved += 1 + x.Dependents
		}
	}
	s.Counts.Passed = s.Counts.Total - s.Counts.Unresolved - s.Counts.Resolved
	s.Settled = s.Counts.Unresolved == 0 && s.Counts.Pending == 0 // no protected dependents here
	return s
}

func (f *fakeWave) register(t *testing.T) {
	acts := &activities.Activities{}
	env := f.env
	env.RegisterActivity(acts)
	env.OnActivity(acts.StartMinorWave, mock.Anything, mock.Anything).Return(int64(7), nil)
	env.OnActivity(acts.MergeRefs, mock.Anything, mock.Anything).Return("c0ffee", nil)
	env.OnActivity(acts.Evaluate, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.EvaluateInput) (wire.EvaluateResult, error) {
			return wire.EvaluateResult{System: in.System, EvaluationID: 2}, nil
		})
	env.OnActivity(acts.PrepareRound, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.RoundInput) (wire.RoundLayout, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.rounds = append(f.rounds, in)
			for i, x := range f.failures {
				for _, p := range in.Retry {
					if p == x.Package && f.fixOnRetry[p] {
						f.failures[i].Resolution = "fixed"
					}
				}
			}
			return wire.RoundLayout{System: in.System, Round: in.Round}, nil
		})
	env.OnActivity(acts.Summarize, mock.Anything, mock.Anything).Return(
		func(context.Context, wire.SummaryInput) (wire.Summary, error) { return f.summary(), nil })
	env.OnActivity(acts.ReviewFailures, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.ReviewInput) ([]wire.Notice, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.notices(), nil
		})
	// Review as the activity does it: the notices, policy's decisions at the workflow's
	// time, each recorded as the package's reason, and marked-broken packages resolved.
	env.OnActivity(acts.Review, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.ReviewInput) (wire.ReviewResult, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			notices := f.notices()
			failures := make([]policy.Failure, len(notices))
			for i, n := range notices {
				failures[i] = n.Failure(in.Events)
			}
			settings, err := policy.DecodeSettings(in.Policy)
			require.NoError(t, err)
			decisions, wake := policy.Review(failures, settings, in.Now)
			res := wire.ReviewResult{Wake: wake}
			for i, d := range decisions {
				f.setReason(d.Package, d.Reason)
				if d.Action == policy.ActionMarkBroken {
					f.resolve(wire.ResolveInput{Wave: in.Wave, MinorWaveID: in.MinorWaveID, System: notices[i].System,
						Package: d.Package, Resolution: string(policy.ResolutionMarkedBroken), Reason: d.Reason, Actor: "policy"})
					res.MarkedBroken++
				} else {
					res.Waiting++
				}
			}
			return res, nil
		})
	env.OnActivity(acts.CheckRequest, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.CheckRequestInput) (wire.CheckRequestResult, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			var states []policy.State
			system := ""
			for _, x := range f.failures {
				states = append(states, policy.State{Package: x.Package, Status: policy.Status(x.Status), Resolution: policy.Resolution(x.Resolution)})
				for _, d := range x.Blocked {
					states = append(states, policy.State{Package: d, Status: policy.StatusDependencyFailed, BlockedBy: []string{x.Package}})
				}
				if x.Package == in.Package {
					system = x.System
				}
			}
			states = append(states, policy.State{Package: "hello", Status: policy.StatusPassed})
			var err error
			if in.Resolve != nil {
				err = policy.ValidateResolve(*in.Resolve, states)
			} else {
				err = policy.ValidateRetry(in.Package, states)
			}
			if err != nil {
				return wire.CheckRequestResult{}, temporal.NewNonRetryableApplicationError("wave-1-1: "+err.Error(), wire.ErrInvalidInput, nil)
			}
			return wire.CheckRequestResult{MinorWaveID: 7, Minor: 1, Name: "wave-1-1", System: system}, nil
		})
	env.OnActivity(acts.RecordDecision, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(acts.RecordState, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(acts.Resolve, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.ResolveInput) (int, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.resolve(in)
			return 0, nil
		})
	env.OnActivity(acts.TagMinorWave, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in wire.TagInput) (wire.TagResult, error) {
			f.mu.Lock()
			f.tagged = true
			f.mu.Unlock()
			return wire.TagResult{Tag: in.Name, Commit: in.Commit, Summary: f.summary()}, nil
		})
}

// notices are the unresolved root causes as ReviewFailures reports them; the first report
// notifies. Call with f.mu held.
func (f *fakeWave) notices() []wire.Notice {
	var out []wire.Notice
	for _, x := range f.failures {
		if x.Resolution != "" {
			continue
		}
		if _, ok := f.notified[x.Package]; !ok {
			f.notified[x.Package] = f.env.Now()
		}
		out = append(out, wire.Notice{System: x.System, Package: x.Package, Status: x.Status,
			Maintainers: []string{"alice"}, Notified: f.notified[x.Package], Protected: f.protected[x.Package],
			LastComment: f.comments[x.Package]})
	}
	return out
}

// resolve records a resolution. Call with f.mu held.
func (f *fakeWave) resolve(in wire.ResolveInput) {
	f.resolved = append(f.resolved, in)
	for i, x := range f.failures {
		if x.Package == in.Package {
			f.failures[i].Resolution, f.failures[i].Reason = in.Resolution, in.Reason
		}
	}
}

// setReason records why a package waits. Call with f.mu held.
func (f *fakeWave) setReason(pkg, reason string) {
	for i, x := range f.failures {
		if x.Package == pkg {
			f.failures[i].Reason = reason
		}
	}
}

func minorInput(policy string) workflows.MinorWaveInput {
	return workflows.MinorWaveInput{Collection: "demo", WaveID: 1, Wave: 1, Number: 1, Name: "wave-1-1", Branch: "wave-1",
		Updates:         []wire.Update{{Package: "libnet", Ref: "update/libnet-2"}},
		BaseEvaluations: []wire.EvaluateResult{{System: "x86_64-linux", EvaluationID: 1}},
		Policy:          json.RawMessage(policy)}
}

const sevenDays = `{"grace_period": "7d", "max_extensions": 1, "extension": "3d"}`

func minorStatus(t *testing.T, env *testsuite.TestWorkflowEnvironment) workflows.MinorStatus {
	t.Helper()
	v, err := env.QueryWorkflow(workflows.QueryStatus)
	require.NoError(t, err)
	var st workflows.MinorStatus
	require.NoError(t, v.Get(&st))
	return st
}

// updateResult is what became of an update: the validator's rejection, or the handler's
// answer. The test environment delivers both as the workflow runs, after the call returns.
type updateResult struct {
	// rejected is the validator's refusal, or the handler's (a check against the records).
	rejected error
	text     string
	done     bool
}

var updateSeq int

// update sends an update under a fresh ID and returns where its outcome will land.
func update(env *testsuite.TestWorkflowEnvironment, name string, arg any) *updateResult {
	r := &updateResult{}
	updateSeq++
	env.UpdateWorkflow(name, fmt.Sprint("u", updateSeq), &testsuite.TestUpdateCallback{
		OnReject:   func(err error) { r.rejected, r.done = err, true },
		OnAccept:   func() {},
		OnComplete: func(v any, err error) { r.text, _ = v.(string); r.rejected, r.done = err, true },
	}, arg)
	return r
}

// newTestEnv is a time-skipping test environment with quiet logging. Its deadlock detector
// allows 30s per workflow task instead of 1s: under -race on a loaded two-core machine a
// task can take longer than a second without any deadlock.
func newTestEnv() *testsuite.TestWorkflowEnvironment {
	env := quietSuite().NewTestWorkflowEnvironment()
	env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: 30 * time.Second})
	return env
}

// quietSuite is a test suite whose SDK logging stays out of test output.
func quietSuite() *testsuite.WorkflowTestSuite {
	s := &testsuite.WorkflowTestSuite{}
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	return s
}

func libhttp() wire.Failure {
	return wire.Failure{System: "x86_64-linux", Package: "libhttp", Status: "failed", Dependents: 3,
		Blocked: []string{"feedreader", "fetch", "webd"}}
}

func TestMinorWaveValidatorsAndDelayedResolve(t *testing.T) {
	env := newTestEnv()
	f := newFakeWave(env, libhttp())
	f.register(t)
	rejected := map[string]*updateResult{}
	var accepted *updateResult
	env.RegisterDelayedCallback(func() {
		st := minorStatus(t, env)
		require.Equal(t, workflows.PhaseWaiting, st.Phase)
		require.Len(t, st.Waiting, 1)
		require.Contains(t, st.Waiting[0], "libhttp failed, blocks 3")
		require.Equal(t, "1 failure wait: libhttp (failed); next: crest wave resolve wave-1-1 PACKAGE --as wont-fix|cant-fix, "+
			"or crest wave retry wave-1-1 PACKAGE --ref FIX", st.Reason, "the phase says why and what next")

		rejected[`resolve nosuch: package: unknown package (not in this minor wave`] = update(env, workflows.UpdateResolve,
			workflows.ResolveRequest{Package: "nosuch", Resolution: "wont-fix", Reason: "r", By: "bob"})
		rejected[`resolution "broken"`] = update(env, workflows.UpdateResolve,
			workflows.ResolveRequest{Package: "libhttp", Resolution: "broken", Reason: "r", By: "bob"})
		rejected["reason"] = update(env, workflows.UpdateResolve,
			workflows.ResolveRequest{Package: "libhttp", Resolution: "wont-fix", By: "bob"})
		rejected["by: who resolves is required"] = update(env, workflows.UpdateResolve,
			workflows.ResolveRequest{Package: "libhttp", Resolution: "wont-fix", Reason: "r"})
		rejected[`resolve hello: package: package did not fail (it passed)`] = update(env, workflows.UpdateResolve,
			workflows.ResolveRequest{Package: "hello", Resolution: "wont-fix", Reason: "r", By: "bob"})
		// A dependent is rebuilt when its root cause is: retrying it alone is refused.
		rejected[`libhttp failed: retry those`] = update(env, workflows.UpdateRetry,
			workflows.RetryRequest{Package: "fetch"})
		rejected["package: required"] = update(env, workflows.UpdateRetry, workflows.RetryRequest{})
	}, time.Hour)
	env.RegisterDelayedCallback(func() {
		for want, r := range rejected {
			require.True(t, r.done, want)
			require.ErrorContains(t, r.rejected, want)
		}
		require.Empty(t, f.resolved, "rejected updates change nothing")
		accepted = update(env, workflows.UpdateResolve, workflows.ResolveRequest{Package: "libhttp", Resolution: "cant-fix",
			Reason: "needs a libnet 2 port upstream", By: "bob"})
	}, 2*time.Hour)

	env.ExecuteWorkflow(workflows.MinorWave, minorInput(sevenDays))
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res workflows.MinorWaveResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, "wave-1-1", res.Tag)
	require.Len(t, f.resolved, 1)
	require.Equal(t, wire.ResolveInput{Wave: "wave-1-1", MinorWaveID: 7, System: "x86_64-linux", Package: "libhttp",
		Resolution: "cant-fix", Reason: "needs a libnet 2 port upstream", Actor: "bob"}, f.resolved[0])
	require.NoError(t, accepted.rejected)
	require.Contains(t, accepted.text, "libhttp will be resolved as cant-fix")
}

func TestGraceElapsesMarksUnprotectedRootBroken(t *testing.T) {
	env := newTestEnv()
	start := env.Now()
	f := newFakeWave(env, libhttp())
	f.register(t)
	env.ExecuteWorkflow(workflows.MinorWave, minorInput(sevenDays))
	require.NoError(t, env.GetWorkflowError())
	require.True(t, f.tagged, "the minor wave tags once the policy settled everything")
	require.Len(t, f.resolved, 1)
	r := f.resolved[0]
	require.Equal(t, "marked-broken", r.Resolution)
	require.Equal(t, "policy", r.Actor)
	require.Contains(t, r.Reason, "grace period of 7d")
	require.Contains(t, r.Reason, "alice")
	require.Equal(t, 7*24*time.Hour, env.Now().Sub(start).Round(time.Hour), "marked broken exactly at the deadline")
}

func TestProtectedRootCauseKeepsTheWaveWaiting(t *testing.T) {
	env := newTestEnv()
	pkgtool := wire.Failure{System: "x86_64-linux", Package: "pkgtool", Status: "failed", Dependents: 1}
	f := newFakeWave(env, pkgtool)
	f.protected["pkgtool"] = []string{"default-system", "pkgtool"}
	f.register(t)
	env.RegisterDelayedCallback(func() {
		st := minorStatus(t, env)
		require.Equal(t, workflows.PhaseWaiting, st.Phase, "thirty days on, a protected failure still waits")
		require.Contains(t, st.Waiting[0], "protected root default-system")
		require.Empty(t, f.resolved, "never marked broken")
		update(env, workflows.UpdateResolve, workflows.ResolveRequest{Package: "pkgtool", Resolution: "cant-fix",
			Reason: "release manager: ship without the sha1 check", By: "rm"})
	}, 30*24*time.Hour)
	env.ExecuteWorkflow(workflows.MinorWave, minorInput(sevenDays))
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, f.resolved, 1)
	require.Equal(t, "rm", f.resolved[0].Actor)
	require.Equal(t, "cant-fix", f.resolved[0].Resolution)
}

func TestResolveBeforeTheDeadlineWins(t *testing.T) {
	env := newTestEnv()
	f := newFakeWave(env, libhttp())
	f.register(t)
	env.RegisterDelayedCallback(func() {
		update(env, workflows.UpdateResolve, workflows.ResolveRequest{Package: "libhttp", Resolution: "wont-fix",
			Reason: "dropped in favour of libhttp2", By: "carol"})
	}, 6*24*time.Hour+23*time.Hour)
	env.ExecuteWorkflow(workflows.MinorWave, minorInput(sevenDays))
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, f.resolved, 1, "the policy never acted")
	require.Equal(t, "wont-fix", f.resolved[0].Resolution)
	require.Equal(t, "carol", f.resolved[0].Actor)
}

func TestMaintainerCommentExtendsGraceOnce(t *testing.T) {
	env := newTestEnv()
	start := env.Now()
	f := newFakeWave(env, libhttp())
	f.register(t)
	env.RegisterDelayedCallback(func() {
		f.mu.Lock()
		f.comments["libhttp"] = env.Now() // "working on it"
		f.mu.Unlock()
	}, 2*24*time.Hour)
	env.ExecuteWorkflow(workflows.MinorWave, minorInput(sevenDays))
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, f.resolved, 1)
	require.Equal(t, "marked-broken", f.resolved[0].Resolution)
	require.Equal(t, 10*24*time.Hour, env.Now().Sub(start).Round(time.Hour), "7 days plus one 3-day extension")
}

func TestRetryWithFixSettlesTheFailure(t *testing.T) {
	env := newTestEnv()
	f := newFakeWave(env, libhttp())
	f.fixOnRetry["libhttp"] = true
	f.register(t)
	var out *updateResult
	env.RegisterDelayedCallback(func() {
		out = update(env, workflows.UpdateRetry, workflows.RetryRequest{Package: "libhttp", Ref: "fix/libhttp-libnet-2"})
	}, time.Hour)
	env.ExecuteWorkflow(workflows.MinorWave, minorInput(sevenDays))
	require.NoError(t, env.GetWorkflowError())
	require.Empty(t, f.resolved)
	var res workflows.MinorWaveResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, "fixed", res.Summary.Failures[0].Resolution)
	require.NoError(t, out.rejected)
	require.Contains(t, out.text, "after merging fix/libhttp-libnet-2")
}
