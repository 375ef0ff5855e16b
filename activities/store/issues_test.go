package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/testenv"
)

const issueFP = "0123456789abcdef0123456789abcdef"

func issueStore(t *testing.T) *store.Store {
	t.Helper()
	st := testenv.Store(t)
	_, err := st.UpsertCollection(t.Context(), store.Collection{Name: "nixpkgs", Remote: "/srv/nixpkgs.git"})
	require.NoError(t, err)
	return st
}

func rootCauseRecord(major, minor int) store.RootCauseRecord {
	wave := fmt.Sprintf("wave-%d-%d", major, minor)
	return store.RootCauseRecord{
		Collection: "nixpkgs", Fingerprint: issueFP, Package: "libfoo", Tracker: "memory",
		Title: "libfoo: build fails in " + wave,
		Open: store.IssueEvent{Key: "nixpkgs/" + issueFP + "/" + wave + "/open", Event: "open", Major: major, Minor: minor,
			Title: "libfoo: build fails in " + wave, Body: "body", Labels: []string{"wave-3"}, Assignees: []string{"alice"}},
		Recur: store.IssueEvent{Key: "nixpkgs/" + issueFP + "/" + wave + "/recurred", Event: "recurred", Major: major, Minor: minor,
			CommentKey: wave + "/recurred", Body: "still failing"},
	}
}

func TestRecordRootCauseOpensThenComments(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := issueStore(t)

	is, ev, err := st.RecordRootCause(ctx, rootCauseRecord(3, 2))
	require.NoError(t, err)
	require.Equal(t, store.IssueEventOpen, ev.Kind)
	require.Equal(t, store.IssueEventPending, ev.State)
	require.Equal(t, []string{"wave-3"}, ev.Labels)
	require.Equal(t, []string{"alice"}, ev.Assignees)
	require.Equal(t, "open", is.State)
	require.Zero(t, is.Number)
	require.Equal(t, "wave-3-2", is.FirstWave())

	// Recorded again: the same event, nothing new.
	is2, ev2, err := st.RecordRootCause(ctx, rootCauseRecord(3, 2))
	require.NoError(t, err)
	require.Equal(t, ev.ID, ev2.ID)
	require.Equal(t, is.ID, is2.ID)

	// Filed.
	is, ev, err = st.CompleteIssueEvent(ctx, ev.Key, store.TrackerRef{Number: 7, URL: "memory://issues/7"}, time.Time{})
	require.NoError(t, err)
	require.Equal(t, store.IssueEventDone, ev.State)
	require.Equal(t, 1, ev.Attempts)
	require.Equal(t, int64(7), is.Number)
	_, ev, err = st.CompleteIssueEvent(ctx, ev.Key, store.TrackerRef{Number: 8}, time.Time{})
	require.NoError(t, err)
	require.Equal(t, 1, ev.Attempts, "completing a done event changes nothing")

	// An older wave does not move the last wave back; a later one does.
	_, ev, err = st.RecordRootCause(ctx, rootCauseRecord(3, 1))
	require.NoError(t, err)
	require.Equal(t, store.IssueEventComment, ev.Kind)
	_, ev, err = st.RecordRootCause(ctx, rootCauseRecord(4, 1))
	require.NoError(t, err)
	require.Equal(t, "wave-4-1/recurred", ev.CommentKey)
	is, err = st.IssueByID(ctx, is.ID)
	require.NoError(t, err)
	require.Equal(t, "wave-3-2", is.FirstWave())
	require.Equal(t, "wave-4-1", is.LastWave())
	require.Equal(t, int64(7), is.Number)
	require.Zero(t, is.Comments, "pending comments are not counted")

	require.NoError(t, st.FailIssueEvent(ctx, ev.Key, strings.Repeat("é", 3000)))
	ev, err = st.IssueEventByKey(ctx, ev.Key)
	require.NoError(t, err)
	require.Equal(t, 1, ev.Attempts)
	require.LessOrEqual(t, len(ev.LastError), 2000)
	require.True(t, strings.HasPrefix(ev.LastError, "é") && !strings.ContainsRune(ev.LastError, '\uFFFD'))
	_, _, err = st.CompleteIssueEvent(ctx, ev.Key, store.TrackerRef{}, time.Time{})
	require.NoError(t, err)
	is, err = st.IssueByID(ctx, is.ID)
	require.NoError(t, err)
	require.Equal(t, 1, is.Comments)
	require.Equal(t, int64(7), is.Number, "a comment does not move the issue")
}

