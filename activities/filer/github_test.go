package filer_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/tracker"
	"github.com/crestwaves/crest/activities/tracker/github"
	"github.com/crestwaves/crest/activities/tracker/github/githubtest"
)

const (
	ghRepo = "nixos/nixpkgs"
	// canary is a token distinctive enough that finding it anywhere is a leak.
	canary = "ghp_FilerCanary0a1b2c3d4e5f6a7b8c9d0eZZ"
)

func newGitHub(t *testing.T) (*githubtest.Server, *github.Tracker) {
	t.Helper()
	srv := githubtest.New(t, canary)
	srv.AddRepo(ghRepo)
	tr, err := github.New(github.Config{
		Repo: ghRepo, Token: canary, BaseURL: srv.URL(),
		RequestTimeout: 5 * time.Second, MaxAttempts: 1, MaxWait: time.Second,
	})
	require.NoError(t, err)
	return srv, tr
}

func TestGitHubWiring(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv, tr := newGitHub(t)
	f := newFiler(t, tr, nil)
	issuesPath := "/repos/" + ghRepo + "/issues"

	// GitHub files the issue, but the gateway answers 502: the retry finds it.
	srv.Inject(githubtest.Fault{Method: http.MethodPost, Path: issuesPath, Status: http.StatusBadGateway, AfterHandling: true})
	_, err := f.RootCause(ctx, rootCause(3, 1, logA1))
	require.Error(t, err)
	require.True(t, tracker.IsRetryable(err), "%v", err)
	ref, err := f.RootCause(ctx, rootCause(3, 1, logA1))
	require.NoError(t, err)
	require.True(t, ref.Opened)
	require.Equal(t, "github", ref.Ref.Tracker)
	require.Equal(t, ghRepo, ref.Ref.Repo)
	require.NotEmpty(t, ref.Ref.URL)
	require.Equal(t, ref.Ref.URL, ref.String())

	_, err = f.RootCause(ctx, rootCause(4, 1, logA2))
	require.NoError(t, err)
	_, err = f.RootCause(ctx, rootCause(4, 1, logA2))
	require.NoError(t, err)
	_, err = f.Resolved(ctx, resolution(tracker.EventFixed, 4, 2, logA2))
	require.NoError(t, err)

	issues := srv.Issues(ghRepo)
	require.Len(t, issues, 1)
	is := issues[0]
	require.Equal(t, int(ref.Ref.Number), is.Number)
	require.Equal(t, "libfoo: build fails in wave-3-1", is.Title)
	require.Contains(t, is.Body, tracker.FingerprintMarker(ref.Fingerprint))
	require.Contains(t, is.Body, "`python3`")
	require.ElementsMatch(t, []string{"alice", "bob"}, is.Assignees)
	require.Contains(t, is.Labels, "wave-3")
	require.Equal(t, "closed", is.State)
	require.Equal(t, "completed", is.StateReason)
	require.Len(t, is.Comments, 2, "one recurrence, one fix")

	st, err := f.State(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, tracker.StatusClosed, st.Status)
}

func TestGitHubErrorsCarryNoToken(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv, tr := newGitHub(t)
	srv.EchoCredentials(true)
	f := newFiler(t, tr, nil)
	srv.Inject(githubtest.Fault{Status: http.StatusUnauthorized})
	_, err := f.RootCause(ctx, rootCause(3, 1, logA1))
	require.ErrorIs(t, err, tracker.ErrUnauthorized)
	require.True(t, tracker.IsPermanent(err))
	require.NotContains(t, err.Error(), canary)

	rows, err := f.Store.Issues(ctx, store.IssueFilter{Collection: collection})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	events, err := f.Store.IssueEvents(ctx, rows[0].ID)
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.NotEmpty(t, events[0].LastError)
	require.False(t, strings.Contains(events[0].LastError, canary), "no token in the outbox")
}
