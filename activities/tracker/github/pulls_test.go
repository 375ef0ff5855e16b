package github_test

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/tracker"
	"github.com/crestwaves/crest/activities/tracker/github"
	"github.com/crestwaves/crest/activities/tracker/github/githubtest"
)

const (
	label  = "crest-merge"
	sha1st = "1111111111111111111111111111111111111111"
	sha2nd = "2222222222222222222222222222222222222222"
	sha3rd = "3333333333333333333333333333333333333333"
)

func TestApproval(t *testing.T) {
	t.Parallel()
	r := func(user, state string) github.Review { return github.Review{User: user, State: state} }
	for _, tc := range []struct {
		name               string
		reviews            []github.Review
		approvers, blocked []string
	}{
		{"none", nil, nil, nil},
		{"one approval", []github.Review{r("alice", "APPROVED")}, []string{"alice"}, nil},
		{"comments count for nothing", []github.Review{r("alice", "COMMENTED")}, nil, nil},
		{"a later comment keeps the approval", []github.Review{r("alice", "APPROVED"), r("alice", "COMMENTED")}, []string{"alice"}, nil},
		{"changes requested after approval", []github.Review{r("alice", "APPROVED"), r("alice", "CHANGES_REQUESTED")}, nil, []string{"alice"}},
		{"approved after changes requested", []github.Review{r("alice", "CHANGES_REQUESTED"), r("alice", "APPROVED")}, []string{"alice"}, nil},
		{"one blocks another's approval", []github.Review{r("alice", "APPROVED"), r("bob", "CHANGES_REQUESTED")}, []string{"alice"}, []string{"bob"}},
		{"a dismissed review counts for nothing", []github.Review{r("alice", "APPROVED"), r("alice", "DISMISSED")}, nil, nil},
		{"a dismissed request for changes unblocks", []github.Review{r("bob", "CHANGES_REQUESTED"), r("bob", "DISMISSED"), r("alice", "APPROVED")}, []string{"alice"}, nil},
		{"pending reviews are not submitted", []github.Review{r("alice", "PENDING")}, nil, nil},
		{"logins are case-insensitive", []github.Review{r("Alice", "APPROVED"), r("alice", "CHANGES_REQUESTED")}, nil, []string{"Alice"}},
	} {
		approvers, blocked := github.Approval(tc.reviews)
		require.Equal(t, tc.approvers, approvers, tc.name)
		require.Equal(t, tc.blocked, blocked, tc.name)
	}
}

// TestReadyNeedsApprovalAndLabel: of open pull requests into main, only those with the
// label and an approval (and no request for changes) are ready; drafts, other bases,
// closed ones and unapproved ones are not.
func TestReadyNeedsApprovalAndLabel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.srv
	pr := func(title, base, sha string, labels ...string) int {
		return s.SeedPull(repo, githubtest.Pull{User: "bob", Title: title, Base: base, HeadRef: "b/" + title, HeadSHA: sha, Labels: labels})
	}
	ready := pr("ready", "main", sha1st, "Crest-Merge", "security") // labels match in any case
	s.AddReview(repo, ready, "alice", "APPROVED")
	s.AddReview(repo, ready, "carol", "COMMENTED")
	unlabelled := pr("unlabelled", "main", sha2nd)
	s.AddReview(repo, unlabelled, "alice", "APPROVED")
	pr("unapproved", "main", sha2nd, label)
	blocked := pr("blocked", "main", sha2nd, label)
	s.AddReview(repo, blocked, "alice", "APPROVED")
	s.AddReview(repo, blocked, "dave", "CHANGES_REQUESTED")
	other := pr("other base", "staging", sha2nd, label)
	s.AddReview(repo, other, "alice", "APPROVED")
	draft := s.SeedPull(repo, githubtest.Pull{User: "bob", Title: "draft", Base: "main", HeadRef: "d", HeadSHA: sha2nd, Labels: []string{label}, Draft: true})
	s.AddReview(repo, draft, "alice", "APPROVED")
	closed := pr("closed", "main", sha2nd, label)
	s.AddReview(repo, closed, "alice", "APPROVED")
	s.ClosePull(repo, closed)
	s.SeedIssue(repo, "bob", "an issue with the label", "b", label)

	got, err := e.tr.Ready(t.Context(), "main", label)
	require.NoError(t, err)
	require.Equal(t, []tracker.PullRequest{{Repo: repo, Number: int64(ready), Title: "ready", Author: "bob", Base: "main", Head: sha1st,
		HeadRef: "b/ready", URL: fmt.Sprintf("https://github.com/%s/pull/%d", repo, ready), Labels: []string{"Crest-Merge", "security"},
		Approvers: []string{"alice"}}}, got)
	// Reviews are read for the labelled pull requests into main only.
	require.Equal(t, 3, e.srv.Count(http.MethodGet, "/repos/nixos/nixpkgs/pulls/"+fmt.Sprint(ready)+"/reviews")+
		e.srv.Count(http.MethodGet, fmt.Sprintf("/repos/nixos/nixpkgs/pulls/%d/reviews", blocked))+
		e.srv.Count(http.MethodGet, "/repos/nixos/nixpkgs/pulls/3/reviews"))
	require.Zero(t, e.srv.Count(http.MethodGet, fmt.Sprintf("/repos/nixos/nixpkgs/pulls/%d/reviews", unlabelled)))

	// Approving it makes the other one ready; a new push keeps the approval.
	s.AddReview(repo, 3, "alice", "APPROVED")
	s.PushPull(repo, ready, sha3rd)
	got, err = e.tr.Ready(t.Context(), "main", label)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, []int64{int64(ready), 3}, []int64{got[0].Number, got[1].Number})
	require.Equal(t, sha3rd, got[0].Head)

	_, err = e.tr.Ready(t.Context(), "main", " ")
	require.ErrorIs(t, err, tracker.ErrInvalid)
}

func TestReadyFollowsPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 130 {
		n := e.srv.SeedPull(repo, githubtest.Pull{User: "bob", Title: fmt.Sprint("pr ", i), Base: "main", HeadRef: "b", HeadSHA: sha1st, Labels: []string{label}})
		if i%2 == 0 {
			e.srv.AddReview(repo, n, "alice", "APPROVED")
		}
	}
	got, err := e.tr.Ready(t.Context(), "main", label)
	require.NoError(t, err)
	require.Len(t, got, 65)
	require.Equal(t, int64(129), got[64].Number)
}

// TestSetStatusOnce: setting the same status again posts nothing; a new state does.
func TestSetStatusOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.SeedPull(repo, githubtest.Pull{User: "bob", Title: "x", Base: "main", HeadRef: "x", HeadSHA: sha1st})
	ctx := t.Context()
	pending := tracker.CommitStatus{State: tracker.CommitPending, Context: tracker.QueueStatusContext, Description: "In the merge queue as change 3"}
	require.NoError(t, e.tr.SetStatus(ctx, sha1st, pending))
	// A failed post is retried in place: the second request lands.
	e.srv.ServerError(http.MethodPost, "/repos/nixos/nixpkgs/statuses/"+sha1st, http.StatusBadGateway, false)
	require.NoError(t, e.tr.SetStatus(ctx, sha1st, pending))
	require.NoError(t, e.tr.SetStatus(ctx, sha1st, tracker.CommitStatus{State: tracker.CommitPending, Context: "other-ci"}))
	require.NoError(t, e.tr.SetStatus(ctx, sha1st, pending), "another context in between changes nothing")
	long := tracker.CommitStatus{State: tracker.CommitSuccess, Context: tracker.QueueStatusContext, Description: strings.Repeat("é", 200)}
	require.NoError(t, e.tr.SetStatus(ctx, sha1st, long))
	require.NoError(t, e.tr.SetStatus(ctx, sha1st, long))
	got := e.srv.Statuses(repo, sha1st)
	require.Len(t, got, 3)
	require.Equal(t, "pending", got[0].State)
	require.Equal(t, "other-ci", got[1].Context)
	require.Equal(t, "success", got[2].State)
	require.LessOrEqual(t, len([]rune(got[2].Description)), tracker.MaxStatusDescription)

	require.ErrorIs(t, e.tr.SetStatus(ctx, "main", pending), tracker.ErrInvalid)
	require.ErrorIs(t, e.tr.SetStatus(ctx, sha1st, tracker.CommitStatus{State: "done", Context: "x"}), tracker.ErrInvalid)
	err := e.tr.SetStatus(ctx, sha2nd, pending)
	require.ErrorIs(t, err, tracker.ErrInvalid, "GitHub knows no such commit: 422")
	require.False(t, tracker.IsRetryable(err))
}

