package activities_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
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
	require.NoError(t, a.RegisterCollection(ctx, wire.Collection{Name: "c", Remote: "/nowhere", TagPrefix: "wave"}))
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
	in := wire.PlanInput{Collection: "c", WaveID: w.ID, Wave: 1, EvaluationID: ev.ID, FirstMinor: 1}

	in.Updates = []wire.Update{{Package: "libcroe", Ref: "update/x"}}
	_, err = a.Plan(ctx, in)
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	require.Equal(t, wire.ErrInvalidInput, app.Type(), "not retried")
	require.ErrorContains(t, err, "libcroe")
	require.ErrorContains(t, err, "libcore", "with a did-you-mean")

	in.Updates = []wire.Update{{Package: "libparse", Ref: "update/p"}, {Package: "libcheck", Ref: "update/c"}}
	plan, err := a.Plan(ctx, in)
	require.NoError(t, err)
	require.Len(t, plan.Minor, 1, "a cycle is updated and rebuilt as one group")
	require.ElementsMatch(t, in.Updates, plan.Minor[0].Updates)
	require.Equal(t, 3, plan.Minor[0].Builds, "libparse, libcheck and app")
}

// TestCollectionTagPrefix: a collection whose tag prefix is "rel" gets its waves named
// with it from the store (the branch of a new major wave, the not-found message) and from
// the planner (the minor waves' names, which become their tags).
func TestCollectionTagPrefix(t *testing.T) {
	ctx := context.Background()
	st := testenv.Store(t)
	a := &activities.Activities{Store: st}
	require.NoError(t, a.RegisterCollection(ctx, wire.Collection{Name: "r", Remote: "/nowhere", TagPrefix: "rel"}))
	col, err := st.CollectionByName(ctx, "r")
	require.NoError(t, err)
	prefix, err := st.TagPrefix(ctx, "r")
	require.NoError(t, err)
	require.Equal(t, "rel", prefix)
	ev, _, err := st.SaveEvaluation(ctx, col.ID, "abc", "x86_64-linux", []graph.Package{
		{Key: "libcore", Name: "libcore", Drv: "/d/1"},
		{Key: "libnet", Name: "libnet", Drv: "/d/2", Deps: []string{"libcore"}},
		{Key: "app", Name: "app", Drv: "/d/3", Deps: []string{"libnet"}},
	})
	require.NoError(t, err)
	w, err := st.CreateWave(ctx, store.Wave{CollectionID: col.ID, WorkflowID: "r/wave-1", BaseRef: "main", State: "planning"})
	require.NoError(t, err)
	require.Equal(t, "rel-1", w.Branch, "the branch of a major wave is named with the collection's prefix")
	require.Equal(t, "rel-1", w.Name())
	got, err := st.WaveByNumber(ctx, "r", 1)
	require.NoError(t, err)
	require.Equal(t, "rel-1", got.Name())
	_, err = st.WaveByNumber(ctx, "r", 7)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorContains(t, err, "rel-7 of r")

	plan, err := a.Plan(ctx, wire.PlanInput{Collection: "r", WaveID: w.ID, Wave: 1, EvaluationID: ev.ID, FirstMinor: 1,
		Updates: []wire.Update{{Package: "libcore", Ref: "update/core"}, {Package: "libnet", Ref: "update/net"}}})
	require.NoError(t, err)
	var names []string
	for _, m := range plan.Minor {
		names = append(names, m.Name)
	}
	require.Equal(t, []string{"rel-1-1", "rel-1-2"}, names)
}
