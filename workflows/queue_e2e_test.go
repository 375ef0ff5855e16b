package workflows_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/tracker"
	"github.com/crestwaves/crest/activities/tracker/github"
	"github.com/crestwaves/crest/activities/tracker/github/githubtest"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/workflows"
)

// startQueue starts the merge queue of the demo's main branch with settings (JSON).
func (s *stack) startQueue(settings string) string {
	s.t.Helper()
	return s.startQueueOn(demo.MainBranch, settings)
}

// startQueueOn starts the merge queue of a branch of the demo with settings (JSON).
func (s *stack) startQueueOn(branch, settings string) string {
	s.t.Helper()
	return s.startQueueWith(branch, settings, s.limits)
}

// startQueueWith starts the merge queue of a branch of the demo with settings (JSON) and
// limits.
func (s *stack) startQueueWith(branch, settings string, limits workflows.Limits) string {
	s.t.Helper()
	// The queue never ends: each test has its own, on the Temporal server the package's
	// tests share, and stops it when it is done.
	id := workflows.QueueWorkflowID("demo", branch) + "/" + s.t.Name()
	_, err := s.c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: s.queue}, workflows.MergeQueue,
		workflows.MergeQueueInput{Collection: "demo", Branch: branch, Settings: json.RawMessage(settings), Limits: limits})
	require.NoError(s.t, err)
	s.t.Cleanup(func() { _ = s.c.TerminateWorkflow(context.Background(), id, "", "test over") })
	return id
}

// submit sends the Submit update to a queue.
func (s *stack) submit(id string, r workflows.SubmitRequest) (workflows.SubmitResult, error) {
	s.t.Helper()
	h, err := s.c.UpdateWorkflow(context.Background(), client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: workflows.UpdateSubmit, Args: []any{r}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return workflows.SubmitResult{}, err
	}
	var out workflows.SubmitResult
	err = h.Get(context.Background(), &out)
	return out, err
}

// waitChanges polls the queue's changes in Postgres until cond holds.
func (s *stack) waitChanges(what string, cond func(map[int64]store.QueueChange) bool) map[int64]store.QueueChange {
	s.t.Helper()
	return s.waitChangesOn(demo.MainBranch, what, cond)
}

// waitChangesOn polls the changes of a branch's queue in Postgres until cond holds.
func (s *stack) waitChangesOn(branch, what string, cond func(map[int64]store.QueueChange) bool) map[int64]store.QueueChange {
	s.t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		cs, err := s.st.QueueChanges(context.Background(), "demo", branch)
		require.NoError(s.t, err)
		byID := map[int64]store.QueueChange{}
		for _, c := range cs {
			byID[c.ID] = c
		}
		if cond(byID) {
			return byID
		}
		require.True(s.t, time.Now().Before(deadline), "timed out waiting for %s: %+v", what, cs)
		time.Sleep(250 * time.Millisecond)
	}
}

// remoteHead is the commit the demo remote's branch points at.
func (s *stack) remoteHead(branch string) string {
	s.t.Helper()
	out, err := exec.Command("git", "--git-dir", s.demo.Remote, "rev-parse", "refs/heads/"+branch).Output()
	require.NoError(s.t, err)
	return strings.TrimSpace(string(out))
}

