package store_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/testenv"
)

// TestQueueBatchLifecycle: a submission records once per key; a batch marks its members
// batched and its outcome merges, ejects (with evidence) and re-queues them together; queue
// builds get build rounds that never show up as waves nor take a wave's number.
func TestQueueBatchLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	_, err := st.UpsertCollection(ctx, store.Collection{Name: "demo"})
	require.NoError(t, err)

	var ids []int64
	for _, ref := range []string{"a", "b", "c"} {
		q, err := st.SubmitChange(ctx, store.QueueChange{Key: "k/" + ref, Collection: "demo", Branch: "main", Ref: ref, Commit: "c-" + ref})
		require.NoError(t, err)
		again, err := st.SubmitChange(ctx, store.QueueChange{Key: "k/" + ref, Collection: "demo", Branch: "main", Ref: ref})
		require.NoError(t, err)
		require.Equal(t, q.ID, again.ID, "a retried submission records once")
		require.Equal(t, store.QueueQueued, q.State)
		require.NoError(t, st.SetLane(ctx, q.ID, "fast", "small", 3, ""))
		ids = append(ids, q.ID)
	}
	_, err = st.SubmitChange(ctx, store.QueueChange{Key: "k/x", Collection: "nope", Branch: "main", Ref: "x"})
	require.ErrorIs(t, err, store.ErrNotFound)

	b, err := st.StartBatch(ctx, "demo", store.QueueBatch{Key: "demo/main/batch-1", Branch: "main", Lane: "fast", Members: ids, BaseCommit: "base"})
	require.NoError(t, err)
	again, err := st.StartBatch(ctx, "demo", store.QueueBatch{Key: "demo/main/batch-1", Branch: "main", Lane: "fast", Members: ids})
	require.NoError(t, err)
	require.Equal(t, b.ID, again.ID)
	q, err := st.QueueChange(ctx, ids[0])
	require.NoError(t, err)
	require.Equal(t, store.QueueBatched, q.State)
	require.Equal(t, 1, q.Attempts)
	require.NotNil(t, q.BatchedAt)

	round, err := st.OpenBuildRound(ctx, store.BuildRoundSpec{Collection: "demo", Key: "demo/main/batch-1/build", Name: "batch-1", Kind: store.BuildRoundQueue, Commit: "cand"})
	require.NoError(t, err)
	same, err := st.OpenBuildRound(ctx, store.BuildRoundSpec{Collection: "demo", Key: "demo/main/batch-1/build", Name: "batch-1", Kind: store.BuildRoundQueue, Commit: "cand"})
	require.NoError(t, err)
	require.Equal(t, round, same)
	waves, err := st.Waves(ctx, "demo")
	require.NoError(t, err)
	require.Empty(t, waves, "queue builds are not waves")
	n, err := st.NextWaveNumber(ctx, "demo")
	require.NoError(t, err)
	require.Equal(t, 1, n)

	require.NoError(t, st.RecordProbe(ctx, store.QueueProbe{BatchID: b.ID, Round: 1, Kind: "base", Commit: "base", Packages: []string{"p"}}))
	require.NoError(t, st.RecordProbe(ctx, store.QueueProbe{BatchID: b.ID, Round: 1, Kind: "base", Packages: []string{"p"}, Done: true}))
	probes, err := st.QueueProbes(ctx, b.ID)
	require.NoError(t, err)
	require.Len(t, probes, 1)
	require.True(t, probes[0].Done)
	require.Equal(t, "base", probes[0].Commit)
	require.Empty(t, probes[0].Failed)

	require.NoError(t, st.FinishBatch(ctx, store.BatchOutcome{BatchID: b.ID, State: "failed", Reason: "b breaks p",
		Ejected:  []store.Ejection{{ID: ids[1], Reason: "breaks p", Evidence: json.RawMessage(`{"broke":["p"]}`)}},
		Requeued: []int64{ids[0], ids[2]}}))
	ej, err := st.QueueChange(ctx, ids[1])
	require.NoError(t, err)
	require.Equal(t, store.QueueEjected, ej.State)
	require.JSONEq(t, `{"broke":["p"]}`, string(ej.Evidence))
	queued, err := st.QueueChanges(ctx, "demo", "main", store.QueueQueued)
	require.NoError(t, err)
	require.Len(t, queued, 2)

	require.NoError(t, st.FinishBatch(ctx, store.BatchOutcome{BatchID: b.ID, State: "merged", Reason: "green", Merged: []int64{ids[0]}}))
	stats, err := st.QueueStatsOf(ctx, "demo", "main")
	require.NoError(t, err)
	require.Equal(t, 1, stats.Merged)
	require.Equal(t, 1, stats.Ejected)
	require.Len(t, stats.Lanes, 1)
	require.Equal(t, 3, stats.OwnRebuilds)

	require.NoError(t, st.WithdrawChange(ctx, ids[2], "not needed"))
	require.ErrorContains(t, st.WithdrawChange(ctx, ids[0], ""), "merged, not queued")
}
