package activities_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/tracker"
	"github.com/crestwaves/crest/activities/tracker/github"
	"github.com/crestwaves/crest/activities/tracker/github/githubtest"
	"github.com/crestwaves/crest/activities/tracker/local"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/deploy/testenv"
)

const (
	ghRepo    = "crestwaves/demo"
	ghToken   = "ghp_IntakeCanary5e4d3c2b1a0f9e8d7c6bZZ"
	ghLabel   = "crest-merge"
	headOne   = "1111111111111111111111111111111111111111"
	headTwo   = "2222222222222222222222222222222222222222"
	headThree = "3333333333333333333333333333333333333333"
	headFour  = "4444444444444444444444444444444444444444"
)

// ghEnv is a fake GitHub with the demo's repository, the real adapter over it, and
// activities over a real Postgres.
type ghEnv struct {
	srv *githubtest.Server
	st  *store.Store
	a   *activities.Activities
}

func newGHEnv(t *testing.T, token string) *ghEnv {
	t.Helper()
	srv := githubtest.New(t, ghToken)
	srv.AddRepo(ghRepo)
	tr, err := github.New(github.Config{Repo: ghRepo, Token: github.Token(token), BaseURL: srv.URL(), MaxAttempts: 2,
		BackoffBase: 5 * time.Millisecond, BackoffMax: 10 * time.Millisecond, MaxWait: time.Second})
	require.NoError(t, err)
	st := testenv.Store(t)
	_, err = st.UpsertCollection(t.Context(), store.Collection{Name: "demo"})
	require.NoError(t, err)
	return &ghEnv{srv: srv, st: st, a: &activities.Activities{Store: st,
		Intake: &activities.PullIntake{Collection: "demo", Label: ghLabel, Pulls: tr}}}
}

func (e *ghEnv) pull(title, head string, approved bool, labels ...string) int {
	n := e.srv.SeedPull(ghRepo, githubtest.Pull{User: "bob", Title: title, Base: "main", HeadRef: "change/" + title, HeadSHA: head, Labels: labels})
	if approved {
		e.srv.AddReview(ghRepo, n, "alice", "APPROVED")
	}
	return n
}

// record does what the queue does with a submission: records the change at its head.
func (e *ghEnv) record(t *testing.T, s wire.QueuePullSubmission) store.QueueChange {
	t.Helper()
	c, err := e.st.SubmitChange(t.Context(), store.QueueChange{Key: s.Key, Collection: "demo", Branch: "main",
		Ref: fmt.Sprintf("refs/pull/%d/head", s.Pull.Number), Commit: s.Pull.Head, Title: s.Title, Labels: s.Labels,
		PullRepo: s.Pull.Repo, PullNumber: s.Pull.Number, PullURL: s.Pull.URL})
	require.NoError(t, err)
	return c
}