// TestQueueEjectsCulpritEndToEnd: three small changes are batched into one candidate
// commit; libnet 2 breaks libhttp, so the candidate is red. The bisection builds only
// libhttp at each probe (base, rebuild, two prefixes: one round), ejects libnet 2 with the
// log line and the probes as evidence, and the two good changes merge in a batch of their
// own: main ends at exactly that batch's candidate, which built green.
func TestQueueEjectsCulpritEndToEnd(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	// A window of three (halved to two on red) that waits an hour: the first batch is the
	// three changes, the second the two good ones.
	id := s.startQueue(`{"window_start": 3, "window_min": 2, "max_wait": "1h"}`)
	good1, err := s.submit(id, workflows.SubmitRequest{Ref: demo.FixCalcPrecision, Title: "calc: print 3 decimals", By: "alice"})
	require.NoError(t, err)
	culprit, err := s.submit(id, workflows.SubmitRequest{Ref: demo.UpdateLibnet2, Title: "libnet 2", By: "bob"})
	require.NoError(t, err)
	good2, err := s.submit(id, workflows.SubmitRequest{Ref: demo.FixPkgtoolLibcrypto3, Title: "pkgtool: SHA-256", By: "carol"})
	require.NoError(t, err)

	final := func(c store.QueueChange) bool {
		return c.State == store.QueueMerged || c.State == store.QueueEjected
	}
	cs := s.waitChanges("every change merged or ejected", func(m map[int64]store.QueueChange) bool {
		return len(m) == 3 && final(m[good1.ID]) && final(m[good2.ID]) && final(m[culprit.ID])
	})
	require.Equal(t, store.QueueMerged, cs[good1.ID].State, cs[good1.ID].Reason)
	require.Equal(t, store.QueueMerged, cs[good2.ID].State, cs[good2.ID].Reason)
	require.Equal(t, store.QueueEjected, cs[culprit.ID].State)
	require.Contains(t, cs[culprit.ID].Reason, "breaks libhttp")
	for _, c := range cs {
		require.Equal(t, "fast", c.Lane, c.LaneReason)
	}

	// The evidence: the broken package with its log line, and the probes with their commits.
	var ev struct {
		Failures []store.FailedPackage `json:"failures"`
		Probes   []store.QueueProbe    `json:"probes"`
	}
	require.NoError(t, json.Unmarshal(cs[culprit.ID].Evidence, &ev))
	require.Len(t, ev.Failures, 1)
	require.Equal(t, "libhttp", ev.Failures[0].Package)
	require.Contains(t, ev.Failures[0].LogTail, "undefined reference to 'net_connect'")
	require.NotEmpty(t, ev.Probes)

	batches, err := s.st.QueueBatches(ctx, "demo", demo.MainBranch)
	require.NoError(t, err)
	require.Len(t, batches, 2, "one red batch of three, one green batch of the two good changes")
	red, green := batches[0], batches[1]
	require.Equal(t, []int64{good1.ID, culprit.ID, good2.ID}, red.Members)
	require.Equal(t, "failed", red.State)
	require.Equal(t, []int64{good1.ID, good2.ID}, green.Members)
	require.Equal(t, "merged", green.State)

	// main is exactly the green candidate, and that candidate's build had no failure.
	require.Equal(t, green.CandidateCommit, s.remoteHead(demo.MainBranch))
	fails, err := s.st.RoundFailures(ctx, green.MinorWaveID, "x86_64-linux")
	require.NoError(t, err)
	require.Empty(t, fails)
	redFails, err := s.st.RoundFailures(ctx, red.MinorWaveID, "x86_64-linux")
	require.NoError(t, err)
	require.NotEmpty(t, redFails)

	// The probes built only the failed package: libhttp, once per probe.
	probes, err := s.st.QueueProbes(ctx, red.ID)
	require.NoError(t, err)
	require.Len(t, probes, 4, "one round: base, rebuild and two prefixes")
	probeBuilds := 0
	for _, p := range probes {
		require.True(t, p.Done)
		require.Equal(t, []string{"libhttp"}, p.Packages, "probe %s %d", p.Kind, p.Prefix)
		spans, err := s.st.BuildSpans(ctx, p.MinorWaveID)
		require.NoError(t, err)
		require.Len(t, spans, 1)
		require.Contains(t, spans, "libhttp")
		probeBuilds += len(spans)
		wantFail := p.Kind == "rebuild" || p.Prefix >= 2
		require.Equal(t, wantFail, slices.Contains(p.Failed, "libhttp"), "probe %s %d", p.Kind, p.Prefix)
	}
	stats, err := s.st.QueueStatsOf(ctx, "demo", demo.MainBranch)
	require.NoError(t, err)
	require.Equal(t, 4, probeBuilds)
	require.Equal(t, probeBuilds, stats.ProbeBuilds)
	require.Equal(t, 2, stats.Merged)
	require.Equal(t, 1, stats.Ejected)
	t.Logf("queue stats: %+v", stats)

	// The waves list knows nothing of the queue's build rounds.
	waves, err := s.st.Waves(ctx, "demo")
	require.NoError(t, err)
	require.Empty(t, waves)
}

