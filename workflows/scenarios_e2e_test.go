package workflows_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/workflows"
)

// Workflow IDs of the waves whose histories (their own, their minor waves' and their
// build sets') are recorded for the replay test (replay_test.go). IDs are stable so that
// the children's IDs, which derive from them, are too.
const (
	waveGreen     = "demo/wave-green"     // happy path: every package passes, nobody steps in
	waveAddUpdate = "demo/wave-addupdate" // AddUpdate while a failure waits, then a retry with a fix
	wavePause     = "demo/wave-pause"     // Pause while building, then Resume
	waveCancel    = "demo/wave-cancel"    // Cancel while building
	wavePolicy    = "demo/wave-policy"    // the policy marks root causes broken (TestPolicyAndIssuesEndToEnd)
	waveContinue  = "demo/wave-continue"  // major and minor wave continue as new (Limits.WaveHistoryEvents)
)

// start starts a major wave under id over the demo collection.
func (s *stack) start(id string, in workflows.MajorWaveInput) client.WorkflowRun {
	s.t.Helper()
	in.Collection = "demo"
	if in.Limits == (workflows.Limits{}) {
		in.Limits = s.limits
	}
	run, err := s.c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: s.queue}, workflows.MajorWave, in)
	require.NoError(s.t, err)
	return run
}

// finish waits for a major wave's result.
func finish(t *testing.T, run client.WorkflowRun) (workflows.MajorWaveResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var res workflows.MajorWaveResult
	err := run.Get(ctx, &res)
	return res, err
}

func minorPhase(m int, phase string) func(workflows.MajorStatus) bool {
	return func(st workflows.MajorStatus) bool { return len(st.Minor) >= m && st.Minor[m-1].Phase == phase }
}

// TestScenarioHappyPath: libcore 2.0.0-rc1 keeps the old API, every package passes and the
// wave tags without anyone stepping in.
func TestScenarioHappyPath(t *testing.T) {
	s := newStack(t)
	run := s.start(waveGreen, workflows.MajorWaveInput{Title: "libcore 2 rc1",
		Updates: []wire.Update{{Package: "libcore", Ref: demo.UpdateLibcore2RC1}}})
	res, err := finish(t, run)
	require.NoError(t, err)
	require.Equal(t, []string{"wave-1-1"}, res.Tags)
	require.Empty(t, res.Minor[0].Summary.Failures)
	recordHistories(t, s.c, waveGreen)
}

// TestScenarioAddUpdate: while wave-1-1 waits for libhttp, AddUpdate brings calc's new
// version; it gets a minor wave of its own, after wave-1-1, which a retry with libhttp's
// fix lets tag.
func TestScenarioAddUpdate(t *testing.T) {
	s := newStack(t)
	id := waveAddUpdate
	run := s.start(id, workflows.MajorWaveInput{Updates: []wire.Update{{Package: "libnet", Ref: demo.UpdateLibnet2}}})
	s.waitRecorded(t, 1, 1, "libhttp", store.StatusFailed)
	out, err := s.update(id, workflows.UpdateAddUpdate, workflows.AddUpdateRequest{Package: "calc", Ref: demo.FixCalcPrecision, By: "erin"})
	require.NoError(t, err)
	require.Contains(t, out, "calc added; pending minor waves now wave-1-2")
	_, err = s.update(id, workflows.UpdateRetry, workflows.RetryRequest{Package: "libhttp", Ref: demo.FixLibhttpLibnet2, By: "dave"})
	require.NoError(t, err)
	res, err := finish(t, run)
	require.NoError(t, err)
	require.Equal(t, []string{"wave-1-1", "wave-1-2"}, res.Tags)
	require.Equal(t, "fixed", res.Minor[0].Summary.Failures[0].Resolution)
	recordHistories(t, s.c, id)
}

// TestScenarioPauseResume: a wave paused while it builds (hello builds slowly) says so in
// its status and its minor wave's, and finishes once resumed.
func TestScenarioPauseResume(t *testing.T) {
	s := newStack(t)
	s.acts.Builder = slowBuilder{inner: s.acts.Builder, slow: "-hello-", delay: 5 * time.Second}
	id := wavePause
	run := s.start(id, workflows.MajorWaveInput{Updates: []wire.Update{{Package: "libcore", Ref: demo.UpdateLibcore2RC1}}})
	s.waitFor(id, "wave-1-1 building", minorPhase(1, workflows.PhaseBuilding))
	out, err := s.update(id, workflows.UpdatePause, workflows.PauseRequest{Reason: "infra maintenance", By: "rm"})
	require.NoError(t, err)
	require.Contains(t, out, "paused")
	st := s.status(id)
	require.True(t, st.Paused)
	require.Equal(t, workflows.PhasePaused, st.Phase)
	require.True(t, st.Minor[0].Paused, "the major wave shows its minor wave paused at once")
	v, err := s.c.QueryWorkflow(context.Background(), id+"-1", "", workflows.QueryStatus)
	require.NoError(t, err)
	var minor workflows.MinorStatus
	require.NoError(t, v.Get(&minor))
	require.True(t, minor.Paused, "the minor wave took the pause")
	_, err = s.update(id, workflows.UpdateResume, workflows.PauseRequest{By: "rm"})
	require.NoError(t, err)
	res, err := finish(t, run)
	require.NoError(t, err)
	require.Equal(t, []string{"wave-1-1"}, res.Tags)
	recordHistories(t, s.c, id)
}

