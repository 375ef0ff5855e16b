package nix_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/nix"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/graph"
)

// newNix returns an adapter, failing (never skipping) when Nix is missing: these tests are
// the proof that the adapter works against the real thing.
func newNix(t *testing.T, cfg nix.Config) *nix.Nix {
	t.Helper()
	if _, err := exec.LookPath("nix-instantiate"); err != nil && cfg.BinDir == "" {
		t.Fatalf("Nix is required for these tests and nix-instantiate is not on PATH.\n"+
			"Install it with `apt-get install nix-bin` (Debian/Ubuntu) and run the tests as root "+
			"(single-user store) or with nix-daemon running: %v", err)
	}
	n, err := nix.New(cfg)
	require.NoError(t, err)
	return n
}

// mainEval is the demo collection's main branch, exported and evaluated once per test binary.
var mainEval = sync.OnceValues(func() (evaluation, error) {
	dir, err := os.MkdirTemp("", "crest-nix-test-")
	if err != nil {
		return evaluation{}, err
	}
	ctx := context.Background()
	repo, err := demo.Create(ctx, filepath.Join(dir, "repo"))
	if err != nil {
		return evaluation{}, err
	}
	checkout := filepath.Join(dir, "main")
	if err := repo.Export(ctx, demo.MainBranch, checkout); err != nil {
		return evaluation{}, err
	}
	n, err := nix.New(nix.Config{})
	if err != nil {
		return evaluation{}, err
	}
	start := time.Now()
	pkgs, err := n.Evaluate(ctx, checkout, "")
	if err != nil {
		return evaluation{}, err
	}
	e := evaluation{dir: dir, checkout: checkout, took: time.Since(start), byKey: map[string]graph.Package{}}
	e.pkgs = pkgs
	for _, p := range pkgs {
		e.byKey[p.Key] = p
	}
	return e, nil
})

type evaluation struct {
	dir, checkout string
	took          time.Duration
	pkgs          []graph.Package
	byKey         map[string]graph.Package
}

func demoMain(t *testing.T) evaluation {
	t.Helper()
	newNix(t, nix.Config{})
	e, err := mainEval()
	require.NoError(t, err)
	return e
}

func TestMain(m *testing.M) {
	code := m.Run()
	if e, err := mainEval(); err == nil {
		_ = os.RemoveAll(e.dir)
	}
	os.Exit(code)
}

func TestEvaluateDemoMain(t *testing.T) {
	t.Parallel()
	e := demoMain(t)
	t.Logf("evaluated %d packages in %v", len(e.pkgs), e.took)

	require.GreaterOrEqual(t, len(e.pkgs), 30)
	require.LessOrEqual(t, len(e.pkgs), 80)
	system := e.pkgs[0].System
	require.NotEmpty(t, system)
	for i, p := range e.pkgs {
		if i > 0 {
			require.Less(t, e.pkgs[i-1].Key, p.Key, "packages are sorted by key")
		}
		require.Equal(t, system, p.System, p.Key)
		require.NotEmpty(t, p.Name, p.Key)
		require.NotEmpty(t, p.Version, p.Key)
		require.NotEmpty(t, p.Maintainers, p.Key)
		require.FileExists(t, p.Drv, "%s: --read-write-mode writes the .drv", p.Key)
		for _, d := range p.Deps {
			require.Contains(t, e.byKey, d, "%s depends on %s", p.Key, d)
		}
		for _, tst := range p.Tests {
			require.FileExists(t, tst.Drv, "%s.%s", p.Key, tst.Name)
		}
		if p.Key != "stdenv-stage0" && p.Key != "stdenv-stage1" && p.Key != "stdenv" {
			require.Contains(t, p.Deps, "stdenv", p.Key)
			require.NotEmpty(t, p.Tests, p.Key)
		}
	}

	// The strongly connected pair: libparse's tests need libcheck, libcheck is built with
	// libparse. It is the collection's only cycle.
	require.Contains(t, e.byKey["libparse"].Deps, "libcheck")
	require.Contains(t, e.byKey["libcheck"].Deps, "libparse")
	g, report, err := graph.New(e.pkgs, graph.Options{})
	require.NoError(t, err)
	require.True(t, report.Clean())
	require.Equal(t, [][]string{{"libcheck", "libparse"}}, g.SCCs())
	var calcTests []string
	for _, tst := range e.byKey["calc"].Tests {
		calcTests = append(calcTests, tst.Name)
	}
	require.Equal(t, []string{"arith", "version"}, calcTests)
	require.Equal(t, []string{"bob", "frank"}, e.byKey["netd"].Maintainers)
	require.Equal(t, "calc", e.byKey["calc"].Name)
	require.Equal(t, "1.4.0", e.byKey["libcore"].Version)
	var broken []string
	for _, p := range e.pkgs {
		if p.Broken {
			broken = append(broken, p.Key)
		}
	}
	require.Equal(t, []string{"oldtool"}, broken)

	// Evaluating for the system Nix runs on, named explicitly, gives the same derivations.
	n := newNix(t, nix.Config{})
	again, err := n.Evaluate(context.Background(), e.checkout, system)
	require.NoError(t, err)
	require.Equal(t, e.pkgs, again)
}

