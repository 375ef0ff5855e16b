package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/testenv"
	"github.com/crestwaves/crest/graph"
)

// TestRunningWavesWith: a patch reaches the running waves whose base has the package,
// and knows which of them update it themselves (those are not forked); a wave that ended,
// or whose base lacks the package, is not running for it.
func TestRunningWavesWith(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	const sys = "x86_64-linux"
	col, err := st.UpsertCollection(ctx, store.Collection{Name: "c"})
	require.NoError(t, err)
	for _, ev := range []struct {
		commit string
		pkgs   []graph.Package
	}{
		{"with", []graph.Package{{Key: "libcrypto", Name: "libcrypto"}, {Key: "app", Name: "app", Deps: []string{"libcrypto"}}}},
		{"without", []graph.Package{{Key: "app", Name: "app"}}},
	} {
		_, _, err := st.SaveEvaluation(ctx, col, ev.commit, sys, ev.pkgs)
		require.NoError(t, err)
	}
	wave := func(n int, base, state string, updates ...string) {
		t.Helper()
		w, err := st.CreateWave(ctx, store.Wave{CollectionID: col, Number: n, WorkflowID: fmt.Sprintf("c/wave-%d", n), BaseRef: "main", State: state})
		require.NoError(t, err)
		_, err = st.SetWaveBase(ctx, w.ID, base)
		require.NoError(t, err)
		for i, pkg := range updates {
			ups, err := json.Marshal([]map[string]string{{"package": pkg, "ref": "update/" + pkg}})
			require.NoError(t, err)
			_, err = st.StartMinorWave(ctx, w.ID, i+1, "wave-x", ups)
			require.NoError(t, err)
		}
	}
	wave(1, "with", "running", "app")
	wave(2, "with", "running", "app", "libcrypto")
	wave(3, "with", "done")
	wave(4, "without", "running")
	got, err := st.RunningWavesWith(ctx, "c", "libcrypto")
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, "wave-1", got[0].Name)
	require.False(t, got[0].UpdatesPackage)
	require.Equal(t, "wave-2", got[1].Name)
	require.True(t, got[1].UpdatesPackage, "wave-2 updates libcrypto itself")
}