// TestQueueLanesEndToEnd: an unknown ref is refused before anything is recorded; a mass
// rebuild (libcore 2 rc1: 39 rebuilds, over this queue's mass_rebuild of 30) is handed to
// the next major wave (this queue's wave_lane is hand-off); a security fix bypasses the batching a small change waits in, and
// merges alone; the small change can then be withdrawn.
func TestQueueLanesEndToEnd(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	id := s.startQueue(`{"window_start": 8, "max_wait": "1h", "consider_staging": 20, "mass_rebuild": 30, "wave_lane": "hand-off"}`)

	_, err := s.submit(id, workflows.SubmitRequest{Ref: "change/does-not-exist"})
	require.ErrorContains(t, err, `ref "change/does-not-exist" not found`)
	_, err = s.submit(id, workflows.SubmitRequest{Ref: " "})
	require.ErrorContains(t, err, "a change needs a ref")

	small, err := s.submit(id, workflows.SubmitRequest{Ref: demo.FixCalcPrecision, Title: "calc"})
	require.NoError(t, err)
	mass, err := s.submit(id, workflows.SubmitRequest{Ref: demo.UpdateLibcore2RC1, Title: "libcore 2 rc1"})
	require.NoError(t, err)
	security, err := s.submit(id, workflows.SubmitRequest{Ref: demo.FixLibhttpLibnet2, Title: "libhttp: net_dial", Labels: []string{"security"}})
	require.NoError(t, err)

	cs := s.waitChanges("the security fix merged", func(m map[int64]store.QueueChange) bool {
		return m[security.ID].State == store.QueueMerged && m[mass.ID].State == store.QueueHandedToWave && m[small.ID].Lane != ""
	})
	require.Len(t, cs, 3, "the refused submissions recorded nothing")
	require.Equal(t, "wave", cs[mass.ID].Lane)
	require.Equal(t, 39, cs[mass.ID].Rebuilds)
	require.Contains(t, cs[mass.ID].Reason, "handed to the next major wave")
	require.Contains(t, cs[mass.ID].LaneReason, "mass rebuild")
	require.Equal(t, "priority", cs[security.ID].Lane)
	require.Equal(t, "fast", cs[small.ID].Lane)
	require.Equal(t, store.QueueQueued, cs[small.ID].State, "the small change still waits for a fuller batch")

	batches, err := s.st.QueueBatches(ctx, "demo", demo.MainBranch)
	require.NoError(t, err)
	require.Len(t, batches, 1)
	require.Equal(t, []int64{security.ID}, batches[0].Members, "the security fix is built alone")
	require.Equal(t, "priority", batches[0].Lane)
	require.Equal(t, batches[0].CandidateCommit, s.remoteHead(demo.MainBranch))

	v, err := s.c.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
	require.NoError(t, err)
	var st workflows.QueueStatus
	require.NoError(t, v.Get(&st))
	require.Equal(t, 1, st.Merged)
	require.Equal(t, 1, st.Handed)
	require.Len(t, st.Waiting, 1)
	require.Equal(t, small.ID, st.Waiting[0].ID)

	h, err := s.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: workflows.UpdateWithdraw,
		Args: []any{workflows.WithdrawRequest{ID: small.ID, By: "alice", Reason: "superseded"}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	require.NoError(t, err)
	require.NoError(t, h.Get(ctx, nil))
	h, err = s.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: workflows.UpdateWithdraw,
		Args: []any{workflows.WithdrawRequest{ID: security.ID}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	require.NoError(t, err)
	require.ErrorContains(t, h.Get(ctx, nil), "is not waiting")
	c, err := s.st.QueueChange(ctx, small.ID)
	require.NoError(t, err)
	require.Equal(t, store.QueueWithdrawn, c.State)
	require.Contains(t, c.Reason, "superseded")
}

// TestQueuePreexistingFailureEjectsNobody: on the branch update/libnet-2, libhttp already
// fails. libcore 2 rc1 rebuilds libhttp among 39 packages, so its candidate fails there
// too; the bisection's first round builds libhttp on the head (it fails: pre-existing) and
// again on the candidate (it fails: not flaky), so nobody is at fault: the change is not
// ejected, and since the candidate fails nothing the head does not, the branch moves to it
// with the pre-existing failure reported.
func TestQueuePreexistingFailureEjectsNobody(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	branch := demo.UpdateLibnet2
	id := s.startQueueOn(branch, `{"window_start": 1, "max_wait": "1s"}`)
	c, err := s.submit(id, workflows.SubmitRequest{Ref: demo.UpdateLibcore2RC1, Title: "libcore 2 rc1"})
	require.NoError(t, err)
	cs := s.waitChangesOn(branch, "the change settled", func(m map[int64]store.QueueChange) bool {
		return m[c.ID].State == store.QueueMerged || m[c.ID].State == store.QueueEjected
	})
	require.Equal(t, store.QueueMerged, cs[c.ID].State, cs[c.ID].Reason)
	require.Contains(t, cs[c.ID].Reason, "pre-existing (also fail on the base): libhttp")
	require.Empty(t, cs[c.ID].Evidence)

	batches, err := s.st.QueueBatches(ctx, "demo", branch)
	require.NoError(t, err)
	require.Len(t, batches, 1)
	require.Equal(t, batches[0].CandidateCommit, s.remoteHead(branch))
	probes, err := s.st.QueueProbes(ctx, batches[0].ID)
	require.NoError(t, err)
	require.Len(t, probes, 2, "base and rebuild: a batch of one needs no prefix")
	for _, p := range probes {
		require.Equal(t, []string{"libhttp"}, p.Packages)
		require.Equal(t, []string{"libhttp"}, p.Failed, "probe %s", p.Kind)
	}
}

// TestQueuePullRequestsEndToEnd: pull requests on the fake GitHub (real HTTP, real
// go-github), whose heads are in the demo remote as refs/pull/N/head as GitHub publishes
// them, go through the intake into the queue: the two approved and labelled ones, not the
// unapproved one. calc's fix merges, and its head's status ends in success after pending;
// libnet 2 breaks libhttp and is ejected: failure, and one comment naming libhttp with the
// log line. Polls after that post nothing more.
func TestQueuePullRequestsEndToEnd(t *testing.T) {
	const (
		repo  = "crestwaves/demo"
		token = "ghp_QueueE2ECanary1a2b3c4d5e6f7a8b9cZZ"
		label = "crest-merge"
	)
	srv := githubtest.New(t, token)
	srv.AddRepo(repo)
	s := newStack(t, func(s *stack) {
		pulls, err := github.New(github.Config{Repo: repo, Token: token, BaseURL: srv.URL()})
		require.NoError(t, err)
		s.acts.Intake = &activities.PullIntake{Collection: "demo", Label: label, Pulls: pulls}
		s.acts.Queues = workflows.QueueClient{Client: s.c, TaskQueue: s.queue, Limits: s.limits}
	})
	ctx := context.Background()
	pull := func(branch string, approved bool) (int, string) {
		head := s.demo.Commits[branch]
		n := srv.SeedPull(repo, githubtest.Pull{User: "bob", Title: branch, Base: demo.MainBranch, HeadRef: branch, HeadSHA: head, Labels: []string{label}})
		if approved {
			srv.AddReview(repo, n, "alice", "APPROVED")
		}
		out, err := exec.Command("git", "--git-dir", s.demo.Remote, "update-ref", fmt.Sprintf("refs/pull/%d/head", n), head).CombinedOutput()
		require.NoError(t, err, "%s", out)
		return n, head
	}
	goodPR, good := pull(demo.FixCalcPrecision, true)
	badPR, bad := pull(demo.UpdateLibnet2, true)
	pull(demo.FixPkgtoolLibcrypto3, false)

	id := s.startQueue(`{"window_start": 1, "window_min": 1, "max_wait": "1s"}`)
	intake := workflows.QueueIntakeWorkflowID(id)
	_, err := s.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: intake, TaskQueue: s.queue}, workflows.QueueIntake,
		workflows.QueueIntakeInput{Collection: "demo", Branch: demo.MainBranch, Queue: id, Every: workflows.Duration(2 * time.Second)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.c.TerminateWorkflow(context.Background(), intake, "", "test over") })

	cs := s.waitChanges("both pull requests settled", func(m map[int64]store.QueueChange) bool {
		settled := 0
		for _, c := range m {
			if c.State == store.QueueMerged || c.State == store.QueueEjected {
				settled++
			}
		}
		return settled == 2
	})
	require.Len(t, cs, 2, "the unapproved pull request stays out")
	byPull := map[int64]store.QueueChange{}
	for _, c := range cs {
		require.Equal(t, repo, c.PullRepo)
		require.Equal(t, fmt.Sprintf("refs/pull/%d/head", c.PullNumber), c.Ref)
		byPull[c.PullNumber] = c
	}
	merged, ejected := byPull[int64(goodPR)], byPull[int64(badPR)]
	require.Equal(t, store.QueueMerged, merged.State, merged.Reason)
	require.Equal(t, good, merged.Commit, "the approved head")
	require.Equal(t, store.QueueEjected, ejected.State, ejected.Reason)
	require.Equal(t, bad, ejected.Commit)
	require.Equal(t, merged.Candidate, s.remoteHead(demo.MainBranch))

	// The results go back: a status on each head, pending first; one comment each.
	last := func(head string) githubtest.Status {
		sts := srv.Statuses(repo, head)
		if len(sts) == 0 {
			return githubtest.Status{}
		}
		return sts[len(sts)-1]
	}
	deadline := time.Now().Add(time.Minute)
	for last(good).State != "success" || last(bad).State != "failure" {
		require.True(t, time.Now().Before(deadline), "statuses not reported: %+v %+v", srv.Statuses(repo, good), srv.Statuses(repo, bad))
		time.Sleep(250 * time.Millisecond)
	}
	for _, head := range []string{good, bad} {
		sts := srv.Statuses(repo, head)
		require.Equal(t, "pending", sts[0].State, "pending on queue entry")
		for _, st := range sts {
			require.Equal(t, tracker.QueueStatusContext, st.Context)
		}
	}
	require.Equal(t, "Ejected: breaks libhttp", last(bad).Description)

	// Two more polls say nothing new.
	polls := func() int {
		v, err := s.c.QueryWorkflow(ctx, intake, "", workflows.QueryStatus)
		require.NoError(t, err)
		var st workflows.IntakeStatus
		require.NoError(t, v.Get(&st))
		require.Empty(t, st.Why)
		return st.Polls
	}
	after := polls() + 2
	for polls() < after {
		time.Sleep(250 * time.Millisecond)
	}
	issues := srv.Issues(repo)
	goodComments, badComments := issues[goodPR-1].Comments, issues[badPR-1].Comments
	require.Len(t, goodComments, 1)
	require.Contains(t, goodComments[0].Body, "**Merged.**")
	require.Contains(t, goodComments[0].Body, merged.Candidate)
	require.Len(t, badComments, 1)
	require.Contains(t, badComments[0].Body, "**Ejected.**")
	require.Contains(t, badComments[0].Body, "`libhttp` fails to build")
	require.Contains(t, badComments[0].Body, "undefined reference to 'net_connect'")
	require.Len(t, srv.Statuses(repo, good), 2, "pending and success, once each")
	require.Len(t, srv.Statuses(repo, bad), 2, "pending and failure, once each")
	require.Empty(t, issues[2].Comments, "nothing said to the unapproved one")
	t.Logf("the fake GitHub served %d requests over %d polls (%d POSTs)", len(srv.Requests()), polls(),
		srv.Count("POST", fmt.Sprintf("/repos/%s/statuses/%s", repo, good))+srv.Count("POST", fmt.Sprintf("/repos/%s/statuses/%s", repo, bad))+
			srv.Count("POST", fmt.Sprintf("/repos/%s/issues/%d/comments", repo, goodPR))+srv.Count("POST", fmt.Sprintf("/repos/%s/issues/%d/comments", repo, badPR)))

	// The token stays in the worker: no payload of the intake's history carries it.
	for _, h := range runHistories(t, s.c, intake) {
		b, err := protojson.Marshal(h)
		require.NoError(t, err)
		file := filepath.Join(t.TempDir(), "intake.json")
		require.NoError(t, os.WriteFile(file, b, 0o644))
		require.NotContains(t, historyText(t, file), token)
	}
	recordHistories(t, s.c, intake)
}

