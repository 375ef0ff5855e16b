package local_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/tracker"
	"github.com/crestwaves/crest/activities/tracker/local"
	"github.com/crestwaves/crest/activities/tracker/trackertest"
	"github.com/crestwaves/crest/deploy/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestConformance(t *testing.T) {
	t.Parallel()
	trackertest.Run(t, func(t *testing.T) trackertest.Subject {
		tr := local.New(testenv.Store(t), local.Options{})
		return trackertest.Subject{
			Tracker: tr,
			ExternalComment: func(ctx context.Context, ref tracker.Ref, body string) error {
				return tr.CommentAs(ctx, ref, "alice", body)
			},
		}
	})
}

func TestConformanceInARepo(t *testing.T) {
	t.Parallel()
	trackertest.Run(t, func(t *testing.T) trackertest.Subject {
		return trackertest.Subject{Tracker: local.New(testenv.Store(t), local.Options{Repo: "demo"})}
	})
}

const fp = "0123456789abcdef0123456789abcdef"

func TestStoresWhatWasFiled(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := testenv.Store(t)
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tr := local.New(st, local.Options{Repo: "demo", Now: func() time.Time { return at }})

	ref, created, err := tr.Open(ctx, fp, tracker.Issue{
		Title: "libfoo:  build fails\nin wave-3-1", Body: "body", Labels: []string{"wave-3"}, Assignees: []string{"alice", "bob"},
	})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, tracker.Ref{Tracker: "local", Repo: "demo", Number: ref.Number}, ref)

	require.NoError(t, tr.Comment(ctx, ref, "wave-3-2/recurred", "still failing"))
	require.NoError(t, tr.CommentAs(ctx, ref, "alice", "on it"))
	require.NoError(t, tr.Close(ctx, ref, tracker.ReasonNotPlanned, "wave-3-2/wont-fix", "wont fix"))

	is, err := st.LocalIssue(ctx, ref.Number)
	require.NoError(t, err)
	require.Equal(t, "libfoo: build fails in wave-3-1", is.Title, "the title is one line")
	require.Equal(t, "body", is.Body)
	require.Equal(t, []string{"wave-3"}, is.Labels)
	require.Equal(t, []string{"alice", "bob"}, is.Assignees)
	require.Equal(t, "closed", is.State)
	require.Equal(t, "not_planned", is.CloseReason)
	require.True(t, is.ClosedAt.Equal(at))

	cs, err := st.LocalComments(ctx, ref.Number)
	require.NoError(t, err)
	require.Len(t, cs, 3)
	require.Equal(t, []string{"crest", "alice", "crest"}, []string{cs[0].Author, cs[1].Author, cs[2].Author})
	require.Equal(t, []string{"wave-3-2/recurred", "", "wave-3-2/wont-fix"}, []string{cs[0].Key, cs[1].Key, cs[2].Key})

	st2, err := tr.Get(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, tracker.ReasonNotPlanned, st2.Reason)
	require.True(t, st2.LastExternalComment.Equal(at))

	// Another repo's tracker does not see the issue.
	other := local.New(st, local.Options{Repo: "other"})
	_, err = other.Get(ctx, ref)
	require.ErrorIs(t, err, tracker.ErrNotFound)
	ref.Repo = "other"
	_, err = other.Get(ctx, ref)
	require.ErrorIs(t, err, tracker.ErrNotFound)
	require.ErrorIs(t, other.Comment(ctx, ref, "k", "x"), tracker.ErrNotFound)
}

func TestConcurrentOpensFileOneIssue(t *testing.T) {
	t.Parallel()
	tr := local.New(testenv.Store(t), local.Options{})
	var wg sync.WaitGroup
	refs := make([]tracker.Ref, 4)
	created := make([]bool, 4)
	errs := make([]error, 4)
	for i := range refs {
		wg.Go(func() {
			refs[i], created[i], errs[i] = tr.Open(t.Context(), fp, tracker.Issue{Title: "t"})
		})
	}
	wg.Wait()
	n := 0
	for i := range refs {
		require.NoError(t, errs[i])
		require.Equal(t, refs[0].Number, refs[i].Number)
		if created[i] {
			n++
		}
	}
	require.Equal(t, 1, n, "one Open created the issue")
}

func TestCommentAsRejectsEmpty(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	tr := local.New(testenv.Store(t), local.Options{})
	ref, _, err := tr.Open(ctx, fp, tracker.Issue{Title: "t"})
	require.NoError(t, err)
	require.ErrorIs(t, tr.CommentAs(ctx, ref, " ", "x"), tracker.ErrInvalid)
	require.ErrorIs(t, tr.CommentAs(ctx, ref, "alice", "\n"), tracker.ErrInvalid)
	missing := ref
	missing.Number++
	require.ErrorIs(t, tr.CommentAs(ctx, missing, "alice", "hi"), tracker.ErrNotFound)
}

func TestDatabaseErrorsAreRetryable(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.Context(), testenv.DSN(t, false))
	require.NoError(t, err)
	tr := local.New(st, local.Options{})
	st.Close()

	_, _, err = tr.Open(t.Context(), fp, tracker.Issue{Title: "t"})
	require.ErrorIs(t, err, tracker.ErrUnavailable)
	require.True(t, tracker.IsRetryable(err))

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = tr.Get(ctx, tracker.Ref{Tracker: local.Name, Number: 1})
	require.ErrorIs(t, err, context.Canceled)
	require.True(t, tracker.IsPermanent(err))
}
