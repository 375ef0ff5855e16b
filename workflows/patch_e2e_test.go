package workflows_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/nix"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/graph"
	"github.com/crestwaves/crest/workflows"
)

// greenWave runs major wave n of one green update to its end.
func (s *stack) greenWave(t *testing.T, n int, pkg, ref string) workflows.MajorWaveResult {
	t.Helper()
	return s.runWave(t, s.queue+"/wave-"+strconv.Itoa(n), workflows.MajorWaveInput{Collection: "demo", Limits: s.limits,
		Updates: []wire.Update{{Package: pkg, Ref: ref}}})
}

// patch runs a SecurityPatch to its end.
func (s *stack) patch(t *testing.T, id string, in workflows.SecurityPatchInput) (workflows.SecurityPatchResult, error) {
	t.Helper()
	ctx := context.Background()
	in.Collection, in.Limits = "demo", s.limits
	run, err := s.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: s.queue}, workflows.SecurityPatch, in)
	require.NoError(t, err)
	return awaitPatch(run)
}

// awaitPatch waits (4 minutes at most) for a patch's result.
func awaitPatch(run client.WorkflowRun) (workflows.SecurityPatchResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var res workflows.SecurityPatchResult
	err := run.Get(ctx, &res)
	return res, err
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=Test", "-c", "user.email=test@crest.invalid"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	require.NoError(t, err, "%s %v", name, args)
	return strings.TrimSpace(string(out))
}