// flakyOnce fails the first build of a derivation whose path contains flaky, as a test
// that times out at random would, and builds everything else (and that derivation again)
// with its inner builder.
type flakyOnce struct {
	inner activities.Builder
	flaky string
	done  *atomic.Bool
}

func (b flakyOnce) Build(ctx context.Context, drv string, tests []string, heartbeat func()) (wire.BuildResult, error) {
	if strings.Contains(drv, b.flaky) && b.done.CompareAndSwap(false, true) {
		return wire.BuildResult{Status: store.StatusFailed, ExitCode: 1, LogTail: "test_precision: timed out after 300 s (flaky)"}, nil
	}
	return b.inner.Build(ctx, drv, tests, heartbeat)
}

// TestQueueRecordsFlakyFailuresPerPackage: calc's fix fails in its candidate once, at
// random; the bisection builds calc again on the same candidate and it passes, so nobody is
// ejected: the change goes back to the queue and merges with its next batch, and calc is
// recorded as flaky (once, with the failing build's log), as queue stats and the status
// site show it.
func TestQueueRecordsFlakyFailuresPerPackage(t *testing.T) {
	s := newStack(t)
	s.acts.Builder = flakyOnce{inner: s.acts.Builder, flaky: "-calc-", done: new(atomic.Bool)}
	ctx := context.Background()
	id := s.startQueue(`{"window_start": 1, "max_wait": "1s"}`)
	c, err := s.submit(id, workflows.SubmitRequest{Ref: demo.FixCalcPrecision, Title: "calc: precision"})
	require.NoError(t, err)
	cs := s.waitChanges("the change settled", func(m map[int64]store.QueueChange) bool {
		return m[c.ID].State == store.QueueMerged || m[c.ID].State == store.QueueEjected
	})
	require.Equal(t, store.QueueMerged, cs[c.ID].State, cs[c.ID].Reason)

	batches, err := s.st.QueueBatches(ctx, "demo", demo.MainBranch)
	require.NoError(t, err)
	require.Len(t, batches, 2, "a red batch whose only failure was flaky, then a green one")
	stats, err := s.st.QueueStatsOf(ctx, "demo", demo.MainBranch)
	require.NoError(t, err)
	require.Len(t, stats.Flaky, 1, "%+v", stats.Flaky)
	f := stats.Flaky[0]
	require.Equal(t, "calc", f.Package)
	require.Equal(t, "x86_64-linux", f.System)
	require.Equal(t, 1, f.Times)
	require.Contains(t, f.LogTail, "timed out after 300 s")
	var red store.QueueBatch
	for _, b := range batches {
		if b.State == "failed" {
			red = b
		}
	}
	require.Equal(t, red.ID, f.LastBatch, "recorded with the red batch")
	require.Contains(t, red.Reason, "flaky")
}

