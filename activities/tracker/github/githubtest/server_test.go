package githubtest_test

import (
	"net/http"
	"testing"
	"time"

	gh "github.com/google/go-github/v88/github"
	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/tracker/github/githubtest"
)

// The fake must look like GitHub to go-github: these tests decode its answers with a
// plain go-github client and check what go-github makes of them.

const token = "ghp_fakeToken"

func client(t *testing.T, s *githubtest.Server, tok string) *gh.Client {
	t.Helper()
	c, err := gh.NewClient(gh.WithAuthToken(tok), gh.WithURLs(gh.Ptr(s.URL()), gh.Ptr(s.URL())), gh.WithDisableRateLimitCheck())
	require.NoError(t, err)
	return c
}

func TestIssueShapes(t *testing.T) {
	t.Parallel()
	s := githubtest.New(t, token)
	s.AddRepo("o/r")
	c := client(t, s, token)
	ctx := t.Context()

	is, resp, err := c.Issues.Create(ctx, "o", "r", &gh.IssueRequest{
		Title: gh.Ptr("t"), Body: gh.Ptr("b"), Labels: &[]string{"crest", "wave-1"}, Assignees: &[]string{"alice"},
	})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Equal(t, 1, is.GetNumber())
	require.Equal(t, "open", is.GetState())
	require.Equal(t, "https://github.com/o/r/issues/1", is.GetHTMLURL())
	require.Len(t, is.Labels, 2)
	require.Equal(t, "crest", is.Labels[0].GetName())
	require.NotZero(t, is.Labels[0].GetID())
	require.Equal(t, "alice", is.Assignees[0].GetLogin())
	require.Equal(t, githubtest.BotLogin, is.GetUser().GetLogin())
	require.False(t, is.GetCreatedAt().IsZero())
	require.Equal(t, 5000, resp.Rate.Limit)
	require.Equal(t, 4999, resp.Rate.Remaining)
	require.Equal(t, "core", resp.Rate.Resource)
	require.True(t, resp.Rate.Reset.After(time.Now()))

	cm, _, err := c.Issues.CreateComment(ctx, "o", "r", 1, &gh.IssueComment{Body: gh.Ptr("hi")})
	require.NoError(t, err)
	require.Equal(t, "hi", cm.GetBody())
	require.Equal(t, githubtest.BotLogin, cm.GetUser().GetLogin())

	is, _, err = c.Issues.Edit(ctx, "o", "r", 1, &gh.IssueRequest{State: gh.Ptr("closed"), StateReason: gh.Ptr("not_planned")})
	require.NoError(t, err)
	require.Equal(t, "closed", is.GetState())
	require.Equal(t, "not_planned", is.GetStateReason())
	require.Equal(t, 1, is.GetComments())
	require.False(t, is.GetClosedAt().IsZero())

	_, _, err = c.Issues.Get(ctx, "o", "r", 2)
	var er *gh.ErrorResponse
	require.ErrorAs(t, err, &er)
	require.Equal(t, http.StatusNotFound, er.Response.StatusCode)
	require.Equal(t, "Not Found", er.Message)
}

func TestPaginationShapes(t *testing.T) {
	t.Parallel()
	s := githubtest.New(t, token)
	s.AddRepo("o/r")
	for range 5 {
		s.SeedIssue("o/r", "alice", "t", "b", "crest")
	}
	s.SeedIssue("o/r", "alice", "unlabelled", "b")
	c := client(t, s, token)
	opts := &gh.IssueListByRepoOptions{State: "open", Labels: []string{"crest"}, ListOptions: gh.ListOptions{PerPage: 2}}
	var numbers []int
	for {
		page, resp, err := c.Issues.ListByRepo(t.Context(), "o", "r", opts)
		require.NoError(t, err)
		for _, is := range page {
			numbers = append(numbers, is.GetNumber())
		}
		if resp.NextPage == 0 {
			require.Equal(t, 3, resp.PrevPage+1)
			break
		}
		require.Equal(t, 3, resp.LastPage)
		opts.ListOptions.Page = resp.NextPage
	}
	require.Equal(t, []int{5, 4, 3, 2, 1}, numbers, "newest first, labels filtered")
}

func TestErrorShapes(t *testing.T) {
	t.Parallel()
	s := githubtest.New(t, token)
	s.AddRepo("o/r")
	s.SetAssignable("alice")
	ctx := t.Context()

	_, _, err := client(t, s, "wrong").Issues.Get(ctx, "o", "r", 1)
	var er *gh.ErrorResponse
	require.ErrorAs(t, err, &er)
	require.Equal(t, http.StatusUnauthorized, er.Response.StatusCode)
	require.Equal(t, "Bad credentials", er.Message)
	require.NotEmpty(t, er.DocumentationURL)

	c := client(t, s, token)
	_, _, err = c.Issues.Create(ctx, "o", "r", &gh.IssueRequest{Title: gh.Ptr("t"), Assignees: &[]string{"ghost"}})
	require.ErrorAs(t, err, &er)
	require.Equal(t, http.StatusUnprocessableEntity, er.Response.StatusCode)
	require.Equal(t, "Validation Failed", er.Message)
	require.Equal(t, []gh.Error{{Resource: "Issue", Code: "invalid", Field: "assignees"}}, er.Errors)

	s.SecondaryRateLimit(http.MethodGet, "", 7*time.Second)
	_, _, err = c.Issues.Get(ctx, "o", "r", 1)
	var abuse *gh.AbuseRateLimitError
	require.ErrorAs(t, err, &abuse)
	require.Equal(t, 7*time.Second, abuse.GetRetryAfter())

	s.ExhaustRateLimit(time.Now().Add(time.Minute))
	_, _, err = c.Issues.Get(ctx, "o", "r", 1)
	var rl *gh.RateLimitError
	require.ErrorAs(t, err, &rl)
	require.Zero(t, rl.Rate.Remaining)
	require.WithinDuration(t, time.Now().Add(time.Minute), rl.Rate.Reset.Time, 2*time.Second)

	s2 := githubtest.New(t, token)
	s2.AddRepo("o/r")
	s2.ServerError("", "", http.StatusBadGateway, false)
	_, resp, err := client(t, s2, token).Issues.Get(ctx, "o", "r", 1)
	require.ErrorAs(t, err, &er)
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	require.Equal(t, "Server Error", er.Message)
	require.Equal(t, "5000", resp.Header.Get("X-RateLimit-Limit"), "rate headers on errors too")
}
