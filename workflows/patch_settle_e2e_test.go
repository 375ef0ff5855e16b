package workflows_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/workflows"
)

// startPatch starts a SecurityPatch without waiting for it.
func (s *stack) startPatch(t *testing.T, id string, in workflows.SecurityPatchInput) client.WorkflowRun {
	t.Helper()
	in.Collection, in.Limits = "demo", s.limits
	run, err := s.c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: s.queue}, workflows.SecurityPatch, in)
	require.NoError(t, err)
	return run
}

// patchStatus queries a patch's Status.
func (s *stack) patchStatus(t *testing.T, id string) workflows.PatchStatus {
	t.Helper()
	v, err := s.c.QueryWorkflow(context.Background(), id, "", workflows.QueryStatus)
	require.NoError(t, err)
	var st workflows.PatchStatus
	require.NoError(t, v.Get(&st))
	return st
}

// waitPatch polls a patch's status until cond holds.
func (s *stack) waitPatch(t *testing.T, id, what string, cond func(workflows.PatchStatus) bool) workflows.PatchStatus {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		st := s.patchStatus(t, id)
		if cond(st) {
			return st
		}
		require.True(t, time.Now().Before(deadline), "timed out waiting for %s; status: %+v", what, st)
		time.Sleep(100 * time.Millisecond)
	}
}

func waiting(st workflows.PatchStatus) bool { return st.Phase == workflows.PatchPhaseWaiting }

// finishPatch waits for a patch's end.
func finishPatch(t *testing.T, run client.WorkflowRun) (workflows.SecurityPatchResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var res workflows.SecurityPatchResult
	err := run.Get(ctx, &res)
	return res, err
}

// securitySummary reads the JSON summary of a pushed security tag.
func (s *stack) securitySummary(t *testing.T, tag string) (string, activities.SecurityTagSummary) {
	t.Helper()
	msg := run(t, "git", "-C", s.demo.Remote, "tag", "-l", "--format=%(contents)", tag)
	var sum activities.SecurityTagSummary
	require.NoError(t, json.Unmarshal([]byte(msg[strings.Index(msg, "{"):]), &sum), msg)
	return msg, sum
}

