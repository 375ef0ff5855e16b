package workflows_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/workflows"
)

// TestPolicyAndIssuesEndToEnd: real Nix, git, Postgres, the embedded server and the local
// tracker. Unfixed failures are marked broken when a shortened grace period ends and the
// minor waves tag; each root cause gets exactly one issue (libhttp's lists the three
// packages it blocks); the same failure in the next major wave comments on that issue;
// the fix closes it.
func TestPolicyAndIssuesEndToEnd(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	short := json.RawMessage(`{"grace_period": "4s", "allow_short_periods": true, "max_extensions": 0}`)
	res := s.runWave(t, wavePolicy, workflows.MajorWaveInput{Collection: "demo", Policy: short, Limits: s.limits,
		Updates: []wire.Update{{Package: "libcore", Ref: demo.UpdateLibcore2}, {Package: "libnet", Ref: demo.UpdateLibnet2}}})
	require.Equal(t, []string{"wave-1-1", "wave-1-2"}, res.Tags, "policy settled every failure; both minor waves tag")
	recordHistories(t, s.c, wavePolicy)

	issues, err := s.st.Issues(ctx, store.IssueFilter{Collection: "demo"})
	require.NoError(t, err)
	byPkg := map[string]store.Issue{}
	for _, is := range issues {
		_, dup := byPkg[is.Package]
		require.False(t, dup, "one issue per root cause: %s twice", is.Package)
		byPkg[is.Package] = is
	}
	require.Len(t, byPkg, 3, "tetrix, calc and libhttp, never one per dependent: %v", keys(byPkg))
	for _, pkg := range []string{"tetrix", "calc", "libhttp"} {
		is := byPkg[pkg]
		require.Equal(t, store.IssueOpen, is.State, "%s: marked broken leaves its issue open", pkg)
		require.Equal(t, "marked-broken", is.Resolution, pkg)
	}
	body := s.localIssue(t, byPkg["libhttp"].Number)
	for _, dep := range []string{"fetch", "webd", "feedreader"} {
		require.Contains(t, body, dep, "the issue lists the packages it blocks")
	}
	require.Contains(t, body, "net_connect", "the failing log tail")

	w1, err := s.st.WaveByNumber(ctx, "demo", 1)
	require.NoError(t, err)
	m2, err := s.st.MinorWaveByNumber(ctx, w1.ID, 2)
	require.NoError(t, err)
	results, err := s.st.Results(ctx, m2.ID, "")
	require.NoError(t, err)
	for _, r := range results {
		switch r.Package {
		case "libhttp":
			require.Equal(t, "marked-broken", r.Resolution)
			require.Contains(t, r.Reason, "grace period")
		case "fetch", "webd", "feedreader":
			require.Equal(t, store.StatusDependencyFailed, r.Status)
			require.Equal(t, "dependency-failed/marked-broken", r.Resolution, "dependents follow their root cause")
			require.Equal(t, "blocked by libhttp (marked-broken)", r.Reason)
			require.Equal(t, []string{"libhttp"}, r.BlockedBy)
		}
	}
	audit, err := s.st.Audit(ctx, "wave-1-2", "libhttp")
	require.NoError(t, err)
	require.True(t, hasAction(audit, "resolve:marked-broken"), "the decision is on record with its reason")

	// wave-2: the same failure again → a comment on the open issue, then the fix closes it.
	id := s.queue + "/wave-2"
	run, err := s.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: s.queue}, workflows.MajorWave,
		workflows.MajorWaveInput{Collection: "demo", Limits: s.limits,
			Updates: []wire.Update{{Package: "libnet", Ref: demo.UpdateLibnet2}}})
	require.NoError(t, err)
	s.waitFor(id, "wave-2-1 waiting", minorWaiting(1, "libhttp"))
	issues, err = s.st.Issues(ctx, store.IssueFilter{Collection: "demo", Package: "libhttp"})
	require.NoError(t, err)
	require.Len(t, issues, 1, "the recurrence is a comment, not a new issue")
	require.Equal(t, 2, issues[0].LastMajor)
	comments := s.localComments(t, issues[0].Number)
	require.True(t, anyContains(comments, "wave-2-1"), "a comment names the new wave: %q", comments)

	_, err = s.update(id, workflows.UpdateRetry, workflows.RetryRequest{Package: "libhttp", Ref: demo.FixLibhttpLibnet2})
	require.NoError(t, err)
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var res2 workflows.MajorWaveResult
	require.NoError(t, run.Get(wctx, &res2))
	require.Equal(t, []string{"wave-2-1"}, res2.Tags)
	issues, err = s.st.Issues(ctx, store.IssueFilter{Collection: "demo", Package: "libhttp"})
	require.NoError(t, err)
	require.Len(t, issues, 1)
	require.Equal(t, store.IssueClosed, issues[0].State, "the fix closes the issue")
	require.Equal(t, "fixed", issues[0].Resolution)
}

func (s *stack) runWave(t *testing.T, id string, in workflows.MajorWaveInput) workflows.MajorWaveResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	run, err := s.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: s.queue}, workflows.MajorWave, in)
	require.NoError(t, err)
	var res workflows.MajorWaveResult
	require.NoError(t, run.Get(ctx, &res))
	return res
}

func (s *stack) localIssue(t *testing.T, n int64) string {
	t.Helper()
	is, err := s.st.LocalIssue(context.Background(), n)
	require.NoError(t, err)
	return is.Title + "\n" + is.Body
}

func (s *stack) localComments(t *testing.T, n int64) []string {
	t.Helper()
	cs, err := s.st.LocalComments(context.Background(), n)
	require.NoError(t, err)
	var out []string
	for _, c := range cs {
		out = append(out, c.Body)
	}
	return out
}

func anyContains(texts []string, sub string) bool {
	for _, s := range texts {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func hasAction(entries []store.AuditEntry, action string) bool {
	for _, e := range entries {
		if e.Action == action {
			return true
		}
	}
	return false
}

func keys(m map[string]store.Issue) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
