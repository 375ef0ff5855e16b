package demo_test

import (
	"context"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	crest "github.com/crestwaves/crest"
	"github.com/crestwaves/crest/activities/gitrepo"
	"github.com/crestwaves/crest/activities/nix"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/graph"
)

func TestCreateIsDeterministic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	start := time.Now()
	a, err := demo.Create(ctx, t.TempDir())
	require.NoError(t, err)
	elapsed := time.Since(start)
	b, err := demo.Create(ctx, t.TempDir())
	require.NoError(t, err)
	require.Equal(t, a.Commits, b.Commits)
	require.Equal(t, a.Scenarios, b.Scenarios)
	require.Len(t, a.Commits, 1+len(demo.Scenarios()))
	require.Less(t, elapsed, 2*time.Second, "Create must be fast")
	t.Logf("Create took %v; main is %s", elapsed, a.Commits[demo.MainBranch])

	_, err = demo.Create(ctx, filepath.Dir(a.Remote))
	require.Error(t, err, "Create does not overwrite a repository")
}

// TestScenarioCommits checks the scenario table against the repository: each branch is one
// commit on its base that changes exactly the packages it names, and the README documents it.
func TestScenarioCommits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo, err := demo.Create(ctx, t.TempDir())
	require.NoError(t, err)
	readme, err := crest.DemoCollection.ReadFile("testdata/demo/README.md")
	require.NoError(t, err)
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"--git-dir=" + repo.Remote}, args...)...).Output()
		require.NoError(t, err, "git %v", args)
		return strings.TrimSpace(string(out))
	}
	require.Equal(t, demo.MainBranch, strings.TrimPrefix(git("symbolic-ref", "HEAD"), "refs/heads/"))
	for _, s := range repo.Scenarios {
		require.Equal(t, repo.Commits[s.Base], git("rev-parse", s.Commit+"^"), s.Branch)
		var pkgs []string
		for _, f := range strings.Fields(git("diff", "--name-only", s.Commit+"^", s.Commit)) {
			require.Equal(t, "default.nix", path.Base(f), "%s changes %s", s.Branch, f)
			pkgs = append(pkgs, path.Base(path.Dir(f)))
		}
		require.Equal(t, s.Packages, pkgs, s.Branch)
		require.Equal(t, "Crest Demo <demo@crest.invalid>", git("log", "-1", "--format=%an <%ae>", s.Commit))
		require.Contains(t, string(readme), "`"+s.Branch+"`", "README documents %s", s.Branch)
	}
}

// builder evaluates and builds states of the demo collection.
type builder struct {
	t    *testing.T
	nix  *nix.Nix
	main map[string]graph.Package
}

func newBuilder(t *testing.T) *builder {
	t.Helper()
	if _, err := exec.LookPath("nix-store"); err != nil {
		t.Fatalf("the demo scenarios are built with Nix, and nix-store is not on PATH: install it with `apt-get install nix-bin` (Debian/Ubuntu) and run as root or with nix-daemon: %v", err)
	}
	n, err := nix.New(nix.Config{})
	require.NoError(t, err)
	return &builder{t: t, nix: n}
}