// TestSecurityPatchRebuildSettlesFailures: a rebuild that is not green is settled as a
// minor wave is, and then tagged. libcrypto 3 breaks pkgtool, which blocks default-system:
// exactly one issue is filed, for the root cause pkgtool, asking for `crest patch`; the
// status shows the failure with its issue. Requests the validators or policy refuse — an
// unknown package, a resolution a person may not set, a protected package resolved
// wont-fix, a retry of a dependent — change nothing; a retry with pkgtool's fix merges it
// onto the security tag's branch, rebuilds pkgtool and default-system through the build
// engine, closes the issue as fixed and tags, the summary saying how it was settled. libnet
// 2 breaks libhttp, not protected: resolved wont-fix, its three dependents follow, the
// issue is closed as not planned, and the rebuild tags. Cancel ends a patch that waits,
// and nothing is tagged.
func TestSecurityPatchRebuildSettlesFailures(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	s.finishedTag(t)

	id := "demo/patch-settle-fix" // stable IDs: their histories are recorded
	start := time.Now()
	wf := s.startPatch(t, id, workflows.SecurityPatchInput{Package: "libcrypto", Ref: demo.UpdateLibcrypto3, Strategy: "rebuild",
		Severity: "high", Advisory: "CVE-2026-0003", By: "frank"})
	st := s.waitPatch(t, id, "pkgtool to wait", waiting)
	tag := st.Tags[0]
	require.Equal(t, "wave-1-1-security-1", tag.Tag)
	require.Len(t, tag.Failures, 1, "one root cause: default-system only follows it")
	f := tag.Failures[0]
	require.Equal(t, "pkgtool", f.Package)
	require.Equal(t, store.StatusFailed, f.Status)
	require.Empty(t, f.Resolution)
	require.Equal(t, 1, f.Dependents)
	require.NotEmpty(t, f.Issue, "the status links the issue")
	require.Contains(t, st.Reason, "1 failure wait: pkgtool (failed); next: crest patch retry patch-settle-fix PACKAGE --ref FIX")
	waits, err := s.st.PatchByWorkflow(ctx, id)
	require.NoError(t, err)
	require.Equal(t, store.PatchRunning, waits.State)
	require.Equal(t, "wave-1-1-security-1: "+st.Reason, waits.Reason, "crest patch status and list say why it waits")

	issues, err := s.st.Issues(ctx, store.IssueFilter{Collection: "demo"})
	require.NoError(t, err)
	require.Len(t, issues, 1, "exactly one issue per root cause")
	require.Equal(t, "pkgtool", issues[0].Package)
	require.Equal(t, store.IssueOpen, issues[0].State)
	require.Equal(t, "pkgtool: build fails in wave-1-1-security-1", issues[0].Title)
	local, err := s.st.LocalIssue(ctx, issues[0].Number)
	require.NoError(t, err)
	require.Contains(t, local.Body, "the rebuild of `wave-1-1` by security patch `patch-settle-fix`")
	require.Contains(t, local.Body, "crest patch retry patch-settle-fix pkgtool --ref <branch>")
	require.Contains(t, local.Body, "undefined reference to 'crypto_sha1'")
	require.NotContains(t, local.Body, "crest wave")

	// Refused, with the reason, and nothing lost.
	for _, c := range []struct {
		update string
		req    any
		want   string
	}{
		{workflows.UpdateResolve, workflows.ResolveRequest{Package: "pkgtol", Resolution: "wont-fix", By: "frank", Reason: "old"},
			"resolve pkgtol: package: unknown package (not in this minor wave; did you mean pkgtool?)"},
		{workflows.UpdateResolve, workflows.ResolveRequest{Package: "pkgtool", Resolution: "fixed", By: "frank", Reason: "it is"},
			`resolve pkgtool: resolution "fixed": bad resolution (a person may set wont-fix or cant-fix; fixed comes from a green build)`},
		{workflows.UpdateResolve, workflows.ResolveRequest{Package: "pkgtool", Resolution: "wont-fix", By: "frank"},
			"resolve pkgtool: reason: reason required"},
		{workflows.UpdateResolve, workflows.ResolveRequest{Package: "pkgtool", Resolution: "wont-fix", By: "frank", Reason: "SHA-1 is gone"},
			"resolve pkgtool: package: protected: a security tag needs it fixed (it is in the closure of a protected root: retry it with a fix)"},
		{workflows.UpdateRetry, workflows.RetryRequest{Package: "default-system", By: "frank"},
			"retry those"},
		{workflows.UpdateRetry, workflows.RetryRequest{By: "frank"}, "package: required"},
	} {
		_, err := s.update(id, c.update, c.req)
		require.ErrorContains(t, err, c.want, "%+v", c.req)
	}
	st = s.patchStatus(t, id)
	require.Equal(t, workflows.PatchPhaseWaiting, st.Phase)
	require.Len(t, st.Tags[0].Failures, 1)
	require.Empty(t, st.Tags[0].Failures[0].Resolution, "a refused request settles nothing")

	answer, err := s.update(id, workflows.UpdateRetry, workflows.RetryRequest{Package: "pkgtool", Ref: demo.FixPkgtoolLibcrypto3, By: "frank"})
	require.NoError(t, err)
	require.Equal(t, "wave-1-1-security-1: pkgtool will be rebuilt after merging fix/pkgtool-libcrypto-3", answer)
	out, err := finishPatch(t, wf)
	require.NoError(t, err)
	t.Logf("patch start → pushed tag %s (rebuild, pkgtool failed, retried with its fix): %v", out.Tags[0].Tag, time.Since(start).Round(time.Millisecond))
	s.logActivityTimes(t, id)
	require.Equal(t, workflows.PatchPhaseDone, out.Phase)
	done := out.Tags[0]
	require.True(t, done.Done)
	require.Equal(t, 1, done.Round, "one retry round")
	require.Equal(t, 10, done.Rebuilt, "the whole reverse closure, pkgtool and default-system with the fix")
	require.Equal(t, "fixed", done.Failures[0].Resolution)

	msg, sum := s.securitySummary(t, done.Tag)
	require.Contains(t, msg, "10 of 10 packages passed, 0 settled by resolution; root causes and how they were settled:\n- pkgtool: passed, fixed")
	require.Len(t, sum.Settled, 1)
	require.Equal(t, "pkgtool", sum.Settled[0].Package)
	require.Equal(t, "fixed", sum.Settled[0].Resolution)
	require.Equal(t, "3.0.0", sum.NewVersion)
	require.Equal(t, done.Commit, run(t, "git", "-C", s.demo.Remote, "rev-parse", done.Tag+"^{commit}"))
	require.Contains(t, run(t, "git", "-C", s.demo.Remote, "log", "-1", "--format=%s", done.Commit), "wave-1-1-security-1: fix for pkgtool",
		"the tag is the fix merged onto the security branch")
	builds, err := s.st.PatchBuilds(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 2, countOf(builds, "pkgtool"), "built, failed; rebuilt with the fix")
	require.Equal(t, 1, countOf(builds, "default-system"), "built once, after its dependency was fixed")
	require.Equal(t, 1, countOf(builds, "backup"), "what the fix does not change is not rebuilt")
	issues, err = s.st.Issues(ctx, store.IssueFilter{Collection: "demo", Package: "pkgtool"})
	require.NoError(t, err)
	require.Equal(t, store.IssueClosed, issues[0].State)
	require.Equal(t, "completed", issues[0].CloseReason)
	p, err := s.st.PatchByWorkflow(ctx, id)
	require.NoError(t, err)
	require.Equal(t, store.PatchDone, p.State)

	// Cancel reaches a patch that waits (a later fix of libcrypto: it replaces the earlier).
	cancelled := "demo/patch-settle-cancel"
	wf = s.startPatch(t, cancelled, workflows.SecurityPatchInput{Package: "libcrypto", Ref: demo.UpdateLibcrypto3, Strategy: "rebuild"})
	s.waitPatch(t, cancelled, "pkgtool to wait", waiting)
	require.NoError(t, s.c.SignalWorkflow(ctx, cancelled, "", workflows.SignalCancel, nil))
	_, err = finishPatch(t, wf)
	require.True(t, temporal.IsCanceledError(err), "cancelled, not failed: %v", err)
	p, err = s.st.PatchByWorkflow(ctx, cancelled)
	require.NoError(t, err)
	require.Equal(t, store.PatchCancelled, p.State)
	require.Contains(t, p.Reason, "cancelled while its failures waited to be settled; nothing tagged")
	pts, err := s.st.PatchTags(ctx, p.ID)
	require.NoError(t, err)
	require.Empty(t, run(t, "git", "-C", s.demo.Remote, "tag", "-l", pts[0].Name), "no tag pushed")

	// libnet 2 breaks libhttp, which fetch, webd and feedreader need; none is protected. Its
	// fix stacks on wave-1-1-security-1's (libcrypto 3 and pkgtool's fix): the rebuild
	// rebuilds what both change, and its tag carries both.
	wontFix := "demo/patch-settle-wont-fix"
	wf = s.startPatch(t, wontFix, workflows.SecurityPatchInput{Package: "libnet", Ref: demo.UpdateLibnet2, Strategy: "rebuild", Severity: "medium"})
	st = s.waitPatch(t, wontFix, "libhttp to wait", waiting)
	require.Len(t, st.Tags[0].Failures, 1)
	require.Equal(t, "libhttp", st.Tags[0].Failures[0].Package)
	require.Equal(t, 3, st.Tags[0].Failures[0].Dependents)
	issues, err = s.st.Issues(ctx, store.IssueFilter{Collection: "demo", State: store.IssueOpen})
	require.NoError(t, err)
	var open []string // the cancelled patch left pkgtool's issue open
	for _, is := range issues {
		if is.Package != "pkgtool" {
			open = append(open, is.Package)
		}
	}
	require.Equal(t, []string{"libhttp"}, open, "one issue for the root cause, none for its dependents")
	_, err = s.update(wontFix, workflows.UpdateResolve, workflows.ResolveRequest{Package: "fetch", Resolution: "cant-fix", By: "frank", Reason: "x"})
	require.NoError(t, err, "a dependent that is not protected may be resolved")
	answer, err = s.update(wontFix, workflows.UpdateResolve, workflows.ResolveRequest{Package: "libhttp", Resolution: "wont-fix", By: "frank",
		Reason: "libhttp moves to net_dial in its next release; pin the graft until then"})
	require.NoError(t, err)
	require.Equal(t, "wave-1-1-security-3: libhttp will be resolved as wont-fix", answer)
	out, err = finishPatch(t, wf)
	require.NoError(t, err)
	require.Equal(t, "wave-1-1-security-3", out.Tags[0].Tag)
	require.Equal(t, 9, out.Tags[0].Rebuilt, "libnet's closure and libcrypto 3's (carried from wave-1-1-security-1), but libhttp and its 3 dependents")
	msg, sum = s.securitySummary(t, out.Tags[0].Tag)
	require.Contains(t, msg, "9 of 13 packages passed")
	require.Contains(t, msg, "Carries the earlier fix of libcrypto from "+demo.UpdateLibcrypto3+" (wave-1-1-security-1).")
	require.Equal(t, []wire.CarriedFix{{Package: "libcrypto", Ref: demo.UpdateLibcrypto3, Tag: "wave-1-1-security-1"}}, sum.Carries)
	require.Contains(t, run(t, "git", "-C", s.demo.Remote, "show", out.Tags[0].Tag+":pkgs/libraries/libcrypto/default.nix"), `"3.0.0"`)
	require.Contains(t, run(t, "git", "-C", s.demo.Remote, "show", out.Tags[0].Tag+":pkgs/os/pkgtool/default.nix"), `"1.1.0"`)
	require.Contains(t, msg, "- libhttp: failed, wont-fix (3 dependents follow)")
	require.Equal(t, "wont-fix", sum.Settled[0].Resolution)
	require.Contains(t, sum.Settled[0].Reason, "libhttp moves to net_dial")
	pts, err = s.st.PatchTags(ctx, out.PatchID)
	require.NoError(t, err)
	results, err := s.st.Results(ctx, pts[0].MinorWaveID, "")
	require.NoError(t, err)
	for _, r := range results {
		switch r.Package {
		case "fetch":
			require.Equal(t, "cant-fix", r.Resolution)
		case "webd", "feedreader":
			require.Equal(t, "dependency-failed/wont-fix", r.Resolution, r.Package)
		}
	}
	issues, err = s.st.Issues(ctx, store.IssueFilter{Collection: "demo", Package: "libhttp"})
	require.NoError(t, err)
	require.Equal(t, store.IssueClosed, issues[0].State)
	require.Equal(t, "not_planned", issues[0].CloseReason)

	recordHistories(t, s.c, id, wontFix, cancelled)
}

func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}
