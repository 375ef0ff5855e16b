package workflows_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/policy"
	"github.com/crestwaves/crest/workflows"
)

// TestMajorWaveEndToEnd runs the "libcore 2 + libnet 2" major wave over the demo collection
// with real Nix, git, Postgres and the embedded Temporal server.
func TestMajorWaveEndToEnd(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	id := "demo/wave-1" // a stable ID (its children's derive from it): its histories are recorded
	run, err := s.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: s.queue}, workflows.MajorWave,
		workflows.MajorWaveInput{Collection: "demo", Title: "libcore 2, libnet 2", Limits: s.limits,
			Updates: []wire.Update{{Package: "libnet", Ref: demo.UpdateLibnet2}, {Package: "libcore", Ref: demo.UpdateLibcore2}}})
	require.NoError(t, err)

	// wave-1-1 updates libcore: tetrix fails to build, calc's test fails. Each request is
	// sent the moment the failure is recorded (what `crest wave status` shows), as a person
	// following the README would, whatever the rest of the minor wave is doing.
	s.waitRecorded(t, 1, 1, "tetrix", store.StatusFailed)
	// Requests are refused with policy's reason, naming the problem.
	_, err = s.update(id, workflows.UpdateResolve, workflows.ResolveRequest{Package: "nosuch", Resolution: "wont-fix", Reason: "x", By: "alice"})
	require.ErrorContains(t, err, `resolve nosuch: package: unknown package`)
	_, err = s.update(id, workflows.UpdateResolve, workflows.ResolveRequest{Package: "tetrix", Resolution: "broken", Reason: "x", By: "alice"})
	require.ErrorContains(t, err, `resolution "broken"`)
	_, err = s.update(id, workflows.UpdateResolve, workflows.ResolveRequest{Package: "tetrix", Resolution: "wont-fix", Reason: "x"})
	require.ErrorContains(t, err, `by: who resolves is required`)
	out, err := s.update(id, workflows.UpdateResolve, workflows.ResolveRequest{Package: "tetrix", Resolution: "wont-fix",
		Reason: "upstream dead; drop it next release", By: "alice"})
	require.NoError(t, err)
	require.Contains(t, out, "wave-1-1")
	_, err = s.update(id, workflows.UpdateResolve, workflows.ResolveRequest{Package: "hello", Resolution: "wont-fix", Reason: "x", By: "alice"})
	require.ErrorContains(t, err, `package did not fail`)

	s.waitRecorded(t, 1, 1, "calc", store.StatusTestFailed)
	_, err = s.update(id, workflows.UpdateRetry, workflows.RetryRequest{Package: "calc", Ref: demo.FixCalcPrecision, By: "carol"})
	require.NoError(t, err)

	// wave-1-2 updates libnet: libhttp fails, its three dependents are dependency-failed.
	s.waitRecorded(t, 1, 2, "libhttp", store.StatusFailed)
	_, err = s.update(id, workflows.UpdateRetry, workflows.RetryRequest{Package: "libhttp", Ref: demo.FixLibhttpLibnet2, By: "dave"})
	require.NoError(t, err)
	st := s.waitFor(id, "wave-1-2 started", func(st workflows.MajorStatus) bool { return len(st.Minor) == 2 && st.Minor[0].Tag != "" })
	require.Equal(t, []wire.Update{{Package: "libcore", Ref: demo.UpdateLibcore2}}, st.Minor[0].Updates, "libnet depends on libcore: two minor waves")

	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var res workflows.MajorWaveResult
	require.NoError(t, run.Get(wctx, &res))
	require.Equal(t, []string{"wave-1-1", "wave-1-2"}, res.Tags)

	s.checkConsistent(t, res)
	m2, err := s.st.MinorWaveByNumber(ctx, mustWave(t, s.st, 1).ID, 2)
	require.NoError(t, err)
	roots, err := s.st.RootCauses(ctx, m2.ID)
	require.NoError(t, err)
	require.Len(t, roots, 1)
	require.Equal(t, "libhttp", roots[0].Package)
	require.Equal(t, "fixed", roots[0].Resolution)
	require.Empty(t, roots[0].Dependents, "its dependents were rebuilt green")
	recordHistories(t, s.c, id)

	s.checkRooted(t, res.Tags)

	// Maintainers pin against the newest tag with their package's whole closure green.
	for pkg, want := range map[string]string{"fetch": "wave-1-2", "libhttp": "wave-1-2", "calc": "wave-1-2", "hello": "wave-1-2"} {
		pin, err := s.st.Pin(ctx, "demo", pkg, store.PinOptions{})
		require.NoError(t, err, pkg)
		require.Equal(t, want, pin.Tag, pkg)
		require.Equal(t, res.Minor[1].Commit, pin.Commit)
	}
	pin, err := s.st.Pin(ctx, "demo", "tetrix", store.PinOptions{})
	require.ErrorIs(t, err, store.ErrNoGreenTag, "tetrix was resolved wont-fix")
	require.Len(t, pin.Rejected, 2)
	require.Contains(t, pin.Rejected[0].Reasons, "tetrix: failed")
}