// TestQueuePullsTakesApprovedLabelled: only open pull requests with an approval and the
// label are planned; one recorded at its head is not planned again; approving another
// plans it; a worker without an intake for the collection plans nothing.
func TestQueuePullsTakesApprovedLabelled(t *testing.T) {
	t.Parallel()
	e := newGHEnv(t, ghToken)
	ctx := t.Context()
	ready := e.pull("ready", headOne, true, ghLabel)
	unapproved := e.pull("unapproved", headTwo, false, ghLabel)
	e.pull("unlabelled", headThree, true)
	blocked := e.pull("blocked", headFour, true, ghLabel)
	e.srv.AddReview(ghRepo, blocked, "carol", "CHANGES_REQUESTED")

	in := wire.QueuePullsInput{Collection: "demo", Branch: "main"}
	plan, err := e.a.QueuePulls(ctx, in)
	require.NoError(t, err)
	require.Equal(t, ghRepo, plan.Repo)
	require.Equal(t, 1, plan.Ready)
	require.Len(t, plan.Submit, 1)
	s := plan.Submit[0]
	require.Equal(t, fmt.Sprintf("pull:%s#%d@%s/main", ghRepo, ready, headOne), s.Key)
	require.Equal(t, wire.PullRequest{Repo: ghRepo, Number: int64(ready), Head: headOne, URL: fmt.Sprintf("https://github.com/%s/pull/%d", ghRepo, ready)}, s.Pull)
	require.Equal(t, []string{ghLabel}, s.Labels)
	e.record(t, s)

	plan, err = e.a.QueuePulls(ctx, in)
	require.NoError(t, err)
	require.Empty(t, plan.Submit, "recorded at its head: not submitted again")

	e.srv.AddReview(ghRepo, unapproved, "alice", "APPROVED")
	plan, err = e.a.QueuePulls(ctx, in)
	require.NoError(t, err)
	require.Len(t, plan.Submit, 1)
	require.Equal(t, int64(unapproved), plan.Submit[0].Pull.Number)

	// The label comes off the recorded one: its waiting change is to be withdrawn.
	e.srv.SetLabels(ghRepo, ready)
	plan, err = e.a.QueuePulls(ctx, in)
	require.NoError(t, err)
	require.Len(t, plan.Withdraw, 1)
	require.Contains(t, plan.Withdraw[0].Reason, fmt.Sprintf("pull request #%d is no longer open, approved and labelled %s", ready, ghLabel))

	plan, err = e.a.QueuePulls(ctx, wire.QueuePullsInput{Collection: "other", Branch: "main"})
	require.NoError(t, err)
	require.Equal(t, wire.QueuePullsResult{}, plan)
}

// TestQueuePullsBadTokenLeaksNothing: GitHub refusing the token is a permanent error that
// names the trouble and never the token, even from a server that echoes credentials.
func TestQueuePullsBadTokenLeaksNothing(t *testing.T) {
	t.Parallel()
	const wrong = "ghp_WrongIntakeCanary9a8b7c6d5e4f3a2bZZ"
	e := newGHEnv(t, wrong)
	e.srv.EchoCredentials(true)
	_, err := e.a.QueuePulls(t.Context(), wire.QueuePullsInput{Collection: "demo", Branch: "main"})
	require.ErrorContains(t, err, "unauthorized")
	for _, secret := range []string{wrong, ghToken} {
		require.NotContains(t, fmt.Sprintf("%v %+v %#v", err, err, err), secret)
	}
}

// evidence is what QueueFinishBatch records for an ejected change.
func evidence(t *testing.T, culprit string) json.RawMessage {
	t.Helper()
	ev := map[string]any{
		"reason":  "change " + culprit + " breaks libhttp",
		"verdict": map[string]any{"done": true, "culprit": culprit, "broke": []string{"libhttp"}, "rounds": 1, "reason": "breaks libhttp"},
		"failures": []map[string]any{{"package": "libhttp", "status": "failed",
			"log_tail": "gcc -o libhttp http.o -lnet\nhttp.c:12: undefined reference to 'net_connect'\ncollect2: error: ld returned 1 exit status"}},
		"probes": []map[string]any{
			{"batch_id": 1, "round": 1, "kind": "base", "prefix": 0, "commit": headOne, "packages": []string{"libhttp"}, "done": true},
			{"batch_id": 1, "round": 1, "kind": "rebuild", "prefix": 1, "commit": headTwo, "packages": []string{"libhttp"}, "failed": []string{"libhttp"}, "done": true},
		},
	}
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	return b
}