func TestRealiseDemoPackageAndTests(t *testing.T) {
	t.Parallel()
	e := demoMain(t)
	n := newNix(t, nix.Config{})
	ctx := context.Background()

	hello := e.byKey["hello"]
	var lines []string
	res, err := n.Realise(ctx, hello.Drv, nix.RealiseOptions{OnLine: func(l string) { lines = append(lines, l) }})
	require.NoError(t, err)
	require.Len(t, res.Outputs, 1)
	out, err := exec.Command(filepath.Join(res.Outputs[0], "bin", "hello")).Output()
	require.NoError(t, err)
	require.Equal(t, "Hello, world!\n", string(out))

	outputs, ok, err := n.Valid(ctx, hello.Drv)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, res.Outputs, outputs)

	// Realising again is a no-op that returns the same outputs.
	again, err := n.Realise(ctx, hello.Drv, nix.RealiseOptions{})
	require.NoError(t, err)
	require.Equal(t, res.Outputs, again.Outputs)

	drvs := []string{}
	for _, tst := range hello.Tests {
		drvs = append(drvs, tst.Drv)
	}
	all, err := n.RealiseAll(ctx, drvs, nix.RealiseOptions{})
	require.NoError(t, err)
	require.Len(t, all.Outputs, len(hello.Tests))
}

func TestRealiseBuildFailure(t *testing.T) {
	t.Parallel()
	e := demoMain(t)
	n := newNix(t, nix.Config{})
	ctx := context.Background()

	// oldtool is meta.broken on main for a reason: it links against a symbol libcore lacks.
	oldtool := e.byKey["oldtool"]
	_, err := n.Realise(ctx, oldtool.Drv, nix.RealiseOptions{})
	require.Error(t, err)
	var f *nix.BuildFailure
	require.ErrorAs(t, err, &f)
	require.Equal(t, oldtool.Drv, f.Drv)
	require.Equal(t, 1, f.ExitCode)
	require.Equal(t, 100, f.Status)
	require.False(t, f.TimedOut())
	require.Equal(t, []string{oldtool.Drv}, f.Failed)
	require.Contains(t, f.LogTail, "ld: error: undefined reference to 'core_kr_alloc'")
	require.Contains(t, err.Error(), "linking failed")
	require.NotErrorIs(t, err, nix.ErrUnknownDerivation)

	// Its test depends on it: the failure names oldtool, the test is dependency-failed.
	_, err = n.Realise(ctx, oldtool.Tests[0].Drv, nix.RealiseOptions{})
	require.ErrorAs(t, err, &f)
	require.Equal(t, oldtool.Drv, f.Drv)
	require.Equal(t, []string{oldtool.Tests[0].Drv}, f.DependencyFailed)

	// Going on past failures builds what does not depend on them.
	hello := e.byKey["hello"]
	res, err := n.RealiseAll(ctx, []string{oldtool.Drv, hello.Drv}, nix.RealiseOptions{})
	require.ErrorAs(t, err, &f)
	require.Equal(t, []string{oldtool.Drv}, f.Failed)
	require.Len(t, res.Outputs, 1)
	_, ok, err := n.Valid(ctx, hello.Drv)
	require.NoError(t, err)
	require.True(t, ok)
}

