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

// TestBuildSetFillsTheBuildersSlots: a round keeps exactly as many builds in flight as the
// system's builders announced slots (here 3, fewer than Limits.Builds' 8 and more than the
// one worker's 2 executors), read back from the BuildSet's history: scheduled BuildPackage
// activities not completed yet.
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
			if e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == wire.ActivityBuildPackage {
				outstanding[e.GetEventId()] = true
				builds++
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			delete(outstanding, e.GetActivityTaskCompletedEventAttributes().GetScheduledEventId())
		}
		most = max(most, len(outstanding))
	}
	require.Greater(t, builds, 6, "a round wide enough to fill the slots")
	require.Equal(t, 3, most, "as many builds in flight as the builders have slots")
}