// TestQueueReportPostsOnce: pending on entry, then success for the merged change, failure
// with the failed package and its log for the ejected one, failure for the conflict; each
// comment once and no status twice, however often the report runs; a failed delivery is
// retried by the next run; one GitHub refuses for good is given up.
func TestQueueReportPostsOnce(t *testing.T) {
	t.Parallel()
	e := newGHEnv(t, ghToken)
	ctx := t.Context()
	var changes []store.QueueChange
	for i, head := range []string{headOne, headTwo, headThree, headFour} {
		n := e.pull(fmt.Sprint("pr", i+1), head, true, ghLabel)
		changes = append(changes, e.record(t, wire.QueuePullSubmission{Key: fmt.Sprintf("pull:%s#%d@%s", ghRepo, n, head),
			Pull: wire.PullRequest{Repo: ghRepo, Number: int64(n), Head: head}, Title: fmt.Sprint("pr", i+1)}))
	}
	in := wire.QueueReportInput{Collection: "demo", Branch: "main"}
	res, err := e.a.QueueReport(ctx, in)
	require.NoError(t, err)
	require.Equal(t, wire.QueueReportResult{Reported: 4}, res)
	for i, head := range []string{headOne, headTwo, headThree, headFour} {
		require.Equal(t, []githubtest.Status{{State: "pending", Context: tracker.QueueStatusContext,
			Description: fmt.Sprintf("In the merge queue of main as change %d", changes[i].ID)}}, e.srv.Statuses(ghRepo, head))
	}

	merged, ejected, conflict, withdrawn := changes[0], changes[1], changes[2], changes[3]
	b, err := e.st.StartBatch(ctx, "demo", store.QueueBatch{Key: "b1", Branch: "main", Lane: "fast",
		Members: []int64{merged.ID, ejected.ID}, CandidateCommit: "c0ffee0000000000000000000000000000000000"})
	require.NoError(t, err)
	require.NoError(t, e.st.FinishBatch(ctx, store.BatchOutcome{BatchID: b.ID, State: "failed", Requeued: []int64{merged.ID},
		Ejected: []store.Ejection{{ID: ejected.ID, Reason: "breaks libhttp", Evidence: evidence(t, fmt.Sprint(ejected.ID))}}}))
	b2, err := e.st.StartBatch(ctx, "demo", store.QueueBatch{Key: "b2", Branch: "main", Lane: "fast",
		Members: []int64{merged.ID}, CandidateCommit: "feedface00000000000000000000000000000000"})
	require.NoError(t, err)
	require.NoError(t, e.st.FinishBatch(ctx, store.BatchOutcome{BatchID: b2.ID, State: "merged", Merged: []int64{merged.ID},
		Reason: "feedface0000 built green (1 packages); main fast-forwarded to it"}))
	require.NoError(t, e.st.FinishBatch(ctx, store.BatchOutcome{State: "conflict", Reason: "x",
		Ejected: []store.Ejection{{ID: conflict.ID, Reason: "change does not merge onto main: conflicts in pkgs/calc.nix",
			Evidence: json.RawMessage(`{"reason": "change does not merge onto main: conflicts in pkgs/calc.nix", "verdict": {"done": false, "rounds": 0, "reason": ""}}`)}}}))
	require.NoError(t, e.st.WithdrawChange(ctx, withdrawn.ID, "withdrawn by crest-intake: closed"))

	// The withdrawn one's status fails twice (both attempts): it is tried again next run.
	statuses := "/repos/" + ghRepo + "/statuses/" + headFour
	e.srv.ServerError(http.MethodPost, statuses, http.StatusBadGateway, false)
	e.srv.ServerError(http.MethodPost, statuses, http.StatusBadGateway, false)
	res, err = e.a.QueueReport(ctx, in)
	require.NoError(t, err)
	require.Equal(t, 3, res.Reported)
	require.Equal(t, 1, res.Failed)
	require.Contains(t, res.Error, fmt.Sprintf("change %d: github: status: unavailable (502)", withdrawn.ID))
	c, err := e.st.QueueChange(ctx, withdrawn.ID)
	require.NoError(t, err)
	require.Contains(t, c.ReportError, "unavailable")

	last := func(head string) githubtest.Status {
		sts := e.srv.Statuses(ghRepo, head)
		return sts[len(sts)-1]
	}
	require.Equal(t, "success", last(headOne).State)
	require.Equal(t, "Merged into main at feedface0000, built green", last(headOne).Description)
	require.Equal(t, "failure", last(headTwo).State)
	require.Equal(t, "Ejected: breaks libhttp", last(headTwo).Description)
	require.Equal(t, "failure", last(headThree).State)
	require.Equal(t, "Cannot be merged: change does not merge onto main: conflicts in pkgs/calc.nix", last(headThree).Description)
	require.Equal(t, "pending", last(headFour).State)

	res, err = e.a.QueueReport(ctx, in)
	require.NoError(t, err)
	require.Equal(t, wire.QueueReportResult{Reported: 1}, res, "the failed one, delivered now")
	require.Equal(t, "error", last(headFour).State)
	posts := len(e.srv.Requests())
	res, err = e.a.QueueReport(ctx, in)
	require.NoError(t, err)
	require.Equal(t, wire.QueueReportResult{}, res)
	require.Equal(t, posts, len(e.srv.Requests()), "nothing left to say: not even a request")

	issues := e.srv.Issues(ghRepo)
	comments := func(i int) []string {
		var out []string
		for _, c := range issues[i].Comments {
			out = append(out, c.Body)
		}
		return out
	}
	require.Len(t, comments(0), 1)
	require.Contains(t, comments(0)[0], "**Merged.**")
	require.Contains(t, comments(0)[0], tracker.CommentMarker(fmt.Sprintf("crest-queue/change-%d/merged", merged.ID)))
	require.Len(t, comments(1), 1)
	require.Contains(t, comments(1)[0], "**Ejected.**")
	require.Contains(t, comments(1)[0], "`libhttp` fails to build")
	require.Contains(t, comments(1)[0], "undefined reference to 'net_connect'")
	require.Contains(t, comments(1)[0], "push to this pull request")
	require.Len(t, comments(2), 1)
	require.Contains(t, comments(2)[0], "**Cannot be merged.**")
	require.Len(t, comments(3), 1)
	require.Contains(t, comments(3)[0], "**Withdrawn.**")
	for i := range 4 {
		require.Len(t, e.srv.Statuses(ghRepo, []string{headOne, headTwo, headThree, headFour}[i]), 2, "pending, then the outcome, once")
	}

	// A pull request GitHub does not know (deleted): given up, not tried forever.
	gone, err := e.st.SubmitChange(ctx, store.QueueChange{Key: "pull:gone", Collection: "demo", Branch: "main", Ref: "refs/pull/99/head",
		Commit: headOne, PullRepo: ghRepo, PullNumber: 99})
	require.NoError(t, err)
	require.NoError(t, e.st.WithdrawChange(ctx, gone.ID, "withdrawn by alice"))
	res, err = e.a.QueueReport(ctx, in)
	require.NoError(t, err)
	require.Equal(t, 1, res.Failed)
	res, err = e.a.QueueReport(ctx, in)
	require.NoError(t, err)
	require.Equal(t, wire.QueueReportResult{}, res)
	c, err = e.st.QueueChange(ctx, gone.ID)
	require.NoError(t, err)
	require.Contains(t, c.ReportError, "not found")
	require.Equal(t, "withdrawn", c.Reported)
}