func TestRecordIssueEventCloses(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := issueStore(t)
	_, _, err := st.RecordIssueEvent(ctx, "nixpkgs", issueFP, store.IssueEvent{Key: "k/fixed", Kind: store.IssueEventClose}, time.Time{})
	require.ErrorIs(t, err, store.ErrNotFound, "no open issue")

	is, ev, err := st.RecordRootCause(ctx, rootCauseRecord(3, 1))
	require.NoError(t, err)
	_, _, err = st.CompleteIssueEvent(ctx, ev.Key, store.TrackerRef{Number: 1}, time.Time{})
	require.NoError(t, err)

	closeEv := store.IssueEvent{Key: "nixpkgs/" + issueFP + "/wave-3-2/fixed", Kind: store.IssueEventClose, Event: "fixed",
		Major: 3, Minor: 2, CommentKey: "wave-3-2/fixed", Body: "Fixed.", CloseReason: "completed"}
	_, rec, err := st.RecordIssueEvent(ctx, "nixpkgs", issueFP, closeEv, time.Time{})
	require.NoError(t, err)
	require.Equal(t, is.ID, rec.IssueID)
	is, _, err = st.CompleteIssueEvent(ctx, rec.Key, store.TrackerRef{}, time.Time{})
	require.NoError(t, err)
	require.Equal(t, "closed", is.State)
	require.Equal(t, "completed", is.CloseReason)
	require.Equal(t, "fixed", is.Resolution)

	// Recorded again after the close: found by its key, though nothing is open.
	_, again, err := st.RecordIssueEvent(ctx, "nixpkgs", issueFP, closeEv, time.Time{})
	require.NoError(t, err)
	require.Equal(t, rec.ID, again.ID)
	require.Equal(t, store.IssueEventDone, again.State)

	// The same failure later is a new issue.
	is2, ev2, err := st.RecordRootCause(ctx, rootCauseRecord(4, 1))
	require.NoError(t, err)
	require.NotEqual(t, is.ID, is2.ID)
	require.Equal(t, store.IssueEventOpen, ev2.Kind)

	open, err := st.Issues(ctx, store.IssueFilter{Collection: "nixpkgs", State: "open"})
	require.NoError(t, err)
	require.Len(t, open, 1)
	all, err := st.Issues(ctx, store.IssueFilter{Package: "libfoo"})
	require.NoError(t, err)
	require.Len(t, all, 2)
	byNumber, err := st.Issues(ctx, store.IssueFilter{Tracker: "memory", Number: 1})
	require.NoError(t, err)
	require.Len(t, byNumber, 1)
	require.Equal(t, is.ID, byNumber[0].ID)
}

func TestRecordRootCauseConcurrentOnce(t *testing.T) {
	t.Parallel()
	st := issueStore(t)
	var wg sync.WaitGroup
	ids := make([]int64, 4)
	errs := make([]error, 4)
	for i := range ids {
		wg.Go(func() {
			_, ev, err := st.RecordRootCause(context.Background(), rootCauseRecord(3, 1))
			ids[i], errs[i] = ev.ID, err
		})
	}
	wg.Wait()
	for i := range ids {
		require.NoError(t, errs[i])
		require.Equal(t, ids[0], ids[i])
	}
	all, err := st.Issues(t.Context(), store.IssueFilter{})
	require.NoError(t, err)
	require.Len(t, all, 1)
}

func TestRecordRootCauseUnknownCollection(t *testing.T) {
	t.Parallel()
	r := rootCauseRecord(3, 1)
	r.Collection = "nope"
	_, _, err := issueStore(t).RecordRootCause(t.Context(), r)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestLocalIssues(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := testenv.Store(t)
	is, created, err := st.OpenLocalIssue(ctx, store.LocalIssue{Fingerprint: issueFP, Title: "t"})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, "open", is.State)
	require.Empty(t, is.Labels)

	added, err := st.AddLocalComment(ctx, "", store.LocalComment{Issue: is.Number, Key: "k", Author: "crest", Body: "a"})
	require.NoError(t, err)
	require.True(t, added)
	added, err = st.AddLocalComment(ctx, "", store.LocalComment{Issue: is.Number, Key: "k", Author: "crest", Body: "a"})
	require.NoError(t, err)
	require.False(t, added)
	_, err = st.AddLocalComment(ctx, "other", store.LocalComment{Issue: is.Number, Key: "k2", Author: "crest", Body: "a"})
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, st.CloseLocalIssue(ctx, "", is.Number+1, "completed", store.LocalComment{}), store.ErrNotFound)

	require.NoError(t, st.CloseLocalIssue(ctx, "", is.Number, "completed", store.LocalComment{Key: "c", Author: "crest", Body: "done"}))
	require.NoError(t, st.CloseLocalIssue(ctx, "", is.Number, "not_planned", store.LocalComment{Key: "c", Author: "crest", Body: "done"}))
	is, err = st.LocalIssue(ctx, is.Number)
	require.NoError(t, err)
	require.Equal(t, "closed", is.State)
	require.Equal(t, "completed", is.CloseReason, "the first close stays")
	require.Equal(t, 2, is.Comments)
	require.True(t, is.LastExternalComment.IsZero())

	again, created, err := st.OpenLocalIssue(ctx, store.LocalIssue{Fingerprint: issueFP, Title: "t"})
	require.NoError(t, err)
	require.True(t, created, "a closed issue is not reused")
	require.NotEqual(t, is.Number, again.Number)
	list, err := st.LocalIssues(ctx, "")
	require.NoError(t, err)
	require.Len(t, list, 2)
	_, err = st.LocalIssue(ctx, 999)
	require.ErrorIs(t, err, store.ErrNotFound)
}
