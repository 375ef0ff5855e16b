package site_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/store"
)

// TestSiteShowsTheMergeQueue: the queue page lists each change with its lane, state and
// why (a merged one, an ejected one with its culprit's reason, one still queued), and the
// lanes' latencies, as HTML and JSON; before anything is submitted it says how to submit.
func TestSiteShowsTheMergeQueue(t *testing.T) {
	t.Parallel()
	srv, st, _ := newSite(t)
	ctx := context.Background()
	code, _, body := get(t, srv, "/queue")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "crest queue submit")

	var ids []int64
	for _, ref := range []string{"change/good", "change/bad", "change/later"} {
		q, err := st.SubmitChange(ctx, store.QueueChange{Key: "k/" + ref, Collection: "demo", Branch: "main", Ref: ref, Title: ref + " title"})
		require.NoError(t, err)
		require.NoError(t, st.SetLane(ctx, q.ID, "fast", "2 rebuilds: small", 2, ""))
		ids = append(ids, q.ID)
	}
	b, err := st.StartBatch(ctx, "demo", store.QueueBatch{Key: "demo/main/batch-1", Branch: "main", Lane: "fast", Members: ids[:2], BaseCommit: "base"})
	require.NoError(t, err)
	require.NoError(t, st.FinishBatch(ctx, store.BatchOutcome{BatchID: b.ID, State: "failed", Reason: "change/bad breaks calc",
		Ejected:  []store.Ejection{{ID: ids[1], Reason: "breaks calc (test-failed) at the probe with it", Evidence: json.RawMessage(`{}`)}},
		Requeued: []int64{ids[0]}}))
	require.NoError(t, st.FinishBatch(ctx, store.BatchOutcome{BatchID: b.ID, State: "merged", Reason: "green", Merged: []int64{ids[0]}}))

	code, _, body = get(t, srv, "/queue")
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{`id="queue-demo"`, "change/good", "change/later", `class="state merged"`, `class="state ejected"`,
		`class="state queued"`, "breaks calc (test-failed) at the probe with it", "<td>fast</td>"} {
		require.Contains(t, body, want)
	}
	code, ctype, body := get(t, srv, "/queue.json")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "application/json", ctype)
	var page struct {
		Queues []struct {
			Collection string `json:"collection"`
			Stats      struct {
				Merged  int `json:"merged"`
				Ejected int `json:"ejected"`
				Lanes   []struct {
					Lane string `json:"lane"`
				} `json:"lanes"`
			} `json:"stats"`
			Changes []struct {
				Ref     string  `json:"ref"`
				State   string  `json:"state"`
				Latency float64 `json:"latency_seconds"`
			} `json:"changes"`
		} `json:"queues"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &page))
	require.Len(t, page.Queues, 1)
	q := page.Queues[0]
	require.Equal(t, "demo", q.Collection)
	require.Equal(t, 1, q.Stats.Merged)
	require.Equal(t, 1, q.Stats.Ejected)
	require.Equal(t, "fast", q.Stats.Lanes[0].Lane)
	require.Len(t, q.Changes, 3)
	require.Equal(t, "change/later", q.Changes[0].Ref, "newest first")
	require.Equal(t, "queued", q.Changes[0].State)
	require.Zero(t, q.Changes[0].Latency, "still queued")
	require.Equal(t, "merged", q.Changes[2].State)
	require.Positive(t, q.Changes[2].Latency)
}
