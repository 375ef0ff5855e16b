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

const (
	headA = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
	headB = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
)

// TestPullShapes: pull requests, their reviews and commit statuses decode in go-github
// as GitHub's do, and pull requests are issues too (numbered with them, listed among them
// with pull_request links, commented on through the issues API).
func TestPullShapes(t *testing.T) {
	t.Parallel()
	s := githubtest.New(t, token)
	s.AddRepo("o/r")
	s.SeedIssue("o/r", "alice", "an issue", "b")
	n := s.SeedPull("o/r", githubtest.Pull{User: "bob", Title: "libnet 2", Base: "main", HeadRef: "update/libnet-2", HeadSHA: headA, Labels: []string{"crest-merge"}})
	s.SeedPull("o/r", githubtest.Pull{User: "carol", Title: "draft", Base: "main", HeadRef: "wip", HeadSHA: headB, Draft: true})
	s.SeedPull("o/r", githubtest.Pull{User: "dave", Title: "other base", Base: "staging", HeadRef: "x", HeadSHA: headB})
	require.Equal(t, 2, n)
	s.AddReview("o/r", n, "alice", "APPROVED")
	c := client(t, s, token)
	ctx := t.Context()

	prs, _, err := c.PullRequests.List(ctx, "o", "r", &gh.PullRequestListOptions{State: "open", Base: "main", Sort: "created", Direction: "asc"})
	require.NoError(t, err)
	require.Len(t, prs, 2, "the base filters")
	pr := prs[0]
	require.Equal(t, 2, pr.GetNumber())
	require.Equal(t, "open", pr.GetState())
	require.Equal(t, "bob", pr.GetUser().GetLogin())
	require.Equal(t, headA, pr.GetHead().GetSHA())
	require.Equal(t, "update/libnet-2", pr.GetHead().GetRef())
	require.Equal(t, "main", pr.GetBase().GetRef())
	require.Equal(t, "o/r", pr.GetBase().GetRepo().GetFullName())
	require.Equal(t, "https://github.com/o/r/pull/2", pr.GetHTMLURL())
	require.Equal(t, "crest-merge", pr.Labels[0].GetName())
	require.False(t, pr.GetDraft())
	require.True(t, prs[1].GetDraft())

	full, _, err := c.PullRequests.Get(ctx, "o", "r", n)
	require.NoError(t, err)
	require.False(t, full.GetMerged())
	require.Equal(t, "clean", full.GetMergeableState())

	rv, _, err := c.PullRequests.ListReviews(ctx, "o", "r", n, nil)
	require.NoError(t, err)
	require.Len(t, rv, 1)
	require.Equal(t, "APPROVED", rv[0].GetState())
	require.Equal(t, "alice", rv[0].GetUser().GetLogin())
	require.Equal(t, headA, rv[0].GetCommitID())
	_, _, err = c.PullRequests.ListReviews(ctx, "o", "r", 1, nil)
	var er *gh.ErrorResponse
	require.ErrorAs(t, err, &er)
	require.Equal(t, http.StatusNotFound, er.Response.StatusCode, "issue 1 is no pull request")

	issues, _, err := c.Issues.ListByRepo(ctx, "o", "r", &gh.IssueListByRepoOptions{State: "open"})
	require.NoError(t, err)
	require.Len(t, issues, 4)
	require.True(t, issues[2].IsPullRequest())
	require.False(t, issues[3].IsPullRequest())
	_, _, err = c.Issues.CreateComment(ctx, "o", "r", n, &gh.IssueComment{Body: gh.Ptr("queued")})
	require.NoError(t, err)
	require.Len(t, s.Issues("o/r")[n-1].Comments, 1)
	require.True(t, s.Issues("o/r")[n-1].PullRequest)

	st, resp, err := c.Repositories.CreateStatus(ctx, "o", "r", headA, gh.RepoStatus{State: gh.Ptr("pending"), Context: gh.Ptr("crest/merge-queue"), Description: gh.Ptr("queued")})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Equal(t, "pending", st.GetState())
	require.Equal(t, githubtest.BotLogin, st.GetCreator().GetLogin())
	_, _, err = c.Repositories.CreateStatus(ctx, "o", "r", headA, gh.RepoStatus{State: gh.Ptr("success"), Context: gh.Ptr("crest/merge-queue")})
	require.NoError(t, err)
	sts, _, err := c.Repositories.ListStatuses(ctx, "o", "r", headA, nil)
	require.NoError(t, err)
	require.Len(t, sts, 2)
	require.Equal(t, "success", sts[0].GetState(), "newest first")
	require.Equal(t, []githubtest.Status{{State: "pending", Context: "crest/merge-queue", Description: "queued"}, {State: "success", Context: "crest/merge-queue"}},
		s.Statuses("o/r", headA))

	_, _, err = c.Repositories.CreateStatus(ctx, "o", "r", "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3", gh.RepoStatus{State: gh.Ptr("success")})
	require.ErrorAs(t, err, &er)
	require.Equal(t, http.StatusUnprocessableEntity, er.Response.StatusCode, "an unknown commit")
	_, _, err = c.Repositories.CreateStatus(ctx, "o", "r", headA, gh.RepoStatus{State: gh.Ptr("done")})
	require.ErrorAs(t, err, &er)
	require.Equal(t, []gh.Error{{Resource: "Status", Code: "invalid", Field: "state"}}, er.Errors)
}