// outcome evaluates the checkout at dir, builds every package that is not meta.broken and
// its tests in one nix-store run, and says what failed.
func (b *builder) outcome(dir string) (demo.Outcome, map[string]graph.Package) {
	t := b.t
	t.Helper()
	ctx := context.Background()
	pkgs, err := b.nix.Evaluate(ctx, dir, "")
	require.NoError(t, err)
	byKey := map[string]graph.Package{}
	o := demo.Outcome{Rebuilt: []string{}}
	names := map[string]string{} // drv → key or key.test
	var drvs []string
	for _, p := range pkgs {
		byKey[p.Key] = p
		if b.main != nil && b.main[p.Key].Drv != p.Drv {
			o.Rebuilt = append(o.Rebuilt, p.Key)
		}
		if p.Broken {
			o.Broken = append(o.Broken, p.Key)
			continue
		}
		names[p.Drv] = p.Key
		drvs = append(drvs, p.Drv)
		for _, tst := range p.Tests {
			names[tst.Drv] = p.Key + "." + tst.Name
			drvs = append(drvs, tst.Drv)
		}
	}
	_, err = b.nix.RealiseAll(ctx, drvs, nix.RealiseOptions{})
	if err != nil {
		f, ok := nix.AsBuildFailure(err)
		require.True(t, ok, "only builds fail: %v", err)
		for _, d := range f.Failed {
			name, known := names[d]
			require.True(t, known, "%s failed but is neither a package nor a test", d)
			if strings.Contains(name, ".") {
				o.TestFailures = append(o.TestFailures, name)
			} else {
				o.BuildFailures = append(o.BuildFailures, name)
			}
		}
		for _, d := range f.DependencyFailed {
			if name, ok := names[d]; ok && !strings.Contains(name, ".") {
				o.DependencyFailed = append(o.DependencyFailed, name)
			}
		}
	}
	for _, l := range [][]string{o.BuildFailures, o.TestFailures, o.DependencyFailed, o.Broken} {
		sort.Strings(l)
	}
	return o, byKey
}

// checkLogs realises every expected failure alone and checks that it is a *BuildFailure of
// that derivation whose log tail holds the builder's message.
func (b *builder) checkLogs(want demo.Outcome, pkgs map[string]graph.Package) {
	t := b.t
	t.Helper()
	for name, line := range want.LogLines {
		key, test, _ := strings.Cut(name, ".")
		drv := pkgs[key].Drv
		for _, tst := range pkgs[key].Tests {
			if tst.Name == test {
				drv = tst.Drv
			}
		}
		_, err := b.nix.Realise(context.Background(), drv, nix.RealiseOptions{})
		f, ok := nix.AsBuildFailure(err)
		require.True(t, ok, "%s: %v", name, err)
		require.Equal(t, drv, f.Drv, name)
		require.Equal(t, 1, f.ExitCode, name)
		require.Contains(t, f.LogTail, line, name)
	}
}

func compare(t *testing.T, what string, want, got demo.Outcome) {
	t.Helper()
	want.LogLines = nil
	require.Equal(t, want, got, what)
}

// TestScenariosBuildAsDocumented builds main, every scenario branch and every documented
// merge of branches with real Nix and checks what changes and what fails, and why.
func TestScenariosBuildAsDocumented(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tmp := t.TempDir()
	repo, err := demo.Create(ctx, filepath.Join(tmp, "repo"))
	require.NoError(t, err)
	b := newBuilder(t)

	mainDir := filepath.Join(tmp, "main")
	require.NoError(t, repo.Export(ctx, demo.MainBranch, mainDir))
	start := time.Now()
	mainOutcome, mainPkgs := b.outcome(mainDir)
	t.Logf("main: %d packages evaluated, built and tested in %v", len(mainPkgs), time.Since(start))
	compare(t, "main", demo.Outcome{Rebuilt: []string{}, Broken: []string{"oldtool"}}, mainOutcome)
	b.main = mainPkgs

	for _, s := range repo.Scenarios {
		dir := filepath.Join(tmp, strings.ReplaceAll(s.Branch, "/", "-"))
		require.NoError(t, repo.Export(ctx, s.Commit, dir))
		start := time.Now()
		got, pkgs := b.outcome(dir)
		t.Logf("%s: %d rebuilt, %v", s.Branch, len(got.Rebuilt), time.Since(start))
		compare(t, s.Branch, s.Expect, got)
		b.checkLogs(s.Expect, pkgs)
	}

	work, err := gitrepo.Open(ctx, gitrepo.Config{Remote: repo.Remote, Dir: filepath.Join(tmp, "work.git")})
	require.NoError(t, err)
	for i, m := range demo.Merges() {
		branch := "wave/" + m.Name
		_, err := work.PrepareBranch(ctx, branch, demo.MainBranch)
		require.NoError(t, err)
		var head string
		for _, ref := range m.Branches {
			head, err = work.Merge(ctx, branch, ref, "")
			require.NoError(t, err, "%s: merge %s", m.Name, ref)
		}
		dir, cleanup, err := work.Worktree(ctx, head)
		require.NoError(t, err)
		start := time.Now()
		got, pkgs := b.outcome(dir)
		t.Logf("merge %d %s: %d rebuilt, %v", i, m.Name, len(got.Rebuilt), time.Since(start))
		compare(t, m.Name, m.Expect, got)
		b.checkLogs(m.Expect, pkgs)
		require.NoError(t, cleanup())
	}
}