// TestQueueReportLocalIssue: in crest dev, a change submitted by ref is followed by a local
// issue: opened while it waits, closed with the result (completed when merged), once.
func TestQueueReportLocalIssue(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := testenv.Store(t)
	_, err := st.UpsertCollection(ctx, store.Collection{Name: "demo"})
	require.NoError(t, err)
	a := &activities.Activities{Store: st, QueueIssues: local.New(st, local.Options{})}
	c, err := st.SubmitChange(ctx, store.QueueChange{Key: "cli-1", Collection: "demo", Branch: "main", Ref: "fix/calc-precision",
		Commit: headOne, Title: "calc: print 3 decimals"})
	require.NoError(t, err)
	in := wire.QueueReportInput{Collection: "demo", Branch: "main"}
	res, err := a.QueueReport(ctx, in)
	require.NoError(t, err)
	require.Equal(t, 1, res.Reported)
	c, err = st.QueueChange(ctx, c.ID)
	require.NoError(t, err)
	require.NotZero(t, c.ReportIssue)
	is, err := st.LocalIssue(ctx, c.ReportIssue)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("queue: change %d (fix/calc-precision) into main: calc: print 3 decimals", c.ID), is.Title)
	require.Equal(t, "open", is.State)
	require.Contains(t, is.Body, "**Queued.**")

	b, err := st.StartBatch(ctx, "demo", store.QueueBatch{Key: "b1", Branch: "main", Lane: "fast", Members: []int64{c.ID}, CandidateCommit: headTwo})
	require.NoError(t, err)
	require.NoError(t, st.FinishBatch(ctx, store.BatchOutcome{BatchID: b.ID, State: "merged", Merged: []int64{c.ID}, Reason: "built green"}))
	for range 2 {
		_, err = a.QueueReport(ctx, in)
		require.NoError(t, err)
	}
	is, err = st.LocalIssue(ctx, c.ReportIssue)
	require.NoError(t, err)
	require.Equal(t, "closed", is.State)
	require.Equal(t, "completed", is.CloseReason)
	cs, err := st.LocalComments(ctx, c.ReportIssue)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	require.Contains(t, cs[0].Body, "**Merged.**")
	require.Contains(t, cs[0].Body, headTwo)
	issues, err := st.LocalIssues(ctx, "")
	require.NoError(t, err)
	require.Len(t, issues, 1, "one issue per change")
}

