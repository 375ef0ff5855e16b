package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/filer"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/tracker"
	"github.com/crestwaves/crest/activities/tracker/github"
	"github.com/crestwaves/crest/activities/tracker/github/githubtest"
	"github.com/crestwaves/crest/activities/tracker/local"
	"github.com/crestwaves/crest/deploy/testenv"
)

// TestMain stops the throwaway Postgres of the issues tests (and removes its directory).
// With cliArgsEnv set, the test binary is crest running one command line instead.
func TestMain(m *testing.M) {
	if args := os.Getenv(cliArgsEnv); args != "" {
		os.Exit(runCLI(args))
	}
	testenv.Main(m)
}

// issuesEnv is a store with issues filed by the local tracker and an app pointing at it.
type issuesEnv struct {
	a   *app
	st  *store.Store
	tr  *local.Tracker
	foo filer.IssueRef // libfoo, seen in wave-3-1 and wave-4-1, open
	bar filer.IssueRef // libbar, fixed
}

func newIssuesEnv(t *testing.T) *issuesEnv {
	t.Helper()
	ctx := t.Context()
	st, _, dsn := demoStore(t)
	tr := local.New(st, local.Options{})
	f := &filer.Filer{Store: st, Tracker: tr}
	report := func(pkg string, major, minor int, log string) filer.RootCauseReport {
		return filer.RootCauseReport{Collection: "demo", Package: pkg, Maintainers: []string{"alice"},
			Major: major, Minor: minor, Commit: "abc123", LogTail: log,
			Dependents: []string{"app1", "app2", "app3"}, Deadline: time.Date(2030, 1, 2, 15, 4, 0, 0, time.UTC)}
	}
	e := &issuesEnv{st: st, tr: tr}
	var err error
	e.foo, err = f.RootCause(ctx, report("libfoo", 3, 1, "error: foo.h not found"))
	require.NoError(t, err)
	_, err = f.RootCause(ctx, report("libfoo", 4, 1, "error: foo.h not found"))
	require.NoError(t, err)
	e.bar, err = f.RootCause(ctx, report("libbar", 4, 1, "error: bar broke"))
	require.NoError(t, err)
	_, err = f.Resolved(ctx, filer.ResolutionReport{Collection: "demo", Package: "libbar", Fingerprint: e.bar.Fingerprint,
		Resolution: tracker.EventFixed, Major: 4, Minor: 2})
	require.NoError(t, err)

	e.a = &app{cfg: &Config{DataDir: t.TempDir(), Database: DatabaseConfig{URL: dsn}, Tracker: TrackerConfig{Kind: "local"}}}
	return e
}

func (e *issuesEnv) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newIssuesCmd(e.a)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

func TestIssuesList(t *testing.T) {
	t.Parallel()
	e := newIssuesEnv(t)

	out, err := e.run(t, "list")
	require.NoError(t, err)
	require.Contains(t, out, "NUMBER")
	require.Regexp(t, `#1\s+open\s+libfoo\s+libfoo: build fails in wave-3-1\s+wave-3-1 … wave-4-1\s+1\s+local`, out)
	require.NotContains(t, out, "libbar", "closed issues are not listed by default")

	out, err = e.run(t, "list", "--state", "all", "--collection", "demo")
	require.NoError(t, err)
	require.Regexp(t, `#2\s+closed \(fixed\)\s+libbar\s+libbar: build fails in wave-4-1\s+wave-4-1\s+1\s+local`, out)
	require.Contains(t, out, "libfoo")

	out, err = e.run(t, "list", "--state", "closed", "--package", "libfoo")
	require.NoError(t, err)
	require.Equal(t, "no issues\n", out)
	out, err = e.run(t, "list", "--collection", "other")
	require.NoError(t, err)
	require.Equal(t, "no issues\n", out)

	_, err = e.run(t, "list", "--state", "fixed")
	require.ErrorContains(t, err, `--state "fixed": want open, closed or all`)
}

