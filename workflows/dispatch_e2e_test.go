package workflows_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
