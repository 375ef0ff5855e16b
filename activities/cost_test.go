package activities_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/testenv"
	"github.com/crestwaves/crest/graph"
)

// TestMeasuredDurationsPriceRoundsAndPlans: a package whose last build on the wave's system
// took three hours is priced at three hours by the build engine's frontier (so it is taken
// before a package the structural estimate puts higher) and by the planner; a longer build
// on another system and a failed build price nothing.
func TestMeasuredDurationsPriceRoundsAndPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	a := &activities.Activities{Store: st}
	const sys = "x86_64-linux"
	require.NoError(t, a.RegisterCollection(ctx, wire.Collection{Name: "c", Remote: "/nowhere", TagPrefix: "wave"}))
	col, err := st.CollectionByName(ctx, "c")
	require.NoError(t, err)
	// wide needs forty unchanged packages, so its structural estimate beats slowpoke's;
	// app needs slowpoke. wide, slowpoke and app change between base and now.
	evaluation := func(commit, drvSuffix string) ([]graph.Package, store.Evaluation) {
		var pkgs []graph.Package
		var wideDeps []string
		for i := range 40 {
			k := fmt.Sprintf("dep%02d", i)
			pkgs = append(pkgs, graph.Package{Key: k, Name: k, Drv: "/d/" + k})
			wideDeps = append(wideDeps, k)
		}
		pkgs = append(pkgs,
			graph.Package{Key: "wide", Name: "wide", Drv: "/d/wide" + drvSuffix, Deps: wideDeps},
			graph.Package{Key: "slowpoke", Name: "slowpoke", Drv: "/d/slowpoke" + drvSuffix},
			graph.Package{Key: "app", Name: "app", Drv: "/d/app" + drvSuffix, Deps: []string{"slowpoke"}})
		ev, _, err := st.SaveEvaluation(ctx, col.ID, commit, sys, pkgs)
		require.NoError(t, err)
		return pkgs, ev
	}
	_, base := evaluation("base", "")
	pkgs, current := evaluation("new", "-2")
	g, _, err := graph.New(pkgs, graph.Options{})
	require.NoError(t, err)
	structural := func(k string) float64 {
		p, _ := g.Package(k)
		return graph.DefaultCost.Seconds(p, g)
	}
	require.Greater(t, structural("wide"), structural("slowpoke")+structural("app"),
		"without measurements wide would be taken first")

	// Earlier builds (a patch's, outside minor waves).
	record := func(key, system, pkg, status string, took time.Duration) {
		require.NoError(t, st.RecordBuild(ctx, store.BuildRecord{Key: key, System: system, Package: pkg, Drv: "/d/" + pkg,
			Status: status, StartedAt: time.Now().Add(-took)}))
	}
	record("old/slowpoke", sys, "slowpoke", store.StatusPassed, 3*time.Hour)
	record("old/wide-arm", "aarch64-linux", "wide", store.StatusPassed, 9*time.Hour)
	record("old/app", sys, "app", store.StatusFailed, 5*time.Hour)

	w, err := st.CreateWave(ctx, store.Wave{CollectionID: col.ID, WorkflowID: "c/wave-1", BaseRef: "main", State: "running"})
	require.NoError(t, err)
	m, err := st.StartMinorWave(ctx, w.ID, 1, "wave-1-1", nil)
	require.NoError(t, err)
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a.PrepareRound)
	res, err := env.ExecuteActivity(a.PrepareRound, wire.RoundInput{WaveID: w.ID, MinorWaveID: m.ID, System: sys,
		BaseEvaluationID: base.ID, EvaluationID: current.ID, Dispatch: true, Policy: json.RawMessage(`{}`)})
	require.NoError(t, err)
	var layout wire.RoundLayout
	require.NoError(t, res.Get(&layout))
	require.Equal(t, 3, layout.Packages)

	front, err := st.Frontier(ctx, m.ID, sys)
	require.NoError(t, err)
	prio := map[string]float64{}
	for _, f := range front {
		prio[f.Package] = f.Priority
	}
	const threeHours = 3 * 3600.0
	require.InDelta(t, structural("app"), prio["app"], 1e-9, "a failed build is no measurement")
	require.InDelta(t, threeHours+structural("app"), prio["slowpoke"], 60, "slowpoke's measured build and app after it")
	require.InDelta(t, structural("wide"), prio["wide"], 1e-9, "a build on another system is no measurement here")
	ready, err := a.TakeReady(ctx, wire.TakeReadyInput{WaveID: w.ID, MinorWaveID: m.ID, EvaluationID: current.ID, System: sys,
		Max: 1, Token: "d/1", Owner: "d"})
	require.NoError(t, err)
	require.Equal(t, []string{"slowpoke"}, ready.Packages, "the longest remaining path first, by measured durations")

	// The planner prices the same way (in a major wave of its own: wave-1 locked them in).
	w2, err := st.CreateWave(ctx, store.Wave{CollectionID: col.ID, WorkflowID: "c/wave-2", BaseRef: "main", State: "planning"})
	require.NoError(t, err)
	plan, err := a.Plan(ctx, wire.PlanInput{Collection: "c", WaveID: w2.ID, Wave: 2, EvaluationID: current.ID, FirstMinor: 1,
		Updates: []wire.Update{{Package: "slowpoke", Ref: "update/s"}, {Package: "wide", Ref: "update/w"}}})
	require.NoError(t, err)
	require.Equal(t, 3, plan.Builds)
	require.InDelta(t, threeHours+structural("app")+structural("wide"), plan.CostSeconds, 60)
	costs := map[string]float64{}
	for _, mw := range plan.Minor {
		costs[mw.Updates[0].Package] = mw.CostSeconds
	}
	require.InDelta(t, threeHours+structural("app"), costs["slowpoke"], 60)
	require.InDelta(t, structural("wide"), costs["wide"], 1e-9)
}
