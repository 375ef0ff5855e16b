package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/testenv"
	"github.com/crestwaves/crest/graph"
)

// TestWaveBuilds lists a wave's finished builds with their builder, span and Nix count, and
// leaves out a build still running and another wave's.
func TestWaveBuilds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	const sys = "x86_64-linux"
	col, err := st.UpsertCollection(ctx, store.Collection{Name: "c"})
	require.NoError(t, err)
	ev, _, err := st.SaveEvaluation(ctx, col, "abc", sys, []graph.Package{
		{Key: "lib", Name: "lib", Drv: "/nix/store/lib.drv"},
		{Key: "app", Name: "app", Drv: "/nix/store/app.drv", Deps: []string{"lib"}},
	})
	require.NoError(t, err)
	var waves, minors []int64
	for _, id := range []string{"c/wave-1", "c/wave-2"} {
		w, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: id, BaseRef: "main", State: "running"})
		require.NoError(t, err)
		m, err := st.StartMinorWave(ctx, w.ID, 1, id+"-1", nil)
		require.NoError(t, err)
		require.NoError(t, st.PutRound(ctx, m.ID, sys, 0, []store.RoundRow{
			{Package: "lib", Drv: "/nix/store/lib.drv"}, {Package: "app", Drv: "/nix/store/app.drv", Layer: 1}}))
		waves, minors = append(waves, w.ID), append(minors, m.ID)
	}
	began := time.Now()
	time.Sleep(100 * time.Millisecond)
	for i, m := range minors {
		rec := store.BuildRecord{Key: "k/lib/" + waveName(i), MinorWaveID: m, System: sys, Package: "lib"}
		_, _, _, err := st.StartBuild(ctx, ev.ID, rec)
		require.NoError(t, err)
		rec.Drv, rec.Status, rec.StartedAt, rec.Builder, rec.Built = "/nix/store/lib.drv", store.StatusPassed, began, "builder-"+waveName(i)+":7", 3
		require.NoError(t, st.RecordBuild(ctx, rec))
	}
	_, _, _, err = st.StartBuild(ctx, ev.ID, store.BuildRecord{Key: "k/app", MinorWaveID: minors[0], System: sys, Package: "app"})
	require.NoError(t, err)

	builds, err := st.WaveBuilds(ctx, waves[0])
	require.NoError(t, err)
	require.Len(t, builds, 1, "app's running build and wave-2's build are not listed")
	b := builds[0]
	require.Equal(t, store.WaveBuild{Package: "lib", Drv: "/nix/store/lib.drv", Status: store.StatusPassed, Builder: "builder-a:7", Built: 3,
		Started: b.Started, Finished: b.Finished}, b)
	require.GreaterOrEqual(t, b.Finished.Sub(b.Started), 100*time.Millisecond, "started when the build began, not when it was recorded")
}

func waveName(i int) string { return string(rune('a' + i)) }