// TestScenarioCancel: a wave cancelled while it builds (libnet builds slowly) ends
// cancelled, its minor wave too (in Temporal and in Postgres: it records its end through a
// context the cancellation does not reach), and tags nothing.
func TestScenarioCancel(t *testing.T) {
	s := newStack(t)
	s.acts.Builder = slowBuilder{inner: s.acts.Builder, slow: "-libnet-", delay: 5 * time.Second}
	id := waveCancel
	run := s.start(id, workflows.MajorWaveInput{Updates: []wire.Update{{Package: "libnet", Ref: demo.UpdateLibnet2}}})
	s.waitFor(id, "wave-1-1 building", minorPhase(1, workflows.PhaseBuilding))
	require.Eventually(t, func() bool { // its build set took libnet
		_, err := s.c.DescribeWorkflowExecution(context.Background(), id+"-1/build/x86_64-linux/r0", "")
		return err == nil
	}, time.Minute, 50*time.Millisecond)
	require.NoError(t, s.c.SignalWorkflow(context.Background(), id, "", workflows.SignalCancel, nil))
	_, err := finish(t, run)
	require.True(t, temporal.IsCanceledError(err), "cancelled, not failed: %v", err)
	w := mustWave(t, s.st, 1)
	require.Equal(t, workflows.PhaseCancelled, w.State)
	d, err := s.c.DescribeWorkflowExecution(context.Background(), id+"-1", "")
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, d.GetWorkflowExecutionInfo().GetStatus(), "wave-1-1 cancelled too")
	m, err := s.st.MinorWaveByNumber(context.Background(), w.ID, 1)
	require.NoError(t, err)
	require.Equal(t, workflows.PhaseCancelled, m.State, "Postgres says so too")
	tags, err := s.st.Tags(context.Background(), "demo")
	require.NoError(t, err)
	require.Empty(t, tags)
	recordHistories(t, s.c, id)
}

// TestScenarioContinueAsNew: with a history threshold of one event, the minor wave that
// waits for libhttp continues as new after the retry settles it, and the major wave
// continues as new whenever no minor wave runs; nothing is lost on the way.
func TestScenarioContinueAsNew(t *testing.T) {
	s := newStack(t)
	id := waveContinue
	limits := s.limits
	limits.WaveHistoryEvents = 1
	run := s.start(id, workflows.MajorWaveInput{Limits: limits, Updates: []wire.Update{
		{Package: "libnet", Ref: demo.UpdateLibnet2}, {Package: "calc", Ref: demo.FixCalcPrecision}}})
	st := s.waitFor(id, "libhttp waiting", func(st workflows.MajorStatus) bool {
		for m := range st.Minor {
			if minorWaiting(m+1, "libhttp")(st) {
				return true
			}
		}
		return false
	})
	_, err := s.update(id, workflows.UpdateRetry, workflows.RetryRequest{Package: "libhttp", Ref: demo.FixLibhttpLibnet2, By: "dave"})
	require.NoError(t, err)
	res, err := finish(t, run)
	require.NoError(t, err)
	require.Equal(t, []string{"wave-1-1", "wave-1-2"}, res.Tags)
	for _, m := range res.Minor {
		for _, f := range m.Summary.Failures {
			require.Equal(t, "fixed", f.Resolution, f.Package)
		}
	}
	libnet := 0
	for _, m := range st.Minor {
		if m.Phase == workflows.PhaseWaiting {
			libnet = m.Number
		}
	}
	for _, wid := range []string{id, fmt.Sprintf("%s-%d", id, libnet)} {
		d, err := s.c.DescribeWorkflowExecution(context.Background(), wid, "")
		require.NoError(t, err)
		info := d.GetWorkflowExecutionInfo()
		require.NotEqual(t, info.GetFirstRunId(), info.GetExecution().GetRunId(), "%s continued as new", wid)
	}
	recordHistories(t, s.c, id)
}