// TestSecurityPatchGraftsEndToEnd: after a finished wave, a replace-dependency patch of
// libcrypto builds libcrypto 2.5.1 alone and grafts its dependents in the tag: the
// security tag's grafted programs refer to the new library and not the old one and show
// the fix, nix-build of the tag reproduces them, and crest pin answers the security tag.
// A patch with a longer store name is refused with its reason. A following wave that
// rebuilds the dependents against the fix retires the graft debt.
func TestSecurityPatchGraftsEndToEnd(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	w1, _ := s.finishedTag(t)

	// An unknown package is refused before anything starts, with suggestions.
	_, err := s.patch(t, s.queue+"/patch-0", workflows.SecurityPatchInput{Package: "libcrytpo", Ref: demo.SecurityLibcrypto251})
	require.ErrorContains(t, err, `libcrytpo`)
	require.ErrorContains(t, err, `libcrypto`)
	_, err = s.st.PatchByWorkflow(ctx, s.queue+"/patch-0")
	require.ErrorIs(t, err, store.ErrNotFound, "a refused patch allocates nothing")

	id := "demo/patch-graft" // a stable ID: its history is recorded
	start := time.Now()
	out, err := s.patch(t, id, workflows.SecurityPatchInput{Package: "libcrypto", Ref: demo.SecurityLibcrypto251,
		Strategy: "replace-dependency", Severity: "critical", Advisory: "CVE-2026-0001", By: "frank"})
	require.NoError(t, err)
	elapsed := time.Since(start)
	t.Logf("patch start → pushed tag wave-1-1-security-1 (replace-dependency, %d grafts): %v", out.Tags[0].Grafts, elapsed.Round(time.Millisecond))
	s.logActivityTimes(t, id)
	require.Equal(t, workflows.PatchPhaseDone, out.Phase)
	require.Equal(t, "replace-dependency", out.Strategy)
	require.Len(t, out.Tags, 1)
	tag := out.Tags[0]
	require.Equal(t, "wave-1-1", tag.Covers)
	require.Equal(t, "wave-1-1-security-1", tag.Tag)
	require.True(t, tag.Done)
	require.Equal(t, []string{"default-system.boot"}, tag.SystemTests, "the collection's system test ran on the grafts")

	// Exactly one package was built from source: libcrypto.
	built, err := s.st.PatchBuilds(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []string{"libcrypto"}, built)

	// The tag is in the remote, annotated with its JSON summary.
	msg := run(t, "git", "-C", s.demo.Remote, "tag", "-l", "--format=%(objecttype)%0a%(contents)", tag.Tag)
	require.True(t, strings.HasPrefix(msg, "tag\n"), msg)
	var sum activities.SecurityTagSummary
	require.NoError(t, json.Unmarshal([]byte(msg[strings.Index(msg, "{"):]), &sum), msg)
	require.Equal(t, "crest.security-tag/v1", sum.Schema)
	require.Equal(t, "CVE-2026-0001", sum.Advisory)
	require.Equal(t, "replace-dependency", sum.Strategy)
	require.Equal(t, []string{"default-system.boot"}, sum.SystemTests)
	require.Contains(t, msg, "System tests passed on the grafts: default-system.boot.")
	require.Equal(t, tag.Commit, run(t, "git", "-C", s.demo.Remote, "rev-parse", tag.Tag+"^{commit}"))
	grafted := map[string]activities.GraftedPath{}
	for _, g := range sum.Grafts {
		grafted[g.Package] = g
	}
	require.Len(t, grafted, tag.Grafts)
	for _, pkg := range []string{"libtls", "libhttp", "pkgtool", "backup", "chat", "fetch", "webd", "feedreader", "default-system"} {
		require.Contains(t, grafted, pkg, "%s refers to libcrypto, directly or through a grafted package", pkg)
	}
	require.NotContains(t, grafted, "hello")
	oldLib, newLib := sum.Patched.Old, sum.Patched.New
	require.True(t, strings.HasSuffix(newLib, "-libcrypto-2.5.1"), newLib)

	// A grafted dependent refers to the new library and not the old one, and runs with it.
	backup := grafted["backup"]
	refs := strings.Fields(run(t, "nix-store", "-q", "--references", backup.New))
	require.Contains(t, refs, newLib)
	require.NotContains(t, refs, oldLib)
	require.Equal(t, "backup: nothing to back up; checksums by libcrypto 2.5.1 (fixes CVE-2026-0001)", run(t, filepath.Join(backup.New, "bin", "backup")))
	require.Equal(t, "backup: nothing to back up; checksums by libcrypto 2.5.0", run(t, filepath.Join(backup.Old, "bin", "backup")))
	require.Contains(t, run(t, filepath.Join(grafted["fetch"].New, "bin", "fetch")), "TLS by libcrypto 2.5.1 (fixes CVE-2026-0001)", "through libhttp and libtls")
	refs = strings.Fields(run(t, "nix-store", "-q", "--references", grafted["fetch"].New))
	require.Contains(t, refs, grafted["libhttp"].New)
	require.NotContains(t, refs, grafted["libhttp"].Old)

	// nix-build of the security tag reproduces the grafted outputs.
	dir := t.TempDir()
	require.NoError(t, s.demo.Export(ctx, tag.Tag, dir))
	again := run(t, "nix-build", filepath.Join(dir, "default.nix"), "-A", "backup", "--no-out-link",
		"--option", "build-users-group", "", "--option", "substituters", "", "--option", "sandbox", "false")
	require.Equal(t, backup.New, again)

	// crest pin answers the security tag, and the debt is open.
	pin, err := s.st.Pin(ctx, "demo", "backup", store.PinOptions{})
	require.NoError(t, err)
	require.Equal(t, "wave-1-1-security-1", pin.Tag)
	require.Equal(t, "wave-1-1", pin.Covers)
	require.Equal(t, tag.Commit, pin.Commit)
	debt, err := s.st.Grafts(ctx, out.PatchID)
	require.NoError(t, err)
	require.Len(t, debt, tag.Grafts)
	for _, g := range debt {
		require.Nil(t, g.RetiredAt, g.Package)
		require.Equal(t, w1.ID, g.WaveID)
	}
	p, err := s.st.PatchByWorkflow(ctx, id)
	require.NoError(t, err)
	require.Equal(t, store.PatchDone, p.State)

	// A fix whose store name is longer cannot be grafted: refused with the reason, and
	// rebuild offered.
	s.libcryptoBranch(t, demo.SecurityLibcrypto251, "2.5.1", "2.5.10")
	refused := "demo/patch-graft-refused"
	_, err = s.patch(t, refused, workflows.SecurityPatchInput{Package: "libcrypto", Ref: "security/libcrypto-2.5.10",
		Strategy: "replace-dependency", Severity: "critical"})
	require.ErrorContains(t, err, "graft refused: the patched store path name differs in length")
	require.ErrorContains(t, err, "use rebuild")
	require.ErrorContains(t, err, "-libcrypto-2.5.10 differ in length")
	p, err = s.st.PatchByWorkflow(ctx, refused)
	require.NoError(t, err)
	require.Equal(t, store.PatchFailed, p.State)
	require.Contains(t, p.Reason, "use rebuild")
	pin, err = s.st.Pin(ctx, "demo", "backup", store.PinOptions{})
	require.NoError(t, err)
	require.Equal(t, "wave-1-1-security-1", pin.Tag, "a failed patch makes no tag")

	// libcrypto 2.6.0 passes every graft check (same name length, nothing embedded) and its
	// own tests, but needs a new ABI: the default system's boot test, run against the grafts,
	// finds pkgtool built against libcrypto 2.5 running with 2.6. The graft is refused with
	// the test and its log, rebuild offered, and no tag is made.
	abi := "demo/patch-graft-system-test"
	_, err = s.patch(t, abi, workflows.SecurityPatchInput{Package: "libcrypto", Ref: demo.SecurityLibcrypto260,
		Strategy: "replace-dependency", Severity: "critical", Advisory: "CVE-2026-0002"})
	require.ErrorContains(t, err, "graft refused: system test default-system.boot fails on the grafts of libcrypto security/libcrypto-2.6.0")
	require.ErrorContains(t, err, "pkgtool was built against libcrypto 2.5.0 but runs with libcrypto 2.6.0: ABI 2.5 is not 2.6")
	require.ErrorContains(t, err, "use --strategy rebuild")
	p, err = s.st.PatchByWorkflow(ctx, abi)
	require.NoError(t, err)
	require.Equal(t, store.PatchFailed, p.State)
	require.Contains(t, p.Reason, "system test default-system.boot fails")
	pts, err := s.st.PatchTags(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, store.PatchTagFailed, pts[0].State)
	require.Contains(t, pts[0].Reason, "ABI 2.5 is not 2.6")
	require.Empty(t, run(t, "git", "-C", s.demo.Remote, "tag", "-l", pts[0].Name), "no tag pushed")
	// The grafts that failed are on the tag's branch, for people to reproduce the failure.
	require.NotEmpty(t, run(t, "git", "-C", s.demo.Remote, "ls-tree", "--name-only", pts[0].Branch, activities.GraftsDir+"/grafts.json"))
	built, err = s.st.PatchBuilds(ctx, abi)
	require.NoError(t, err)
	require.Equal(t, []string{"libcrypto"}, built, "the grafts were tested, nothing else built from source")
	pin, err = s.st.Pin(ctx, "demo", "backup", store.PinOptions{})
	require.NoError(t, err)
	require.Equal(t, "wave-1-1-security-1", pin.Tag, "a refused graft makes no tag")

	// The next wave takes the fix and rebuilds the dependents: the debt is retired.
	res2 := s.greenWave(t, 2, "libcrypto", demo.SecurityLibcrypto251)
	require.Equal(t, []string{"wave-2-1"}, res2.Tags)
	debt, err = s.st.Grafts(ctx, out.PatchID)
	require.NoError(t, err)
	for _, g := range debt {
		require.NotNil(t, g.RetiredAt, g.Package)
		require.Equal(t, "wave-2-1", g.RetiredBy, g.Package)
	}
	recordHistories(t, s.c, id, refused, abi)
}

