package workflows_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/workflows"
)

// TestUpstreamWaveTags: libjson's upstream takes part in waves. Wave 1 reaches libjson while
// its upstream has no wave-1 tag: Crest files one request issue and rebuilds libjson as it
// is. The upstream then tags wave-2 at a commit with libjson 2.2.0, and wave 2 updates
// libjson to it, in its own minor wave after libcore's.
func TestUpstreamWaveTags(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	upstream, work := s.upstreamOf(t)
	col := s.demoCollection()
	col.Upstreams = []wire.Upstream{{Package: "libjson", Repo: upstream}}
	require.NoError(t, s.acts.RegisterCollection(ctx, col))
	in := workflows.MajorWaveInput{Collection: "demo", Limits: s.limits,
		Updates: []wire.Update{{Package: "libcore", Ref: demo.UpdateLibcore2RC1}}}

	res := s.runWave(t, s.queue+"/wave-1", in)
	require.Equal(t, []string{"wave-1-1"}, res.Tags, "libjson is not updated: one minor wave")
	requests := s.tagRequests(t)
	require.Len(t, requests, 1)
	require.Contains(t, requests[0], "libjson: please tag wave-1 for wave-1")

	// The upstream gets ready for wave 2.
	path := "pkgs/libraries/libjson/default.nix"
	b, err := os.ReadFile(filepath.Join(work, path))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(work, path), []byte(strings.Replace(string(b), `"2.1.0"`, `"2.2.0"`, 1)), 0o644))
	gitRun(t, work, "commit", "--quiet", "-am", "libjson 2.2.0")
	gitRun(t, work, "tag", "wave-2")
	gitRun(t, work, "push", "--quiet", "origin", "HEAD:refs/heads/main", "wave-2")

	res = s.runWave(t, s.queue+"/wave-2", in)
	require.Equal(t, []string{"wave-2-1", "wave-2-2"}, res.Tags, "libjson's update runs after libcore's")
	w, err := s.st.WaveByNumber(ctx, "demo", 2)
	require.NoError(t, err)
	m, err := s.st.MinorWaveByNumber(ctx, w.ID, 2)
	require.NoError(t, err)
	var ups []wire.Update
	require.NoError(t, json.Unmarshal(m.Updates, &ups))
	require.Equal(t, []wire.Update{{Package: "libjson", Ref: "refs/tags/wave-2", Repo: upstream}}, ups)
	ev, err := s.st.FindEvaluation(ctx, mustCollectionID(t, s), res.Minor[1].Commit, "x86_64-linux")
	require.NoError(t, err)
	p, err := s.st.PackageAt(ctx, ev.ID, "libjson")
	require.NoError(t, err)
	require.Equal(t, "2.2.0", p.Version, "wave-2-2 builds the upstream's tagged libjson")
	require.Len(t, s.tagRequests(t), 1, "no request for a tag that exists")
}

// upstreamOf makes an upstream repository of the demo collection and a work tree of it.
func (s *stack) upstreamOf(t *testing.T) (bare, work string) {
	t.Helper()
	dir := t.TempDir()
	bare, work = filepath.Join(dir, "upstream.git"), filepath.Join(dir, "work")
	gitRun(t, "", "clone", "--quiet", "--bare", s.demo.Remote, bare)
	gitRun(t, "", "clone", "--quiet", bare, work)
	return bare, work
}

// tagRequests lists the titles of the upstream tag requests filed in the local tracker.
func (s *stack) tagRequests(t *testing.T) []string {
	t.Helper()
	issues, err := s.st.LocalIssues(context.Background(), "")
	require.NoError(t, err)
	var out []string
	for _, is := range issues {
		if strings.Contains(is.Title, "please tag") {
			out = append(out, is.Title)
		}
	}
	return out
}

func mustCollectionID(t *testing.T, s *stack) int64 {
	t.Helper()
	c, err := s.st.CollectionByName(context.Background(), "demo")
	require.NoError(t, err)
	return c.ID
}

func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Upstream", "GIT_AUTHOR_EMAIL=up@example.org",
		"GIT_COMMITTER_NAME=Upstream", "GIT_COMMITTER_EMAIL=up@example.org")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}