// TestPullHeadReachesEveryWorker: a pull request's head is reachable only from
// refs/pull/N/head. The worker that takes the submission fetches it and records the
// approved head; another worker (its own clone) making a candidate fetches it too. A head
// the remote does not have, or a ref it does not have, is refused with a clear message.
func TestPullHeadReachesEveryWorker(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d, err := demo.Create(ctx, filepath.Join(t.TempDir(), "demo"))
	require.NoError(t, err)
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"--git-dir", d.Remote}, args...)...).CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
		return strings.TrimSpace(string(out))
	}
	main := d.Commits[d.Main]
	head := git("-c", "user.name=bob", "-c", "user.email=bob@example.org", "commit-tree", main+"^{tree}", "-p", main, "-m", "a change only a pull request has")
	git("update-ref", "refs/pull/5/head", head)

	st := testenv.Store(t)
	worker := func() *activities.Activities {
		return &activities.Activities{Store: st, Repos: &activities.Repos{Dir: t.TempDir()}}
	}
	a, b := worker(), worker()
	require.NoError(t, a.RegisterCollection(ctx, wire.Collection{Name: "demo", Remote: d.Remote, Evaluator: "index.nix",
		Systems: []string{"x86_64-linux"}, TagPrefix: "wave", MainBranch: d.Main}))
	pull := &wire.PullRequest{Repo: ghRepo, Number: 5, Head: head}
	res, err := a.QueueSubmit(ctx, wire.QueueSubmitInput{Key: "k1", Collection: "demo", Branch: d.Main, Ref: "refs/pull/5/head", Pull: pull})
	require.NoError(t, err)
	require.Equal(t, head, res.Commit)
	c, err := st.QueueChange(ctx, res.ID)
	require.NoError(t, err)
	require.Equal(t, int64(5), c.PullNumber)

	cand, err := b.QueueCandidate(ctx, wire.QueueCandidateInput{Collection: "demo", Branch: d.Main, Key: "batch-1",
		Changes: []wire.QueueRef{{ID: res.ID, Commit: head}}})
	require.NoError(t, err)
	require.Zero(t, cand.Conflict, cand.Reason)
	require.NoError(t, exec.Command("git", "--git-dir", d.Remote, "merge-base", "--is-ancestor", head, cand.Commit).Run(),
		"the candidate pushed by the other worker has the pull request's head")

	_, err = a.QueueSubmit(ctx, wire.QueueSubmitInput{Key: "k2", Collection: "demo", Branch: d.Main, Ref: "refs/pull/6/head",
		Pull: &wire.PullRequest{Repo: ghRepo, Number: 6, Head: head}})
	require.ErrorContains(t, err, "pull request "+ghRepo+"#6: refs/pull/6/head not found in")
	_, err = a.QueueSubmit(ctx, wire.QueueSubmitInput{Key: "k3", Collection: "demo", Branch: d.Main, Ref: "refs/pull/5/head",
		Pull: &wire.PullRequest{Repo: ghRepo, Number: 5, Head: headFour}})
	require.ErrorContains(t, err, "its approved head 444444444444 is not in")
}