func TestIssuesShowAndComment(t *testing.T) {
	t.Parallel()
	e := newIssuesEnv(t)

	out, err := e.run(t, "show", "1")
	require.NoError(t, err)
	require.Contains(t, out, "#1 libfoo: build fails in wave-3-1 [open]")
	require.Contains(t, out, "collection demo · package libfoo · waves wave-3-1 … wave-4-1")
	require.Contains(t, out, "assignees: alice")
	require.Contains(t, out, "- `app3`", "the body")
	require.Contains(t, out, "--- crest, ")
	require.Contains(t, out, "Still failing")

	before, err := e.tr.Get(t.Context(), e.foo.Ref)
	require.NoError(t, err)
	require.True(t, before.LastExternalComment.IsZero())

	out, err = e.run(t, "comment", "#1", "--as", "alice", "I'm on it,", "patch by Friday")
	require.NoError(t, err)
	require.Equal(t, "alice commented on #1 (libfoo: build fails in wave-3-1)\n", out)

	after, err := e.tr.Get(t.Context(), e.foo.Ref)
	require.NoError(t, err)
	require.False(t, after.LastExternalComment.IsZero(), "the maintainer's comment counts as external")
	require.Equal(t, before.Comments+1, after.Comments)

	out, err = e.run(t, "show", "1")
	require.NoError(t, err)
	require.Contains(t, out, "--- alice, ")
	require.Contains(t, out, "I'm on it, patch by Friday")
	out, err = e.run(t, "list")
	require.NoError(t, err)
	require.Regexp(t, `wave-3-1 … wave-4-1\s+2\s+local`, out)

	out, err = e.run(t, "show", "2")
	require.NoError(t, err)
	require.Contains(t, out, "[closed, completed]")
	require.Contains(t, out, "Fixed:")

	_, err = e.run(t, "show", "99")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = e.run(t, "show", "x")
	require.ErrorContains(t, err, "want a positive number")
	_, err = e.run(t, "comment", "1", "text")
	require.ErrorContains(t, err, `"as" not set`)
	_, err = e.run(t, "comment", "99", "--as", "alice", "hello")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = e.run(t, "comment", "1", "--as", " ", "hello")
	require.ErrorIs(t, err, tracker.ErrInvalid)
}

func TestIssuesOnGitHubShowWhatCrestWrote(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testenv.DSN(t, false)
	st, err := store.Open(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(st.Close)
	_, err = st.UpsertCollection(ctx, store.Collection{Name: "demo", Remote: "/srv/demo.git"})
	require.NoError(t, err)
	srv := githubtest.New(t, "ghp_test")
	srv.AddRepo("nixos/nixpkgs")
	gh, err := github.New(github.Config{Repo: "nixos/nixpkgs", Token: "ghp_test", BaseURL: srv.URL()})
	require.NoError(t, err)
	f := &filer.Filer{Store: st, Tracker: gh}
	ref, err := f.RootCause(ctx, filer.RootCauseReport{Collection: "demo", Package: "libfoo", Major: 1, Minor: 1, LogTail: "error: x"})
	require.NoError(t, err)
	_, err = f.RootCause(ctx, filer.RootCauseReport{Collection: "demo", Package: "libfoo", Major: 1, Minor: 2, LogTail: "error: x"})
	require.NoError(t, err)

	cfg := &Config{DataDir: t.TempDir(), Database: DatabaseConfig{URL: dsn},
		Tracker: TrackerConfig{Kind: "github", GitHub: GitHubConfig{Owner: "nixos", Repo: "nixpkgs"}}}
	e := &issuesEnv{a: &app{cfg: cfg}}
	out, err := e.run(t, "list")
	require.NoError(t, err)
	require.NotEmpty(t, ref.Ref.URL)
	require.Regexp(t, `#1\s+open\s+libfoo\s+libfoo: build fails in wave-1-1\s+wave-1-1 … wave-1-2\s+1\s+`+regexp.QuoteMeta(ref.Ref.URL), out)
	out, err = e.run(t, "show", "1")
	require.NoError(t, err)
	require.Contains(t, out, "#1 libfoo: build fails in wave-1-1 [open]")
	require.Contains(t, out, "--- crest, ")
	require.Contains(t, out, "Still failing")
	require.Contains(t, out, "people's comments are on the tracker")
	_, err = e.run(t, "show", "2")
	require.ErrorContains(t, err, "no issue #2 filed by Crest in github nixos/nixpkgs")

	_, err = e.run(t, "comment", "1", "--as", "alice", "hi")
	require.ErrorContains(t, err, "local tracker only")
}