// TestQueueWaveLaneEndToEnd: the two-stage wave lane. libcore 2 rc1 (39 rebuilds) and
// libcrypto 3 (which breaks pkgtool) are mass rebuilds for this queue; they collect (10 s) into
// one wave-lane batch built aside by a WaveLaneBatch child, held on libcore's build until
// calc's fix, a small change submitted after them, has merged: the fast lane does not wait
// for the wave lane. The aside batch is red; its bisection ejects libcrypto 3 with
// pkgtool's failure; libcore 2 rc1 builds green aside on its own and comes back as one
// unit, merged by a batch of its own on top of calc's fix: main ends at exactly that
// candidate, which built green.
func TestQueueWaveLaneEndToEnd(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	release := make(chan struct{})
	s.acts.Builder = gatedBuilder{inner: s.acts.Builder, gate: "libcore-2.0.0-rc1", open: release}
	s.acts.Host = "builder-1" // builds say how many derivations Nix built for them
	// The queue continues as new every 60 events: it does while the wave-lane batch builds
	// aside, whose outcome reaches the run that is current then.
	limits := s.limits
	limits.WaveHistoryEvents = 60
	id := s.startQueueWith(demo.MainBranch, `{"window_start": 8, "max_wait": "1s", "consider_staging": 5, "mass_rebuild": 5, "wave_wait": "10s"}`, limits)
	firstRun := s.queueRun(id)

	rc1, err := s.submit(id, workflows.SubmitRequest{Ref: demo.UpdateLibcore2RC1, Title: "libcore 2 rc1"})
	require.NoError(t, err)
	crypto, err := s.submit(id, workflows.SubmitRequest{Ref: demo.UpdateLibcrypto3, Title: "libcrypto 3"})
	require.NoError(t, err)
	cs := s.waitChanges("both mass rebuilds batched aside", func(m map[int64]store.QueueChange) bool {
		return m[rc1.ID].State == store.QueueBatched && m[crypto.ID].State == store.QueueBatched
	})
	require.Equal(t, "wave", cs[rc1.ID].Lane, cs[rc1.ID].LaneReason)
	require.Equal(t, "wave", cs[crypto.ID].Lane, cs[crypto.ID].LaneReason)

	calc, err := s.submit(id, workflows.SubmitRequest{Ref: demo.FixCalcPrecision, Title: "calc: print 3 decimals"})
	require.NoError(t, err)
	cs = s.waitChanges("calc's fix merged while the wave lane builds", func(m map[int64]store.QueueChange) bool {
		return m[calc.ID].State == store.QueueMerged
	})
	require.Equal(t, "fast", cs[calc.ID].Lane)
	require.Equal(t, store.QueueBatched, cs[rc1.ID].State, "the wave-lane batch is still building aside")
	v, err := s.c.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
	require.NoError(t, err)
	var st workflows.QueueStatus
	require.NoError(t, v.Get(&st))
	require.NotNil(t, st.Wave)
	require.Equal(t, []int64{rc1.ID, crypto.ID}, st.Wave.Changes)
	require.Zero(t, st.Handed)
	require.NotEqual(t, firstRun, s.queueRun(id), "the queue continued as new while the wave lane builds")
	afterCalc := s.remoteHead(demo.MainBranch)
	close(release)

	cs = s.waitChanges("the mass rebuilds merged or ejected", func(m map[int64]store.QueueChange) bool {
		return m[rc1.ID].State == store.QueueMerged && m[crypto.ID].State == store.QueueEjected
	})
	require.Contains(t, cs[crypto.ID].Reason, "breaks pkgtool")
	require.NotNil(t, cs[rc1.ID].BuiltAt)
	require.True(t, cs[rc1.ID].BuiltAt.Before(*cs[rc1.ID].MergedAt), "built aside before it merged")

	batches, err := s.st.QueueBatches(ctx, "demo", demo.MainBranch)
	require.NoError(t, err)
	var lanes, states []string
	for _, b := range batches {
		lanes, states = append(lanes, b.Lane), append(states, b.State)
	}
	require.Equal(t, []string{"wave", "fast", "wave", "wave"}, lanes, "states %v", states)
	require.Equal(t, []string{"failed", "merged", "built", "merged"}, states)
	red, calcBatch, aside, unit := batches[0], batches[1], batches[2], batches[3]
	require.Equal(t, []int64{rc1.ID, crypto.ID}, red.Members)
	require.Equal(t, []int64{calc.ID}, calcBatch.Members)
	require.Equal(t, []int64{rc1.ID}, aside.Members)
	require.Equal(t, []int64{rc1.ID}, unit.Members)
	require.Equal(t, calcBatch.CandidateCommit, afterCalc)
	require.Equal(t, afterCalc, unit.BaseCommit, "the unit's second stage is on the head calc's fix moved to")
	require.Equal(t, unit.CandidateCommit, s.remoteHead(demo.MainBranch))
	fails, err := s.st.RoundFailures(ctx, unit.MinorWaveID, "x86_64-linux")
	require.NoError(t, err)
	require.Empty(t, fails)
	probes, err := s.st.QueueProbes(ctx, red.ID)
	require.NoError(t, err)
	require.NotEmpty(t, probes)
	for _, p := range probes {
		require.Equal(t, []string{"pkgtool"}, p.Packages, "probe %s %d builds only the failed package", p.Kind, p.Prefix)
	}

	// Builds that Nix answered from the store (the unit's second stage, after its first
	// stage built the same derivations; here also whatever an earlier test built) are
	// counted as cache hits, apart from the builds performed.
	stats, err := s.st.QueueStatsOf(ctx, "demo", demo.MainBranch)
	require.NoError(t, err)
	require.Positive(t, stats.CacheHits)
	require.Less(t, stats.PerformedPerMerged, stats.BuildsPerMerged)
	t.Logf("queue stats: builds %d, cache hits %d, builds per merged %.2f, performed per merged %.2f",
		stats.Builds, stats.CacheHits, stats.BuildsPerMerged, stats.PerformedPerMerged)

	v, err = s.c.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
	require.NoError(t, err)
	st = workflows.QueueStatus{}
	require.NoError(t, v.Get(&st))
	require.Nil(t, st.Wave)
	require.Empty(t, st.WaveReady)
	require.Equal(t, 2, st.Merged)
	require.Equal(t, 1, st.Ejected)
	recordHistories(t, s.c, id)
}

// queueRun is the run ID of a queue's current run.
func (s *stack) queueRun(id string) string {
	s.t.Helper()
	d, err := s.c.DescribeWorkflowExecution(context.Background(), id, "")
	require.NoError(s.t, err)
	return d.WorkflowExecutionInfo.Execution.RunId
}
