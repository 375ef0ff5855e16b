package workflows_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/graph"
	"github.com/crestwaves/crest/workflows"
)

// slowBuilder builds like its inner builder, slowly for derivations whose path contains
// slow.
type slowBuilder struct {
	inner activities.Builder
	slow  string
	delay time.Duration
}

func (b slowBuilder) Build(ctx context.Context, drv string, tests []string, heartbeat func()) (wire.BuildResult, error) {
	if strings.Contains(drv, b.slow) {
		select {
		case <-time.After(b.delay):
		case <-ctx.Done():
			return wire.BuildResult{}, ctx.Err()
		}
	}
	return b.inner.Build(ctx, drv, tests, heartbeat)
}

// TestMinorWaveBuildsAsSoonAsDependenciesAre runs a new wave (libcore 2.0.0-rc1, all green)
// in which hello, a dependency layer 1 leaf, builds slowly: packages of layer 2 (libdb,
// libtls, libui, … which do not need hello) start before hello finishes, which the layered
// rounds of older waves could never do. (Continuing as new drains the builds in flight
// first, so a history limit here would make the timing decide the outcome:
// TestBuildSetContinuesAsNewAndLosesNothing covers that, deterministically.)
func TestMinorWaveBuildsAsSoonAsDependenciesAre(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	s.acts.Builder = slowBuilder{inner: s.acts.Builder, slow: "-hello-", delay: 8 * time.Second}
	limits := s.limits
	id := s.queue + "/wave-1"
	run, err := s.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: s.queue}, workflows.MajorWave,
		workflows.MajorWaveInput{Collection: "demo", Limits: limits,
			Updates: []wire.Update{{Package: "libcore", Ref: demo.UpdateLibcore2RC1}}})
	require.NoError(t, err)
	wctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	var res workflows.MajorWaveResult
	require.NoError(t, run.Get(wctx, &res))
	require.Equal(t, []string{"wave-1-1"}, res.Tags)

	w := mustWave(t, s.st, 1)
	m, err := s.st.MinorWaveByNumber(ctx, w.ID, 1)
	require.NoError(t, err)
	results, err := s.st.Results(ctx, m.ID, "")
	require.NoError(t, err)
	var built []string
	for _, r := range results {
		require.Equal(t, "passed", r.Status, r.Package)
		built = append(built, r.Package)
	}
	spans, err := s.st.BuildSpans(ctx, m.ID)
	require.NoError(t, err)
	require.Len(t, spans, len(built), "every package built once")

	// The round's dependency layers, as the layered rounds laid them out.
	ev, err := s.st.FindEvaluation(ctx, w.CollectionID, res.Minor[0].Commit, "x86_64-linux")
	require.NoError(t, err)
	pkgs, err := s.st.LoadPackages(ctx, ev.ID)
	require.NoError(t, err)
	g, _, err := graph.New(pkgs, graph.Options{Lenient: true})
	require.NoError(t, err)
	sub, err := g.Subgraph(built)
	require.NoError(t, err)
	sg, _, err := graph.New(sub, graph.Options{Lenient: true})
	require.NoError(t, err)
	layers := sg.Layers()
	require.Greater(t, len(layers), 2)
	require.Contains(t, layers[1], "hello")
	hello := spans["hello"]
	for _, d := range layers[1] {
		require.Falsef(t, spans[d].Finished.After(hello.Finished), "hello is the slowest of layer 1 (%s)", d)
	}
	var early []string
	for _, k := range layers[2] {
		if spans[k].Started.Before(hello.Finished) {
			early = append(early, k)
		}
	}
	require.NotEmpty(t, early, "some package of layer 2 started before the slowest of layer 1 finished")
	t.Logf("started before hello finished: %v", early)
}

// TestBuildSetFillsTheBuildersSlots: a round opens exactly as many build slots (BuildSlot
// activities, each building one package at a time) as the system's builders announced
// (here 3, fewer than Limits.Builds' 8 and more than the one worker's 2 executors), read
// back from the BuildSet's history: scheduled BuildSlot activities not completed yet; and
// every package of the round is built once, by one of them.
func TestBuildSetFillsTheBuildersSlots(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	withdraw, err := activities.AnnounceBuilder(s.st, "test/x86_64-linux", "x86_64-linux", 3, nil)
	require.NoError(t, err)
	defer withdraw()
	require.Equal(t, 8, s.limits.Shards*s.limits.BuildsPerShard, "the window without slots is wider")
	id := "demo/wave-slots"
	run, err := s.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: s.queue}, workflows.MajorWave,
		workflows.MajorWaveInput{Collection: "demo", Limits: s.limits,
			Updates: []wire.Update{{Package: "libcore", Ref: demo.UpdateLibcore2RC1}}})
	require.NoError(t, err)
	wctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	var res workflows.MajorWaveResult
	require.NoError(t, run.Get(wctx, &res))
	require.Equal(t, []string{"wave-1-1"}, res.Tags)
	recordHistories(t, s.c, id)

	it := s.c.GetWorkflowHistory(ctx, id+"-1/build/x86_64-linux/r0", "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	outstanding, most, builds := map[int64]bool{}, 0, 0
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			if e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == wire.ActivityBuildSlot {
				outstanding[e.GetEventId()] = true
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			delete(outstanding, e.GetActivityTaskCompletedEventAttributes().GetScheduledEventId())
		}
		most = max(most, len(outstanding))
	}
	require.Equal(t, 3, most, "as many slots as the builders have")
	var set workflows.BuildSetResult
	require.NoError(t, s.c.GetWorkflow(ctx, id+"-1/build/x86_64-linux/r0", "").Get(ctx, &set))
	builds = set.Passed + set.Failed + set.TestFailed
	require.Greater(t, builds, 6, "a round wide enough to fill the slots")
	w, err := s.st.WaveByNumber(ctx, "demo", 1)
	require.NoError(t, err)
	dups, err := s.st.DuplicateBuilds(ctx, w.ID)
	require.NoError(t, err)
	require.Empty(t, dups, "each package built once")
}

