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

	// A wave-lane batch built green aside: its change is queued again, with its build time.
	aside, err := st.StartBatch(ctx, "demo", store.QueueBatch{Key: "demo/main/batch-2", Branch: "main", Lane: "wave", Members: ids[2:]})
	require.NoError(t, err)
	require.NoError(t, st.FinishBatch(ctx, store.BatchOutcome{BatchID: aside.ID, State: "built", Reason: "green", Built: ids[2:]}))
	built, err := st.QueueChange(ctx, ids[2])
	require.NoError(t, err)
	require.Equal(t, store.QueueQueued, built.State)
	require.NotNil(t, built.BuiltAt)
	require.Contains(t, built.Reason, "built aside, queued as one unit")
	batches, err := st.QueueBatches(ctx, "demo", "main")
	require.NoError(t, err)
	require.Equal(t, "built", batches[len(batches)-1].State)

	require.NoError(t, st.WithdrawChange(ctx, ids[2], "not needed"))
	require.ErrorContains(t, st.WithdrawChange(ctx, ids[0], ""), "merged, not queued")
}

// TestQueueReportOutbox: a change's outcome is unreported until delivered, and again once
// its state moves on; requeues and batching stay "pending"; a failed delivery is retried
// unless it gave up; pull request changes are found by repository and number.
func TestQueueReportOutbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testenv.Store(t)
	_, err := st.UpsertCollection(ctx, store.Collection{Name: "demo"})
	require.NoError(t, err)
	submit := func(key string, pull int64) store.QueueChange {
		t.Helper()
		q := store.QueueChange{Key: key, Collection: "demo", Branch: "main", Ref: key, Commit: "c-" + key}
		if pull > 0 {
			q.PullRepo, q.PullNumber, q.PullURL = "o/r", pull, "https://github.com/o/r/pull/1"
		}
		q, err := st.SubmitChange(ctx, q)
		require.NoError(t, err)
		return q
	}
	pr := submit("pull:o/r#1@c1", 1)
	require.Equal(t, int64(1), pr.PullNumber)
	require.Equal(t, "o/r", pr.PullRepo)
	byRef := submit("cli-1", 0)
	unreported := func(repo string, refs bool) []int64 {
		t.Helper()
		cs, err := st.UnreportedChanges(ctx, "demo", "main", repo, refs, 100)
		require.NoError(t, err)
		var ids []int64
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
		return ids
	}
	require.Equal(t, []int64{pr.ID}, unreported("o/r", false))
	require.Equal(t, []int64{pr.ID, byRef.ID}, unreported("o/r", true))
	require.Equal(t, []int64{byRef.ID}, unreported("", true))
	require.Empty(t, unreported("other/repo", false))

	require.NoError(t, st.MarkReported(ctx, pr.ID, "pending"))
	require.NoError(t, st.ReportFailed(ctx, byRef.ID, "pending", "local tracker down", false))
	require.Equal(t, []int64{byRef.ID}, unreported("o/r", true), "a failed delivery is tried again")
	c, err := st.QueueChange(ctx, byRef.ID)
	require.NoError(t, err)
	require.Equal(t, "local tracker down", c.ReportError)
	require.Equal(t, 1, c.ReportAttempts)
	require.NoError(t, st.SetReportIssue(ctx, byRef.ID, 7))
	require.NoError(t, st.MarkReported(ctx, byRef.ID, "pending"))
	require.Empty(t, unreported("o/r", true))
	c, err = st.QueueChange(ctx, byRef.ID)
	require.NoError(t, err)
	require.Equal(t, int64(7), c.ReportIssue)
	require.Empty(t, c.ReportError)

	b, err := st.StartBatch(ctx, "demo", store.QueueBatch{Key: "b1", Branch: "main", Lane: "fast", Members: []int64{pr.ID, byRef.ID}, CandidateCommit: "cand-1"})
	require.NoError(t, err)
	require.Empty(t, unreported("o/r", true), "batched is still pending")
	require.NoError(t, st.FinishBatch(ctx, store.BatchOutcome{BatchID: b.ID, State: "merged", Merged: []int64{pr.ID},
		Ejected: []store.Ejection{{ID: byRef.ID, Reason: "breaks x", Evidence: json.RawMessage(`{"reason": "breaks x"}`)}}}))
	require.Equal(t, []int64{pr.ID, byRef.ID}, unreported("o/r", true))
	c, err = st.QueueChange(ctx, pr.ID)
	require.NoError(t, err)
	require.Equal(t, "cand-1", c.Candidate, "the commit the branch moved to")
	require.NoError(t, st.ReportFailed(ctx, pr.ID, "merged", "pull request gone", true))
	require.Equal(t, []int64{byRef.ID}, unreported("o/r", true), "a delivery that gave up is not tried again")

	// The intake finds changes by pull request: the numbers asked for in any state, and
	// every one still waiting.
	old := submit("pull:o/r#2@c2", 2)
	submit("pull:o/r#3@c3", 3)
	require.NoError(t, st.WithdrawChange(ctx, old.ID, "withdrawn by test"))
	cs, err := st.PullChanges(ctx, "demo", "main", "o/r", []int64{1, 2})
	require.NoError(t, err)
	var got []int64
	for _, c := range cs {
		got = append(got, c.PullNumber)
	}
	require.Equal(t, []int64{1, 2, 3}, got)
	cs, err = st.PullChanges(ctx, "demo", "main", "o/other", nil)
	require.NoError(t, err)
	require.Empty(t, cs)
}
