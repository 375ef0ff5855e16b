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
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/nix"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/graph"
)

// newNix returns an adapter, failing (never skipping) when Nix is missing: these tests are
// the proof that the adapter works against the real thing.
func newNix(t testing.TB, cfg nix.Config) *nix.Nix {
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

func demoMain(t testing.TB) evaluation {
	t.Helper()
	newNix(t, nix.Config{})
	e, err := mainEval()
	require.NoError(t, err)
	return e
}

// realiseProcessEnv makes the test binary a process that realises one derivation and waits
// (see TestKilledWorkerLeavesNoNixRunning).
const realiseProcessEnv = "CREST_TEST_REALISE_DRV"

func TestMain(m *testing.M) {
	if drv := os.Getenv(realiseProcessEnv); drv != "" {
		n, err := nix.New(nix.Config{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		_, err = n.Realise(context.Background(), drv, nix.RealiseOptions{})
		fmt.Fprintln(os.Stderr, "realise returned:", err)
		os.Exit(3)
	}
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
	require.Len(t, builderPids(p.Drv), 2, "the builder's shell and its sleep")

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
	waitFor(t, "the builder's processes to go", func() bool { return len(builderPids(p.Drv)) == 0 })
	require.Less(t, time.Since(cancelled), 10*time.Second)

	_, ok, err := n.Valid(context.Background(), p.Drv)
	require.NoError(t, err)
	require.False(t, ok)
}

func TestDeadlineStopsTheBuild(t *testing.T) {
	t.Parallel()
	n := newNix(t, nix.Config{KillGrace: 3 * time.Second})
	p, _ := sleeper(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := n.Realise(ctx, p.Drv, nix.RealiseOptions{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 10*time.Second)
	waitFor(t, "the builder to go", func() bool { return len(builderPids(p.Drv)) == 0 })
	require.False(t, errors.Is(err, nix.ErrUnknownDerivation))
}

// builderPids lists the live processes that build drv (a builder and what it started), found
// by their working directory: builders may run in a PID namespace of their own, where the
// pids they could record mean nothing here.
func builderPids(drv string) []int {
	name := strings.TrimSuffix(filepath.Base(drv), ".drv")
	if i := strings.IndexByte(name, '-'); i >= 0 {
		name = name[i+1:]
	}
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err == nil &&
			strings.Contains(cwd, "nix-build-"+name+".drv") && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// childrenOf lists the live processes whose parent is pid.
func childrenOf(pid int) []int {
	var kids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) && alive(child) {
			kids = append(kids, child)
		}
	}
	return kids
}

// TestKilledWorkerLeavesNoNixRunning kills a process in the middle of a real build with
// SIGKILL, as a worker dies, and shows that its nix-store and the build's processes go with
// it, and that the next attempt at the same derivation builds at once (no stale lock).
func TestKilledWorkerLeavesNoNixRunning(t *testing.T) {
	t.Parallel()
	n := newNix(t, nix.Config{})
	marks, err := os.MkdirTemp("", "crest-killed-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(marks, 0o1777))
	t.Cleanup(func() { _ = os.RemoveAll(marks) })
	slow := filepath.Join(marks, "slow")
	require.NoError(t, os.WriteFile(slow, nil, 0o644))
	// Slow only while the mark exists, so that the second attempt is quick.
	p := probe(t, n, fmt.Sprintf(`if [ -e %[1]s/slow ]; then sleep 300 & echo $! > %[1]s/sleep.pid; echo $$ > %[1]s/sh.pid; wait; fi; echo done > "$out"`, marks))

	worker := exec.Command(os.Args[0], "-test.run=^$")
	worker.Env = append(os.Environ(), realiseProcessEnv+"="+p.Drv)
	worker.Stderr = os.Stderr
	require.NoError(t, worker.Start())
	t.Cleanup(func() { _ = worker.Process.Kill(); _ = worker.Wait() })
	waitFor(t, "the builder to start", func() bool {
		_, e1 := os.Stat(filepath.Join(marks, "sh.pid"))
		_, e2 := os.Stat(filepath.Join(marks, "sleep.pid"))
		return e1 == nil && e2 == nil
	})
	nixStore := childrenOf(worker.Process.Pid)
	require.Len(t, nixStore, 1, "the worker runs one nix-store")
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", nixStore[0]))
	require.NoError(t, err)
	require.Equal(t, "nix-store", strings.TrimSpace(string(comm)))
	builders := builderPids(p.Drv)
	require.Len(t, builders, 2, "the builder's shell and its sleep")

	require.NoError(t, worker.Process.Signal(syscall.SIGKILL))
	_ = worker.Wait()
	waitFor(t, "nix-store to die with its worker", func() bool { return !alive(nixStore[0]) })
	waitFor(t, "the builder to die with nix-store", func() bool { return len(builderPids(p.Drv)) == 0 })

	require.NoError(t, os.Remove(slow))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var lines []string
	res, err := n.Realise(ctx, p.Drv, nix.RealiseOptions{OnLine: func(l string) { lines = append(lines, l) }})
	require.NoError(t, err, "the next attempt builds")
	require.Len(t, res.Outputs, 1)
	require.NotContains(t, strings.Join(lines, "\n"), "waiting for lock", "no stale lock")
}

// TestBuildsWhateverTheMachineConfigSays proves that a real build succeeds when the
// machine's nix.conf names a build group that does not exist (as Debian's nix-bin leaves a
// fresh machine: Nix's compiled-in default is "nixbld"), and that the operator's options
// are still honoured.
func TestBuildsWhateverTheMachineConfigSays(t *testing.T) {
	t.Parallel()
	conf := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(conf, "nix.conf"),
		[]byte("build-users-group = crest-no-such-group\nsandbox = true\n"), 0o644))
	env := []string{"NIX_CONF_DIR=" + conf}
	n := newNix(t, nix.Config{Env: env})
	ctx := context.Background()
	p := probe(t, n, `echo built > "$out"`)
	res, err := n.Realise(ctx, p.Drv, nix.RealiseOptions{})
	require.NoError(t, err)
	require.Len(t, res.Outputs, 1)

	// Without Crest's options the same machine cannot build at all: the test would not
	// prove anything if it could.
	q := probe(t, n, `echo built again > "$out"`)
	out, err := runNix(env, "nix-store", "--realise", q.Drv)
	require.Error(t, err)
	require.Contains(t, out, "crest-no-such-group")

	// The operator's options win over Crest's: naming a group replaces Crest's empty one.
	grouped := newNix(t, nix.Config{Env: env, Options: []nix.Option{{Name: "build-users-group", Value: "crest-operator-group"}}})
	_, err = grouped.Realise(ctx, q.Drv, nix.RealiseOptions{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "crest-operator-group")
}

func TestRequiredOptions(t *testing.T) {
	single := []nix.Option{{Name: "build-users-group", Value: ""}}
	t.Setenv("NIX_REMOTE", "")
	require.Equal(t, single, nix.RequiredOptions(nil))
	require.Equal(t, single, nix.RequiredOptions([]string{"NIX_REMOTE=local"}))
	require.Empty(t, nix.RequiredOptions([]string{"NIX_REMOTE=daemon"}), "the daemon owns its build users")
	t.Setenv("NIX_REMOTE", "daemon")
	require.Empty(t, nix.RequiredOptions(nil))
	require.Equal(t, single, nix.RequiredOptions([]string{"NIX_REMOTE="}), "the adapter's env wins over the process's")
}

// runNix runs a Nix command directly, without the adapter's options.
func runNix(env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