// TestBuildSlotsPauseContinueAsNewAndLoseNothing: build slots that yield after every
// package, a dispatcher that continues as new every few dozen events and a pause while a
// slow build runs: the pause stops every slot (each ends once what it builds is recorded)
// with packages of the round still waiting, the resume opens a new generation, and the round
// finishes with every package built once and the counts carried across runs.
func TestBuildSlotsPauseContinueAsNewAndLoseNothing(t *testing.T) {
	s := newStack(t, func(s *stack) {
		s.limits.HistoryEvents = 40
		s.limits.SlotYield = workflows.Duration(time.Millisecond)
	})
	s.acts.Builder = slowBuilder{inner: s.acts.Builder, slow: "-hello-", delay: 5 * time.Second}
	ctx := context.Background()
	id := "demo/wave-slots-pause"
	run := s.start(id, workflows.MajorWaveInput{Limits: s.limits, Updates: []wire.Update{{Package: "libcore", Ref: demo.UpdateLibcore2RC1}}})
	s.waitFor(id, "wave-1-1 building", minorPhase(1, workflows.PhaseBuilding))
	set := id + "-1/build/x86_64-linux/r0"
	require.Eventually(t, func() bool { // hello, a dependency of most of the round, is building
		_, err := s.c.DescribeWorkflowExecution(ctx, set, "")
		return err == nil
	}, time.Minute, 50*time.Millisecond)
	_, err := s.update(id, workflows.UpdatePause, workflows.PauseRequest{Reason: "infra maintenance", By: "rm"})
	require.NoError(t, err)
	// Paused: no slot of the build set runs, and the round still has packages waiting.
	w := mustWave(t, s.st, 1)
	m, err := s.st.MinorWaveByNumber(ctx, w.ID, 1)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return slotsOpen(t, s, set) == 0 }, 2*time.Minute, 100*time.Millisecond,
		"every slot ends once its build is recorded")
	pending := 0
	front, err := s.st.Frontier(ctx, m.ID, "x86_64-linux")
	require.NoError(t, err)
	for _, f := range front {
		if f.Status == "pending" {
			pending++
			require.Empty(t, f.Taken, "%s: nothing stays taken while paused", f.Package)
		}
	}
	require.Positive(t, pending, "the pause held packages back")
	_, err = s.update(id, workflows.UpdateResume, workflows.PauseRequest{By: "rm"})
	require.NoError(t, err)
	res, err := finish(t, run)
	require.NoError(t, err)
	require.Equal(t, []string{"wave-1-1"}, res.Tags)

	var got workflows.BuildSetResult
	require.NoError(t, s.c.GetWorkflow(ctx, set, "").Get(ctx, &got))
	require.GreaterOrEqual(t, got.Generation, 3, "the pause and continue-as-new opened new generations")
	first, err := s.c.DescribeWorkflowExecution(ctx, set, "")
	require.NoError(t, err)
	require.NotEqual(t, first.GetWorkflowExecutionInfo().GetExecution().GetRunId(),
		first.GetWorkflowExecutionInfo().GetFirstRunId(), "the build set continued as new")
	built, err := s.st.FinishedBuilds(ctx)
	require.NoError(t, err)
	require.Equal(t, built, got.Passed+got.Failed+got.TestFailed, "every recorded build counted once, across runs")
	dups, err := s.st.DuplicateBuilds(ctx, w.ID)
	require.NoError(t, err)
	require.Empty(t, dups)
	recordHistories(t, s.c, id)
}

// slotsOpen counts the BuildSlot activities of a build set's current run that are scheduled
// and not ended.
func slotsOpen(t *testing.T, s *stack, id string) int {
	d, err := s.c.DescribeWorkflowExecution(context.Background(), id, "")
	require.NoError(t, err)
	n := 0
	for _, a := range d.GetPendingActivities() {
		if a.GetActivityType().GetName() == wire.ActivityBuildSlot {
			n++
		}
	}
	return n
}