// writeIndex writes an index expression with one package, "probe", whose builder runs
// script; the nonce makes its derivation new to the store.
func writeIndex(t *testing.T, script string) string {
	t.Helper()
	dir := t.TempDir()
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	expr := fmt.Sprintf(`{ system ? builtins.currentSystem, hostPath ? "/usr/bin:/bin" }:
let
  d = derivation {
    name = "crest-probe-%s";
    inherit system;
    builder = "/bin/sh";
    PATH = hostPath;
    args = [ "-e" "-c" %q ];
  };
in [ { attr = "probe"; name = "probe"; version = "1"; inherit system; drv = d.drvPath; deps = [ ]; tests = [ ]; maintainers = [ "alice" ]; broken = false; } ]
`, nonce, script)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.nix"), []byte(expr), 0o644))
	return dir
}

func probe(t *testing.T, n *nix.Nix, script string) graph.Package {
	t.Helper()
	pkgs, err := n.Evaluate(context.Background(), writeIndex(t, script), "")
	require.NoError(t, err)
	require.Len(t, pkgs, 1)
	return pkgs[0]
}

func TestValidBeforeAndAfterBuild(t *testing.T) {
	t.Parallel()
	n := newNix(t, nix.Config{})
	ctx := context.Background()
	p := probe(t, n, `echo built > "$out"`)

	outputs, ok, err := n.Valid(ctx, p.Drv)
	require.NoError(t, err)
	require.False(t, ok)
	require.Len(t, outputs, 1)

	res, err := n.Realise(ctx, p.Drv, nix.RealiseOptions{})
	require.NoError(t, err)
	got, ok, err := n.Valid(ctx, p.Drv)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, outputs, got)
	require.Equal(t, outputs, res.Outputs)
}

func TestRealiseUnknownDerivation(t *testing.T) {
	t.Parallel()
	n := newNix(t, nix.Config{})
	missing := "/nix/store/00000000000000000000000000000000-crest-missing.drv"
	_, err := n.Realise(context.Background(), missing, nix.RealiseOptions{})
	require.ErrorIs(t, err, nix.ErrUnknownDerivation)
	_, ok := nix.AsBuildFailure(err)
	require.False(t, ok, "a missing derivation is not a build failure")
	var ce *nix.CommandError
	require.ErrorAs(t, err, &ce)

	_, _, err = n.Valid(context.Background(), missing)
	require.ErrorIs(t, err, nix.ErrUnknownDerivation)
}

func TestLogTailKeepsTheEnd(t *testing.T) {
	t.Parallel()
	n := newNix(t, nix.Config{LogTailBytes: 512})
	p := probe(t, n, `i=0; while [ $i -lt 2000 ]; do echo "noise line $i"; i=$((i+1)); done; echo "error: the real reason" >&2; exit 7`)
	var seen int
	_, err := n.Realise(context.Background(), p.Drv, nix.RealiseOptions{OnLine: func(string) { seen++ }})
	f, ok := nix.AsBuildFailure(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, 7, f.ExitCode)
	require.LessOrEqual(t, len(f.LogTail), 512)
	require.Contains(t, f.LogTail, "error: the real reason")
	require.NotContains(t, f.LogTail, "noise line 0\n")
	require.Contains(t, f.Error(), "the real reason")
	require.Greater(t, seen, 2000, "every line reaches OnLine")
}