// TestCommentPullOnce: a keyed comment on a pull request is posted once, even when the
// first post failed after it took effect.
func TestCommentPullOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	n := e.srv.SeedPull(repo, githubtest.Pull{User: "bob", Title: "x", Base: "main", HeadRef: "x", HeadSHA: sha1st})
	path := fmt.Sprintf("/repos/nixos/nixpkgs/issues/%d/comments", n)
	e.srv.ServerError(http.MethodPost, path, http.StatusBadGateway, true)
	require.NoError(t, e.tr.CommentPull(t.Context(), int64(n), "crest-queue/change-1/merged", "Merged."))
	require.NoError(t, e.tr.CommentPull(t.Context(), int64(n), "crest-queue/change-1/merged", "Merged."))
	cs := e.srv.Issues(repo)[n-1].Comments
	require.Len(t, cs, 1)
	require.Contains(t, cs[0].Body, tracker.CommentMarker("crest-queue/change-1/merged"))
	require.ErrorIs(t, e.tr.CommentPull(t.Context(), 0, "k", "x"), tracker.ErrInvalid)
}

// TestPullsNoTokenLeaks runs the pull request paths, good and failing, against a server
// that quotes the Authorization header in its errors.
func TestPullsNoTokenLeaks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *github.Config) { c.MaxAttempts = 2 })
	e.srv.EchoCredentials(true)
	ctx := t.Context()
	n := e.srv.SeedPull(repo, githubtest.Pull{User: "bob", Title: "x", Base: "main", HeadRef: "x", HeadSHA: sha1st, Labels: []string{label}})
	e.srv.AddReview(repo, n, "alice", "APPROVED")

	var results []any
	e.srv.ServerError(http.MethodGet, "/repos/nixos/nixpkgs/pulls", http.StatusBadGateway, false)
	ready, err := e.tr.Ready(ctx, "main", label)
	require.NoError(t, err)
	results = append(results, ready)
	require.NoError(t, e.tr.SetStatus(ctx, sha1st, tracker.CommitStatus{State: tracker.CommitPending, Context: "c"}))
	require.NoError(t, e.tr.CommentPull(ctx, int64(n), "k", "body"))

	var errs []error
	for range 2 {
		e.srv.ServerError(http.MethodGet, fmt.Sprintf("/repos/nixos/nixpkgs/pulls/%d/reviews", n), http.StatusServiceUnavailable, false)
	}
	_, err = e.tr.Ready(ctx, "main", label)
	errs = append(errs, err)
	errs = append(errs, e.tr.SetStatus(ctx, sha2nd, tracker.CommitStatus{State: tracker.CommitPending, Context: "c"})) // 422
	e.srv.Inject(githubtest.Fault{Method: http.MethodPost, Status: http.StatusForbidden})
	errs = append(errs, e.tr.SetStatus(ctx, sha1st, tracker.CommitStatus{State: tracker.CommitSuccess, Context: "c"}))
	errs = append(errs, e.tr.CommentPull(ctx, 99, "k", "body")) // 404

	bad := newEnv(t, func(c *github.Config) { c.Token = "ghp_WrongCanary0d9e8f7a6b5c4d3e2f1aZZ" })
	bad.srv.EchoCredentials(true)
	_, err = bad.tr.Ready(ctx, "main", label)
	require.ErrorIs(t, err, tracker.ErrUnauthorized)
	errs = append(errs, err)
	limited := newEnv(t, func(c *github.Config) { c.MaxWait = 10 * time.Millisecond })
	limited.srv.EchoCredentials(true)
	limited.srv.ExhaustRateLimit(time.Now().Add(time.Hour))
	_, err = limited.tr.Ready(ctx, "main", label)
	require.ErrorIs(t, err, tracker.ErrRateLimited)
	errs = append(errs, err)

	for _, secret := range []string{canary, "ghp_WrongCanary0d9e8f7a6b5c4d3e2f1aZZ"} {
		for i, err := range errs {
			require.Error(t, err, "error %d", i)
			require.NotContains(t, fmt.Sprintf("%v %+v %#v", err, err, err), secret, "error %d", i)
			require.False(t, reaches(reflect.ValueOf(err), secret, map[uintptr]bool{}), "error %d holds the token: %v", i, err)
		}
		for i, v := range results {
			require.False(t, reaches(reflect.ValueOf(v), secret, map[uintptr]bool{}), "result %d holds the token", i)
		}
		for _, logs := range []string{e.logs.String(), bad.logs.String(), limited.logs.String()} {
			require.NotContains(t, logs, secret)
		}
	}
	require.Contains(t, e.logs.String(), "[redacted]", "echoed credentials were scrubbed, not absent")
}