// libcryptoBranch pushes security/libcrypto-VERSION: base with libcrypto's version from
// changed to version.
func (s *stack) libcryptoBranch(t *testing.T, base, from, version string) {
	t.Helper()
	clone := t.TempDir()
	branch := "security/libcrypto-" + version
	git(t, clone, "clone", "--quiet", s.demo.Remote, ".")
	git(t, clone, "checkout", "--quiet", "-b", branch, "origin/"+base)
	f := filepath.Join(clone, "pkgs/libraries/libcrypto/default.nix")
	b, err := os.ReadFile(f)
	require.NoError(t, err)
	require.Contains(t, string(b), `"`+from+`"`)
	require.NoError(t, os.WriteFile(f, []byte(strings.Replace(string(b), `"`+from+`"`, `"`+version+`"`, 1)), 0o644))
	git(t, clone, "commit", "--quiet", "-am", "libcrypto: "+version)
	git(t, clone, "push", "--quiet", "origin", branch)
}

// finishedTag runs wave 1 (calc's fix) to its tag wave-1-1 and realises the tag's outputs,
// as a graft needs them (on a farm: from the collection's binary cache). It returns the
// wave and the tag's packages.
func (s *stack) finishedTag(t *testing.T) (store.Wave, []graph.Package) {
	t.Helper()
	ctx := context.Background()
	res := s.greenWave(t, 1, "calc", demo.FixCalcPrecision)
	require.Equal(t, []string{"wave-1-1"}, res.Tags)
	w1 := mustWave(t, s.st, 1)
	ev, err := s.st.FindEvaluation(ctx, w1.CollectionID, res.Minor[0].Commit, "x86_64-linux")
	require.NoError(t, err)
	pkgs, err := s.st.LoadPackages(ctx, ev.ID)
	require.NoError(t, err)
	var drvs []string
	for _, p := range pkgs {
		if !p.Broken {
			drvs = append(drvs, p.Drv)
		}
	}
	_, err = s.acts.Builder.(activities.NixBuilder).Nix.RealiseAll(ctx, drvs, nix.RealiseOptions{})
	require.NoError(t, err)
	return w1, pkgs
}

// logActivityTimes logs how long each activity of a workflow took, from scheduled to
// completed, in order: where a patch's time goes.
func (s *stack) logActivityTimes(t *testing.T, id string) {
	t.Helper()
	it := s.c.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	scheduled := map[int64]*historypb.HistoryEvent{}
	var parts []string
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			scheduled[e.GetEventId()] = e
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			sch := scheduled[e.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()]
			d := e.GetEventTime().AsTime().Sub(sch.GetEventTime().AsTime())
			parts = append(parts, sch.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()+" "+d.Round(time.Millisecond).String())
		}
	}
	t.Logf("%s activities: %s", id, strings.Join(parts, ", "))
}