func TestEvaluateErrors(t *testing.T) {
	t.Parallel()
	n := newNix(t, nix.Config{})
	ctx := context.Background()
	for name, expr := range map[string]string{
		"throw":  `{ system ? "", ... }: [ (throw "demo index is broken on ${system}") ]`,
		"syntax": `{ system ? "", ... }: [ { attr = "x"; `,
		"shape":  `{ ... }: { not = "a list"; }`,
		"record": `{ ... }: [ { attr = "x"; } ]`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "index.nix"), []byte(expr), 0o644))
			_, err := n.Evaluate(ctx, dir, "x86_64-linux")
			var ee *nix.EvalError
			require.ErrorAs(t, err, &ee)
			require.NotEmpty(t, ee.Tail)
			switch name {
			case "throw":
				require.Contains(t, err.Error(), "demo index is broken on x86_64-linux")
			case "syntax":
				require.Contains(t, err.Error(), "syntax error")
			case "record":
				require.Contains(t, err.Error(), "package x has no drv")
			}
		})
	}
	_, err := n.Evaluate(ctx, t.TempDir(), "")
	require.Error(t, err, "a checkout without index.nix")
}

func TestNewWithoutNix(t *testing.T) {
	t.Parallel()
	_, err := nix.New(nix.Config{BinDir: t.TempDir()})
	require.ErrorIs(t, err, nix.ErrNixMissing)
	require.Contains(t, err.Error(), "apt-get install nix-bin")
}

// alive tells whether pid is a live process (a zombie counts as gone).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	return pid
}

// sleeper is a build that records its shell's and its sleep's pids in dir and sleeps.
func sleeper(t *testing.T, n *nix.Nix) (graph.Package, string) {
	t.Helper()
	// Builders run as build users: they need a directory anyone may write.
	marks, err := os.MkdirTemp("", "crest-sleeper-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(marks, 0o1777))
	t.Cleanup(func() { _ = os.RemoveAll(marks) })
	p := probe(t, n, fmt.Sprintf(`echo "sleeping"; sleep 300 & echo $! > %[1]s/sleep.pid; echo $$ > %[1]s/sh.pid; wait`, marks))
	return p, marks
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCancelKillsTheBuild(t *testing.T) {
	t.Parallel()
	n := newNix(t, nix.Config{KillGrace: 3 * time.Second})
	p, marks := sleeper(t, n)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type outcome struct {
		err   error
		beats int
		lines []string
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		_, o.err = n.Realise(ctx, p.Drv, nix.RealiseOptions{
			OnLine:         func(l string) { o.lines = append(o.lines, l) },
			Heartbeat:      func(time.Duration) { o.beats++ },
			HeartbeatEvery: 50 * time.Millisecond,
		})
		done <- o
	}()
	waitFor(t, "the builder to start", func() bool {
		_, e1 := os.Stat(filepath.Join(marks, "sh.pid"))
		_, e2 := os.Stat(filepath.Join(marks, "sleep.pid"))
		return e1 == nil && e2 == nil
	})
	time.Sleep(200 * time.Millisecond) // let a few heartbeats happen
	sh, sl := readPid(t, filepath.Join(marks, "sh.pid")), readPid(t, filepath.Join(marks, "sleep.pid"))
	require.True(t, alive(sh) && alive(sl))

	cancelled := time.Now()
	cancel()
	var o outcome
	select {
	case o = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Realise did not return after cancel")
	}
	t.Logf("Realise returned %v after cancel", time.Since(cancelled))
	require.ErrorIs(t, o.err, context.Canceled)
	_, isFailure := nix.AsBuildFailure(o.err)
	require.False(t, isFailure)
	require.Positive(t, o.beats)
	require.Contains(t, strings.Join(o.lines, "\n"), "sleeping")
	waitFor(t, "the builder's processes to go", func() bool { return !alive(sh) && !alive(sl) })
	require.Less(t, time.Since(cancelled), 10*time.Second)

	_, ok, err := n.Valid(context.Background(), p.Drv)
	require.NoError(t, err)
	require.False(t, ok)
}

func TestDeadlineStopsTheBuild(t *testing.T) {
	t.Parallel()
	n := newNix(t, nix.Config{KillGrace: 3 * time.Second})
	p, marks := sleeper(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := n.Realise(ctx, p.Drv, nix.RealiseOptions{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 10*time.Second)
	if b, rerr := os.ReadFile(filepath.Join(marks, "sleep.pid")); rerr == nil {
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		waitFor(t, "sleep to go", func() bool { return !alive(pid) })
	}
	require.False(t, errors.Is(err, nix.ErrUnknownDerivation))
}