// fakeQueues stands in for the merge queue's updates.
type fakeQueues struct {
	submitted []wire.QueueSubmission
	withdrawn []int64
	refuse    error // what Submit answers, when set
}

func (f *fakeQueues) Submit(_ context.Context, s wire.QueueSubmission) (wire.QueueSubmitResult, error) {
	f.submitted = append(f.submitted, s)
	if f.refuse != nil {
		return wire.QueueSubmitResult{}, f.refuse
	}
	return wire.QueueSubmitResult{ID: 42, Commit: s.Pull.Head}, nil
}

func (f *fakeQueues) Withdraw(_ context.Context, _, _, _ string, id int64, _, _ string) error {
	f.withdrawn = append(f.withdrawn, id)
	return nil
}

// refusedBy is how workflows.QueueClient answers a refusal: the queue's words, matching
// wire.ErrRefused.
type refusedBy string

func (r refusedBy) Error() string        { return string(r) }
func (r refusedBy) Is(target error) bool { return target == wire.ErrRefused }

// TestQueueSubmitPull: a submission goes to the queue as the pull request's head ref with
// its key as update ID, after withdrawing the older head's waiting change (not again when
// a retry finds it withdrawn); a refusal is told on the pull request once, and returned.
func TestQueueSubmitPull(t *testing.T) {
	t.Parallel()
	e := newGHEnv(t, ghToken)
	ctx := t.Context()
	q := &fakeQueues{}
	e.a.Queues = q
	n := e.pull("x", headTwo, true, ghLabel)
	old := e.record(t, wire.QueuePullSubmission{Key: "old", Pull: wire.PullRequest{Repo: ghRepo, Number: int64(n), Head: headOne}})
	in := wire.QueueSubmitPullInput{Collection: "demo", Branch: "main", Queue: "demo/queue/main",
		QueuePullSubmission: wire.QueuePullSubmission{Key: "k", Pull: wire.PullRequest{Repo: ghRepo, Number: int64(n), Head: headTwo},
			Title: "x", Author: "bob", Labels: []string{ghLabel, "security"}, Replaces: old.ID}}
	res, err := e.a.QueueSubmitPull(ctx, in)
	require.NoError(t, err)
	require.Equal(t, wire.QueueSubmitPullResult{ID: 42, Commit: headTwo}, res)
	require.Equal(t, []int64{old.ID}, q.withdrawn)
	require.Equal(t, []wire.QueueSubmission{{Collection: "demo", Branch: "main", WorkflowID: "demo/queue/main", UpdateID: "k",
		Ref: fmt.Sprintf("refs/pull/%d/head", n), Title: "x", Labels: []string{ghLabel, "security"}, By: "github:bob", Pull: &in.Pull}}, q.submitted)

	require.NoError(t, e.st.WithdrawChange(ctx, old.ID, "withdrawn by "+activities.IntakeBy+": moved on"))
	_, err = e.a.QueueSubmitPull(ctx, in)
	require.NoError(t, err)
	require.Equal(t, []int64{old.ID}, q.withdrawn, "a retry finds it withdrawn already")

	q.refuse = refusedBy(fmt.Sprintf("pull request %s#%d: refs/pull/%d/head not found in /srv/demo.git", ghRepo, n, n))
	in.Replaces = 0
	for range 2 {
		res, err = e.a.QueueSubmitPull(ctx, in)
		require.NoError(t, err)
		require.Contains(t, res.Refused, "not found in /srv/demo.git")
	}
	cs := e.srv.Issues(ghRepo)[n-1].Comments
	require.Len(t, cs, 1, "told once")
	require.Contains(t, cs[0].Body, "**Not queued.**")
	sts := e.srv.Statuses(ghRepo, headTwo)
	require.Len(t, sts, 1)
	require.Equal(t, "error", sts[0].State)
	require.LessOrEqual(t, len([]rune(sts[0].Description)), tracker.MaxStatusDescription)

	e.a.Queues = nil
	_, err = e.a.QueueSubmitPull(ctx, in)
	require.ErrorContains(t, err, "cannot reach merge queues")
}