// checkRooted holds that every tag's outputs, unfinished tags' (wave-N-Mpre) too, are
// garbage-collector roots of the tag host's store: a symlink per output, valid, recorded;
// and that releasing all but the newest finished tag (crest gc --keep-tags 1) removes the
// others' roots only.
func (s *stack) checkRooted(t *testing.T, tags []string) {
	ctx := context.Background()
	roots, err := s.st.TagRoots(ctx, "demo")
	require.NoError(t, err)
	var names []string
	for _, r := range roots {
		names = append(names, r.Tag+" "+r.Kind)
	}
	require.Equal(t, []string{"wave-1-2 finished", "wave-1-2pre unfinished", "wave-1-1 finished", "wave-1-1pre unfinished"}, names,
		"newest first; each minor wave was tagged unfinished while it waited for its failures")
	require.Equal(t, []string{"wave-1-1", "wave-1-2"}, tags)
	n := s.acts.Roots.Nix
	for _, r := range roots {
		require.Zero(t, r.Missing, r.Tag)
		m, err := s.st.MinorWaveByNumber(ctx, mustWave(t, s.st, 1).ID, map[string]int{"wave-1-1": 1, "wave-1-2": 2}[strings.TrimSuffix(r.Tag, "pre")])
		require.NoError(t, err)
		results, err := s.st.Results(ctx, m.ID, "")
		require.NoError(t, err)
		require.Greater(t, r.Outputs, len(results)/2, "%s roots the outputs of its packages", r.Tag)
		links, err := filepath.Glob(filepath.Join(r.Dir, "out-*"))
		require.NoError(t, err)
		require.Len(t, links, r.Outputs)
		var targets []string
		for _, l := range links {
			target, err := os.Readlink(l)
			require.NoError(t, err)
			targets = append(targets, target)
		}
		invalid, err := n.Invalid(ctx, targets)
		require.NoError(t, err)
		require.Empty(t, invalid)
	}
	released, err := activities.ReleaseRoots(ctx, s.st, "demo", policy.Retention{KeepTags: 1}, time.Now(), false)
	require.NoError(t, err)
	require.Len(t, released, len(roots))
	for _, r := range released {
		if r.Tag == "wave-1-2" {
			require.False(t, r.Release, r.Reason)
			require.DirExists(t, r.Dir)
		} else {
			require.True(t, r.Release, "%s: %s", r.Tag, r.Reason)
			require.NoDirExists(t, r.Dir)
		}
	}
}

// checkConsistent holds Postgres, the remote's tags and the build records to one story.
func (s *stack) checkConsistent(t *testing.T, res workflows.MajorWaveResult) {
	ctx := context.Background()
	// Tags are in the remote, annotated, with a machine-readable summary.
	for _, tag := range res.Tags {
		out, err := exec.Command("git", "-C", s.demo.Remote, "tag", "-l", "--format=%(objecttype) %(contents)", tag).CombinedOutput()
		require.NoError(t, err, string(out))
		require.True(t, strings.HasPrefix(string(out), "tag "), "annotated tag %s: %s", tag, out)
		require.Contains(t, string(out), `"schema": "crest.tag/v1"`)
	}
	tags, err := s.st.Tags(ctx, "demo")
	require.NoError(t, err)
	require.Len(t, tags, 2)
	for _, tag := range tags {
		out, err := exec.Command("git", "-C", s.demo.Remote, "rev-parse", tag.Name+"^{commit}").Output()
		require.NoError(t, err)
		require.Equal(t, tag.Commit, strings.TrimSpace(string(out)), "Postgres and the remote agree on %s", tag.Name)
	}

	w, err := s.st.WaveByNumber(ctx, "demo", 1)
	require.NoError(t, err)
	minors, err := s.st.MinorWaves(ctx, w.ID)
	require.NoError(t, err)
	require.Len(t, minors, 2)
	green := map[string]int{}
	for _, m := range minors {
		require.Equal(t, "done", m.State)
		results, err := s.st.Results(ctx, m.ID, "")
		require.NoError(t, err)
		for _, r := range results {
			green[r.Package]++
			switch r.Package {
			case "tetrix":
				require.Equal(t, "wont-fix", r.Resolution)
			case "calc", "libhttp":
				require.Equal(t, "passed", r.Status)
				require.Equal(t, "fixed", r.Resolution)
			case "oldtool":
				t.Fatal("meta.broken oldtool was scheduled")
			default:
				require.Equal(t, "passed", r.Status, r.Package)
			}
		}
	}
	for pkg, n := range green {
		require.Equal(t, 1, n, "%s settled in exactly one minor wave", pkg)
	}
	require.Len(t, green, 38, "libcore's reverse closure (39) without meta.broken oldtool")
	// Every derivation built at most once per major wave.
	dup, err := s.st.DuplicateBuilds(ctx, w.ID)
	require.NoError(t, err)
	require.Empty(t, dup)
}
