package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/testenv"
)

func TestCreateWaveAllocatesNumbersIdempotently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	col, err := st.UpsertCollection(ctx, store.Collection{Name: "demo"})
	require.NoError(t, err)

	a, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "demo/a", BaseRef: "main", State: "planning"})
	require.NoError(t, err)
	require.Equal(t, 1, a.Number)
	require.Equal(t, "wave-1", a.Branch)
	again, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "demo/a", BaseRef: "main", State: "planning"})
	require.NoError(t, err)
	require.Equal(t, a.ID, again.ID, "the same workflow gets its wave back")
	b, err := st.CreateWave(ctx, store.Wave{CollectionID: col, WorkflowID: "demo/b", BaseRef: "main", State: "planning"})
	require.NoError(t, err)
	require.Equal(t, 2, b.Number)

	_, err = st.CreateWave(ctx, store.Wave{CollectionID: col, Number: 2, WorkflowID: "demo/c", BaseRef: "main", State: "planning"})
	require.ErrorIs(t, err, store.ErrTaken)
	require.ErrorContains(t, err, "demo/b")
	n, err := st.NextWaveNumber(ctx, "demo")
	require.NoError(t, err)
	require.Equal(t, 3, n)

	base, err := st.SetWaveBase(ctx, a.ID, "c0ffee")
	require.NoError(t, err)
	require.Equal(t, "c0ffee", base)
	base, err = st.SetWaveBase(ctx, a.ID, "later")
	require.NoError(t, err)
	require.Equal(t, "c0ffee", base, "the first base commit stays")
}
