package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/testenv"
	"github.com/crestwaves/crest/graph"
	"github.com/crestwaves/crest/policy"
)

// TestResolveSavesWhatPolicyFollows: resolving a root cause settles the dependents that
// policy.Follow settles (with its resolution and reason), never a protected one, which
// keeps the minor wave from tagging until a person resolves it; a package blocked by a
// root cause an earlier minor wave settled is settled as soon as it is blocked.
func TestResolveSavesWhatPolicyFollows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	const sys = "x86_64-linux"
	col, err := st.UpsertCollection(ctx, store.Collection{Name: "c"})
	require.NoError(t, err)
	ev, _, err := st.SaveEvaluation(ctx, col, "abc", sys, []graph.Package{
		{Key: "lib", Name: "lib"},
		{Key: "other", Name: "other"},
		{Key: "app", Name: "app", Deps: []string{"lib"}},
		{Key: "both", Name: "both", Deps: []string{"lib", "other"}},
		{Key: "prot", Name: "prot", Deps: []string{"lib"}},
		{Key: "late", Name: "late", Deps: []string{"lib"}},
	})
	require.NoError(t, err)
	w, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "c/wave-1", BaseRef: "main", State: "running"})
	require.NoError(t, err)
	m1, err := st.StartMinorWave(ctx, w.ID, 1, "wave-1-1", nil)
	require.NoError(t, err)
	require.NoError(t, st.PutRound(ctx, m1.ID, sys, 0, []store.RoundRow{{Package: "lib"}, {Package: "other"},
		{Package: "app", Layer: 1}, {Package: "both", Layer: 1}, {Package: "prot", Layer: 1, Protected: true}}))
	for _, pkg := range []string{"lib", "other"} {
		require.NoError(t, st.RecordBuild(ctx, store.BuildRecord{Key: "k/" + pkg, MinorWaveID: m1.ID, System: sys, Package: pkg,
			Status: store.StatusFailed, ExitCode: 1}))
	}
	_, blocked, err := st.TakeShard(ctx, w.ID, m1.ID, ev.ID, sys, 0, 1, 0)
	require.NoError(t, err)
	require.Equal(t, 3, blocked)

	settled, err := st.Resolve(ctx, m1.ID, sys, "lib", "wont-fix", "alice: upstream dead")
	require.NoError(t, err)
	require.Equal(t, 1, settled, "app follows lib; both still waits for other; prot is protected")
	resolution := func(pkg string) (string, string) {
		r, err := st.Results(ctx, m1.ID, pkg)
		require.NoError(t, err)
		return r[0].Resolution, r[0].Reason
	}
	res, why := resolution("app")
	require.Equal(t, "dependency-failed/wont-fix", res)
	require.Equal(t, "blocked by lib (wont-fix)", why)
	res, _ = resolution("both")
	require.Empty(t, res)

	settled, err = st.Resolve(ctx, m1.ID, sys, "other", "cant-fix", "bob: needs hardware")
	require.NoError(t, err)
	require.Equal(t, 1, settled)
	res, _ = resolution("both")
	require.Equal(t, "dependency-failed/cant-fix+wont-fix", res)
	res, _ = resolution("prot")
	require.Empty(t, res, "a protected package is never settled implicitly")

	states, err := st.States(ctx, m1.ID, sys)
	require.NoError(t, err)
	ok, blocking := policy.Settled(states)
	require.False(t, ok)
	require.Len(t, blocking, 1)
	require.Contains(t, blocking[0], "prot: dependency-failed and protected")
	_, err = st.Resolve(ctx, m1.ID, sys, "prot", "wont-fix", "rm: ship without it")
	require.NoError(t, err)
	states, err = st.States(ctx, m1.ID, sys)
	require.NoError(t, err)
	ok, blocking = policy.Settled(states)
	require.True(t, ok, "%v", blocking)

	// wave-1-2 builds late, which needs lib: settled at once after lib's wont-fix there.
	m2, err := st.StartMinorWave(ctx, w.ID, 2, "wave-1-2", nil)
	require.NoError(t, err)
	require.NoError(t, st.PutRound(ctx, m2.ID, sys, 0, []store.RoundRow{{Package: "late"}}))
	_, blocked, err = st.TakeShard(ctx, w.ID, m2.ID, ev.ID, sys, 0, 0, 0)
	require.NoError(t, err)
	require.Equal(t, 1, blocked)
	r, err := st.Results(ctx, m2.ID, "late")
	require.NoError(t, err)
	require.Equal(t, store.StatusDependencyFailed, r[0].Status)
	require.Equal(t, "dependency-failed/wont-fix", r[0].Resolution)
	states, err = st.States(ctx, m2.ID, sys)
	require.NoError(t, err)
	require.Len(t, states, 2, "late, and lib from wave-1-1")
	ok, blocking = policy.Settled(states)
	require.True(t, ok, "%v", blocking)

	_, err = st.Resolve(ctx, m2.ID, sys, "nosuch", "wont-fix", "x")
	require.ErrorIs(t, err, store.ErrNotFound)
}