func TestScenarioConflictsAreReal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo, err := demo.Create(ctx, t.TempDir())
	require.NoError(t, err)
	work, err := gitrepo.Open(ctx, gitrepo.Config{Remote: repo.Remote, Dir: filepath.Join(t.TempDir(), "w.git")})
	require.NoError(t, err)
	for _, s := range repo.Scenarios {
		for _, other := range s.Conflicts {
			branch := "conflict/" + strings.ReplaceAll(s.Branch+"-"+other, "/", "-")
			_, err := work.PrepareBranch(ctx, branch, demo.MainBranch)
			require.NoError(t, err)
			_, err = work.Merge(ctx, branch, s.Branch, "")
			require.NoError(t, err)
			_, err = work.Merge(ctx, branch, other, "")
			var ce *gitrepo.ConflictError
			require.ErrorAs(t, err, &ce, "%s with %s", s.Branch, other)
			o, ok := repo.Scenario(other)
			require.True(t, ok)
			require.True(t, slices.Contains(o.Conflicts, s.Branch), "conflicts are symmetric")
		}
	}
}

func TestExportHasNoScenarioFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo, err := demo.Create(ctx, t.TempDir())
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, repo.Export(ctx, demo.MainBranch, dir))
	require.FileExists(t, filepath.Join(dir, "index.nix"))
	require.FileExists(t, filepath.Join(dir, "README.md"))
	require.NoDirExists(t, filepath.Join(dir, "scenarios"))
	entries, err := os.ReadDir(filepath.Join(dir, "pkgs"))
	require.NoError(t, err)
	require.NotEmpty(t, entries)
}

// BenchmarkColdBuild evaluates the demo collection and builds all of it (every package that is
// not meta.broken and every test) from scratch: a builder PATH of its own makes every
// derivation new to the store. Run it with -bench ColdBuild -benchtime 1x.
func BenchmarkColdBuild(b *testing.B) {
	ctx := context.Background()
	tmp := b.TempDir()
	repo, err := demo.Create(ctx, filepath.Join(tmp, "repo"))
	require.NoError(b, err)
	dir := filepath.Join(tmp, "main")
	require.NoError(b, repo.Export(ctx, demo.MainBranch, dir))
	for i := 0; i < b.N; i++ {
		n, err := nix.New(nix.Config{BuilderPath: "/usr/bin:/bin:/crest-cold-" + strconv.FormatInt(time.Now().UnixNano(), 36)})
		require.NoError(b, err)
		start := time.Now()
		pkgs, err := n.Evaluate(ctx, dir, "")
		require.NoError(b, err)
		evaluated := time.Since(start)
		var drvs []string
		for _, p := range pkgs {
			if !p.Broken {
				drvs = append(drvs, p.Drv)
				for _, tst := range p.Tests {
					drvs = append(drvs, tst.Drv)
				}
			}
		}
		_, err = n.RealiseAll(ctx, drvs, nix.RealiseOptions{})
		require.NoError(b, err)
		b.ReportMetric(evaluated.Seconds(), "eval-s")
		b.ReportMetric(time.Since(start).Seconds()-evaluated.Seconds(), "build-s")
		b.ReportMetric(float64(len(drvs)), "drvs")
	}
}
