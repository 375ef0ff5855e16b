package activities_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/testenv"
	"github.com/crestwaves/crest/graph"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestPlanRejectsUnknownAndCyclicInputClearly: a wave over packages that do not exist
// fails at planning, before anything is merged or built, naming what is wrong; updates in
// one dependency cycle are planned as one group.
func TestPlanRejectsUnknownAndCyclicInputClearly(t *testing.T) {
	ctx := context.Background()
	st := testenv.Store(t)
	a := &activities.Activities{Store: st}
	require.NoError(t, a.RegisterCollection(ctx, activities.Collection{Name: "c", Remote: "/nowhere", TagPrefix: "wave"}))
	col, err := st.CollectionByName(ctx, "c")
	require.NoError(t, err)
	ev, _, err := st.SaveEvaluation(ctx, col.ID, "abc", "x86_64-linux", []graph.Package{
		{Key: "libcore", Name: "libcore", Drv: "/d/1"},
		{Key: "libparse", Name: "libparse", Drv: "/d/2", Deps: []string{"libcore", "libcheck"}},
		{Key: "libcheck", Name: "libcheck", Drv: "/d/3", Deps: []string{"libparse"}}, // a cycle, as tests make one
		{Key: "app", Name: "app", Drv: "/d/4", Deps: []string{"libparse"}},
	})
	require.NoError(t, err)
	w, err := st.CreateWave(ctx, store.Wave{CollectionID: col.ID, WorkflowID: "c/wave-1", BaseRef: "main", State: "planning"})
	require.NoError(t, err)
	in := activities.PlanInput{Collection: "c", WaveID: w.ID, Wave: 1, EvaluationID: ev.ID, FirstMinor: 1}

	in.Updates = []activities.Update{{Package: "libcroe", Ref: "update/x"}}
	_, err = a.Plan(ctx, in)
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, activities.ErrInvalidInput, app.Type(), "not retried")
	require.ErrorContains(t, err, "libcroe")
	require.ErrorContains(t, err, "libcore", "with a did-you-mean")

	in.Updates = []activities.Update{{Package: "libparse", Ref: "update/p"}, {Package: "libcheck", Ref: "update/c"}}
	plan, err := a.Plan(ctx, in)
	require.NoError(t, err)
	require.Len(t, plan.Minor, 1, "a cycle is updated and rebuilt as one group")
	require.ElementsMatch(t, in.Updates, plan.Minor[0].Updates)
	require.Equal(t, 3, plan.Minor[0].Builds, "libparse, libcheck and app")
}
